"""Training with a best checkpoint, a CSV history and resumption after an interruption.

Colab sessions disconnect. :func:`fit` therefore writes (with :mod:`labkit.checkpoints`), at
most every ``save_every_s`` seconds and after the last epoch, the last model (with its optimizer
state, ``last-eNNNN.keras``), the best model so far on validation loss (``model.keras``) and a
small ``state.json`` that names the last model; called again with the same run folder, it loads
them and continues from the epoch after the last save, so the run ends with the number of epochs
asked for and one continuous ``history.csv``. Before it goes on, the training data are drawn
once for every finished epoch (without the model), so that shuffling, flips and patch sampling
continue where the killed run was: on the same machine a resumed run gives the history and the
model of an uninterrupted one.

Every file is written to a temporary name and renamed into place (:mod:`labkit.files`), and
``state.json`` is written last: a run killed at any instant, also half-way through a save,
resumes from a complete, consistent save. A checkpoint that does not load all the same (a disk
error, a file written by hand) is not trusted: the run falls back to the save before it, and
says so. Writing a model takes about a third of a second even for a small U-Net, which on a CPU
is as long as a quick epoch: saving every epoch cost the quick chapters a fifth of their
training time.

A training whose Dice metric drops to zero and stays there has collapsed into predicting
background everywhere; :class:`labkit.callbacks.CollapseGuard` stops it and :func:`fit` raises
:class:`TrainingCollapsedError`, naming the epoch, instead of handing back a model that
predicts nothing.

:func:`seed_everything` seeds Python, NumPy, TensorFlow/Keras, torch and MONAI in one call.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from labkit.callbacks import CollapseGuard
from labkit.checkpoints import (
    BEST,
    HISTORY,
    Checkpoints,
    read_history,
    replay,
    resume,
)
from labkit.errors import TrainingCollapsedError, TrainingInterrupted
from labkit.files import write_text
from labkit.saving import load_model

__all__ = [
    "FitResult",
    "fit",
    "seed_everything",
]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy, TensorFlow (through Keras), torch and MONAI.

    MONAI random transforms built afterwards inside a ``monai.transforms.Compose`` draw from a
    seeded state. A bare random transform used on its own keeps its own unseeded generator: give
    it one with ``transform.set_random_state(seed)`` (MONAI's API), or wrap it in a ``Compose``.

    Args:
        seed: The seed.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries (MONAI, scipy users) draw from the global RNG
    keras.utils.set_random_seed(seed)
    from monai.utils import set_determinism

    set_determinism(seed=seed)


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` leaves behind.

    Attributes:
        model: The model after the last epoch.
        best_path: ``model.keras``: the epoch with the lowest validation loss.
        history: Rows of ``history.csv`` (one dict per epoch, all epochs of all sessions).
        resumed_from: The epoch this call started at (0 for a fresh run).
        best_weights: The best epoch's weights when one of this call's epochs was the best so
            far, else ``None`` (the best epoch is then only in ``best_path``).
    """

    model: keras.Model
    best_path: Path
    history: list[dict[str, float]]
    resumed_from: int
    best_weights: list[np.ndarray] | None = None

    def best_model(self) -> keras.Model:
        """The model of the epoch with the lowest validation loss, as ``best_path`` holds it.

        When this call trained that epoch, its weights are set on ``model`` (which is then no
        longer the last epoch's) and no file is read: loading ``model.keras`` again costs about
        a second for a quick-profile network. Otherwise ``best_path`` is loaded.
        """
        if self.best_weights is None:
            return load_model(self.best_path)
        self.model.set_weights(self.best_weights)
        return self.model


