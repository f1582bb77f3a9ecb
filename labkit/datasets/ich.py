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

import labkit
from labkit.datasets.base import Cohort, paired_folders
from labkit.datasets.layout import Layout
from labkit.datasets.twins import cached_cohort, draw_cases
from labkit.io import save_nifti
from labkit.phantoms.haemorrhage import ich_head

__all__ = [
    "LABELS",
    "load_instance",
    "write_ich_twin",
]

#: The label values of INSTANCE masks (0 is background).
LABELS = {1: "haemorrhage"}


def load_instance(root: str | Path) -> Cohort:
    """Read an INSTANCE folder (``data/`` and ``label/``, one file per patient in each).

    Args:
        root: The folder.

    Returns:
        The cohort, sorted by case name; each case's ``images`` holds the CT (HU) and ``label``
        the haemorrhage mask. Grids, and mask values other than 0 and 1, are refused when a
        case is loaded (:func:`labkit.datasets.load_case`).

    Raises:
        DatasetLayoutError: If a sub-folder is missing or empty, or files are unpaired.
    """
    hint = "Put each CT volume in data/ and its haemorrhage mask, under the same name, in label/."
    return paired_folders(root, LAYOUT, "CT", hint)


#: Where an INSTANCE folder keeps its files (read by the loader, the twin, predict and evaluate).
LAYOUT = Layout(
    name="an INSTANCE folder",
    image="data/{case}.nii.gz",
    label="label/{case}.nii.gz",
    markers=("data/*.nii*", "label/*.nii*"),
    load=load_instance,
    labels=LABELS,
)


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
            save_nifti(LAYOUT.image_file(folder, case=pid), ct, affine)
            save_nifti(LAYOUT.label_file(folder, case=pid), mask, affine)
            kinds[pid] = kind
        (folder / "kinds.json").write_text(json.dumps(kinds, indent=1))

    spec = {"generator": "ich", "n_cases": n_cases, "seed": seed, "version": labkit.__version__}
    cached_cohort(root, spec, write)
    return load_instance(root)
