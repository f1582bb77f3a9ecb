"""Score a folder of predicted label maps against a folder of references (`labkit evaluate`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labkit.datasets.ich import LABELS as INSTANCE_LABELS
from labkit.datasets.ich import load_instance
from labkit.datasets.msd import load_msd
from labkit.errors import DatasetLayoutError
from labkit.evaluation import evaluate_labels, summarize, write_metrics_csv
from labkit.io import check_same_grid, load_label, nifti_files

__all__ = ["evaluate_folders", "reference_files"]


def reference_files(ref: Path) -> tuple[dict[str, Path], dict[int, str]]:
    """Reference label files by case id, and label names when the folder says them.

    ``ref`` is an MSD task folder (labels from ``labelsTr`` and names from ``dataset.json``), an
    INSTANCE folder (labels from ``label/``), or a plain folder of ``<case id>.nii.gz`` label maps.
    """
    ref = Path(ref)
    if (ref / "dataset.json").is_file():
        ds = load_msd(ref)
        names = {value: name for value, name in ds.labels.items() if value != 0}
        return {c.case_id: c.label for c in ds.cases}, names
    if (ref / "data").is_dir() and (ref / "label").is_dir():
        return {c.case_id: c.label for c in load_instance(ref).cases}, dict(INSTANCE_LABELS)
    return nifti_files(ref), {}


def evaluate_folders(
    pred: Path,
    ref: Path,
    out: Path,
    labels: Sequence[int] | None = None,
    lesions: bool = False,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score every predicted case against its reference and write the per-case CSV.

    Args:
        pred: Folder of ``<case id>.nii.gz`` predictions.
        ref: Reference folder (see :func:`reference_files`).
        out: CSV path (columns ``case, label, dice, hd95, ...``).
        labels: Label values to score; default: the names in ``dataset.json``, else every
            non-zero value found in the references.
        lesions: Add lesion-wise columns (components, false-positive components, lesion recall,
            precision and F1; see :func:`labkit.evaluation.lesion_metrics`).

    Returns:
        The per-case rows and the per-label summary.

    Raises:
        DatasetLayoutError: If a folder is empty or some cases have no counterpart (all listed).
    """
    preds = nifti_files(pred)
    refs, names = reference_files(Path(ref))
    if not preds:
        raise DatasetLayoutError(f"no predictions (*.nii.gz) in {pred}.")
    missing = sorted(set(preds) - set(refs))
    if missing:
        raise DatasetLayoutError(
            f"{len(missing)} prediction(s) in {pred} have no reference in {ref}: "
            f"{', '.join(missing[:10])}. Expected the same <case id>.nii.gz names in both folders."
        )
    rows: list[dict[str, Any]] = []
    for case_id, path in preds.items():
        p, r = load_label(path), load_label(refs[case_id])
        check_same_grid(r, p)
        if labels:
            wanted = {int(v): names.get(int(v), str(v)) for v in labels}
        elif names:
            wanted = names
        else:
            wanted = {int(v): str(v) for v in np.unique(r.array) if v != 0}
        rows += evaluate_labels(p.array, r.array, wanted, r.spacing, case=case_id, lesions=lesions)
    write_metrics_csv(rows, out)
    extra = ("fp_components", "lesion_f1") if lesions else ()
    return rows, summarize(rows, metrics=("dice", "hd95", "nsd", *extra))
