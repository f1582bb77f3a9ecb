"""Segmentation losses for Keras 3: cross-entropy, soft Dice, generalized Dice, Dice + CE.

Shapes are channels-last. ``y_pred`` holds probabilities (the output of the U-Net's sigmoid or
softmax), shape ``(batch, *spatial, C)``. ``y_true`` is either one-hot / binary of the same shape,
or an integer label map ``(batch, *spatial, 1)`` (or ``(batch, *spatial)``) that is one-hot
encoded to ``C`` classes on the fly; with ``C == 1`` it is the binary foreground mask
(:func:`labkit.targets.prepare_targets`, which refuses shapes and values that do not fit).

Each loss is registered for Keras serialization, so a model compiled with it reloads with plain
``keras.models.load_model(path)``. The Dice formulas follow MONAI's ``DiceLoss`` and
``GeneralizedDiceLoss`` (same smoothing terms and reductions) and are tested against them.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from labkit.targets import prepare_targets

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "DiceCELoss",
    "GeneralizedDiceLoss",
    "SoftDiceLoss",
    "get",
]

_EPS = 1e-7


def _spatial_axes(y_pred: Any) -> list[int]:
    return list(range(1, len(y_pred.shape) - 1))


class _DiceLossBase(keras.losses.Loss):
    """Settings and target handling shared by the Dice-family losses."""

    def __init__(
        self,
        include_background: bool = True,
        batch: bool = False,
        smooth_nr: float = 1e-5,
        smooth_dr: float = 1e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.include_background = include_background
        self.batch = batch
        self.smooth_nr = smooth_nr
        self.smooth_dr = smooth_dr

    def _prepare(self, y_true: Any, y_pred: Any) -> tuple[Any, Any, list[int]]:
        """One-hot targets, background dropped if asked, and the axes to sum over."""
        y_true = prepare_targets(y_true, y_pred)
        if not self.include_background and y_pred.shape[-1] > 1:
            y_true, y_pred = y_true[..., 1:], y_pred[..., 1:]
        axes = _spatial_axes(y_pred)
        return y_true, y_pred, [0, *axes] if self.batch else axes

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "include_background": self.include_background,
            "batch": self.batch,
            "smooth_nr": self.smooth_nr,
            "smooth_dr": self.smooth_dr,
        }


@keras.saving.register_keras_serializable(package="labkit")
class SoftDiceLoss(_DiceLossBase):
    """Soft Dice loss (Milletari et al. 2016, V-Net, 3DV), per sample and class, then averaged.

    ``1 - (2 sum(p g) + smooth_nr) / (sum(p) + sum(g) + smooth_dr)`` with sums over space (and over
    the batch too when ``batch=True``), then the mean over classes and samples. With
    ``squared=True`` the denominator uses ``sum(p^2) + sum(g^2)`` as in V-Net.

    Args:
        include_background: Keep class 0 when there are several classes.
        squared: Square the terms of the denominator.
        batch: Sum over the batch before dividing (one Dice per class per batch).
        smooth_nr: Added to the numerator (keeps empty-vs-empty at loss 0).
        smooth_dr: Added to the denominator (keeps the loss finite on empty masks).
        name: Loss name.
    """

    def __init__(self, squared: bool = False, name: str = "soft_dice", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.squared = squared

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred, axes = self._prepare(y_true, y_pred)
        inter = ops.sum(y_true * y_pred, axis=axes)
        if self.squared:
            denom = ops.sum(y_true * y_true, axis=axes) + ops.sum(y_pred * y_pred, axis=axes)
        else:
            denom = ops.sum(y_true, axis=axes) + ops.sum(y_pred, axis=axes)
        loss = 1.0 - (2.0 * inter + self.smooth_nr) / (denom + self.smooth_dr)
        return ops.mean(loss) if self.batch else ops.mean(loss, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "squared": self.squared}


@keras.saving.register_keras_serializable(package="labkit")
class GeneralizedDiceLoss(_DiceLossBase):
    """Generalized Dice loss (Sudre et al. 2017, DLMIA, LNCS 10553).

    Each class is weighted by ``w_c = 1 / (sum g_c)^2`` so that small classes count as much as
    large ones: ``1 - (2 sum_c w_c sum(p g) + smooth_nr) / (sum_c w_c sum(p + g) + smooth_dr)``.
    A class absent from a sample (infinite weight) gets the largest finite weight of that sample,
    as MONAI does.

    Empty targets: when every scored class of a sample is empty (a background patch with one
    sigmoid channel, or ``include_background=False``), there is no finite weight to borrow, and
    MONAI's weights are then all 0, so its loss is 0 whatever is predicted: false positives on
    such a patch cost nothing. Here each class then weighs 1, which makes the sample's loss its
    soft Dice (:class:`SoftDiceLoss`): about 0 for an empty prediction and near 1 for a
    confident false positive. Elsewhere the loss equals MONAI's (tested against it).

    Args:
        include_background: Keep class 0.
        batch: Pool the sums over the batch (one score per batch instead of per sample).
        smooth_nr: Added to the numerator.
        smooth_dr: Added to the denominator.
        name: Loss name.
    """

    def __init__(self, name: str = "generalized_dice", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred, axes = self._prepare(y_true, y_pred)
        inter = ops.sum(y_true * y_pred, axis=axes)  # (batch, C) or (C,)
        volume = ops.sum(y_true, axis=axes)
        denom = volume + ops.sum(y_pred, axis=axes)
        empty = ops.equal(volume, 0.0)
        w = ops.where(empty, ops.zeros_like(volume), 1.0 / ops.where(empty, 1.0, volume) ** 2)
        w_max = ops.max(w, axis=-1, keepdims=True)
        w = ops.where(empty, ops.broadcast_to(w_max, ops.shape(w)), w)
        nothing = ops.all(empty, axis=-1, keepdims=True)  # no class to borrow a weight from
        w = ops.where(ops.broadcast_to(nothing, ops.shape(w)), ops.ones_like(w), w)
        numer = 2.0 * ops.sum(w * inter, axis=-1) + self.smooth_nr
        denom = ops.sum(w * denom, axis=-1) + self.smooth_dr
        loss = 1.0 - numer / denom
        return loss if not self.batch else ops.mean(loss)


def _cross_entropy(y_true: Any, y_pred: Any) -> Any:
    """Voxel-wise cross-entropy averaged over space: ``(batch,)``."""
    y_true = prepare_targets(y_true, y_pred)
    p = ops.clip(y_pred, _EPS, 1.0 - _EPS)
    if y_pred.shape[-1] == 1:
        ce = -(y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p))
    else:
        ce = -ops.sum(y_true * ops.log(p), axis=-1, keepdims=True)
    return ops.mean(ce, axis=list(range(1, len(y_pred.shape))))


@keras.saving.register_keras_serializable(package="labkit")
class BinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy of sigmoid probabilities ``(batch, *spatial, 1)``, voxel-averaged."""

    def __init__(self, name: str = "bce", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        if y_pred.shape[-1] != 1:
            raise ValueError(
                "BinaryCrossentropy expects one sigmoid channel; got y_pred with "
                f"{y_pred.shape[-1]} channels. Use CategoricalCrossentropy for softmax outputs."
            )
        return _cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="labkit")
