"""Real brain anatomy from the MNI ICBM152 2009 template bundled in nilearn, and head layers.

The nilearn wheel ships the 1 mm ICBM152 2009 symmetric T1 template with its grey- and
white-matter probability maps and a brain mask (Fonov et al. 2011, NeuroImage 54:313-327), so no
download is needed. Cerebrospinal fluid is what the brain mask holds beyond grey and white matter;
the ventricles are the CSF deep inside the brain.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = ["BrainAnatomy", "head_layers", "mni_brain"]


@dataclass(frozen=True)
class BrainAnatomy:
    """Tissue probability maps of one brain on one grid, all ``(x, y, z)`` in RAS+ orientation.

    Attributes:
        t1: The template's T1 intensities in ``[0, 1]``.
        gm: Grey-matter probability.
        wm: White-matter probability.
        csf: Cerebrospinal-fluid probability (inside the brain mask, beyond GM and WM).
        brain: Brain mask (bool).
        ventricles: Lateral and third ventricles (bool): CSF at least 12 mm inside the brain.
        affine: ``(4, 4)`` voxel-to-MNI-world matrix in mm.
    """

    t1: np.ndarray
    gm: np.ndarray
    wm: np.ndarray
    csf: np.ndarray
    brain: np.ndarray
    ventricles: np.ndarray
    affine: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape ``(x, y, z)``."""
        return tuple(self.t1.shape)

    @property
    def spacing(self) -> float:
        """Isotropic voxel size in mm."""
        return float(abs(self.affine[0, 0]))

    def pad(self, margin_mm: float) -> BrainAnatomy:
        """The same anatomy on a grid grown by ``margin_mm`` on every side (room for a skull).

        The affine is shifted so that every voxel keeps its world position.
        """
        pad = int(np.ceil(margin_mm / self.spacing))
        affine = self.affine.copy()
        affine[:3, 3] -= affine[:3, :3] @ np.full(3, pad)
        return BrainAnatomy(
            **{
                f: np.pad(getattr(self, f), pad)
                for f in ("t1", "gm", "wm", "csf", "brain", "ventricles")
            },
            affine=affine,
        )

    def tissues(self) -> dict[str, np.ndarray]:
        """Return the probability maps as ``{"csf", "gm", "wm"}`` (float32, summing to <= 1)."""
        return {"csf": self.csf, "gm": self.gm, "wm": self.wm}


def _load_template() -> tuple[np.ndarray, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from nilearn import datasets

        t1 = datasets.load_mni152_template(resolution=1)
        gm = datasets.load_mni152_gm_template(resolution=1)
        wm = datasets.load_mni152_wm_template(resolution=1)
        mask = datasets.load_mni152_brain_mask(resolution=1)
    return (
        np.asarray(t1.dataobj, dtype=np.float32),
        np.asarray(gm.dataobj, dtype=np.float32),
        np.asarray(wm.dataobj, dtype=np.float32),
        np.asarray(mask.dataobj) > 0.5,
        t1.affine.copy(),
    )


@lru_cache(maxsize=4)
def mni_brain(resolution_mm: int = 2) -> BrainAnatomy:
    """Return the MNI ICBM152 2009 brain at an integer resolution (1, 2, 3 or 4 mm).

    The 1 mm maps are block-averaged to coarser grids, so probabilities stay probabilities.
    The result is cached; treat its arrays as read-only.

    Args:
        resolution_mm: Isotropic voxel size of the returned grid.

    Returns:
        The anatomy; at 2 mm the grid is ``(98, 116, 94)``.
    """
    if resolution_mm not in (1, 2, 3, 4):
        raise ValueError(f"resolution_mm must be 1, 2, 3 or 4; got {resolution_mm}.")
    t1, gm, wm, brain, affine = _load_template()
    t1 = t1 / max(float(t1.max()), 1e-6)
    gm, wm = np.clip(gm, 0, 1), np.clip(wm, 0, 1)
    total = np.maximum(gm + wm, 1.0)
    gm, wm = gm / total, wm / total
    csf = np.where(brain, np.clip(1.0 - gm - wm, 0.0, 1.0), 0.0).astype(np.float32)
    r = resolution_mm
    if r > 1:
        crop = tuple(slice(0, (s // r) * r) for s in t1.shape)

        def pool(a: np.ndarray) -> np.ndarray:
            a = a[crop].astype(np.float32)
            x, y, z = a.shape
            return a.reshape(x // r, r, y // r, r, z // r, r).mean(axis=(1, 3, 5))

        t1, gm, wm, csf = pool(t1), pool(gm), pool(wm), pool(csf)
        brain = pool(brain) > 0.5
        affine = affine.copy()
        affine[:3, :3] *= r
        affine[:3, 3] += affine[:3, :3] @ np.full(3, (1 - 1 / r) / 2)
    depth_mm = ndimage.distance_transform_edt(brain) * r
    ventricles = (csf > 0.5) & (depth_mm > 12.0)
    ventricles = ndimage.binary_opening(ventricles, iterations=1)
    return BrainAnatomy(
        t1=t1, gm=gm, wm=wm, csf=csf, brain=brain, ventricles=ventricles, affine=affine
    )


def head_layers(
    brain: np.ndarray,
    spacing: float,
    csf_mm: float = 2.0,
    skull_mm: float = 6.0,
    scalp_mm: float = 5.0,
) -> dict[str, np.ndarray]:
    """Grow extra-axial CSF, skull and scalp shells around a brain mask.

    Args:
        brain: Brain mask ``(x, y, z)``, bool.
        spacing: Isotropic voxel size in mm.
        csf_mm: Thickness of the CSF shell between brain and skull.
        skull_mm: Thickness of the skull.
        scalp_mm: Thickness of the scalp (skin, fat and muscle).

    Returns:
        ``{"extra_csf", "skull", "scalp"}``: disjoint bool masks ``(x, y, z)``. The grid must leave
        room around the brain, or the outer layers are cut at the border.
    """
    outside = ndimage.distance_transform_edt(~brain) * spacing
    extra_csf = (outside > 0) & (outside <= csf_mm)
    skull = (outside > csf_mm) & (outside <= csf_mm + skull_mm)
    scalp = (outside > csf_mm + skull_mm) & (outside <= csf_mm + skull_mm + scalp_mm)
    return {"extra_csf": extra_csf, "skull": skull, "scalp": scalp}
