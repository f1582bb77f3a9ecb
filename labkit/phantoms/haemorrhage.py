"""A head CT with an intracerebral haemorrhage: the subjects of the INSTANCE twin.

Deformed MNI anatomy in Hounsfield units (skull, brain, CSF), a fresh bleed of one of four kinds
(deep, lobar, subdural crescent, tiny), thick axial slices as head CT is acquired, and the
haemorrhage mask that goes with it. :func:`labkit.datasets.ich.write_ich_twin` writes a cohort of
them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labkit.phantoms.artefacts import add_noise
from labkit.phantoms.contrast import BRAIN_CONTRASTS, overlay, tissue_image
from labkit.phantoms.head import lesion_regions, synthetic_head
from labkit.phantoms.lesions import irregular_blob, scatter_lesions

__all__ = ["HAEMORRHAGE_KINDS", "ich_head", "thick_slices"]

#: Kinds of haemorrhage in the twin and the share of patients drawn with each.
HAEMORRHAGE_KINDS = {"deep": 0.4, "lobar": 0.25, "subdural": 0.2, "tiny": 0.15}


def thick_slices(volume: np.ndarray, spacing_mm: float, slice_mm: float) -> np.ndarray:
    """Resample the last axis of a finely sampled volume into thick slices.

    Each thick slice averages a slab ``slice_mm`` thick (a Gaussian slice profile of that full
    width at half maximum), sampled every ``slice_mm``, which is what a scanner reconstructing
    thick axial slices does: small or thin structures are averaged with what surrounds them.

    Args:
        volume: ``(x, y, z)`` array with ``spacing_mm`` between slices.
        spacing_mm: Slice spacing of ``volume``.
        slice_mm: Thickness and spacing of the output slices.

    Returns:
        float32 ``(x, y, n)`` with ``n = floor((z - 1) * spacing_mm / slice_mm) + 1``.
    """
    if slice_mm < spacing_mm:
        raise ValueError(
            f"slice_mm ({slice_mm}) must be at least the input spacing ({spacing_mm}) mm."
        )
    step = slice_mm / spacing_mm
    sigma = step / 2.355  # full width at half maximum = one output slice
    smooth = ndimage.gaussian_filter1d(np.asarray(volume, np.float32), sigma, axis=2)
    positions = np.arange(0.0, volume.shape[2] - 1 + 1e-6, step)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, volume.shape[2] - 1)
    w = (positions - low).astype(np.float32)
    return smooth[..., low] * (1 - w) + smooth[..., high] * w


def _subdural(
    tissues: dict[str, np.ndarray], depth: np.ndarray, rng: np.random.Generator, res: float
) -> np.ndarray:
    """A crescent of blood between the brain and the skull (``depth``: mm to bone), 4 to 12 mm
    thick."""
    inside = (tissues["csf"] + tissues["gm"] + tissues["wm"] + tissues["extra_csf"]) > 0.5
    thickness = rng.uniform(4.0, 12.0)
    band = inside & (depth <= thickness)
    # keep to the side of the head (not the skull base, not the vertex where the skull lies
    # almost in the axial plane and thick slices would mix the crescent with bone)
    zs = np.nonzero(band.any(axis=(0, 1)))[0]
    span = zs[-1] - zs[0]
    band[..., : zs[0] + int(0.35 * span)] = False
    band[..., zs[0] + int(0.8 * span) :] = False
    candidates = np.argwhere(band & (depth <= 2.5))
    center = candidates[rng.integers(len(candidates))]
    radius = rng.uniform(20.0, 40.0) / res
    return irregular_blob(band.shape, center, (radius, radius, radius * 0.8), rng, 0.25) & band


def ich_head(
    rng: np.random.Generator, kind: str | None = None, slice_mm: float = 5.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Draw one head CT with intracranial haemorrhage.

    Args:
        rng: Random generator.
        kind: A key of :data:`HAEMORRHAGE_KINDS` (default: drawn with those shares).
        slice_mm: Axial slice thickness.

    Returns:
        ``(ct, mask, affine, kind)``: float32 CT in HU and uint8 haemorrhage mask
        ``(132, 132, n)`` (2 mm pixels, ``slice_mm`` slices), the affine and the kind drawn.
    """
    kinds = list(HAEMORRHAGE_KINDS)
    kind = kind or str(rng.choice(kinds, p=list(HAEMORRHAGE_KINDS.values())))
    if kind not in kinds:
        raise ValueError(f"unknown haemorrhage kind {kind!r}; expected one of {kinds}.")
    res = 2.0
    head = synthetic_head(rng, contrasts=(), resolution_mm=2, noise=0.0)
    tissues = {k: v for k, v in head.tissues.items() if k != "lesion"}
    regions = lesion_regions(tissues, head.ventricles, res)
    depth = ndimage.distance_transform_edt(tissues["skull"] < 0.5) * res
    brain = regions["brain"]
    spacing = (res,) * 3
    lesion = np.zeros(brain.shape, dtype=bool)
    while not lesion.any():
        if kind == "deep":
            lesion = scatter_lesions(
                regions["deep_grey"], rng, 1, (8.0, 20.0), spacing, 1.5, confine=False
            )
            lesion = lesion | scatter_lesions(
                brain, rng, int(rng.integers(0, 2)), (3.0, 6.0), spacing
            )
        elif kind == "lobar":
            lobe = regions["cortex"] | regions["deep_wm"]
            lesion = scatter_lesions(lobe, rng, 1, (7.0, 18.0), spacing, 1.8, 0.4, confine=False)
        elif kind == "subdural":
            lesion = _subdural(tissues, depth, rng, res)
        else:
            lesion = scatter_lesions(brain, rng, int(rng.integers(1, 4)), (3.0, 6.0), spacing)
        if kind != "subdural":  # bleeds in the brain stay clear of the bone
            lesion &= brain & (depth > 5.0)
    if kind in ("deep", "lobar"):  # perihaematomal oedema: a darker rim inside the brain
        rim = ndimage.distance_transform_edt(~lesion) * res <= rng.uniform(2.0, 6.0)
        tissues = overlay(tissues, "edema", 0.8 * (rim & ~lesion & brain))
    tissues = overlay(tissues, "lesion", lesion)
    table = dict(BRAIN_CONTRASTS["CT"], edema=18.0, lesion=float(rng.uniform(55.0, 80.0)))
    offset = float(rng.normal(0.0, 5.0))  # scanner calibration: soft tissue shifts together
    for name in ("csf", "gm", "wm", "extra_csf", "scalp", "lesion", "edema"):
        table[name] += offset
    fine = tissue_image(tissues, table, rng, variation=0.03)
    ct = add_noise(thick_slices(fine, res, slice_mm), rng, 5.0, "gaussian")
    mask = thick_slices(lesion.astype(np.float32), res, slice_mm) >= 0.5
    # a square matrix, as scanners reconstruct; air around the head
    side = max(ct.shape[:2])
    pad = [((side - n) // 2, side - n - (side - n) // 2) for n in ct.shape[:2]] + [(0, 0)]
    ct = np.pad(ct, pad, constant_values=-1000.0)
    mask = np.pad(mask, pad)
    affine = head.affine.copy()
    affine[:3, 2] *= slice_mm / res
    affine[:3, 3] -= affine[:3, 0] * pad[0][0] + affine[:3, 1] * pad[1][0]
    return ct.astype(np.float32), mask.astype(np.uint8), affine, kind
