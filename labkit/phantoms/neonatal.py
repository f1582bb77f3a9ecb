"""A preterm infant"s head with post-hemorrhagic hydrocephalus: the subjects of the PHH twin.

MNI anatomy scaled to a preterm head, ventricles dilated as far as the severity says, neonatal T2
contrast (unmyelinated white matter brighter than grey matter), and the CSF mask that goes with
it voxel for voxel. :func:`labkit.datasets.phh.write_phh_twin` writes a cohort of them.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labkit.phantoms.anatomy import head_layers, mni_brain
from labkit.phantoms.artefacts import add_noise, bias_field
from labkit.phantoms.contrast import tissue_image
from labkit.phantoms.deform import random_rotation, smooth_displacement, warp

__all__ = ["phh_head"]


def _dilation(
    ventricles: np.ndarray, amounts: tuple[float, float], decay: float
) -> tuple[np.ndarray, np.ndarray]:
    """Dilate the ventricles and push the surrounding tissue outwards (mass effect).

    A voxel at distance ``d`` from the ventricles, in a hemisphere dilated by ``a`` voxels, is
    CSF when ``d <= a``; farther out it takes the template"s content from distance
    ``d - a * exp(-(d - a) / decay)`` along the same ray, so the tissue next to the ventricle is
    shifted outwards by ``a`` and the shift fades with distance (a monotonic map: nothing folds).

    Args:
        ventricles: Bool mask ``(x, y, z)`` of the template"s ventricles.
        amounts: Dilation in voxels of the (left, right) ventricles; PHH is often asymmetric.
        decay: Distance in voxels over which the push fades.

    Returns:
        ``(displacement (3, x, y, z), dilated ventricles (x, y, z) bool)``.
    """
    dist, nearest = ndimage.distance_transform_edt(~ventricles, return_indices=True)
    offset = np.indices(ventricles.shape, dtype=np.float32) - nearest
    right = nearest[0] >= ventricles.shape[0] // 2  # RAS: larger x is the patient"s right
    amount = np.where(right, amounts[1], amounts[0]).astype(np.float32)
    pull = np.minimum(dist, amount * np.exp(-np.maximum(dist - amount, 0) / decay))
    disp = -offset * (pull / np.maximum(dist, 1e-6))
    return disp.astype(np.float32), dist <= amount


def phh_head(
    rng: np.random.Generator, resolution_mm: int = 2, severity: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw one preterm head with post-hemorrhagic ventricular dilation.

    Args:
        rng: Random generator.
        resolution_mm: Voxel size of the adult template before shrinking (the returned grid has
            voxels of ``0.62 * resolution_mm`` mm: the preterm brain is about 62% of the adult"s
            linear size).
        severity: Ventricular dilation in ``[0, 1]`` (default: drawn at random).

    Returns:
        ``(t2, csf_mask, affine)``: float32 T2 image and uint8 mask ``(x, y, z)``, and the affine.
    """
    anatomy = mni_brain(resolution_mm).pad(12.0)
    tissues = anatomy.tissues()
    ventricles = anatomy.ventricles.astype(np.float32)
    shape = ventricles.shape
    severity = float(rng.uniform(0.2, 1.0) if severity is None else severity)
    # dilate each ventricle by its own amount (PHH is often asymmetric), up to about 10 mm
    amounts = tuple(severity * rng.uniform(3.0, 10.0) / resolution_mm for _ in range(2))
    push, dilated = _dilation(ventricles > 0.5, amounts, decay=15.0 / resolution_mm)
    names = list(tissues)
    *maps, vent = warp([*tissues.values(), ventricles], push)
    fill = dilated.astype(np.float32)  # the dilated ventricles are all CSF
    tissues = {n: m * (1.0 - fill) for n, m in zip(names, maps, strict=True)}
    tissues["csf"] += fill
    vent = np.maximum(vent, dilated.astype(np.float32))
    # then this subject"s shape and head position
    disp = smooth_displacement(shape, rng, magnitude_vox=1.0, control_spacing_vox=12)
    rot = random_rotation(rng, (8, 8, 12))
    *maps, vent = warp([*tissues.values(), vent], disp, rot)
    tissues = dict(zip(names, maps, strict=True))
    brain = (tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5
    layers = head_layers(brain, float(resolution_mm), csf_mm=3.0, skull_mm=3.0, scalp_mm=3.0)
    tissues.update({k: v.astype(np.float32) for k, v in layers.items()})
    t2 = tissue_image(tissues, "neonatal_T2", rng, variation=0.05)
    t2 = add_noise(t2 * bias_field(shape, rng, 0.2), rng, sigma=0.03)
    csf = np.maximum(tissues["csf"], vent > 0.5) + tissues["extra_csf"]
    others = tissues["gm"] + tissues["wm"] + tissues["skull"] + tissues["scalp"]
    mask = ((csf > 0.5) & (csf >= others)).astype(np.uint8)
    affine = anatomy.affine.copy()
    affine[:3, :] *= 0.62  # a preterm head: the same anatomy at about 62% of the adult size
    return t2.astype(np.float32), mask, affine
