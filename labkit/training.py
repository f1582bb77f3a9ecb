"""Training with a best checkpoint, a CSV history and resumption after an interruption.

Colab sessions disconnect. :func:`fit` therefore writes, at most every ``save_every_s`` seconds
and after the last epoch, the last model (with its optimizer state), the best model so far on
validation loss (``model.keras``) and a small ``state.json``; called again with the same run
folder, it loads them and continues from the epoch after the last save, so the run ends with the
number of epochs asked for and one continuous ``history.csv``. Writing a model takes about a
third of a second even for a small U-Net, which on a CPU is as long as a quick epoch: saving
every epoch cost the quick chapters a fifth of their training time.

:func:`seed_everything` seeds Python, NumPy, TensorFlow/Keras, torch and MONAI in one call.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

__all__ = ["FitResult", "fit", "read_history", "seed_everything"]

BEST = "model.keras"
LAST = "last.keras"
HISTORY = "history.csv"
STATE = "state.json"


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
            return keras.models.load_model(self.best_path)
        self.model.set_weights(self.best_weights)
        return self.model


class _Checkpoints(keras.callbacks.Callback):
    """Keeps the best weights in memory and writes the run's files every ``every_s`` seconds.

    What is on disk always belongs together: ``model.keras`` is the best of the epochs up to the
    one ``state.json`` names, and ``last.keras`` is that epoch's model. ``state.json`` is written
    last, so a run killed while saving resumes from the save before.
    """

    def __init__(self, out: Path, best: float, every_s: float) -> None:
        super().__init__()
        self.out = out
        self.best = best
        self.every_s = every_s
        self.best_weights: list[np.ndarray] | None = None  # this session's best epoch
        self.best_unsaved = False
        self.epochs_done: int | None = None  # finished epochs not yet saved
        self.saved_at = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        val = float((logs or {}).get("val_loss", math.inf))
        if val < self.best:
            self.best = val
            self.best_weights = self.model.get_weights()
            self.best_unsaved = True
        self.epochs_done = epoch + 1
        if time.monotonic() - self.saved_at >= self.every_s:
            self._save()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._save()

    def _save(self) -> None:
        if self.epochs_done is None:
            return
        if self.best_unsaved:
            current = self.model.get_weights()
            self.model.set_weights(self.best_weights)
            self.model.save(self.out / BEST)
            self.model.set_weights(current)
            self.best_unsaved = False
        self.model.save(self.out / LAST)
        (self.out / STATE).write_text(
            json.dumps({"epochs_done": self.epochs_done, "best_val_loss": self.best})
        )
        self.epochs_done = None
        self.saved_at = time.monotonic()


def read_history(path: str | Path) -> list[dict[str, float]]:
    """The per-epoch rows of a run's ``history.csv`` (``path`` is the file or the run folder).

    Returns:
        One dict per epoch (``epoch``, ``loss``, ``val_loss`` and the compiled metrics); empty
        when no epoch has finished yet.
    """
    path = Path(path)
    if path.is_dir():
        path = path / HISTORY
    if not path.is_file():
        return []
    lines = path.read_text().strip().splitlines()
    if len(lines) < 2:
        return []
    keys = lines[0].split(",")
    return [dict(zip(keys, map(float, line.split(",")), strict=True)) for line in lines[1:]]


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
) -> FitResult:
    """Train a model, keeping the best checkpoint, and resume if ``out`` holds an unfinished run.

    Args:
        build: Returns a new, compiled model. Called inside ``strategy.scope()`` when a strategy is
            given; not called when resuming (the saved model brings its optimizer state).
        train: Training data for ``model.fit`` (a ``tf.data.Dataset`` of ``(x, y)`` batches).
        validation: Validation data, same form.
        epochs: Total number of epochs of the run, counting epochs of earlier sessions.
        out: Run folder: ``model.keras`` (best), ``last.keras``, ``history.csv``, ``state.json``.
        strategy: A ``tf.distribute`` strategy (e.g. ``MirroredStrategy``), or ``None``.
        callbacks: Extra Keras callbacks.
        verbose: Passed to ``model.fit``.
        save_every_s: Write the checkpoints after an epoch when this many seconds have passed
            since the last write (0: after every epoch), and always after the last epoch. A run
            killed in between loses at most this much training.

    Returns:
        The :class:`FitResult`.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = json.loads((out / STATE).read_text()) if (out / STATE).is_file() else {}
    done = int(state.get("epochs_done", 0))
    best = float(state.get("best_val_loss", math.inf))
    history_path = out / HISTORY
    if done == 0 and history_path.exists():
        history_path.unlink()  # a fresh run starts a fresh history
    # keep exactly the epochs that the saved state covers (an epoch may have been cut mid-way)
    rows = read_history(history_path)[:done]
    if rows:
        keys = list(rows[0])
        history_path.write_text(
            ",".join(keys) + "\n" + "".join(",".join(repr(r[k]) for k in keys) + "\n" for r in rows)
        )
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = keras.models.load_model(out / LAST) if done > 0 else build()
        if model.optimizer is not None and not model.optimizer.built:
            # built lazily, the optimizer creates its variables inside the first traced train
            # step, and TensorFlow then traces the step a second time: ~4 s of a quick run
            model.optimizer.build(model.trainable_variables)
    checkpoints = _Checkpoints(out, best, save_every_s)
    if done < epochs:
        model.fit(
            train,
            validation_data=validation,
            epochs=epochs,
            initial_epoch=done,
            callbacks=[
                keras.callbacks.CSVLogger(history_path, append=done > 0),
                checkpoints,
                *(callbacks or []),
            ],
            shuffle=False,  # datasets shuffle themselves
            verbose=verbose,
        )
    return FitResult(
        model=model,
        best_path=out / BEST,
        history=read_history(history_path),
        resumed_from=done,
        best_weights=checkpoints.best_weights,
    )
