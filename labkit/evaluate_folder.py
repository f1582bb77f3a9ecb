"""Score a folder of predicted label maps against a folder of references (`labkit evaluate`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labkit.checks import check_declared_labels, check_same_grid
from labkit.datasets import find_layout
from labkit.errors import DatasetLayoutError, LabelValueError
from labkit.evaluation import evaluate_labels, summarize, write_metrics_csv
from labkit.files import check_output, require_folder
from labkit.io import load_label, nifti_files
from labkit.progress import progress
from labkit.volume import Volume

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

    ``ref`` is a folder in one of the studies' layouts (:data:`labkit.datasets.DATASET_LAYOUTS`:
    an MSD task, INSTANCE, PHH, BraTS subject folders, the WMH challenge), whose declaration
    gives the label names and the scoring rules (the WMH challenge leaves label 2 out and scores
    lesions), or a plain folder of ``<case id>.nii.gz`` label maps.

    Raises:
        FileNotFoundError: If ``ref`` is not a folder.
    """
    ref = require_folder(
        ref, "--ref", "the reference label maps (a dataset folder, or <case id>.nii.gz files)"
    )
    layout = find_layout(ref)
    if layout is None:
        return References(nifti_files(ref))
    cohort = layout.read_references(ref)
    cases = [c for c in cohort.cases if c.label is not None]
    return References(
        {c.case_id: c.label for c in cases},
        layout.names(cohort),
        ignore=layout.ignore,
        lesions=layout.lesions,
        sites={c.case_id: c.meta["site"] for c in cases if "site" in c.meta},
    )


def _labels_to_score(
    pairs: Mapping[str, tuple[Volume, Volume]],
    labels: Sequence[int] | None,
    names: Mapping[int, str],
    ignore: Sequence[int],
    pred: Path,
    ref: Path,
) -> dict[int, str]:
    """The labels every case is scored on: the same for all cases, so that a false positive on a
    case whose reference lacks the label counts (Dice 0) instead of going unscored.

    A label asked for that occurs in no map is refused while other labels occur (a typo would
    score Dice 1 everywhere); when every map is empty, the labels asked for are scored under
    the both-empty policy (:data:`labkit.measures.EMPTY_POLICY`), as a cohort with nothing to
    find should be, and a note says so.
    """
    found = {
        int(v)
        for p, r in pairs.values()
        for v in np.union1d(np.unique(p.array), np.unique(r.array))
        if v != 0 and v not in ignore
    }
    if not labels and not names and not found:
        raise LabelValueError(
            f"every map in {pred} and {ref} is empty (all 0), so nothing says which label to "
            "score. Name it with --labels (e.g. --labels 1): a case whose prediction and "
            "reference are both empty then scores Dice 1 and HD95 0 mm, the stated policy for "
            "empty masks."
        )
    if labels:
        absent = sorted(int(v) for v in labels if int(v) not in found)
        if absent and not found:
            print(
                f"note: every map in {pred} and {ref} is empty; label(s) {absent} are scored "
                "under the empty-mask policy (both empty: Dice 1, HD95 0 mm)."
            )
        elif absent:
            raise LabelValueError(
                f"--labels {' '.join(map(str, absent))}: in no prediction of {pred} and no "
                f"reference of {ref} (their labels are {sorted(found)}); every case would score "
                "Dice 1 on it. Give labels that occur in the data."
            )
        return {int(v): names.get(int(v), str(v)) for v in labels}
    if names:
        check_declared_labels(
            found,
            names,
            f"the maps of {pred} and {ref}",
            "Fix the maps, or score chosen labels with --labels.",
        )
        return dict(names)
    return {v: str(v) for v in sorted(found)}


