"""From tissue maps to image contrast: MRI weightings and CT Hounsfield units.

An image is a mixture: each voxel's value is the sum over tissues of the tissue's fraction of the
voxel times its intensity, plus background for the fraction no tissue claims. Structures painted
over anatomy (a lesion in white matter) take their fraction from the tissues beneath them with
:func:`overlay`. The tables below hold relative MR
signal (arbitrary units, white matter near 1 on T1) and CT attenuation in Hounsfield units.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["BRAIN_CONTRASTS", "overlay", "tissue_image"]

#: Mean intensity of each tissue per contrast. MR values are relative signal; CT is in HU.
#: ``neonatal_T2`` reflects unmyelinated white matter, brighter than grey matter on T2.
BRAIN_CONTRASTS: dict[str, dict[str, float]] = {
    "T1": {
        "csf": 0.25,
        "gm": 0.62,
        "wm": 0.95,
        "extra_csf": 0.25,
        "skull": 0.12,
        "scalp": 0.85,
        "lesion": 0.45,
        "background": 0.0,
    },
    "T1Gd": {
        "csf": 0.25,
        "gm": 0.62,
        "wm": 0.95,
        "extra_csf": 0.25,
        "skull": 0.12,
        "scalp": 0.85,
        "lesion": 0.55,
        "background": 0.0,
    },
    "T2": {
        "csf": 1.0,
        "gm": 0.55,
        "wm": 0.40,
        "extra_csf": 1.0,
        "skull": 0.08,
        "scalp": 0.45,
        "lesion": 0.85,
        "background": 0.0,
    },
    "FLAIR": {
        "csf": 0.10,
        "gm": 0.55,
        "wm": 0.42,
        "extra_csf": 0.10,
        "skull": 0.06,
        "scalp": 0.50,
        "lesion": 0.95,
        "background": 0.0,
    },
    "neonatal_T2": {
        "csf": 1.0,
        "gm": 0.45,
        "wm": 0.62,
        "extra_csf": 1.0,
        "skull": 0.08,
        "scalp": 0.40,
        "lesion": 0.30,
        "background": 0.0,
    },
    "CT": {
        "csf": 8.0,
        "gm": 38.0,
        "wm": 28.0,
        "extra_csf": 8.0,
        "skull": 1200.0,
        "scalp": 20.0,
        "lesion": 65.0,
        "background": -1000.0,
    },
}


def overlay(
    tissues: Mapping[str, np.ndarray], name: str, fraction: np.ndarray
) -> dict[str, np.ndarray]:
    """Add a structure that replaces the tissue beneath it.

    Args:
        tissues: Tissue name to fraction ``(x, y, z)``.
        name: Name of the new structure (a key of the contrast tables, e.g. ``"lesion"``).
        fraction: Its fraction of each voxel ``(x, y, z)``, in ``[0, 1]`` (a mask works too).

    Returns:
        New maps: every existing tissue scaled by ``1 - fraction``, plus ``name``.
    """
    fraction = np.clip(np.asarray(fraction, dtype=np.float32), 0.0, 1.0)
    out = {k: (v * (1.0 - fraction)).astype(np.float32) for k, v in tissues.items() if k != name}
    out[name] = fraction
    return out


def tissue_image(
    tissues: Mapping[str, np.ndarray],
    contrast: str | Mapping[str, float],
    rng: np.random.Generator | None = None,
    variation: float = 0.0,
) -> np.ndarray:
    """Mix tissue fractions into an image of the given contrast.

    Args:
        tissues: Tissue name to fraction of each voxel ``(x, y, z)``; names must appear in the
            contrast table. Where the fractions add up to more than 1 (the edges of masks grown
            around a probabilistic brain) they are rescaled to sum to 1.
        contrast: A key of :data:`BRAIN_CONTRASTS` or a table ``{tissue: intensity}``.
        rng: Random generator for per-subject contrast variation (``None``: none).
        variation: Relative standard deviation of each tissue's intensity between subjects.

    Returns:
        float32 image ``(x, y, z)``: ``sum_i f_i v_i + (1 - sum_i f_i) v_background``.
    """
    table = BRAIN_CONTRASTS[contrast] if isinstance(contrast, str) else dict(contrast)
    missing = [name for name in tissues if name not in table]
    if missing:
        raise KeyError(
            f"tissues {missing} have no intensity in the contrast table {sorted(table)}."
        )
    maps = {n: np.clip(np.asarray(p, dtype=np.float32), 0.0, 1.0) for n, p in tissues.items()}
    total = sum(maps.values())
    scale = np.where(total > 1.0, 1.0 / np.maximum(total, 1e-6), 1.0).astype(np.float32)
    image = np.zeros(total.shape, dtype=np.float32)
    for name, frac in maps.items():
        value = table[name]
        if rng is not None and variation > 0:
            value = value * (1.0 + rng.normal(0.0, variation))
        image += frac * scale * np.float32(value)
    image += (1.0 - np.minimum(total, 1.0)) * np.float32(table.get("background", 0.0))
    return image