class CategoricalCrossentropy(keras.losses.Loss):
    """Cross-entropy of softmax probabilities ``(batch, *spatial, C)``, any target form."""

    def __init__(self, name: str = "cross_entropy", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        return _cross_entropy(y_true, y_pred)


@keras.saving.register_keras_serializable(package="labkit")
class DiceCELoss(keras.losses.Loss):
    """Soft Dice plus cross-entropy, ``lambda_dice * Dice + lambda_ce * CE``.

    The sum trains more stably than Dice alone on small structures: cross-entropy gives every voxel
    a gradient early on, Dice keeps the small class from being swamped (as in nnU-Net, Isensee et
    al. 2021, Nature Methods 18:203-211).

    Args:
        include_background: Passed to the Dice term.
        lambda_dice: Weight of the Dice term.
        lambda_ce: Weight of the cross-entropy term.
        name: Loss name.
    """

    def __init__(
        self,
        include_background: bool = True,
        lambda_dice: float = 1.0,
        lambda_ce: float = 1.0,
        name: str = "dice_ce",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.include_background = include_background
        self.lambda_dice = lambda_dice
        self.lambda_ce = lambda_ce
        self._dice = SoftDiceLoss(include_background=include_background, reduction=None)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        dice = self._dice.call(y_true, y_pred)
        return self.lambda_dice * dice + self.lambda_ce * _cross_entropy(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "include_background": self.include_background,
            "lambda_dice": self.lambda_dice,
            "lambda_ce": self.lambda_ce,
        }


_NAMES = {
    "bce": BinaryCrossentropy,
    "cross_entropy": CategoricalCrossentropy,
    "dice": SoftDiceLoss,
    "generalized_dice": GeneralizedDiceLoss,
    "dice_ce": DiceCELoss,
}


def get(name: str, **kwargs: Any) -> keras.losses.Loss:
    """A loss by name: ``bce``, ``cross_entropy``, ``dice``, ``batch_dice``, ``generalized_dice``,
    ``dice_ce``.

    ``batch_dice`` is :class:`SoftDiceLoss` with ``batch=True``: one Dice per class over the whole
    batch. Per sample, a patch without foreground scores ``1 - smooth / (sum(p) + smooth)``,
    whose gradient ``smooth / (sum(p) + smooth)^2`` grows without bound as the predictions
    there shrink; without batch normalisation that pushed the WMH networks' logits to -1e3 and
    the sigmoid to exactly 0, where no gradient is left (the collapse of
    :class:`labkit.callbacks.CollapseGuard`). Summed over the batch, the other samples'
    foreground keeps the denominator away from 0.

    Args:
        name: Loss name (as used in study profiles and on the command line).
        **kwargs: Passed to the loss's constructor.
    """
    if name == "batch_dice":
        return SoftDiceLoss(batch=True, name="batch_dice", **kwargs)
    if name not in _NAMES:
        known = sorted([*_NAMES, "batch_dice"])
        raise ValueError(f"unknown loss {name!r}; expected one of {known}.")
    return _NAMES[name](**kwargs)
