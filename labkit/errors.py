"""Exceptions raised by labkit when input is not what a function expects.

Every message says what was found, what was expected and how to fix it, and names the
file and the shape involved, so that a student never has to read a traceback from deep
inside nibabel or TensorFlow to understand what went wrong.
"""

from __future__ import annotations

__all__ = [
    "DatasetLayoutError",
    "ImageValueError",
    "LabelValueError",
    "LabkitError",
    "NiftiReadError",
    "ShapeError",
    "TrainingCollapsedError",
    "TrainingInterrupted",
]


class LabkitError(ValueError):
    """Base class of all labkit input errors (a :class:`ValueError`)."""


class NiftiReadError(LabkitError):
    """A file could not be read as a NIfTI volume (corrupt, truncated, or another format)."""


class ShapeError(LabkitError):
    """An array or volume has a shape, dimensionality or grid other than the expected one."""


class ImageValueError(LabkitError):
    """An image holds values no training or prediction can use (NaN, infinity, one value only)."""


class LabelValueError(LabkitError):
    """A label map holds values that are not integers or not in the expected label set."""


class DatasetLayoutError(LabkitError):
    """A dataset folder does not follow the on-disk layout its loader expects."""


class TrainingCollapsedError(RuntimeError):
    """A training stopped learning: its Dice stayed at zero (the model predicts no foreground).

    Not an input error: the data may be fine and the recipe's settings unlucky on this machine.
    """


class TrainingInterrupted(KeyboardInterrupt):
    """A training stopped by Ctrl-C (or a notebook's interrupt), its finished epochs saved.

    A :class:`KeyboardInterrupt`, so it stops whatever called the training, with a message that
    says how much was kept and how to go on.

    Attributes:
        out: The run folder.
        epochs_done: The finished epochs the run folder holds.
    """

    def __init__(self, out: object, epochs_done: int) -> None:
        self.out = out
        self.epochs_done = epochs_done
        super().__init__(
            f"training interrupted; {out} holds {epochs_done} finished epoch(s). Run the same "
            f"command again to resume from epoch {epochs_done + 1}."
        )
