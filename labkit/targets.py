"""Targets for the losses and metrics: a label map or mask made to match the predictions.

A loss compares probabilities ``y_pred`` ``(batch, *spatial, C)`` with targets given as a 0/1
mask, a one-hot map, or integer labels. :func:`prepare_targets` turns every form into float
one-hot of ``y_pred``'s shape, and refuses what would otherwise be computed silently wrong: a
channels-first array or another patch size (which would broadcast, or fail deep inside the
backend), and target values a loss would read as weights (a label 7 fed to cross-entropy).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

__all__ = ["prepare_targets"]


def prepare_targets(y_true: Any, y_pred: Any) -> Any:
    """Return ``y_true`` as float one-hot (or binary) targets with the shape of ``y_pred``.

    Shapes are checked always; values wherever the tensors are concrete (eager calls; inside a
    traced training step, where values cannot be read, the data pipeline's checks of the label
    maps stand in for it).

    Args:
        y_true: ``(batch, *spatial, C)`` one-hot or binary (0/1), or integer labels
            ``(batch, *spatial, 1)`` or ``(batch, *spatial)`` in ``0 .. C-1``.
        y_pred: ``(batch, *spatial, C)`` probabilities.

    Returns:
        Float targets ``(batch, *spatial, C)``.

    Raises:
        ValueError: If the shapes do not match (channels-first input, another patch size), or
            the targets hold values outside 0/1 (binary, one-hot) or ``0 .. C-1`` (labels).
    """
    y_true = ops.convert_to_tensor(y_true)
    n_classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) - 1:
        y_true = ops.expand_dims(y_true, -1)
    _check_target_shape(tuple(y_true.shape), tuple(y_pred.shape))
    labels = n_classes is not None and n_classes > 1 and y_true.shape[-1] == 1
    _check_target_values(y_true, n_classes if labels else 2)
    if labels:
        y_true = ops.one_hot(ops.cast(ops.squeeze(y_true, -1), "int32"), n_classes)
    return ops.cast(y_true, y_pred.dtype)


def _check_target_shape(true: tuple, pred: tuple) -> None:
    def differ(a: Any, b: Any) -> bool:
        return a is not None and b is not None and a != b

    ok = len(true) == len(pred) and not any(
        differ(a, b) for a, b in zip(true[:-1], pred[:-1], strict=True)
    )
    if ok and (true[-1] in (1, None) or not differ(true[-1], pred[-1])):
        return
    onehot = f" or (batch, *spatial, {pred[-1]}) one-hot" if pred[-1] != 1 else ""
    raise ValueError(
        f"y_true has shape {true} but y_pred has shape {pred}; expected the same batch and "
        f"spatial shape, channels last: y_true (batch, *spatial, 1){onehot}, y_pred (batch, "
        f"*spatial, {pred[-1]}). Channels-first arrays need np.moveaxis(x, 1, -1)."
    )


def _check_target_values(y_true: Any, n_values: int) -> None:
    """Refuse targets outside ``0 .. n_values-1`` (or non-integers), where they can be read."""
    y = ops.cast(y_true, "float32")
    bad = (y < 0) | (y > n_values - 1) | (y != ops.floor(y))
    try:
        count = int(ops.convert_to_numpy(ops.sum(ops.cast(bad, "int32"))))
    except Exception:  # a symbolic tensor (a traced step): values are not known here
        return
    if count:
        values = np.unique(ops.convert_to_numpy(y))
        allowed = "0 and 1" if n_values == 2 else f"the class values 0 .. {n_values - 1}"
        raise ValueError(
            f"y_true holds values {values[:8].tolist()} ({count} of them outside {allowed}); "
            "expected hard targets: a 0/1 mask or one-hot map, or integer labels below the "
            "number of output channels. Check the label map (labkit.datasets loaders refuse "
            "undeclared values) or the number of classes of the model."
        )
