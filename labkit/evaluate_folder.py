"""Score a folder of predicted label maps against a folder of references (`labkit evaluate`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labkit.datasets.ich import LABELS as INSTANCE_LABELS
from labkit.datasets.ich import load_instance
from labkit.datasets.msd import load_msd
from labkit.datasets.wmh import IGNORE_LABEL as WMH_IGNORE
from labkit.datasets.wmh import LABELS as WMH_LABELS
from labkit.datasets.wmh import load_wmh
from labkit.errors import DatasetLayoutError
from labkit.evaluation import evaluate_labels, summarize, write_metrics_csv
from labkit.io import check_same_grid, load_label, nifti_files

__all__ = ["References", "evaluate_folders", "reference_files"]


@dataclass(frozen=True)
class References:
    """What a reference folder holds.

    Attributes:
        files: Reference label file per case id.
        names: Label value to name, where the layout says them (else empty).
        ignore: Label values left out of every metric (the WMH challenge's 2).
        lesions: Whether the layout's challenge scores lesions (WMH: recall and F1).
        sites: Case id to acquisition site, where the layout has sites.
    """

    files: dict[str, Path]
    names: dict[int, str] = field(default_factory=dict)
    ignore: tuple[int, ...] = ()
    lesions: bool = False
    sites: dict[str, str] = field(default_factory=dict)


def reference_files(ref: Path) -> References:
    """Reference label files by case id, with label names and scoring rules when the folder
    says them.

    ``ref`` is an MSD task folder (labels from ``labelsTr`` and names from ``dataset.json``), an
    INSTANCE folder (labels from ``label/``), a WMH challenge folder (``<site>/<subject>/
    wmh.nii.gz``; label 2 is left out and lesions are scored, as the challenge does), or a plain
    folder of ``<case id>.nii.gz`` label maps.
    """
    ref = Path(ref)
    if (ref / "dataset.json").is_file():
        ds = load_msd(ref)
        names = {value: name for value, name in ds.labels.items() if value != 0}
        return References({c.case_id: c.label for c in ds.cases}, names)
    if (ref / "data").is_dir() and (ref / "label").is_dir():
        cases = load_instance(ref).cases
        return References({c.case_id: c.label for c in cases}, dict(INSTANCE_LABELS))
    if any(ref.glob("**/pre/FLAIR.nii.gz")):
        cases = [c for c in load_wmh(ref).cases if c.label is not None]
        return References(
            {c.case_id: c.label for c in cases},
            dict(WMH_LABELS),
            ignore=(WMH_IGNORE,),
            lesions=True,
            sites={c.case_id: c.meta["site"] for c in cases},
        )
    return References(nifti_files(ref))


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
        out: CSV path (columns ``case, label, dice, hd95, ...``, and ``site`` for a WMH folder).
        labels: Label values to score; default: the names the layout gives (``dataset.json``,
            WMH's 1), else every non-zero value found in the references.
        lesions: Add lesion-wise columns (components, false-positive components, lesion recall,
            precision and F1; see :func:`labkit.evaluation.lesion_metrics`); always on for a WMH
            folder, whose challenge scores lesions.

    Returns:
        The per-case rows and the per-label summary.

    Raises:
        DatasetLayoutError: If a folder is empty or some cases have no counterpart (all listed).
    """
    preds = nifti_files(pred)
    references = reference_files(Path(ref))
    refs, names = references.files, references.names
    lesions = lesions or references.lesions
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
        scored = evaluate_labels(
            p.array,
            r.array,
            wanted,
            r.spacing,
            case=case_id,
            lesions=lesions,
            ignore=[v for v in references.ignore if v not in wanted],
        )
        if references.sites:
            scored = [{**row, "site": references.sites[case_id]} for row in scored]
        rows += scored
    write_metrics_csv(rows, out)
    if references.ignore:  # the WMH challenge's five
        metrics: tuple[str, ...] = ("dice", "hd95", "avd_pct", "lesion_recall", "lesion_f1")
    else:
        metrics = ("dice", "hd95", "nsd", *(("fp_components", "lesion_f1") if lesions else ()))
    return rows, summarize(rows, metrics=metrics)
