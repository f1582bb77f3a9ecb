"""From tissue maps to image contrast: MRI weightings and CT Hounsfield units.

An image is a mixture: each voxel's value is the sum over tissues of probability times the
tissue's intensity, plus background for what no tissue claims. The tables below hold relative MR
signal (arbitrary units, white matter near 1 on T1) and CT attenuation in Hounsfield units.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["BRAIN_CONTRASTS", "tissue_image"]

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


def tissue_image(
    tissues: Mapping[str, np.ndarray],
    contrast: str | Mapping[str, float],
    rng: np.random.Generator | None = None,
    variation: float = 0.0,
) -> np.ndarray:
    """Mix tissue maps into an image of the given contrast.

    Args:
        tissues: Tissue name to probability or mask ``(x, y, z)``; names must appear in the
            contrast table. Later entries override earlier ones where they overlap (so a lesion
            mask listed last replaces the tissue beneath it).
        contrast: A key of :data:`BRAIN_CONTRASTS` or a table ``{tissue: intensity}``.
        rng: Random generator for per-subject contrast variation (``None``: none).
        variation: Relative standard deviation of each tissue's intensity between subjects.

    Returns:
        float32 image ``(x, y, z)``.
    """
    table = BRAIN_CONTRASTS[contrast] if isinstance(contrast, str) else dict(contrast)
    missing = [name for name in tissues if name not in table]
    if missing:
        raise KeyError(
            f"tissues {missing} have no intensity in the contrast table {sorted(table)}."
        )
    first = next(iter(tissues.values()))
    image = np.zeros(first.shape, dtype=np.float32)
    claimed = np.zeros(first.shape, dtype=np.float32)
    for name, prob in tissues.items():
        value = table[name]
        if rng is not None and variation > 0:
            value = value * (1.0 + rng.normal(0.0, variation))
        p = np.clip(prob.astype(np.float32), 0.0, 1.0)
        image = image * (1.0 - p) + p * np.float32(value)
        claimed = claimed * (1.0 - p) + p
    image += (1.0 - claimed) * np.float32(table.get("background", 0.0))
    return image
