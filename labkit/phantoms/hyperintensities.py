"""An adult head with white-matter hyperintensities on FLAIR, as one of three sites images it.

The subjects of the WMH twin (:func:`labkit.datasets.wmh.write_wmh_twin` writes a cohort of
them): adult heads from the MNI anatomy imaged with FLAIR and T1 contrast, periventricular lesions
that grow into confluent caps and bands as the lesion load rises, small deep white-matter lesions
(many small, few large), occasional infarcts labelled 2 (a dark cavity with a bright gliotic rim
on FLAIR), and three sites with their own voxel size, slice thickness, contrast, intensity scale,
bias field and noise (:data:`SITES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from labkit.phantoms import (
    BRAIN_CONTRASTS,
    add_noise,
    bias_field,
    lesion_regions,
    overlay,
    scatter_lesions,
    smooth_noise,
    synthetic_head,
    tissue_image,
)

__all__ = ["OTHER_PATHOLOGY", "SITES", "SiteProtocol", "wmh_subject"]

#: The label of other pathology (infarcts and their gliotic rim), the WMH challenge's 2, which
#: :data:`labkit.datasets.wmh.IGNORE_LABEL` names for scoring.
OTHER_PATHOLOGY = 2

#: T1 signal of each tissue: the twin's second modality.
_T1 = dict(BRAIN_CONTRASTS["T1"], lesion=0.55, infarct=0.25, gliosis=0.50)


@dataclass(frozen=True)
class SiteProtocol:
    """How one twin site acquires its images.

    Attributes:
        spacing: Voxel size in mm ``(x, y, z)``; ``z`` is also the slice thickness.
        shape: Grid ``(x, y, z)``.
        flair: FLAIR signal of each tissue (white matter near 0.4 on every site).
        noise: Rician noise relative to the white-matter signal.
        bias: Strength of the bias field left after correction.
        scale: Factor of the stored intensities (sites store arbitrary units).
    """

    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]
    flair: Mapping[str, float]
    noise: float
    bias: float
    scale: float


def _flair(**changes: float) -> dict[str, float]:
    table = dict(BRAIN_CONTRASTS["FLAIR"], infarct=0.12, gliosis=0.85)
    table.update(changes)
    return table


#: The twin's three sites, named after the challenge's training sites (whose FLAIR have pixels of
#: about 1 mm and 3 mm slices), at about half their in-plane resolution so that a CPU can afford
#: them. They differ where real sites do: voxel size and slice thickness, grey/white and lesion
#: contrast, stored intensity scale, bias field and noise.
SITES: dict[str, SiteProtocol] = {
    "Utrecht": SiteProtocol(
        spacing=(2.0, 2.0, 3.0),
        shape=(112, 112, 48),
        flair=_flair(),
        noise=0.04,
        bias=0.10,
        scale=1000.0,
    ),
    "Singapore": SiteProtocol(
        spacing=(1.8, 2.0, 4.0),
        shape=(128, 112, 36),
        flair=_flair(gm=0.60, wm=0.48, lesion=0.88, csf=0.16, infarct=0.18),
        noise=0.06,
        bias=0.15,
        scale=300.0,
    ),
    "GE3T": SiteProtocol(
        spacing=(2.4, 2.0, 2.4),
        shape=(96, 116, 60),
        flair=_flair(gm=0.62, wm=0.40, lesion=0.92, csf=0.05, infarct=0.08, scalp=0.70),
        noise=0.03,
        bias=0.20,
        scale=4000.0,
    ),
}


def _lesions(
    tissues: Mapping[str, np.ndarray],
    ventricles: np.ndarray,
    rng: np.random.Generator,
    load: float,
    res: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Periventricular and deep white-matter lesions and the other pathology of one subject.

    Periventricular lesions are a rim of white matter along the ventricles whose thickness
    varies smoothly, grows with the load, and is largest at the frontal and occipital horns:
    thin "pencil" lining at light loads, caps at the horns, then confluent bands. Deep
    white-matter lesions are punctate foci, many small and a few larger (log-uniform radii).

    Args:
        tissues: ``csf``, ``gm``, ``wm`` fractions ``(x, y, z)``.
        ventricles: Bool ventricle mask ``(x, y, z)``.
        rng: Random generator.
        load: Lesion load in ``[0, 1]``.
        res: Isotropic voxel size in mm.

    Returns:
        ``(wmh, infarct)`` bool masks ``(x, y, z)``, disjoint; the infarct is empty for about
        half the subjects.
    """
    spacing = (res,) * 3
    distance = ndimage.distance_transform_edt(~ventricles) * res
    ys = np.nonzero(ventricles.any(axis=(0, 2)))[0]
    centre, half = (ys[0] + ys[-1]) / 2.0, max((ys[-1] - ys[0]) / 2.0, 1.0)
    horn = np.clip(np.abs(np.arange(ventricles.shape[1]) - centre) / half, 0.0, 1.0) ** 2
    wobble = smooth_noise(ventricles.shape, rng, 12.0 / res)[0]
    thickness = (1.0 + 16.0 * load * (0.25 + 0.75 * horn[None, :, None])) * np.exp(0.5 * wobble)
    wm = tissues["wm"] > 0.5
    wmh = wm & (distance > 0) & (distance <= thickness)
    deep_wm = wm & (distance > 10.0)  # as labkit.phantoms.lesion_regions draws the line
    n_deep = int(rng.integers(3, 8 + int(30 * load)))
    wmh |= scatter_lesions(deep_wm, rng, n_deep, (1.5, 3.0 + 5.0 * load), spacing, 1.8)
    infarct = np.zeros_like(wmh)
    if rng.random() < 0.5:  # the regions cost a distance transform: only when needed
        regions = lesion_regions(tissues, ventricles, res)
        where = regions["cortex"] | regions["deep_grey"]
        infarct = scatter_lesions(where, rng, int(rng.integers(1, 3)), (3.0, 8.0), spacing, 1.5)
        wmh &= ~infarct
    return wmh, infarct


