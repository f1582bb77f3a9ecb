"""Keras metrics for training: hard Dice per class, mean Dice, and the generalized Dice score.

They accumulate over an epoch: Dice is computed from the intersection and volume totals of all
batches seen (a "global" Dice over all voxels of the epoch), on hard predictions (argmax for
softmax outputs, ``p > 0.5`` for a sigmoid). Per-case Dice for evaluation lives in
:mod:`labkit.evaluation`. Shapes and targets follow :mod:`labkit.losses`.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from labkit.losses import GeneralizedDiceLoss
from labkit.targets import prepare_targets

__all__ = ["DiceScore", "GeneralizedDiceScore"]


def _hard(y_pred: Any) -> Any:
    if y_pred.shape[-1] == 1:
        return ops.cast(y_pred > 0.5, y_pred.dtype)
    return ops.one_hot(ops.argmax(y_pred, axis=-1), y_pred.shape[-1], dtype=y_pred.dtype)


@keras.saving.register_keras_serializable(package="labkit")
class DiceScore(keras.metrics.Metric):
    """Hard Dice of one class, or the mean over the foreground classes, accumulated over an epoch.

    Args:
        num_classes: Output channels of the model (1 for a sigmoid output).
        class_id: Class channel to score; ``None`` averages the Dice of classes 1..C-1 (or of the
            single channel of a sigmoid output).
        name: Metric name.
    """

    def __init__(
        self,
        num_classes: int,
        class_id: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name=name or ("dice" if class_id is None else f"dice_{class_id}"), **kwargs
        )
        if class_id is not None and not 0 <= class_id < num_classes:
            raise ValueError(
                f"class_id {class_id} is not a channel of a {num_classes}-class output."
            )
        self.num_classes = num_classes
        self.class_id = class_id
        self.intersection = self.add_variable((num_classes,), initializer="zeros", name="inter")
        self.total = self.add_variable((num_classes,), initializer="zeros", name="total")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_true = prepare_targets(y_true, y_pred)
        hard = _hard(y_pred)
        axes = list(range(len(y_pred.shape) - 1))
        self.intersection.assign_add(ops.sum(y_true * hard, axis=axes))
        self.total.assign_add(ops.sum(y_true, axis=axes) + ops.sum(hard, axis=axes))

    def result(self) -> Any:
        # the variables' values, not the variables: JAX converts no Keras variable itself
        intersection = ops.convert_to_tensor(self.intersection)
        total = ops.convert_to_tensor(self.total)
        dice = 2.0 * intersection / ops.maximum(total, 1e-7)
        dice = ops.where(total > 0, dice, ops.ones_like(dice))
        if self.class_id is not None:
            return dice[self.class_id]
        return dice[0] if self.num_classes == 1 else ops.mean(dice[1:])

    def reset_state(self) -> None:
        self.intersection.assign(ops.zeros((self.num_classes,), dtype=self.intersection.dtype))
        self.total.assign(ops.zeros((self.num_classes,), dtype=self.total.dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes, "class_id": self.class_id}


@keras.saving.register_keras_serializable(package="labkit")
class GeneralizedDiceScore(keras.metrics.Mean):
    """``1 - generalized Dice loss`` on the soft predictions (Sudre et al. 2017), batch-averaged.

    This is the score the Decathlon study reported; see :class:`labkit.losses.GeneralizedDiceLoss`.
    """

    def __init__(self, name: str = "generalized_dice_score", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self._loss = GeneralizedDiceLoss(reduction=None)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        super().update_state(1.0 - self._loss.call(y_true, y_pred), sample_weight=sample_weight)
