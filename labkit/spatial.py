"""Changing a volume's voxel grid: reorientation to axis codes, and resampling to a shape or a
spacing (linear for images, nearest neighbour for labels); the affine follows every change.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from nibabel import orientations as ornt
from scipy import ndimage

from labkit.checks import as_label_map
from labkit.errors import (
    ShapeError,
)
from labkit.volume import Volume

__all__ = ["reorient", "resample_to_shape", "resample_to_spacing"]


def reorient(volume: Volume, target: str = "RAS") -> Volume:
    """Flip and permute the array axes so that they point along ``target`` (default RAS+).

    Only axis flips and permutations are applied (no interpolation), so values are untouched
    and labels stay labels. The affine is updated so every voxel keeps its world position.

    Args:
        volume: Input volume, ``(x, y, z)`` or ``(x, y, z, c)``.
        target: Three axis codes, e.g. ``"RAS"`` (NIfTI canonical) or ``"LPS"`` (DICOM/ITK).

    Returns:
        The reoriented volume.
    """
    target = target.upper()
    if len(target) != 3 or set(target) - set("RLAPSI"):
        raise ValueError(
            f"target orientation {target!r} must be three of R/L, A/P, S/I, e.g. 'RAS'."
        )
    current = ornt.io_orientation(volume.affine)
    transform = ornt.ornt_transform(current, ornt.axcodes2ornt(tuple(target)))
    array = ornt.apply_orientation(volume.array, transform)
    affine = volume.affine @ ornt.inv_ornt_aff(transform, volume.array.shape[:3])
    return volume.with_array(np.ascontiguousarray(array), affine)


def _zoom_axes(array: np.ndarray, shape: Sequence[int], order: int) -> np.ndarray:
    factors = [n / o for n, o in zip(shape, array.shape[:3], strict=True)]
    if array.ndim == 4:
        return np.stack(
            [_zoom_axes(array[..., c], shape, order) for c in range(array.shape[3])], -1
        )
    out = ndimage.zoom(array, factors, order=order, mode="nearest", grid_mode=True)
    return out


def resample_to_shape(volume: Volume, shape: Sequence[int], kind: str = "image") -> Volume:
    """Resample a volume to a new grid shape covering the same field of view.

    Voxel centres of the new grid are spread evenly over the old grid's extent (the outer voxel
    edges stay in place), and the affine is updated to match, so world positions are preserved.

    Args:
        volume: Input, ``(x, y, z)`` or ``(x, y, z, c)``.
        shape: New ``(x, y, z)`` shape.
        kind: ``"image"`` — linear interpolation, float32 result; ``"label"`` — nearest
            neighbour, the input's integer dtype, never a label value that was not there.

    Returns:
        The resampled volume with its new affine.
    """
    if kind not in ("image", "label"):
        raise ValueError(f"kind must be 'image' or 'label'; got {kind!r}.")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ShapeError(f"target shape must be three positive sizes (x, y, z); got {shape}.")
    old = np.array(volume.array.shape[:3], dtype=float)
    scale = old / np.array(shape, dtype=float)
    if kind == "label":
        array = _zoom_axes(as_label_map(volume.array, volume.name), shape, order=0)
    else:
        array = _zoom_axes(volume.array.astype(np.float32, copy=False), shape, order=1)
    step = np.eye(4)
    step[:3, :3] = np.diag(scale)
    step[:3, 3] = 0.5 * scale - 0.5
    return volume.with_array(array, volume.affine @ step)


def resample_to_spacing(
    volume: Volume, spacing: float | Sequence[float], kind: str = "image"
) -> Volume:
    """Resample a volume to (about) a given voxel size in millimetres.

    The new shape is ``round(old_shape * old_spacing / spacing)``; the exact spacing of the result
    is ``old_spacing * old_shape / new_shape`` (it differs from the request by under half a voxel
    over the field of view), and is what the returned affine records.

    Args:
        volume: Input, ``(x, y, z)`` or ``(x, y, z, c)``.
        spacing: One size for all axes, or ``(sx, sy, sz)`` in mm.
        kind: ``"image"`` (linear) or ``"label"`` (nearest neighbour), as :func:`resample_to_shape`.

    Returns:
        The resampled volume.
    """
    target = np.broadcast_to(np.asarray(spacing, dtype=float), (3,))
    if np.any(target <= 0):
        raise ValueError(f"spacing must be positive millimetres; got {tuple(target)}.")
    old_shape = np.array(volume.array.shape[:3], dtype=float)
    shape = np.maximum(1, np.round(old_shape * np.array(volume.spacing) / target)).astype(int)
    return resample_to_shape(volume, tuple(shape), kind=kind)
