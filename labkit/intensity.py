"""Intensity normalisation: z-scores for MRI (within the brain mask of a skull-stripped image),
window-and-scale for CT, per-slice min-max."""

from __future__ import annotations

import numpy as np

from labkit.errors import ShapeError

__all__ = ["brain_mask", "minmax_slices", "window_scale", "zscore"]


def zscore(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-channel z-score: subtract the mean and divide by the standard deviation.

    Args:
        image: ``(*spatial, c)`` intensities.
        mask: Bool ``(*spatial)`` region whose statistics are used (e.g. the head, to keep the
            background out of them); default: every voxel.

    Returns:
        float32 array of the same shape; a constant channel becomes 0.
    """
    image = np.asarray(image, dtype=np.float32)
    out = np.empty_like(image)
    for c in range(image.shape[-1]):
        values = image[..., c] if mask is None else image[..., c][mask]
        mean, sd = (float(values.mean()), float(values.std())) if values.size else (0.0, 0.0)
        out[..., c] = (image[..., c] - mean) / (sd if sd > 1e-8 else 1.0)
    return out


def window_scale(image: np.ndarray, low: float, high: float) -> np.ndarray:
    """Clip to ``[low, high]`` (e.g. a CT window in HU) and scale linearly to ``[0, 1]``.

    Args:
        image: Intensities, any shape.
        low: Lower bound (maps to 0).
        high: Upper bound (maps to 1).

    Returns:
        float32 array of the same shape.
    """
    if high <= low:
        raise ValueError(f"window_scale needs low < high; got low={low}, high={high}.")
    return ((np.clip(np.asarray(image, dtype=np.float32), low, high) - low) / (high - low)).astype(
        np.float32
    )


def minmax_slices(image: np.ndarray, axis: int = 2) -> np.ndarray:
    """Scale every slice along ``axis`` to ``[0, 1]`` by its own minimum and maximum.

    This is the normalisation of a pipeline that cuts volumes into 2D slices first and normalises
    each slice (as the PHH study did); applied to the whole volume, it gives exactly what the
    slices would have got one by one, so prediction can reuse it.

    Args:
        image: ``(x, y, z, c)`` volume; each channel of each slice is scaled separately.
        axis: Slicing axis (2: axial).

    Returns:
        float32 array of the same shape; a constant slice becomes 0.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 4:
        raise ValueError(
            f"minmax_slices expects a volume (x, y, z, c); got shape {image.shape}. "
            "Add a channel axis with image[..., None]."
        )
    others = tuple(a for a in range(3) if a != axis)
    lo = image.min(axis=others, keepdims=True)
    span = image.max(axis=others, keepdims=True) - lo
    return np.where(span > 1e-8, (image - lo) / np.maximum(span, 1e-8), 0.0).astype(np.float32)


def brain_mask(image: np.ndarray) -> np.ndarray:
    """The brain of a skull-stripped image ``(x, y, z, c)``: voxels where any channel differs
    from its value in the corner voxel (the constant background: 0 in raw BraTS, a negative
    value in z-scored redistributions)."""
    if image.ndim != 4:
        raise ShapeError(f"brain_mask expects (x, y, z, c); got shape {image.shape}.")
    return np.any(image != image[0, 0, 0], axis=-1)
