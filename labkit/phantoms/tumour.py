"""A brain tumour painted into deformed MNI anatomy: the subjects of the BraTS twin.

A tumour sits in the white matter: an enhancing rim (with gaps) around a necrotic centre for
three subjects in four, a non-enhancing mass otherwise; edema spreads from it through the white
matter; mass effect pushes the surrounding tissue away. Four skull-stripped contrasts (FLAIR, T1,
T1Gd, T2) are drawn from the tissue maps on a 2 mm grid and stored the way BraTS stores them (x
and y pointing left and posterior). :func:`labkit.datasets.brats.write_brats_twin` writes a cohort
of them in either brain-tumour layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy import ndimage

from labkit.phantoms.artefacts import add_noise, bias_field
from labkit.phantoms.contrast import BRAIN_CONTRASTS, overlay, tissue_image
from labkit.phantoms.deform import smooth_noise, warp
from labkit.phantoms.head import synthetic_head
from labkit.phantoms.lesions import irregular_blob

__all__ = ["TWIN_SHAPE", "brats_subject"]

#: Relative signal of the tumour compartments per contrast (white matter 0.4 to 0.95).
_TUMOUR_SIGNAL = {
    "FLAIR": {"edema": 0.82, "nonenh": 0.76, "enhancing": 0.68, "necrosis": 0.40},
    "T1": {"edema": 0.72, "nonenh": 0.52, "enhancing": 0.58, "necrosis": 0.30},
    "T1Gd": {"edema": 0.72, "nonenh": 0.52, "enhancing": 1.45, "necrosis": 0.30},
    "T2": {"edema": 0.85, "nonenh": 0.78, "enhancing": 0.70, "necrosis": 0.98},
}

#: The twin's grid: BraTS's 240x240x155 mm field of view at 2 mm.
TWIN_SHAPE = (120, 120, 78)
_RES = 2.0


def _mass_effect(shape: Sequence[int], centre: np.ndarray, radius_vox: float, push: float):
    """A displacement for :func:`labkit.phantoms.warp` that pushes tissue away from ``centre``:
    the output at ``p`` samples the input closer to the centre, most at one radius away."""
    grid = np.indices(shape, dtype=np.float32)
    offset = grid - centre[:, None, None, None].astype(np.float32)
    dist2 = np.sum(offset**2, axis=0)
    scale = push * np.exp(-dist2 / (2.0 * (1.5 * radius_vox) ** 2))
    return (-offset * scale[None]).astype(np.float32)


def _tumour(
    tissues: Mapping[str, np.ndarray], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Draw a tumour's compartments on a 2 mm grid.

    Returns:
        ``(masks, centre, radius_vox)``: bool masks ``necrosis``, ``nonenh``, ``enhancing`` and
        ``edema`` (disjoint), ``edema_fraction`` (the share of each voxel the edema fills, above
        one half exactly inside ``edema``), the centre and the core's mean radius in voxels.
    """
    brain = (tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5
    depth = ndimage.distance_transform_edt(brain) * _RES
    wm = tissues["wm"] > 0.5
    candidates = np.argwhere(wm & (depth > 20.0))
    centre = candidates[rng.integers(len(candidates))].astype(float)
    radius_mm = float(np.exp(rng.uniform(np.log(9.0), np.log(26.0))))
    radius = radius_mm / _RES
    stretch = np.exp(rng.uniform(-0.25, 0.25, 3))
    shape = brain.shape
    core = irregular_blob(shape, centre, radius * stretch, rng, roughness=0.35) & brain
    high_grade = rng.random() < 0.75
    necrosis = np.zeros(shape, bool)
    if high_grade:
        rim_vox = max(1, round(rng.uniform(2.0, 5.0) / _RES))
        inner = ndimage.binary_erosion(core, iterations=rim_vox)
        patchy = smooth_noise(shape, rng, 6.0)[0] > -0.5  # a rim with gaps
        enhancing = core & ~inner & patchy
        centre_blob = irregular_blob(shape, centre, radius * stretch * 0.6, rng, roughness=0.3)
        necrosis = inner & centre_blob
    else:
        enhancing = np.zeros(shape, bool)
        if rng.random() < 0.4:  # a low-grade mass with a small enhancing focus
            enhancing = core & irregular_blob(shape, centre, (0.35 * radius,) * 3, rng, 0.3)
    nonenh = core & ~enhancing & ~necrosis
    # edema spreads through white matter, farther along some directions than others
    extent = rng.uniform(0.6, 2.0) * radius_mm
    reach = extent * (1.0 + 0.45 * smooth_noise(shape, rng, 8.0)[0])
    distance = ndimage.distance_transform_edt(~core) * _RES
    # infiltration fades over about 6 mm: the label is where more than half the voxel is edema
    fraction = np.clip((reach - distance) / 6.0 + 0.5, 0.0, 1.0)
    fraction *= brain & (tissues["wm"] > 0.35) & ~core
    edema = ndimage.binary_opening(fraction >= 0.5)
    masks = {"necrosis": necrosis, "nonenh": nonenh, "enhancing": enhancing, "edema": edema}
    masks["edema_fraction"] = np.where(
        edema, np.maximum(fraction, 0.5), fraction * (fraction < 0.5)
    )
    return masks, centre, radius


def brats_subject(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Draw one subject: four skull-stripped contrasts with a tumour, on the twin grid.

    The MNI anatomy is deformed and rotated (:func:`labkit.phantoms.synthetic_head` at 2 mm),
    pushed away from the tumour centre (mass effect: a displacement of up to a third of the
    tumour radius), then the tumour is painted in: an enhancing rim (with gaps) around a necrotic
    centre for three subjects in four, a non-enhancing mass otherwise, and edema reaching 0.6 to
    2 tumour radii into the white matter and fading out over about 6 mm. Each contrast gets
    per-subject intensity variation, a bias field, a smooth texture inside the tumour (about
    12%), Rician noise (5% of white matter) and its own arbitrary scale, and is zero outside the
    brain.

    Args:
        rng: Random generator.

    Returns:
        ``(images, labels, affine)``: ``{"FLAIR", "T1", "T1Gd", "T2"}`` float32 ``(120, 120,
        78)``, uint8 labels in the BraTS 2013 convention (1 necrosis, 2 edema, 3 non-enhancing,
        4 enhancing), and an affine with x and y pointing left and posterior, as BraTS stores it.
    """
    head = synthetic_head(rng, contrasts=(), resolution_mm=2, noise=0.0)
    tissues = {k: head.tissues[k] for k in ("csf", "gm", "wm")}
    masks, centre, radius = _tumour(tissues, rng)
    disp = _mass_effect(head.ventricles.shape, centre, radius, rng.uniform(0.15, 0.35))
    names = list(tissues)
    tissues = dict(zip(names, warp(list(tissues.values()), disp), strict=True))
    brain = ((tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5) | masks["edema"]
    brain |= masks["necrosis"] | masks["nonenh"] | masks["enhancing"]
    tissues = overlay(tissues, "edema", masks["edema_fraction"])
    for name in ("nonenh", "enhancing", "necrosis"):
        soft = ndimage.gaussian_filter(masks[name].astype(np.float32), 0.6)
        tissues = overlay(tissues, name, np.maximum(soft, masks[name]))
    labels = np.zeros(brain.shape, np.uint8)
    for name, value in (("edema", 2), ("nonenh", 3), ("necrosis", 1), ("enhancing", 4)):
        labels[masks[name]] = value
    field = bias_field(brain.shape, rng, 0.12)
    tumour = sum(tissues[k] for k in ("edema", "nonenh", "enhancing", "necrosis"))
    images = {}
    for modality in _TUMOUR_SIGNAL:  # FLAIR, T1, T1Gd, T2
        table = {**BRAIN_CONTRASTS[modality], **_TUMOUR_SIGNAL[modality]}
        image = tissue_image(tissues, table, rng, variation=0.05) * field
        texture = 1.0 + 0.12 * tumour * smooth_noise(brain.shape, rng, 3.0)[0]  # heterogeneity
        image = add_noise(image * texture, rng, 0.05 * table["wm"]) * brain
        images[modality] = (image * rng.uniform(300.0, 1500.0)).astype(np.float32)
    # crop (or pad) to the BraTS field of view around the brain, then store x and y reversed
    lo = np.argwhere(brain).min(0)
    hi = np.argwhere(brain).max(0) + 1
    start = ((lo + hi) // 2 - np.asarray(TWIN_SHAPE) // 2).astype(int)

    def place(array: np.ndarray) -> np.ndarray:
        out = np.zeros(TWIN_SHAPE, array.dtype)
        src = [
            slice(max(s, 0), min(s + n, m))
            for s, n, m in zip(start, TWIN_SHAPE, array.shape, strict=True)
        ]
        dst = [slice(a.start - s, a.stop - s) for a, s in zip(src, start, strict=True)]
        out[tuple(dst)] = array[tuple(src)]
        return out[::-1, ::-1]

    affine = head.affine.copy()
    affine[:3, 3] += affine[:3, :3] @ start  # the corner voxel of the placed grid
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = np.asarray(TWIN_SHAPE[:2]) - 1
    affine = affine @ flip  # voxel (0, 0) is now the former (nx-1, ny-1)
    images = {m: place(v) for m, v in images.items()}
    return images, place(labels), affine