def _resample(image: np.ndarray, source: np.ndarray, protocol: SiteProtocol, target: np.ndarray):
    """Sample a finely gridded image on a site's grid, through that site's slice profile."""
    res = abs(float(source[0, 0]))
    sigma = [max(s / res / 2.355, 0.0) for s in protocol.spacing]  # FWHM of one voxel
    blurred = ndimage.gaussian_filter(image.astype(np.float32), sigma)
    matrix = np.linalg.inv(source) @ target  # site voxel -> source voxel
    return ndimage.affine_transform(
        blurred, matrix[:3, :3], matrix[:3, 3], protocol.shape, order=1, mode="nearest"
    )


def wmh_subject(
    rng: np.random.Generator, site: str = "Utrecht", load: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Draw one subject as a site acquires it.

    The head is drawn on a 2 mm grid (MNI anatomy, deformed and rotated), the lesions are
    painted into its white matter, FLAIR and T1 are mixed from the tissue maps, and each image is
    sampled on the site's grid through a Gaussian slice profile (a full width at half maximum of
    one voxel), then given the site's bias field, noise and scale. Labels follow the challenge's
    conversion of its outlines: a voxel is labelled when at least half of it lies inside; other
    pathology (2) is dilated by one pixel in-plane; where the two overlap, WMH (1) wins.

    Args:
        rng: Random generator.
        site: A key of :data:`SITES`.
        load: Lesion load in ``[0, 1]``: about 4 ml of WMH at 0.3, 25 ml at 0.6, 80 ml at 0.9
            (default: drawn from ``0.15 + 0.85 * Beta(1.6, 2.2)``, so that most subjects carry
            a few to a few tens of millilitres and some much more).

    Returns:
        ``(flair, t1, labels, affine)``: float32 images and uint8 labels on the site's grid, and
        its affine.
    """
    if site not in SITES:
        raise ValueError(f"unknown WMH twin site {site!r}; expected one of {list(SITES)}.")
    protocol = SITES[site]
    res = 2.0
    head = synthetic_head(rng, contrasts=(), resolution_mm=2, noise=0.0)
    tissues = {k: v for k, v in head.tissues.items() if k != "lesion"}
    load = float(0.15 + 0.85 * rng.beta(1.6, 2.2) if load is None else load)
    wmh, infarct = _lesions(tissues, head.ventricles, rng, load, res)
    rim = infarct & ~ndimage.binary_erosion(infarct)
    soft = {  # partial volume at the edges: lesions fade into the tissue around them
        "lesion": ndimage.gaussian_filter(wmh.astype(np.float32), 0.5),
        "gliosis": rim.astype(np.float32),
        "infarct": (infarct & ~rim).astype(np.float32),
    }
    for name, fraction in soft.items():
        tissues = overlay(tissues, name, fraction)
    # the site's grid, centred on the brain with a few millimetres of jitter
    brain = (tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5
    centre = head.affine @ np.append(ndimage.center_of_mass(brain), 1.0)
    spacing = np.asarray(protocol.spacing)
    target = np.diag([*spacing, 1.0])
    half = (np.asarray(protocol.shape) - 1) / 2.0
    target[:3, 3] = centre[:3] + rng.normal(0.0, 3.0, 3) - spacing * half
    images = []
    field = bias_field(protocol.shape, rng, protocol.bias)  # one coil, one session
    for table, noise in ((protocol.flair, protocol.noise), (_T1, 0.03)):
        fine = tissue_image(tissues, table, rng, variation=0.04)
        image = _resample(fine, head.affine, protocol, target) * field
        image = add_noise(image, rng, noise * table["wm"])
        images.append((image * protocol.scale).astype(np.float32))
    # the challenge's masks: voxels more than half inside the outline; other pathology dilated
    # by one pixel in-plane (3x3x1), and WMH wherever the two overlap
    labels = np.zeros(protocol.shape, dtype=np.uint8)
    other = _resample(soft["gliosis"] + soft["infarct"], head.affine, protocol, target) >= 0.5
    labels[ndimage.binary_dilation(other, np.ones((3, 3, 1), bool))] = OTHER_PATHOLOGY
    labels[_resample(soft["lesion"], head.affine, protocol, target) >= 0.5] = 1
    return images[0], images[1], labels, target
