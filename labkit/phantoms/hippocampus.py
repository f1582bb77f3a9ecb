"""A hippocampus on real MNI anatomy, cropped the way the Decathlon's Task04 volumes are.

The template has no hippocampus label, so the structure is drawn as a curved tube that follows
the long axis of the hippocampus in MNI space, from the head (anterior, thick) through the body to
the tail (posterior, thin); where the tube lies the template's grey matter already is. The head is
labelled 1 (anterior) and body plus tail 2 (posterior), as in MSD Task04.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from nibabel.affines import apply_affine

from labkit.phantoms.anatomy import head_layers, mni_brain
from labkit.phantoms.artefacts import add_noise, bias_field
from labkit.phantoms.contrast import overlay, tissue_image
from labkit.phantoms.deform import random_rotation, smooth_displacement, warp

__all__ = ["HippocampusCrop", "hippocampus_labels", "hippocampus_mri"]

# Centre line of the left hippocampus in MNI mm, head to tail: (x, y, z, radius).
_LEFT_AXIS = np.array(
    [
        (-21.0, -7.0, -22.0, 5.0),
        (-26.0, -14.0, -19.0, 5.6),
        (-29.0, -22.0, -14.0, 4.6),
        (-30.0, -30.0, -9.0, 4.2),
        (-27.0, -37.0, -3.0, 3.6),
        (-21.0, -41.0, 3.0, 3.0),
    ]
)
_HEAD_FRACTION = 0.36  # share of the centre line labelled anterior (the head)


@dataclass(frozen=True)
class HippocampusCrop:
    """One synthetic hippocampus MRI crop.

    Attributes:
        image: T1-weighted intensities, float32 ``(x, y, z)``.
        label: ``uint8 (x, y, z)``: 0 background, 1 anterior (head), 2 posterior (body and tail).
        affine: ``(4, 4)`` voxel-to-world matrix in mm (1 mm isotropic, RAS+).
    """

    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray


@lru_cache(maxsize=2)
def hippocampus_labels(side: str = "left") -> np.ndarray:
    """Label the hippocampus of one hemisphere on the 1 mm MNI grid.

    Args:
        side: ``"left"`` or ``"right"``.

    Returns:
        ``uint8`` map on the 1 mm :func:`~labkit.phantoms.anatomy.mni_brain` grid: 1 head, 2 rest.
    """
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right'; got {side!r}.")
    anatomy = mni_brain(1)
    axis = _LEFT_AXIS.copy()
    if side == "right":
        axis[:, 0] *= -1
    t = np.linspace(0, 1, 240)
    knots = np.linspace(0, 1, len(axis))
    line = np.stack([np.interp(t, knots, axis[:, k]) for k in range(4)], axis=1)
    vox = apply_affine(np.linalg.inv(anatomy.affine), line[:, :3])
    lo = np.floor(vox.min(0) - 8).astype(int)
    hi = np.ceil(vox.max(0) + 8).astype(int)
    grid = np.indices(tuple(hi - lo)).reshape(3, -1).T + lo
    world = apply_affine(anatomy.affine, grid)
    gap = np.linalg.norm(world[:, None, :] - line[None, :, :3], axis=2) - line[None, :, 3]
    nearest = gap.argmin(1)
    inside = gap.min(1) < 0
    labels = np.zeros(anatomy.shape, dtype=np.uint8)
    cls = np.where(t[nearest] < _HEAD_FRACTION, 1, 2).astype(np.uint8)
    sel = grid[inside]
    labels[sel[:, 0], sel[:, 1], sel[:, 2]] = cls[inside]
    return labels


def hippocampus_mri(
    rng: np.random.Generator,
    shape: tuple[int, int, int] | None = None,
    noise: float = 0.04,
) -> HippocampusCrop:
    """Draw one T1 crop around a hippocampus, deformed, rotated and with bias field and noise.

    Args:
        rng: Random generator.
        shape: Crop shape ``(x, y, z)``; by default near the Task04 sizes (about 36 x 50 x 36).
        noise: Rician noise level relative to white-matter intensity.

    Returns:
        The crop, with intensities scaled to about 0-255 like the Task04 images.
    """
    anatomy = mni_brain(1)
    side = "left" if rng.random() < 0.5 else "right"
    labels = hippocampus_labels(side)
    if shape is None:
        shape = tuple(int(v) for v in np.array([36, 50, 36]) + rng.integers(-4, 5, size=3))
    centre = np.argwhere(labels > 0).mean(0) + rng.normal(0, 2.0, 3)
    margin = 12
    lo = np.round(centre - np.array(shape) / 2 - margin).astype(int)
    box = tuple(slice(a, a + s + 2 * margin) for a, s in zip(lo, shape, strict=True))
    layers = _head_layers_1mm()
    tissue_names = ("csf", "gm", "wm")
    sources = [getattr(anatomy, n)[box] for n in tissue_names]
    sources += [layers[n][box].astype(np.float32) for n in ("extra_csf", "skull")]
    disp = smooth_displacement(shape, rng, magnitude_vox=1.5, control_spacing_vox=10)
    rot = random_rotation(rng, (6, 6, 6))
    *maps, lab = warp(
        [*sources, labels[box]], disp, rot, orders=(1,) * len(sources) + (0,), out_shape=shape
    )
    tissues = dict(zip((*tissue_names, "extra_csf", "skull"), maps, strict=True))
    tissues = overlay(tissues, "lesion", lab > 0)
    image = tissue_image(tissues, _t1_hippocampus(rng), rng, 0.05)
    image = add_noise(image * bias_field(shape, rng, 0.1), rng, noise)
    image = np.clip(image / np.percentile(image, 99.5) * 230.0, 0, 255).astype(np.float32)
    affine = np.eye(4)
    affine[:3, 3] = apply_affine(anatomy.affine, lo + margin)
    return HippocampusCrop(image=image, label=lab.astype(np.uint8), affine=affine)


@lru_cache(maxsize=1)
def _head_layers_1mm() -> dict[str, np.ndarray]:
    return head_layers(mni_brain(1).brain, 1.0, csf_mm=1.5, skull_mm=4.0, scalp_mm=0.0)


def _t1_hippocampus(rng: np.random.Generator) -> dict[str, float]:
    # Around the medial temporal lobe the crop holds CSF, bone and the soft tissue below the
    # skull base; "background" is that soft tissue (muscle-like on T1), not air.
    gm = 0.62 + rng.normal(0, 0.02)
    return {
        "csf": 0.22,
        "gm": gm,
        "wm": 0.95,
        "extra_csf": 0.22,
        "skull": 0.15,
        "lesion": gm - 0.06 + rng.normal(0.0, 0.01),
        "background": 0.6,
    }