def fit(
    build: Callable[[], keras.Model],
    train: Any,
    validation: Any,
    epochs: int,
    out: str | Path,
    strategy: Any = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = "auto",
    save_every_s: float = 60.0,
    collapse_patience: int = 3,
) -> FitResult:
    """Train a model, keeping the best checkpoint, and resume if ``out`` holds an unfinished run.

    Args:
        build: Returns a new, compiled model. Called inside ``strategy.scope()`` when a strategy is
            given; not called when resuming (the saved model brings its optimizer state).
        train: Training data for ``model.fit`` (a ``tf.data.Dataset`` of ``(x, y)`` batches).
        validation: Validation data, same form.
        epochs: Total number of epochs of the run, counting epochs of earlier sessions.
        out: Run folder: ``model.keras`` (best), ``last-eNNNN.keras``, ``history.csv``,
            ``state.json``.
        strategy: A ``tf.distribute`` strategy (e.g. ``MirroredStrategy``), or ``None``.
        callbacks: Extra Keras callbacks.
        verbose: Passed to ``model.fit``.
        save_every_s: Write the checkpoints after an epoch when this many seconds have passed
            since the last write (0: after every epoch), and always after the last epoch. A run
            killed in between loses at most this much training.
        collapse_patience: Stop and raise :class:`TrainingCollapsedError` when the training
            Dice (the ``dice`` metric) stays at zero for this many epochs after having reached
            0.05, or with a validation loss that stopped moving (:class:`CollapseGuard`); 0 turns
            the guard off.

    Returns:
        The :class:`FitResult`.

    Raises:
        TrainingCollapsedError: If the training collapsed (see ``collapse_patience``).
        TrainingInterrupted: On Ctrl-C (a :class:`KeyboardInterrupt`), once the last finished
            epoch is saved (:meth:`labkit.checkpoints.Checkpoints.save_finished`); running
            the same call again resumes from there.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)

    def scope() -> Any:
        return strategy.scope() if strategy is not None else contextlib.nullcontext()

    for leftover in out.glob(".tmp-*"):  # temporary files of a process killed while saving
        leftover.unlink()
    model, done, best = resume(out, scope)
    history_path = out / HISTORY
    if done == 0 and history_path.exists():
        history_path.unlink()  # a fresh run starts a fresh history
    # keep exactly the epochs that the saved state covers (an epoch may have been cut mid-way)
    rows = read_history(history_path)[:done]
    if rows:
        keys = list(rows[0])
        write_text(
            history_path,
            ",".join(keys)
            + "\n"
            + "".join(",".join(repr(r[k]) for k in keys) + "\n" for r in rows),
        )
    with scope():
        if model is None:
            model = build()
        if model.optimizer is not None and not model.optimizer.built:
            # built lazily, the optimizer creates its variables inside the first traced train
            # step, and TensorFlow then traces the step a second time: ~4 s of a quick run
            model.optimizer.build(model.trainable_variables)
    if 0 < done < epochs:
        replay(train, done)
    checkpoints = Checkpoints(out, best, save_every_s)
    guard = CollapseGuard(patience=collapse_patience) if collapse_patience else None
    if done < epochs:
        try:
            model.fit(
                train,
                validation_data=validation,
                epochs=epochs,
                initial_epoch=done,
                callbacks=[
                    keras.callbacks.CSVLogger(history_path, append=done > 0),
                    *([guard] if guard is not None else []),
                    checkpoints,
                    *(callbacks or []),
                ],
                shuffle=False,  # datasets shuffle themselves
                verbose=verbose,
            )
        except KeyboardInterrupt:  # Ctrl-C: keep the finished epochs, say how to go on
            raise TrainingInterrupted(out, checkpoints.save_finished()) from None
    if guard is not None and guard.collapsed_at is not None:
        raise TrainingCollapsedError(
            f"the training in {out} collapsed at epoch {guard.collapsed_at}: from there its Dice "
            f"was 0 for {collapse_patience} epochs, after having reached {guard.learned_at} or "
            "with a validation loss that no longer moved (the model predicts no foreground and "
            "has no way back). With a soft Dice loss, try it summed over the batch (--set "
            "loss=batch_dice: per sample, patches without foreground drive the logits down), "
            "then a lower learning rate (--set learning_rate=...); start the run again in a new "
            "--out folder."
        )
    return FitResult(
        model=model,
        best_path=out / BEST,
        history=read_history(history_path),
        resumed_from=done,
        best_weights=checkpoints.best_weights,
    )
