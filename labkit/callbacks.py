"""Keras callbacks of a labkit training: one line per epoch, and a guard against collapse.

:class:`EpochLine` prints one short line per epoch (what a notebook or a log file can hold);
:class:`CollapseGuard` stops a training whose Dice fell to zero after it had learned, which
:func:`labkit.training.fit` then reports as :class:`labkit.errors.TrainingCollapsedError`.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import keras

__all__ = ["CollapseGuard", "EpochLine"]


class EpochLine(keras.callbacks.Callback):
    """One short line per epoch instead of Keras' progress output.

    Keras' ``verbose=2`` writes each epoch as two long lines (the epoch number, then every
    metric), which a notebook shows as two boxes cut off at the column's edge. This prints, in
    one line that fits a page: ``epoch 3/12  loss 0.189  val_loss 0.201  val_dice 0.822  38 s``
    (the validation metrics named ``val_dice*`` only; ``history.csv`` keeps every metric).

    Args:
        epochs: The run's total number of epochs.
        stream: Where to write (default: standard output).
    """

    def __init__(self, epochs: int, stream: Any = None) -> None:
        super().__init__()
        self.epochs = epochs
        self.stream = stream
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        shown = [k for k in ("loss", "val_loss") if k in logs]
        shown += sorted(k for k in logs if k.startswith("val_dice"))
        values = "  ".join(f"{k} {float(logs[k]):.3f}" for k in shown)
        seconds = time.perf_counter() - self._start
        line = f"epoch {epoch + 1}/{self.epochs}  {values}  {seconds:.0f} s"
        print(line, file=self.stream or sys.stdout, flush=True)


class CollapseGuard(keras.callbacks.Callback):
    """Stops a training that predicts no foreground and has no way out of it.

    A sigmoid or softmax U-Net trained with a Dice loss can fall into the state where it
    predicts background everywhere: there the Dice loss is flat (1.0 whatever the weights do),
    and without batch normalisation a large step can also leave every ReLU of a layer dead, so
    that the output no longer depends on the input. The guard watches the training Dice (the
    ``dice`` entry of the epoch logs). An epoch with Dice below ``eps`` counts as collapsed when
    the Dice had reached ``learned`` before, or when the validation loss did not move since the
    epoch before (a dead network); ``patience`` such epochs in a row stop the training, and
    :attr:`collapsed_at` holds the first of them (counted from 1). :func:`fit` then raises
    :class:`TrainingCollapsedError`. A run that simply has not found foreground yet, with a
    validation loss still moving, is left alone.

    Args:
        metric: The log entry to watch.
        patience: Collapsed epochs in a row that stop the training.
        eps: Dice below this counts as zero.
        learned: Dice from which the model counts as having found foreground. An untrained
            sigmoid output (about 0.5 everywhere) already scores ~0.01 on rare lesions, and a
            loss with cross-entropy first drives that to 0 before it finds them: not a collapse.
    """

    def __init__(
        self, metric: str = "dice", patience: int = 3, eps: float = 1e-3, learned: float = 0.05
    ) -> None:
        super().__init__()
        self.metric = metric
        self.patience = patience
        self.eps = eps
        self.learned_at = learned
        self.learned = False
        self.last_val_loss: float | None = None
        self.zero_since: int | None = None
        self.collapsed_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        value = logs.get(self.metric)
        val_loss = logs.get("val_loss")
        flat = (
            val_loss is not None
            and self.last_val_loss is not None
            and abs(float(val_loss) - self.last_val_loss)
            <= 1e-6 * max(1.0, abs(self.last_val_loss))
        )
        self.last_val_loss = None if val_loss is None else float(val_loss)
        if value is None:
            return
        if float(value) >= self.eps:
            self.learned = self.learned or float(value) >= self.learned_at
            self.zero_since = None
            return
        if not (self.learned or flat):
            self.zero_since = None
            return
        if self.zero_since is None:
            self.zero_since = epoch + 1
        if epoch + 2 - self.zero_since >= self.patience:
            self.collapsed_at = self.zero_since
            self.model.stop_training = True
