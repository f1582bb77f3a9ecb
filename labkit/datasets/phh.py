"""Neonatal T2 MRI with CSF masks (post-hemorrhagic hydrocephalus): a plain per-patient folder.

A hospital's private export rarely follows a challenge layout. This loader reads the simplest
one: one T2 volume and one CSF mask per patient, paired by patient id::

    PHH/
        images/<patient id>.nii.gz     # T2-weighted volume
        masks/<patient id>.nii.gz      # CSF mask: 0 background, 1 CSF

Unpaired files and image/mask pairs on different grids are errors that name the files.
:func:`write_phh_twin` writes a synthetic cohort in that layout: small preterm heads with
neonatal T2 contrast (CSF brightest, unmyelinated white matter brighter than grey matter), lateral
ventricles dilated asymmetrically and by a varying degree (mass effect pushes the surrounding
tissue outwards), extra-axial CSF, skull and scalp, head rotation, bias field and noise. The CSF
mask is the set of voxels where CSF is the majority tissue, so it is exact by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

import labkit
from labkit.datasets.base import Cohort, paired_folders
from labkit.datasets.layout import Layout
from labkit.datasets.twins import cached_cohort, draw_cases
from labkit.io import save_nifti
from labkit.phantoms.neonatal import phh_head

__all__ = ["LABELS", "LAYOUT", "PHHCohort", "load_phh", "write_phh_twin"]

#: The label values of a PHH mask (0 is background).
LABELS = {1: "csf"}


#: The cohort type :func:`load_phh` returns (a :class:`~labkit.datasets.base.Cohort`).
PHHCohort = Cohort


def load_phh(root: str | Path) -> Cohort:
    """Read a PHH folder (``images/`` and ``masks/``, one file per patient in each).

    Args:
        root: The folder.

    Returns:
        The cohort, sorted by patient id; each case's ``images`` holds the T2 file and ``label``
        the CSF mask. Grids, and mask values other than 0 and 1, are refused when a case is
        loaded (:func:`labkit.datasets.load_case`).

    Raises:
        DatasetLayoutError: If a sub-folder is missing or empty, or files are unpaired.
    """
    hint = "Put each T2 volume in images/ and its CSF mask, under the same file name, in masks/."
    return paired_folders(root, LAYOUT, "T2", hint)


#: Where a PHH folder keeps its files (read by the loader, the twin, predict and evaluate).
LAYOUT = Layout(
    name="a PHH folder",
    image="images/{case}.nii.gz",
    label="masks/{case}.nii.gz",
    markers=("images/*.nii*", "masks/*.nii*"),
    load=load_phh,
    labels=LABELS,
)


def write_phh_twin(root: str | Path, n_cases: int = 10, seed: int = 0) -> PHHCohort:
    """Write (or reuse) a synthetic PHH cohort in the ``images/`` + ``masks/`` layout.

    Args:
        root: Destination folder.
        n_cases: Number of patients (the study had 10).
        seed: Cohort seed; patient ``i`` is drawn from a generator seeded with ``(seed, i)``.

    Returns:
        The cohort, read back with :func:`load_phh`.
    """
    if n_cases < 1:
        raise ValueError(f"n_cases must be at least 1; got {n_cases}.")

    def patients() -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        for i, (t2, mask, affine) in enumerate(draw_cases(phh_head, n_cases, seed)):
            yield f"phh{i:03d}", t2, mask, affine

    def write(folder: Path) -> None:
        for pid, t2, mask, affine in patients():
            save_nifti(LAYOUT.image_file(folder, case=pid), t2, affine)
            save_nifti(LAYOUT.label_file(folder, case=pid), mask, affine)

    spec = {"generator": "phh", "n_cases": n_cases, "seed": seed, "version": labkit.__version__}
    cached_cohort(root, spec, write)
    return load_phh(root)
