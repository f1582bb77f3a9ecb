"""Averaged predictions: several models (a k-fold ensemble) and mirrored inputs (test-time
augmentation), as one predictor the study's inference functions take in place of a model.

nnU-Net (Isensee et al. 2021, Nature Methods 18:203) gets part of its accuracy from two moves
at test time: the softmax outputs of the five cross-validation models are averaged, and each
model also sees every mirrored copy of the input (each subset of the spatial axes it was trained
to be mirrored over), its output flipped back before averaging. Both average probabilities,
never labels, so a voxel on which the models (or the mirrored views) disagree ends on the side
with the larger mean probability.

:class:`Averaged` does both for any batch shape ``(n, *spatial, c)``: 2D slices and 3D patches
alike. It is called as a Keras model is (``predict_on_batch(x)``, ``model(x, training=False)``),
so :func:`labkit.inference.predict_slices`, :func:`labkit.inference.sliding_window` and every
study's ``predict_volume`` take it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from labkit.inference import as_predictor

__all__ = ["Averaged", "mirror_sets"]


def mirror_sets(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every subset of ``axes``, the empty one (no flip) first: the mirrored views of an input.

    Args:
        axes: Spatial axes (0 the first axis after the batch axis) that may be flipped.

    Returns:
        ``2 ** len(axes)`` tuples of axes, e.g. ``[(), (0,), (1,), (0, 1)]`` for ``(0, 1)``.

    Raises:
        ValueError: If an axis is repeated or negative.
    """
    axes = tuple(int(a) for a in axes)
    if len(set(axes)) != len(axes) or any(a < 0 for a in axes):
        raise ValueError(
            f"mirror axes must be distinct spatial axes (0, 1, ...); got {axes}. Name each axis "
            "once, counting from the first axis after the batch axis."
        )
    return [c for r in range(len(axes) + 1) for c in combinations(sorted(axes), r)]


class Averaged:
    """The mean probability of several models over mirrored copies of each batch.

    Args:
        models: Keras models (or :data:`labkit.inference.Predictor` callables), each mapping
            ``(n, *spatial, c)`` to probabilities ``(n, *spatial, C)`` of the same shape.
        mirror_axes: Spatial axes to mirror (0 the first after the batch axis); ``()`` for no
            test-time augmentation. Every subset is used: 2 axes give 4 views, 3 give 8.

    Example:
        >>> ensemble = Averaged([fold0, fold1], mirror_axes=(0,))  # doctest: +SKIP
        >>> probs = ensemble.predict_on_batch(batch)  # doctest: +SKIP
    """

    def __init__(self, models: Sequence[Any], mirror_axes: Sequence[int] = ()) -> None:
        if not models:
            raise ValueError("Averaged needs at least one model; got none.")
        self.models = list(models)
        self.mirror_axes = tuple(int(a) for a in mirror_axes)
        self.views = mirror_sets(self.mirror_axes)
        self._predictors = [as_predictor(m) for m in self.models]

    def predict_on_batch(self, batch: Any) -> np.ndarray:
        """Mean probabilities ``(n, *spatial, C)`` float32 of a batch ``(n, *spatial, c)``.

        Raises:
            ValueError: If a mirror axis is not a spatial axis of the batch.
        """
        x = np.asarray(batch, dtype=np.float32)
        spatial = x.ndim - 2
        if self.mirror_axes and max(self.mirror_axes) >= spatial:
            raise ValueError(
                f"mirror axes {self.mirror_axes} do not fit a batch {x.shape} with {spatial} "
                "spatial axes; expected axes below that (0 is the first after the batch axis)."
            )
        total: np.ndarray | None = None
        for predict in self._predictors:
            for view in self.views:
                flip = tuple(a + 1 for a in view)
                view_x = np.ascontiguousarray(np.flip(x, flip)) if flip else x
                out = np.asarray(predict(view_x), dtype=np.float32)
                out = np.flip(out, flip) if flip else out
                total = out if total is None else total + out
        assert total is not None
        return total / (len(self._predictors) * len(self.views))

    def __call__(self, batch: Any, training: bool = False) -> np.ndarray:
        """As :meth:`predict_on_batch` (``training`` is accepted and ignored: inference only)."""
        return self.predict_on_batch(batch)

    def __len__(self) -> int:
        """The number of forward passes per batch: models times mirrored views."""
        return len(self._predictors) * len(self.views)
