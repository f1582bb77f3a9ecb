"""Checks that refuse an image or a label map no training or evaluation can use, naming the file.

NaN or constant images (:func:`check_image`), label maps that are not whole numbers
(:func:`as_label_map`) or hold values a dataset does not declare (:func:`check_declared_labels`),
and an image and its label on different grids (:func:`check_same_grid`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from labkit.errors import (
    ImageValueError,
    LabelValueError,
    ShapeError,
)
from labkit.volume import Volume

__all__ = ["as_label_map", "check_declared_labels", "check_image", "check_same_grid"]


def check_image(volume: Volume) -> Volume:
    """Refuse an image no training or prediction can use: NaN or infinite voxels, or one value
    in all its voxels (per channel).

    A NaN voxel turns every loss and every prediction that touches it into NaN; an all-zero file
    (a failed export, a mask saved as an image) or a degenerate 1x1x1 volume would be normalised
    by a zero range and trained on or predicted silently.

    Args:
        volume: An image ``(x, y, z)`` or ``(x, y, z, c)``.

    Returns:
        ``volume``, unchanged.

    Raises:
        ImageValueError: Naming the file, the shape, and what was found.
    """
    array = volume.array if volume.array.ndim == 4 else volume.array[..., None]
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        nan, inf = int(np.isnan(array).sum()), int(np.isinf(array).sum())
        raise ImageValueError(
            f"{volume.name} holds {nan} NaN and {inf} infinite voxel(s) (shape {volume.shape}); "
            "expected finite values everywhere. Replace them (for example np.nan_to_num, or the "
            "background value) and save the file again, or leave the case out."
        )
    for c in range(array.shape[-1]):
        channel = array[..., c]
        lo, hi = channel.min(), channel.max()
        if lo == hi:
            where = f" (channel {c})" if array.shape[-1] > 1 else ""
            raise ImageValueError(
                f"{volume.name}{where} holds the single value {lo.item()!r} in all "
                f"{channel.size} voxel(s) (shape {volume.shape}); expected an image with "
                "contrast. The file may be empty, a mask saved as an image, or the wrong file: "
                "check it in a viewer."
            )
    return volume


def check_declared_labels(
    values: Iterable[int],
    declared: Iterable[int],
    source: str,
    fix: str,
    counts: Iterable[int] | None = None,
) -> None:
    """Refuse label values outside those a dataset declares (0, background, is always allowed).

    Args:
        values: The values found (e.g. ``np.unique(label_map)``).
        declared: The values the dataset declares.
        source: What holds them, for the message (a file, or two folders).
        fix: How to fix it, for the message.
        counts: Voxels of each of ``values`` (``np.unique(..., return_counts=True)``), named in
            the message when given.

    Raises:
        LabelValueError: Naming ``source``, the undeclared values (and their voxel counts) and
            the declared ones.
    """
    values = [int(v) for v in values]
    voxels = dict(zip(values, (int(c) for c in counts), strict=True)) if counts is not None else {}
    found = sorted(set(values))
    allowed = {0, *(int(v) for v in declared)}
    if undeclared := [v for v in found if v not in allowed]:
        where = (
            " in " + ", ".join(f"{voxels[v]} voxel(s) of {v}" for v in undeclared) if voxels else ""
        )
        raise LabelValueError(
            f"{source} holds label value(s) {undeclared}{where} that the dataset does not "
            f"declare (it declares {sorted(allowed)}; found {found}). {fix}"
        )


def as_label_map(array: np.ndarray, source: str = "<array>") -> np.ndarray:
    """Check that ``array`` holds non-negative integer labels and return it as an integer array.

    Floating-point label files are common (two of the MSD hippocampus labels are float32); they
    are accepted when every value is a whole number, and cast to the smallest unsigned type.

    Args:
        array: Label values, any shape.
        source: File name or description used in error messages.

    Returns:
        The labels as ``uint8`` (or ``uint16``/``int32`` when larger values occur).

    Raises:
        LabelValueError: On NaN/inf, non-integer or negative values.
    """
    array = np.asarray(array)
    if array.dtype == bool:
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise LabelValueError(
                f"{source}: the label map holds NaN or infinite values; expected whole-number "
                "labels. Re-export the segmentation as an integer image."
            )
        frac = array[array != np.round(array)]
        if frac.size:
            examples = ", ".join(f"{v:g}" for v in np.unique(frac)[:5])
            raise LabelValueError(
                f"{source}: the label map holds non-integer values (e.g. {examples}); expected "
                "whole-number labels such as 0, 1, 2. Was an image passed as a label, or was the "
                "label resampled with linear interpolation? Resample labels with kind='label'."
            )
    elif not np.issubdtype(array.dtype, np.integer):
        raise LabelValueError(f"{source}: label dtype {array.dtype} is not numeric.")
    if array.size and array.min() < 0:
        raise LabelValueError(
            f"{source}: the label map holds negative values (min {array.min()}); expected "
            "labels >= 0 with 0 as background."
        )
    top = int(array.max()) if array.size else 0
    dtype = np.uint8 if top < 2**8 else np.uint16 if top < 2**16 else np.int32
    return array.astype(dtype, copy=False)


def check_same_grid(image: Volume, label: Volume, atol: float = 1e-3) -> None:
    """Raise if two volumes do not share one voxel grid (same spatial shape and affine).

    Args:
        image: Image volume, ``(x, y, z)`` or ``(x, y, z, c)``.
        label: Label volume, ``(x, y, z)``.
        atol: Tolerance on affine entries in millimetres (headers round-trip through float32).

    Raises:
        ShapeError: Naming both files, their shapes or affines, and how to fix it.
    """
    if image.shape[:3] != label.shape[:3]:
        raise ShapeError(
            f"image {image.name} has spatial shape {image.shape[:3]} but label {label.name} has "
            f"{label.shape[:3]}; expected the same grid. Resample the label onto the image grid "
            "(labkit.spatial.resample_to_shape(label, image.shape[:3], kind='label')) or check "
            "that the files belong to the same case."
        )
    if not np.allclose(image.affine, label.affine, atol=atol):
        raise ShapeError(
            f"image {image.name} and label {label.name} have the same shape {image.shape[:3]} "
            f"but different affines:\n{np.round(image.affine, 3)}\n"
            f"vs\n{np.round(label.affine, 3)}\nexpected identical grids. The label was probably "
            "saved in another orientation or spacing: reorient both with "
            "labkit.spatial.reorient, or re-export the label on the image grid."
        )
