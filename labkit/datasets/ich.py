"""Head CT with haemorrhage masks in the INSTANCE 2022 layout, and a synthetic twin in it.

The INSTANCE 2022 challenge (intracranial haemorrhage segmentation on non-contrast head CT,
Li et al. 2023, arXiv:2301.03281) ships its training set as two folders of NIfTI volumes with
matching names::

    INSTANCE/
        data/<case>.nii.gz     # CT in Hounsfield units, 512x512xN, about 0.42x0.42x5 mm
        label/<case>.nii.gz    # haemorrhage mask: 0 background, 1 haemorrhage

:func:`load_instance` reads it (unpaired files and mismatched grids are errors naming the files).
:func:`write_ich_twin` writes a synthetic cohort in the same layout: heads built from the MNI
anatomy with CT attenuation (skull at bone HU, scalp, grey and white matter, CSF), thick axial
slices, a per-scanner calibration offset, and haemorrhages of the kinds a real cohort holds:
deep intraparenchymal bleeds with a rim of oedema, lobar bleeds near the cortex, thin crescents
of subdural blood along the skull, and patients whose only lesions are tiny. The twin keeps the
folder layout and the 5 mm slices but not the in-plane resolution: its slices are 2 mm pixels
on a 132x132 matrix, about a fifteenth of the real pixel count, so that a CPU can afford it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy import ndimage

import labkit
from labkit.datasets.base import Cohort, cached_cohort, draw_cases, paired_folders
from labkit.io import save_nifti
from labkit.phantoms import (
    BRAIN_CONTRASTS,
    add_noise,
    irregular_blob,
    lesion_regions,
    overlay,
    scatter_lesions,
    synthetic_head,
    tissue_image,
)

__all__ = [
    "HAEMORRHAGE_KINDS",
    "LABELS",
    "ich_head",
    "load_instance",
    "thick_slices",
    "write_ich_twin",
]

#: The label values of INSTANCE masks (0 is background).
LABELS = {1: "haemorrhage"}

#: Kinds of haemorrhage in the twin and the share of patients drawn with each.
HAEMORRHAGE_KINDS = {"deep": 0.4, "lobar": 0.25, "subdural": 0.2, "tiny": 0.15}


def load_instance(root: str | Path) -> Cohort:
    """Read an INSTANCE folder (``data/`` and ``label/``, one file per patient in each).

    Args:
        root: The folder.

    Returns:
        The cohort, sorted by case name; each case's ``images`` holds the CT (HU) and ``label``
        the haemorrhage mask. Grids are checked when a case is loaded
        (:func:`labkit.datasets.load_case`).

    Raises:
        DatasetLayoutError: If a sub-folder is missing or empty, or files are unpaired.
    """
    hint = "Put each CT volume in data/ and its haemorrhage mask, under the same name, in label/."
    return paired_folders(root, "data", "label", "CT", hint)


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


def write_ich_twin(root: str | Path, n_cases: int = 24, seed: int = 0) -> Cohort:
    """Write (or reuse) a synthetic haemorrhage cohort in the INSTANCE layout.

    Args:
        root: Destination folder.
        n_cases: Number of patients (INSTANCE's training set has 100; the default suits a CPU).
        seed: Cohort seed; patient ``i`` is drawn from a generator seeded with ``(seed, i)``.

    Returns:
        The cohort, read back with :func:`load_instance`. Each case's ``meta`` is empty; the kind
        of haemorrhage of each patient is in ``kinds.json`` in the folder.
    """
    if n_cases < 1:
        raise ValueError(f"n_cases must be at least 1; got {n_cases}.")

    def write(folder: Path) -> None:
        kinds = {}
        for i, (ct, mask, affine, kind) in enumerate(draw_cases(ich_head, n_cases, seed)):
            pid = f"{i + 1:03d}"
            save_nifti(folder / "data" / f"{pid}.nii.gz", ct, affine)
            save_nifti(folder / "label" / f"{pid}.nii.gz", mask, affine)
            kinds[pid] = kind
        (folder / "kinds.json").write_text(json.dumps(kinds, indent=1))

    spec = {"generator": "ich", "n_cases": n_cases, "seed": seed, "version": labkit.__version__}
    cached_cohort(root, spec, write)
    return load_instance(root)
