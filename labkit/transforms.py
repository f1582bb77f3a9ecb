"""Grid operations that preprocessing applies and prediction must undo: crop, pad, resize.

Each forward function returns the new array and a small record of what it did; the matching
``undo_*`` function (or :func:`undo`, for a list of records) takes a prediction made on the new
grid back to the original one, so that a label map can be saved on the source image's grid and
affine. Arrays are channels-last; the operations act on the first ``len(shape)`` axes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "Crop",
    "Pad",
    "Resize",
    "crop_to_box",
    "foreground_box",
    "pad_to_multiple",
    "resize",
    "undo",
]


@dataclass(frozen=True)
class Crop:
    """A crop: ``start`` and ``stop`` per spatial axis, and the shape before it."""

    start: tuple[int, ...]
    stop: tuple[int, ...]
    original: tuple[int, ...]


@dataclass(frozen=True)
class Pad:
    """Zero/edge padding: ``before`` and ``after`` per spatial axis."""

    before: tuple[int, ...]
    after: tuple[int, ...]


@dataclass(frozen=True)
class Resize:
    """A resize of the spatial axes from ``original`` to ``shape`` (same field of view)."""

    original: tuple[int, ...]
    shape: tuple[int, ...]


def foreground_box(
    mask: np.ndarray, margin: int | Sequence[int] = 0
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Bounding box ``(start, stop)`` of the non-zero voxels, grown by ``margin`` and clipped.

    Raises:
        ValueError: If the mask is empty.
    """
    idx = np.argwhere(mask)
    if idx.size == 0:
        raise ValueError(
            f"foreground_box: the mask of shape {mask.shape} is empty; nothing to crop to."
        )
    m = np.broadcast_to(np.asarray(margin, dtype=int), (mask.ndim,))
    start = np.maximum(idx.min(0) - m, 0)
    stop = np.minimum(idx.max(0) + 1 + m, mask.shape)
    return tuple(int(v) for v in start), tuple(int(v) for v in stop)


def crop_to_box(
    array: np.ndarray, start: Sequence[int], stop: Sequence[int]
) -> tuple[np.ndarray, Crop]:
    """Crop the leading spatial axes of ``array`` to ``[start, stop)``."""
    n = len(start)
    box = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    return array[box], Crop(tuple(start), tuple(stop), tuple(array.shape[:n]))


def pad_to_multiple(
    array: np.ndarray, multiple: int | Sequence[int], ndim: int, mode: str = "constant"
) -> tuple[np.ndarray, Pad]:
    """Pad the first ``ndim`` axes symmetrically up to a multiple (e.g. ``2**depth`` of a U-Net).

    Args:
        array: ``(*spatial, ...)`` array.
        multiple: Multiple per spatial axis.
        ndim: Number of spatial axes.
        mode: ``numpy.pad`` mode (``"constant"`` pads with 0, ``"edge"`` repeats the border).
    """
    mult = np.broadcast_to(np.asarray(multiple, dtype=int), (ndim,))
    shape = np.array(array.shape[:ndim])
    total = (-shape) % mult
    before = total // 2
    after = total - before
    widths = [(int(b), int(a)) for b, a in zip(before, after, strict=True)]
    widths += [(0, 0)] * (array.ndim - ndim)
    return np.pad(array, widths, mode=mode), Pad(
        tuple(int(b) for b in before), tuple(int(a) for a in after)
    )


def resize(array: np.ndarray, shape: Sequence[int], order: int) -> tuple[np.ndarray, Resize]:
    """Resize the leading ``len(shape)`` axes, keeping the field of view (voxel-centre aligned).

    Args:
        array: ``(*spatial, ...)`` array; trailing axes (channels) are kept.
        shape: New spatial shape.
        order: 0 (nearest, for labels) or 1 (linear, for images).
    """
    n = len(shape)
    factors = [s / o for s, o in zip(shape, array.shape[:n], strict=True)] + [1.0] * (
        array.ndim - n
    )
    out = ndimage.zoom(array, factors, order=order, mode="nearest", grid_mode=True)
    return out, Resize(tuple(int(v) for v in array.shape[:n]), tuple(int(v) for v in shape))


def _undo_one(array: np.ndarray, record: Crop | Pad | Resize, fill: float) -> np.ndarray:
    if isinstance(record, Pad):
        n = len(record.before)
        box = tuple(
            slice(b, array.shape[i] - a)
            for i, (b, a) in enumerate(zip(record.before, record.after, strict=True))
        )
        return array[box + (slice(None),) * (array.ndim - n)]
    if isinstance(record, Crop):
        n = len(record.start)
        out = np.full(record.original + array.shape[n:], fill, dtype=array.dtype)
        box = tuple(slice(a, b) for a, b in zip(record.start, record.stop, strict=True))
        out[box] = array
        return out
    order = 0 if np.issubdtype(array.dtype, np.integer) or array.dtype == bool else 1
    return resize(array, record.original, order)[0]


def undo(array: np.ndarray, records: Sequence[Crop | Pad | Resize], fill: float = 0) -> np.ndarray:
    """Take an array from the preprocessed grid back to the original one.

    Args:
        array: Prediction on the preprocessed grid, ``(*spatial, ...)``.
        records: The records of the forward operations, in the order they were applied.
        fill: Value outside a crop (0 = background for label maps).

    Returns:
        The array on the original grid. Integer arrays (label maps) are resized with nearest
        neighbour, float arrays (probabilities) linearly.
    """
    for record in reversed(records):
        array = _undo_one(array, record, fill)
    return array
