"""Clean-ups of binary masks and label maps: connected components and holes.

Used after prediction (keep the largest component of an organ, drop specks below a volume) and in
preprocessing (the intracranial mask of a head CT), so it sits below both.

- :func:`keep_largest_component`: the largest connected component of a binary mask.
- :func:`remove_small_components`: components below a physical volume dropped.
- :func:`fill_holes`: enclosed holes filled in 3D, or slice by slice along one axis.
- :func:`per_label`: one of these applied to every label of an integer label map.

Masks are boolean arrays of any dimension, ``(x, y)`` or ``(x, y, z)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

__all__ = ["fill_holes", "keep_largest_component", "per_label", "remove_small_components"]


def _structure(ndim: int, connectivity: int | None) -> np.ndarray:
    return ndimage.generate_binary_structure(ndim, connectivity or ndim)


def keep_largest_component(mask: np.ndarray, connectivity: int | None = None) -> np.ndarray:
    """Keep only the largest connected component of a binary mask (full connectivity by default)."""
    labels, n = ndimage.label(mask, _structure(mask.ndim, connectivity))
    if n <= 1:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (np.argmax(sizes) + 1)


def remove_small_components(
    mask: np.ndarray,
    min_volume_mm3: float,
    spacing: Sequence[float] | None = None,
    connectivity: int | None = None,
) -> np.ndarray:
    """Drop connected components smaller than ``min_volume_mm3`` (voxel volume from ``spacing``)."""
    voxel = float(np.prod(spacing)) if spacing is not None else 1.0
    labels, n = ndimage.label(mask, _structure(mask.ndim, connectivity))
    if n == 0:
        return mask.astype(bool)
    sizes = np.bincount(labels.ravel()) * voxel
    keep = sizes >= min_volume_mm3
    keep[0] = False
    return keep[labels]


def fill_holes(mask: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Fill enclosed holes in 3D, or slice by slice along ``axis`` (closed in-plane, open in 3D)."""
    if axis is None:
        return ndimage.binary_fill_holes(mask)
    moved = np.moveaxis(mask.astype(bool), axis, 0)
    return np.moveaxis(np.stack([ndimage.binary_fill_holes(s) for s in moved]), 0, axis)


def per_label(label_map: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply a binary clean-up to each non-zero label of an integer label map.

    Voxels a label loses become background; a label never grows into another label's voxels.
    """
    out = np.zeros_like(label_map)
    for value in np.unique(label_map):
        if value == 0:
            continue
        mask = label_map == value
        out[fn(mask) & (mask | (label_map == 0)) & (out == 0)] = value
    return out
