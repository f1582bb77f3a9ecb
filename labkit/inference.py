"""Prediction of whole volumes, post-processing, and saving predictions on the source grid.

- :func:`predict_slices`: a 2D model applied slice by slice along one axis of a volume.
- :func:`sliding_window`: a 3D model applied to overlapping patches, blended with Gaussian
  weights that trust patch centres more than borders (the scheme of MONAI's
  ``sliding_window_inference``, with the same patch positions and weights; tested against it).
- :func:`save_prediction`: undo the preprocessing's crops, pads and resizes and write the label
  map with the source image's affine and header.

The clean-ups of predicted masks (largest component, small components, holes) are in
:mod:`labkit.morphology`.

Arrays are channels-last: images ``(x, y[, z], c)``, probabilities ``(x, y[, z], C)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from labkit.errors import ImageValueError, ShapeError
from labkit.io import save_nifti
from labkit.transforms import Crop, Pad, Resize, pad_to_multiple, undo
from labkit.volume import Volume

__all__ = [
    "Predictor",
    "as_predictor",
    "check_input",
    "gaussian_importance",
    "patch_starts",
    "predict_slices",
    "save_prediction",
    "sliding_window",
]

#: A function from a batch ``(n, *patch, c)`` to probabilities ``(n, *patch, C)``, NumPy in and out.
Predictor = Callable[[np.ndarray], np.ndarray]


def as_predictor(model: object) -> Predictor:
    """Wrap a Keras model (or any callable) as a NumPy-to-NumPy :data:`Predictor`."""
    if hasattr(model, "predict_on_batch"):
        return lambda batch: np.asarray(model.predict_on_batch(batch))
    if callable(model):
        # convert_to_numpy: a PyTorch tensor that needs grad refuses np.asarray
        return lambda batch: keras.ops.convert_to_numpy(model(batch))
    raise TypeError(f"expected a Keras model or a callable; got {type(model).__name__}.")


def _input_channels(model: object) -> int | None:
    """The channel count a Keras model (or an ensemble of them) reads; ``None`` if unknown."""
    inputs = getattr(model, "inputs", None)
    if inputs:
        channels = inputs[0].shape[-1]
        return int(channels) if channels is not None else None
    models = getattr(model, "models", None)  # labkit.ensemble.Averaged
    return _input_channels(models[0]) if models else None


def check_input(model: object, image: np.ndarray, caller: str) -> None:
    """Refuse an image a model cannot be applied to, before any forward pass.

    Args:
        model: A Keras model, an ensemble of them, or a :data:`Predictor` (whose channel count
            is not known, so only the values are checked).
        image: ``(*spatial, c)``, channels last.
        caller: The function's name, for the message.

    Raises:
        ShapeError: If the last axis is not the model's channel count (naming channels-first
            input when the first axis is).
        ImageValueError: If the image holds NaN or infinite values.
    """
    expected = _input_channels(model)
    if expected is not None and image.shape[-1] != expected:
        hint = (
            f" It looks channels-first ({expected} on the first axis): use "
            "np.moveaxis(image, 0, -1)."
            if image.shape[0] == expected
            else " Give the modalities the model was trained on, in its order."
        )
        raise ShapeError(
            f"{caller}: the image has shape {image.shape}, {image.shape[-1]} channel(s) on its "
            f"last axis, but the model reads {expected}; expected (*spatial, {expected}), "
            f"channels last.{hint}"
        )
    finite = np.isfinite(image)
    if not finite.all():
        nan, inf = int(np.isnan(image).sum()), int(np.isinf(image).sum())
        raise ImageValueError(
            f"{caller}: the image (shape {image.shape}) holds {nan} NaN and {inf} infinite "
            "value(s); the network would return NaN probabilities there and around. Replace "
            "them (np.nan_to_num, or the background value) first."
        )


def predict_slices(
    model: object, image: np.ndarray, axis: int = 2, batch_size: int = 32, multiple: int = 16
) -> np.ndarray:
    """Apply a 2D model to every slice of a volume along ``axis``.

    Slices are padded (with zeros) to a multiple of ``multiple`` for the U-Net and the padding
    is removed from the output.

    Args:
        model: Keras model or :data:`Predictor` taking ``(n, h, w, c)``.
        image: Volume ``(x, y, z, c)``.
        axis: Slicing axis (2: axial slices of an RAS volume).
        batch_size: Slices per forward pass.
        multiple: Pad slices to a multiple of this (``2**depth`` of the U-Net).

    Returns:
        Probabilities ``(x, y, z, C)``.

    Raises:
        ShapeError, ImageValueError: See :func:`check_input`; or the image is not 4D.
    """
    if image.ndim != 4:
        raise ShapeError(f"predict_slices expects an image (x, y, z, c); got shape {image.shape}.")
    check_input(model, image, "predict_slices")
    predict = as_predictor(model)
    slices = np.moveaxis(image, axis, 0).astype(np.float32)
    padded, pad = pad_to_multiple(slices.transpose(1, 2, 0, 3), multiple, ndim=2)
    padded = padded.transpose(2, 0, 1, 3)
    outs = [predict(padded[i : i + batch_size]) for i in range(0, len(padded), batch_size)]
    probs = np.concatenate(outs, axis=0).transpose(1, 2, 0, 3)
    probs = undo(probs, [pad]).transpose(2, 0, 1, 3)
    return np.moveaxis(probs, 0, axis)


def patch_starts(image_size: int, patch: int, overlap: float) -> list[int]:
    """Start indices of patches along one axis, as MONAI places them.

    The step is ``int(patch * (1 - overlap))`` (at least 1; a whole-axis patch has one start),
    and the last patch is moved back to end at the border.
    """
    if patch >= image_size:
        return [0]
    step = max(int(patch * (1 - overlap)), 1)
    count = (
        next(d for d in range(math.ceil(image_size / step) + 1) if d * step + patch >= image_size)
        + 1
    )
    return [min(i * step, image_size - patch) for i in range(count)]


def gaussian_importance(patch: Sequence[int], sigma_scale: float = 0.125) -> np.ndarray:
    """Gaussian weight map over a patch: 1 at the centre, ``sigma = sigma_scale * size`` per axis.

    Weights are clamped below at their smallest positive value (at least 1e-3), as MONAI does, so
    every voxel of a patch counts a little.
    """
    w = np.ones((), dtype=np.float32)
    for size in patch:
        x = np.arange(size, dtype=np.float32) - (size - 1) / 2.0
        g = np.exp(x**2 / (-2.0 * (sigma_scale * size) ** 2)).astype(np.float32)
        w = w[..., None] * g
    return np.maximum(w, max(float(w.min()), 1e-3))


def sliding_window(
    model: object,
    image: np.ndarray,
    roi_size: Sequence[int],
    overlap: float = 0.25,
    mode: str = "gaussian",
    sigma_scale: float = 0.125,
    batch_size: int = 4,
) -> np.ndarray:
    """Predict a whole volume from overlapping patches.

    Args:
        model: Keras model or :data:`Predictor` taking ``(n, *roi_size, c)``.
        image: ``(*spatial, c)``; axes shorter than the patch are zero-padded, then cropped back.
        roi_size: Patch size per spatial axis.
        overlap: Fraction of a patch shared with its neighbour (MONAI's default is 0.25).
        mode: ``"gaussian"`` (centre-weighted) or ``"constant"`` (plain average).
        sigma_scale: Gaussian sigma as a fraction of the patch size.
        batch_size: Patches per forward pass.

    Returns:
        Probabilities ``(*spatial, C)`` as float32.

    Raises:
        ShapeError, ImageValueError: See :func:`check_input`; or ``roi_size`` has another
            number of axes than the image.
        ValueError: If a patch side is below 1, ``overlap`` is outside ``[0, 1)`` or ``mode``
            is unknown.
    """
    ndim = image.ndim - 1
    roi = tuple(int(r) for r in roi_size)
    if len(roi) != ndim:
        raise ShapeError(f"roi_size {roi} has {len(roi)} axes; the image {image.shape} has {ndim}.")
    if min(roi) < 1:
        raise ValueError(f"roi_size {roi}: every patch side must be at least 1 voxel.")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1); got {overlap}.")
    if mode not in ("gaussian", "constant"):
        raise ValueError(f"mode must be 'gaussian' or 'constant'; got {mode!r}.")
    check_input(model, image, "sliding_window")
    predict = as_predictor(model)
    short = [max(r - s, 0) for r, s in zip(roi, image.shape[:ndim], strict=True)]
    before = [d // 2 for d in short]
    pad = Pad(tuple(before), tuple(d - b for d, b in zip(short, before, strict=True)))
    padded = np.pad(
        image.astype(np.float32),
        [(b, a) for b, a in zip(pad.before, pad.after, strict=True)] + [(0, 0)],
    )
    size = padded.shape[:ndim]
    starts = np.stack(
        np.meshgrid(
            *[patch_starts(s, r, overlap) for s, r in zip(size, roi, strict=True)], indexing="ij"
        ),
        -1,
    ).reshape(-1, ndim)
    weight = (
        gaussian_importance(roi, sigma_scale) if mode == "gaussian" else np.ones(roi, np.float32)
    )
    out = None
    norm = np.zeros(size, dtype=np.float32)
    for i in range(0, len(starts), batch_size):
        boxes = [
            tuple(slice(s, s + r) for s, r in zip(st, roi, strict=True))
            for st in starts[i : i + batch_size]
        ]
        probs = predict(np.stack([padded[b] for b in boxes]))
        if out is None:
            out = np.zeros((*size, probs.shape[-1]), dtype=np.float32)
        for box, p in zip(boxes, probs, strict=True):
            out[box] += p * weight[..., None]
            norm[box] += weight
    out /= norm[..., None]
    return undo(out, [pad])


def save_prediction(
    labels: np.ndarray,
    source: Volume,
    path: str | Path,
    records: Sequence[Crop | Pad | Resize] = (),
) -> Path:
    """Write a predicted label map on the source image's grid, affine and header.

    Args:
        labels: Integer labels ``(x, y, z)`` on the preprocessed grid.
        source: The image the prediction belongs to, as loaded (its grid is the target).
        path: Output ``.nii.gz``.
        records: The preprocessing's crop/pad/resize records, in the order they were applied.

    Returns:
        The path written.

    Raises:
        ShapeError: If undoing ``records`` does not give the source's spatial shape.
    """
    back = undo(np.asarray(labels).astype(np.uint8), records)
    if back.shape != source.shape[:3]:
        raise ShapeError(
            f"the prediction is {back.shape} after undoing {len(records)} preprocessing step(s), "
            f"but the source {source.name} is {source.shape[:3]}; expected the same grid. "
            "Pass every crop/pad/resize record of the preprocessing, in order."
        )
    header = source.header.copy() if source.header is not None else None
    if header is not None:
        header.set_data_shape(back.shape)
    return save_nifti(path, back, source.affine, header)
