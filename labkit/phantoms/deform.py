"""Smooth random deformations and rigid motion, applied identically to images and labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.spatial.transform import Rotation

__all__ = ["random_rotation", "smooth_displacement", "smooth_noise", "warp"]


def smooth_noise(
    shape: Sequence[int], rng: np.random.Generator, control_spacing_vox: float, count: int = 1
) -> np.ndarray:
    """Draw smooth random fields: unit-variance noise on a coarse grid, spline-interpolated.

    Interpolation runs in two steps for speed: cubic splines up to a grid four times coarser
    than ``shape``, then linear interpolation to ``shape`` (indistinguishable for fields that
    vary over ``control_spacing_vox`` >= 8 voxels, and many times faster than cubic all the way).

    Args:
        shape: Grid shape ``(x, y, z)``.
        rng: Random generator.
        control_spacing_vox: Distance between the random control values, in voxels.
        count: Number of independent fields.

    Returns:
        float32 array ``(count, x, y, z)``.
    """
    shape = tuple(int(s) for s in shape)
    coarse = tuple(max(2, int(np.ceil(s / control_spacing_vox)) + 1) for s in shape)
    middle = tuple(max(c, int(np.ceil(s / 4))) for s, c in zip(shape, coarse, strict=True))
    values = rng.normal(0.0, 1.0, size=(count, *coarse)).astype(np.float32)
    out = np.empty((count, *shape), dtype=np.float32)
    for k in range(count):
        mid = ndimage.zoom(
            values[k],
            [m / c for m, c in zip(middle, coarse, strict=True)],
            order=3,
            grid_mode=True,
            mode="nearest",
        )
        out[k] = ndimage.zoom(
            mid,
            [s / m for s, m in zip(shape, middle, strict=True)],
            order=1,
            grid_mode=True,
            mode="nearest",
        )
    return out


def smooth_displacement(
    shape: Sequence[int],
    rng: np.random.Generator,
    magnitude_vox: float = 3.0,
    control_spacing_vox: float = 12.0,
) -> np.ndarray:
    """Draw a smooth random displacement field (a free-form deformation).

    Random displacements on a coarse control grid are interpolated with cubic splines, which gives
    plausible between-subject shape variation without folding when ``magnitude_vox`` stays below
    about a third of ``control_spacing_vox``.

    Args:
        shape: Grid shape ``(x, y, z)``.
        rng: Random generator.
        magnitude_vox: Standard deviation of the displacement, in voxels.
        control_spacing_vox: Distance between control points, in voxels (larger is smoother).

    Returns:
        Displacement ``(3, x, y, z)`` float32, in voxels, for :func:`warp`.
    """
    return smooth_noise(shape, rng, control_spacing_vox, count=3) * np.float32(magnitude_vox)


def random_rotation(rng: np.random.Generator, max_degrees: Sequence[float]) -> np.ndarray:
    """Draw a rotation matrix with angles uniform in ``[-max, max]`` about the x, y and z axes.

    Args:
        rng: Random generator.
        max_degrees: Largest angle per axis ``(ax, ay, az)`` in degrees.

    Returns:
        ``(3, 3)`` rotation matrix acting on voxel coordinates.
    """
    angles = [rng.uniform(-m, m) for m in max_degrees]
    return Rotation.from_euler("xyz", angles, degrees=True).as_matrix()


def warp(
    arrays: Sequence[np.ndarray],
    displacement: np.ndarray | None = None,
    rotation: np.ndarray | None = None,
    orders: Sequence[int] | None = None,
    out_shape: Sequence[int] | None = None,
) -> list[np.ndarray]:
    """Resample several arrays through one transform: rotation about the centre, then displacement.

    The output voxel ``p`` takes its value from the input at ``R @ (p - c_out) + c_in + u(p)``,
    where ``c`` are the grid centres, ``R`` the rotation and ``u`` the displacement.

    Args:
        arrays: Volumes ``(x, y, z)`` on one grid.
        displacement: ``(3, *out_shape)`` field in voxels, or ``None``.
        rotation: ``(3, 3)`` matrix, or ``None``.
        orders: Spline order per array: 1 for intensities and probabilities, 0 for labels.
        out_shape: Output grid shape (default: the input shape).

    Returns:
        The transformed arrays, in the order given.
    """
    in_shape = np.array(arrays[0].shape, dtype=float)
    out_shape = tuple(int(s) for s in (out_shape or arrays[0].shape))
    orders = list(orders) if orders is not None else [1] * len(arrays)
    grid = np.indices(out_shape, dtype=np.float32).reshape(3, -1)
    centre_out = (np.array(out_shape, dtype=np.float32) - 1) / 2
    centre_in = ((in_shape - 1) / 2).astype(np.float32)
    rot = np.eye(3, dtype=np.float32) if rotation is None else rotation.astype(np.float32)
    coords = rot @ (grid - centre_out[:, None]) + centre_in[:, None]
    if displacement is not None:
        coords += displacement.reshape(3, -1)
    out = []
    for array, order in zip(arrays, orders, strict=True):
        res = ndimage.map_coordinates(array, coords, order=order, mode="constant", cval=0.0)
        out.append(res.reshape(out_shape).astype(array.dtype, copy=False))
    return out
