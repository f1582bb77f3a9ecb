"""Batches of NumPy arrays for Keras on any backend: the pipelines' path without TensorFlow.

On the TensorFlow backend the course feeds Keras with ``tf.data`` (:mod:`labkit.pipeline`,
:mod:`labkit.augment`). JAX and PyTorch have no ``tf.data`` once TensorFlow is not installed, so
there the same datasets are :class:`EpochBatches`: a ``keras.utils.PyDataset`` that asks a
function for one epoch's ``(x, y)`` arrays when the epoch begins and hands them out in batches.

An epoch's draw is a function of ``(seed, epoch)`` alone (shuffling, flips, patch sampling and
augmentation all use ``numpy.random.default_rng([seed, epoch])``), so a run is reproducible and
a resumed run (:func:`labkit.checkpoints.replay`) starts at the epoch it stopped at without
drawing the epochs before. The draws differ from the ``tf.data`` ones (another generator), so a
run on JAX is not the same run as one on TensorFlow, only the same recipe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

__all__ = [
    "EpochBatches",
    "array_batches",
    "first_batches",
    "flip_arrays",
    "one_epoch",
    "use_tf_data",
]

#: A function of the epoch (0, 1, ...) giving that epoch's ``(x, y)`` arrays, in batch order.
Draw = Callable[[int], tuple[np.ndarray, np.ndarray]]


def use_tf_data() -> bool:
    """Whether the pipelines build ``tf.data`` datasets: on the TensorFlow backend only."""
    return keras.backend.backend() == "tensorflow"


class EpochBatches(keras.utils.PyDataset):
    """One epoch's ``(x, y)`` arrays, drawn when the epoch begins, in batches.

    Args:
        draw: Epoch number to that epoch's ``(x (n, ...), y (n, ...))``, ``n`` the same in
            every epoch.
        size: ``n``, the examples of an epoch.
        batch_size: Examples per batch (the last batch of an epoch may be smaller).
        max_batches: Batches handed out per epoch (0: all; see :func:`first_batches`).

    Epochs are counted as Keras begins them: on JAX and PyTorch, ``fit`` begins one more, first,
    to build the model from a batch, so training there starts at draw 1. A resumed run counts
    the same way (:meth:`start_at`), so it still sees what an uninterrupted one would.
    Train with ``fit(..., shuffle=False)`` (as :func:`labkit.training.fit` does): the draw
    already orders an epoch, and Keras would otherwise shuffle the batches again.
    """

    def __init__(self, draw: Draw, size: int, batch_size: int, max_batches: int = 0) -> None:
        super().__init__()
        if size < 1 or batch_size < 1:
            raise ValueError(
                f"EpochBatches needs at least one example and a batch size of at least 1; got "
                f"{size} examples and batch size {batch_size}."
            )
        self._draw, self._size, self._batch = draw, int(size), int(batch_size)
        self._max = int(max_batches)
        self._epoch = -1  # on_epoch_begin makes it 0
        self._drawn: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        full = -(-self._size // self._batch)
        return min(full, self._max) if self._max > 0 else full

    def first(self, n: int) -> EpochBatches:
        """The same epochs, only their first ``n`` batches (a new object; 0: all)."""
        return EpochBatches(self._draw, self._size, self._batch, max_batches=n)

    @property
    def epoch(self) -> int:
        """The epoch whose arrays the batches come from (0 before the first begins)."""
        return max(self._epoch, 0)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """This epoch's ``(x, y)``, drawn once."""
        with self._lock:
            if self._drawn is None or self._drawn[0] != self.epoch:
                x, y = self._draw(self.epoch)
                if len(x) != self._size or len(y) != self._size:
                    raise ValueError(
                        f"epoch {self.epoch} drew {len(x)} images and {len(y)} labels; "
                        f"expected {self._size} of each, the same in every epoch."
                    )
                self._drawn = (self.epoch, (x, y))
            return self._drawn[1]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of an epoch of {len(self)} batches")
        x, y = self.arrays()
        pick = slice(index * self._batch, (index + 1) * self._batch)
        return x[pick], y[pick]

    def on_epoch_begin(self) -> None:
        self._epoch += 1

    def start_at(self, epoch: int) -> None:
        """Make the next epoch that begins epoch ``epoch`` (a resumed run's first)."""
        self._epoch = int(epoch) - 1


def flip_arrays(
    x: np.ndarray, y: np.ndarray, axes: Sequence[int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Flip each example of ``x (n, ...)`` and ``y (n, ...)`` along each of ``axes`` (axes of an
    example, 0 the first after the batch axis) with probability 1/2, the same flips for both."""
    x, y = x.copy(), y.copy()
    for axis in axes:
        flip = rng.random(len(x)) < 0.5
        x[flip] = np.flip(x[flip], axis + 1)
        y[flip] = np.flip(y[flip], axis + 1)
    return x, y


def array_batches(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    flip_axes: Sequence[int] = (),
    seed: int = 0,
) -> EpochBatches:
    """:func:`labkit.pipeline.slice_dataset` without TensorFlow, with the same arguments:
    ``(x, y)`` in batches, reshuffled (``shuffle``) and flipped (``flip_axes``) anew every epoch,
    epoch ``e`` drawn from ``default_rng([seed, e])``."""
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels; expected one label per image.")

    def draw(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if not shuffle and not flip_axes:
            return x, y
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        return (
            flip_arrays(x[order], y[order], flip_axes, rng) if flip_axes else (x[order], y[order])
        )

    return EpochBatches(draw, len(x), batch_size)


def first_batches(dataset: Any, n: int) -> Any:
    """Only the first ``n`` batches of every epoch of a pipeline's dataset (0: all of them).

    The ``steps_per_epoch`` setting of every study (:class:`labkit.studies.settings.
    TrainSettings`) bounds a run with it, to prove that a profile runs end to end without
    training it.

    Args:
        dataset: A ``tf.data`` dataset of batches or an :class:`EpochBatches`.
        n: Batches per epoch; 0 leaves the dataset as it is.

    Raises:
        ValueError: If ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"first_batches needs n >= 0 batches (0: all); got {n}.")
    if n == 0:
        return dataset
    if isinstance(dataset, EpochBatches):
        return dataset.first(n)
    return dataset.take(n)


def one_epoch(dataset: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """The next epoch of a pipeline's dataset as NumPy ``(x, y)`` batches, on any backend.

    Args:
        dataset: What :mod:`labkit.pipeline` or :mod:`labkit.augment` built: a ``tf.data``
            dataset (each call makes a new iterator, so a shuffled one reshuffles) or an
            :class:`EpochBatches` (each call begins its next epoch).
    """
    if isinstance(dataset, EpochBatches):
        dataset.on_epoch_begin()
        batches = [dataset[i] for i in range(len(dataset))]
        dataset.on_epoch_end()
        return batches
    return [(np.asarray(x), np.asarray(y)) for x, y in dataset.as_numpy_iterator()]