def evaluate_folders(
    pred: Path,
    ref: Path,
    out: Path,
    labels: Sequence[int] | None = None,
    lesions: bool = False,
    nsd_tolerance_mm: float = 1.0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Score every predicted case against its reference and write the per-case CSV.

    Args:
        pred: Folder of ``<case id>.nii.gz`` predictions.
        ref: Reference folder (see :func:`reference_files`).
        out: CSV path (columns ``case, label, dice, hd95, ...``, and ``site`` for a WMH folder).
        labels: Label values to score; default: the names the layout gives (``dataset.json``,
            WMH's 1), else every non-zero value found in any reference or prediction. Every
            case is scored on every one of them, so a false positive on a case whose reference
            lacks a label scores Dice 0 there (see :mod:`labkit.evaluation` for empty masks).
        lesions: Add lesion-wise columns (components, false-positive components, lesion recall,
            precision and F1; see :func:`labkit.lesions.lesion_metrics`); always on for a WMH
            folder, whose challenge scores lesions.
        nsd_tolerance_mm: Tolerance of the normalised surface Dice (``nsd``), in mm; below the
            voxel size, only surface voxels that coincide count.

    Returns:
        The per-case rows and the per-label summary.

    Raises:
        DatasetLayoutError: If a folder is empty, a prediction has no reference, or (for a plain
            folder of references) a reference has no prediction; the cases are listed. A
            dataset folder holds every case, so there only the predicted cases are scored.
        LabelValueError: If a label of ``labels`` occurs in no map while others do, a map holds
            a value that the dataset does not declare, or every map is empty and no label is
            named.
        ValueError: If ``labels`` holds 0 (background) or a negative value, the tolerance is
            not a finite distance above 0, or ``out`` is a folder.
        FileNotFoundError: If ``pred`` or ``ref`` is not a folder.
    """
    _check_inputs(Path(pred), Path(out), labels, nsd_tolerance_mm)
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
    unpredicted = sorted(set(refs) - set(preds))
    if unpredicted and not names:  # a dataset folder holds every case; a plain folder the scored
        raise DatasetLayoutError(
            f"{len(unpredicted)} reference(s) in {ref} have no prediction in {pred}: "
            f"{', '.join(unpredicted[:10])}. A case left out would not be scored (and would not "
            "count against the result); predict every case, or remove its reference."
        )
    pairs = {}
    for case_id, path in progress(list(preds.items()), "reading"):
        p, r = load_label(path), load_label(refs[case_id])
        check_same_grid(r, p)
        pairs[case_id] = (p, r)
    wanted = _labels_to_score(pairs, labels, names, references.ignore, pred, ref)
    rows: list[dict[str, Any]] = []
    for case_id, (p, r) in progress(list(pairs.items()), "scoring"):
        scored = evaluate_labels(
            p.array,
            r.array,
            wanted,
            r.spacing,
            case=case_id,
            lesions=lesions,
            ignore=[v for v in references.ignore if v not in wanted],
            nsd_tolerance_mm=nsd_tolerance_mm,
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


def _check_inputs(
    pred: Path, out: Path, labels: Sequence[int] | None, nsd_tolerance_mm: float
) -> None:
    """Refuse what :func:`evaluate_folders` cannot use, before reading any file."""
    require_folder(pred, "--pred", "the predicted <case id>.nii.gz label maps (labkit predict)")
    if not (np.isfinite(nsd_tolerance_mm) and nsd_tolerance_mm > 0):
        why = " (it would make NSD 1 for any two non-empty masks)" if nsd_tolerance_mm > 0 else ""
        raise ValueError(
            f"--nsd-tolerance must be a finite distance in mm above 0; got {nsd_tolerance_mm}{why}."
        )
    if bad := [int(v) for v in labels or () if int(v) <= 0]:
        raise ValueError(
            f"--labels {' '.join(map(str, bad))}: 0 is the background, which is never scored, "
            "and labels are not negative; give the foreground label values to score (e.g. "
            "--labels 1 2)."
        )
    check_output(
        out, "--out", False, f"the path of the CSV file to write (e.g. {out / 'metrics.csv'})"
    )
