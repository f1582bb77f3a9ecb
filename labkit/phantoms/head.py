"""A whole synthetic head: deformed MNI anatomy, head layers, lesions and several contrasts.

This is the common starting point of the brain twins (hydrocephalus, white-matter
hyperintensities, haemorrhage, tumours): one subject's anatomy drawn once, then imaged in as
many contrasts as the study needs, so that all modalities of a subject agree voxel for voxel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from labkit.phantoms.anatomy import head_layers, mni_brain
from labkit.phantoms.artefacts import add_noise, bias_field
from labkit.phantoms.contrast import BRAIN_CONTRASTS, overlay, tissue_image
from labkit.phantoms.deform import random_rotation, smooth_displacement, warp
from labkit.phantoms.lesions import scatter_lesions

__all__ = ["LESION_REGIONS", "SyntheticHead", "lesion_regions", "synthetic_head"]

#: Named regions where lesions can be placed, see :func:`lesion_regions`.
LESION_REGIONS = ("periventricular_wm", "deep_wm", "cortex", "deep_grey", "brain")


@dataclass(frozen=True)
class SyntheticHead:
    """One synthetic subject.

    Attributes:
        images: Contrast name to image ``(x, y, z)`` float32 (CT in Hounsfield units).
        tissues: Tissue name to probability map ``(x, y, z)``: ``csf``, ``gm``, ``wm``,
            ``extra_csf``, ``skull``, ``scalp`` and ``lesion`` (a 0/1 mask).
        ventricles: Bool mask of the ventricles ``(x, y, z)``.
        affine: ``(4, 4)`` voxel-to-world matrix in mm (RAS+).
    """

    images: dict[str, np.ndarray]
    tissues: dict[str, np.ndarray]
    ventricles: np.ndarray
    affine: np.ndarray

    @property
    def lesion(self) -> np.ndarray:
        """Bool lesion mask ``(x, y, z)``."""
        return self.tissues["lesion"] > 0.5


def lesion_regions(
    tissues: dict[str, np.ndarray], ventricles: np.ndarray, spacing: float
) -> dict[str, np.ndarray]:
    """Split a brain into the regions where lesions of different kinds occur.

    Args:
        tissues: ``csf``, ``gm`` and ``wm`` probability maps ``(x, y, z)``.
        ventricles: Bool ventricle mask ``(x, y, z)``.
        spacing: Isotropic voxel size in mm.

    Returns:
        Bool masks ``(x, y, z)``: ``periventricular_wm`` (white matter within 10 mm of a
        ventricle, where most white-matter hyperintensities sit), ``deep_wm`` (the rest of the
        white matter), ``cortex`` (grey matter within 6 mm of the brain surface), ``deep_grey``
        (the remaining grey matter: basal ganglia and thalami, where hypertensive haemorrhages
        occur), and ``brain``.
    """
    wm = tissues["wm"] > 0.5
    gm = tissues["gm"] > 0.5
    brain = (tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5
    near_ventricle = ndimage.distance_transform_edt(~ventricles) * spacing <= 10.0
    depth = ndimage.distance_transform_edt(brain) * spacing
    return {
        "periventricular_wm": wm & near_ventricle,
        "deep_wm": wm & ~near_ventricle,
        "cortex": gm & (depth <= 6.0),
        "deep_grey": gm & (depth > 12.0),
        "brain": brain,
    }


def synthetic_head(
    rng: np.random.Generator,
    contrasts: Sequence[str] = ("T1", "T2", "FLAIR", "CT"),
    resolution_mm: int = 2,
    lesion_region: str = "periventricular_wm",
    lesion_count: tuple[int, int] = (0, 0),
    lesion_radius_mm: tuple[float, float] = (2.0, 8.0),
    noise: float = 0.03,
) -> SyntheticHead:
    """Draw one subject and image it in several contrasts.

    The MNI brain is rotated and bent by a smooth random deformation, extra-axial CSF, skull and
    scalp are grown around it, lesions are scattered in ``lesion_region``, and each contrast is
    a tissue mixture with per-subject intensity variation. MRI contrasts get a bias field and
    Rician noise (``noise`` times the white-matter signal); CT gets 4 HU of Gaussian noise.

    Args:
        rng: Random generator.
        contrasts: Keys of :data:`~labkit.phantoms.contrast.BRAIN_CONTRASTS`.
        resolution_mm: Isotropic voxel size (1 to 4 mm).
        lesion_region: One of :data:`LESION_REGIONS`.
        lesion_count: Inclusive range of the number of lesions.
        lesion_radius_mm: Range of lesion radii (log-uniform).
        noise: MRI noise level relative to white matter.

    Returns:
        The subject; at 2 mm the grid is ``(114, 132, 110)`` (the MNI grid plus a 16 mm margin).
    """
    unknown = [c for c in contrasts if c not in BRAIN_CONTRASTS]
    if unknown:
        raise ValueError(
            f"unknown contrasts {unknown}; expected some of {sorted(BRAIN_CONTRASTS)}."
        )
    if lesion_region not in LESION_REGIONS:
        raise ValueError(f"lesion_region {lesion_region!r} is not one of {LESION_REGIONS}.")
    anatomy = mni_brain(resolution_mm).pad(16.0)
    maps, ventricles, affine = anatomy.tissues(), anatomy.ventricles, anatomy.affine
    shape = ventricles.shape
    disp = smooth_displacement(
        shape, rng, magnitude_vox=3.0 / resolution_mm, control_spacing_vox=30.0 / resolution_mm
    )
    rot = random_rotation(rng, (5, 5, 5))
    names = list(maps)
    *warped, vent = warp([*maps.values(), ventricles.astype(np.float32)], disp, rot)
    tissues = dict(zip(names, warped, strict=True))
    ventricles = vent > 0.5
    brain = (tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5
    tissues.update(
        {k: v.astype(np.float32) for k, v in head_layers(brain, float(resolution_mm)).items()}
    )
    count = int(rng.integers(lesion_count[0], lesion_count[1] + 1))
    lesion = np.zeros(shape, dtype=bool)
    if count:  # the regions cost two distance transforms; skip them when nothing is placed
        region = lesion_regions(tissues, ventricles, float(resolution_mm))[lesion_region]
        spacing = (float(resolution_mm),) * 3
        lesion = scatter_lesions(region, rng, count, lesion_radius_mm, spacing, elongation=1.6)
    tissues = overlay(tissues, "lesion", lesion)
    images = {}
    for name in contrasts:
        image = tissue_image(tissues, name, rng, variation=0.04)
        if name == "CT":
            image = add_noise(image, rng, 4.0, "gaussian")
        else:
            wm_level = BRAIN_CONTRASTS[name]["wm"]
            image = add_noise(image * bias_field(shape, rng, 0.15), rng, noise * wm_level)
        images[name] = image
    return SyntheticHead(images=images, tissues=tissues, ventricles=ventricles, affine=affine)
