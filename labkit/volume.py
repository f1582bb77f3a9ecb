"""A voxel array on a grid placed in world space: :class:`Volume`, its spacing and orientation.

A :class:`Volume` keeps a voxel array together with the affine that places it in the scanner's
world (millimetres) and the header it was read with. Every function that changes the voxel grid
(reorientation, resampling: :mod:`labkit.spatial`) returns a new :class:`Volume` whose affine
describes the new grid, so physical positions are never lost.

Arrays are channels-last: a 3D volume is ``(x, y, z)`` and a multi-modal volume ``(x, y, z, c)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel import orientations as ornt

from labkit.errors import (
    ShapeError,
)

__all__ = ["Volume", "orientation", "voxel_spacing"]


@dataclass(frozen=True)
class Volume:
    """A voxel array on a grid placed in world space by an affine.

    Attributes:
        array: Voxel values, shape ``(x, y, z)`` or ``(x, y, z, c)`` (channels-last).
        affine: ``(4, 4)`` voxel-to-world matrix in millimetres (RAS+ world, as NIfTI defines).
        header: The NIfTI header the volume was read with, or ``None`` for a new array.
        path: The file the volume came from, or ``None``.
    """

    array: np.ndarray
    affine: np.ndarray
    header: nib.Nifti1Header | None = field(default=None, repr=False, compare=False)
    path: Path | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the voxel array."""
        return tuple(self.array.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in millimetres along the three array axes, from the affine."""
        return voxel_spacing(self.affine)

    @property
    def name(self) -> str:
        """File name when the volume came from a file, else ``"<array>"``."""
        return str(self.path) if self.path is not None else "<array>"

    def with_array(self, array: np.ndarray, affine: np.ndarray | None = None) -> Volume:
        """Return a copy holding ``array`` (and ``affine``, when given) with the same header."""
        return replace(self, array=array, affine=self.affine if affine is None else affine)


def voxel_spacing(affine: np.ndarray) -> tuple[float, float, float]:
    """Return the voxel size in mm along each array axis: the norms of the affine's columns.

    Args:
        affine: ``(4, 4)`` voxel-to-world matrix.

    Returns:
        ``(sx, sy, sz)`` in millimetres; correct for oblique and flipped axes too.
    """
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4):
        raise ShapeError(f"an affine must be a (4, 4) matrix; got shape {affine.shape}.")
    return tuple(float(v) for v in np.linalg.norm(affine[:3, :3], axis=0))


def orientation(affine: np.ndarray) -> str:
    """Return the axis codes of a grid, e.g. ``"RAS"`` or ``"LPS"``.

    Each letter names the world direction in which the array index grows along that axis
    (R/L right/left, A/P anterior/posterior, S/I superior/inferior).
    """
    return "".join(ornt.aff2axcodes(np.asarray(affine, dtype=float)))
