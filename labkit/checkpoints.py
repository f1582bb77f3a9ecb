"""A training run's files: checkpoints, their state, resumption, and the epoch history.

:func:`labkit.training.fit` keeps a run folder with ``model.keras`` (the best epoch on
validation loss), ``last-eNNNN.keras`` (the last saved epoch, with its optimizer state),
``state.json`` (which save is complete) and ``history.csv``. :class:`Checkpoints` writes them;
:func:`resume` reads the last good save back, falling back to the one before when a file does not
load; :func:`replay` draws the finished epochs' data again so that a resumed run sees the data an
uninterrupted run would.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np

from labkit.batches import EpochBatches
from labkit.files import atomic_path, write_text
from labkit.saving import load_model, save_model

__all__ = [
    "BEST",
    "HISTORY",
    "STATE",
    "Checkpoints",
    "last_checkpoint",
    "read_history",
    "read_state",
    "replay",
    "resume",
]

BEST = "model.keras"
LAST = "last.keras"  # the name before the last model's file carried its epoch
HISTORY = "history.csv"
STATE = "state.json"


class Checkpoints(keras.callbacks.Callback):
    """Keeps the best weights in memory and writes the run's files every ``every_s`` seconds.

    What is on disk always belongs together: ``model.keras`` is the best of the epochs up to the
    one ``state.json`` names, and ``last-eNNNN.keras`` (the file ``state.json`` names) is that
    epoch's model. ``state.json`` is written last, so a run killed while saving resumes from the
    save before.
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
        self._finished: tuple[list[np.ndarray], list[np.ndarray]] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        val = float((logs or {}).get("val_loss", math.inf))
        if val < self.best:
            self.best = val
            self.best_weights = self.model.get_weights()
            self.best_unsaved = True
        self.epochs_done = epoch + 1
        if time.monotonic() - self.saved_at >= self.every_s:
            self._save()
        else:  # what an interruption before the next save would write (save_finished)
            optimizer = self.model.optimizer
            variables = optimizer.variables if optimizer is not None else []
            self._finished = (
                self.model.get_weights(),
                [np.array(keras.ops.convert_to_numpy(v)) for v in variables],
            )

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._save()

    def save_finished(self) -> int:
        """Write the files of the last finished epoch, as it ended, after an interruption in
        the middle of the next one; returns the epochs the run folder now holds.

        The model's weights and optimizer state have moved on since that epoch ended, so the
        copy taken then is put back first: a resumed run continues from exactly that point.
        """
        if self._finished is not None:  # set only while a finished epoch awaits its save
            weights, values = self._finished
            self.model.set_weights(weights)
            optimizer = self.model.optimizer
            for variable, value in zip(
                optimizer.variables if optimizer else [], values, strict=True
            ):
                variable.assign(value)
            self._save()
        return int(read_state(self.out).get("epochs_done", 0))

    def _save(self) -> None:
        if self.epochs_done is None:
            return
        if self.best_unsaved:
            current = self.model.get_weights()
            self.model.set_weights(self.best_weights)
            with atomic_path(self.out / BEST) as tmp:
                save_model(self.model, tmp)
            self.model.set_weights(current)
            self.best_unsaved = False
        last = f"last-e{self.epochs_done:04d}.keras"
        with atomic_path(self.out / last) as tmp:
            save_model(self.model, tmp)
        old = read_state(self.out)
        state = {"epochs_done": self.epochs_done, "best_val_loss": self.best, "last": last}
        if old.get("epochs_done") and old.get("last") != last:
            state["previous"] = {k: old[k] for k in ("epochs_done", "best_val_loss", "last")}
        write_text(self.out / STATE, json.dumps(state))  # the commit: the save is complete
        keep = {last, state.get("previous", {}).get("last")}
        for path in self.out.glob("last*.keras"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
        self.epochs_done = None
        self._finished = None
        self.saved_at = time.monotonic()


def read_state(out: Path) -> dict[str, Any]:
    """``state.json`` of a run folder (``{}`` when there is none or it does not parse)."""
    try:
        state = json.loads((out / STATE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if isinstance(state, dict) and "epochs_done" in state:
        state.setdefault("last", LAST)
        return state
    return {}


def replay(train: Any, epochs: int) -> None:
    """Draw ``epochs`` epochs of ``train`` without training, so that a resumed run goes on with
    the data an uninterrupted run would see.

    labkit's datasets reshuffle, flip and sample patches anew for every iterator made over them,
    from generators seeded once (``tf.data`` shuffles with ``reshuffle_each_iteration``,
    ``Dataset.random``, the patch sampler's NumPy generator). A new process restarts those at
    the first epoch; replaying the iterators of every finished epoch brings them to where the
    killed run was. Keras 3's ``EpochIterator`` makes two iterators an epoch when the number of
    batches is known (one it reads, and one ahead that the next epoch replaces unread: making
    it reshuffles a ``tf.data`` shuffle, but a Python generator is not called until read), one
    otherwise; the replay makes the same. ``tests/test_training.py`` checks that a resumed run
    equals an uninterrupted one to the last digit, so a Keras release that iterates otherwise
    fails there, not silently. It
    costs the input pipeline's time for those epochs (slicing, flipping, sampling; no model),
    seconds on the course's data, and keeps an uninterrupted run exactly as it was.
    """
    if isinstance(train, EpochBatches):
        train.start_at(epochs)  # an epoch's draw depends on its number alone: nothing to replay
        return
    if not hasattr(train, "__iter__") or isinstance(train, np.ndarray | tuple | list | dict):
        return  # in-memory arrays: Keras shuffles them itself, nothing to replay
    if isinstance(train, Iterator):
        return  # a one-shot iterator (a Python generator): replaying would consume it
    cardinality = getattr(train, "cardinality", None)
    known = cardinality is not None and int(cardinality()) >= 0
    for _ in range(epochs):
        for _ in train:
            pass
        if known:
            iter(train)  # made and dropped unread, as Keras does


def last_checkpoint(run: str | Path) -> Path | None:
    """The last saved model of a run folder (with its optimizer state), or ``None``."""
    state = read_state(Path(run))
    return Path(run) / state["last"] if state else None


def resume(out: Path, scope: Any) -> tuple[keras.Model | None, int, float]:
    """The last good save of a run folder: ``(model, epochs done, best val loss)``.

    A checkpoint that does not load is skipped with a warning, for the one before it; with none
    left the run starts again from epoch 0.
    """
    state = read_state(out)
    for saved in (state, state.get("previous") or {}):
        if not saved:
            continue
        path = out / saved["last"]
        try:
            with scope():
                model = load_model(path)
        except Exception as err:  # any failure to load means: do not trust it
            warnings.warn(
                f"{path} (epoch {saved['epochs_done']}) could not be loaded "
                f"({type(err).__name__}: {str(err)[:200]}); not resuming from it.",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        return model, int(saved["epochs_done"]), float(saved["best_val_loss"])
    if state:
        warnings.warn(
            f"no checkpoint in {out} could be loaded: the run starts again from epoch 0.",
            RuntimeWarning,
            stacklevel=3,
        )
    return None, 0, math.inf


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
    rows = []
    for line in lines[1:]:
        values = line.split(",")
        if len(values) != len(keys):  # the last line of a process killed while writing it
            break
        try:
            rows.append(dict(zip(keys, map(float, values), strict=True)))
        except ValueError:
            break
    return rows
