"""Lesions: irregular blobs of a given size, scattered in a region of interest."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

__all__ = ["irregular_blob", "scatter_lesions"]


def irregular_blob(
    shape: Sequence[int],
    center: Sequence[float],
    radii_vox: Sequence[float],
    rng: np.random.Generator,
    roughness: float = 0.3,
) -> np.ndarray:
    """Draw an ellipsoid whose border is pushed in and out by smooth noise.

    The blob is the set ``{p : d(p) < 1 + roughness * n(p)}`` with ``d`` the ellipsoidal distance
    from ``center`` and ``n`` a smooth random field in about ``[-1, 1]``. The work is done inside
    the blob's bounding box, so a small lesion in a large volume is cheap.

    Args:
        shape: Grid shape ``(x, y, z)``.
        center: Centre in voxel coordinates.
        radii_vox: Semi-axes in voxels (may be anisotropic, e.g. elongated lesions).
        rng: Random generator.
        roughness: Amplitude of the border irregularity (0 gives a smooth ellipsoid).

    Returns:
        Bool mask ``(x, y, z)``; may be empty if the blob lies outside the grid.
    """
    shape = tuple(int(s) for s in shape)
    center = np.asarray(center, dtype=float)
    radii = np.maximum(np.asarray(radii_vox, dtype=float), 0.5)
    reach = radii * (1.0 + roughness) + 1
    lo = np.maximum(np.floor(center - reach).astype(int), 0)
    hi = np.minimum(np.ceil(center + reach).astype(int) + 1, shape)
    mask = np.zeros(shape, dtype=bool)
    if np.any(hi <= lo):
        return mask
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    grid = np.indices(tuple(hi - lo), dtype=np.float32)
    d2 = sum(((grid[i] + lo[i] - center[i]) / radii[i]) ** 2 for i in range(3))
    noise = rng.normal(size=tuple(hi - lo)).astype(np.float32)
    noise = ndimage.gaussian_filter(noise, sigma=np.maximum(radii / 2.0, 0.8))
    noise /= max(float(np.abs(noise).max()), 1e-6)
    mask[box] = np.sqrt(d2) < 1.0 + roughness * noise
    return mask


def scatter_lesions(
    region: np.ndarray,
    rng: np.random.Generator,
    count: int,
    radius_range_mm: tuple[float, float],
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    elongation: float = 1.0,
    roughness: float = 0.3,
    confine: bool = True,
) -> np.ndarray:
    """Place ``count`` irregular blobs with centres drawn uniformly from a region.

    Radii are drawn log-uniformly in ``radius_range_mm``, so small lesions are common and large
    ones rare, as in most lesion size distributions.

    Args:
        region: Bool mask ``(x, y, z)`` of allowed centres (e.g. periventricular white matter).
        rng: Random generator.
        count: Number of blobs (0 gives an empty mask).
        radius_range_mm: ``(smallest, largest)`` mean radius in millimetres.
        spacing: Voxel size in mm, so that blobs are round in millimetres on anisotropic grids.
        elongation: Largest ratio between the longest and shortest semi-axis (1: round).
        roughness: Border irregularity, as :func:`irregular_blob`.
        confine: Clip the blobs to ``region``.

    Returns:
        Bool mask ``(x, y, z)`` of all lesions.
    """
    out = np.zeros(region.shape, dtype=bool)
    candidates = np.argwhere(region)
    if count <= 0 or len(candidates) == 0:
        return out
    lo, hi = np.log(radius_range_mm[0]), np.log(radius_range_mm[1])
    spacing = np.asarray(spacing, dtype=float)
    for _ in range(count):
        center = candidates[rng.integers(len(candidates))]
        radius = float(np.exp(rng.uniform(lo, hi)))
        stretch = np.exp(rng.uniform(-1, 1, size=3) * np.log(max(elongation, 1.0)) / 2)
        out |= irregular_blob(region.shape, center, radius * stretch / spacing, rng, roughness)
    return out & region if confine else out
