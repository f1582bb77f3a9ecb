"""Per-case, per-label evaluation of label maps: the rows of ``metrics.csv`` and their summary.

:func:`evaluate_labels` scores each label of a predicted label map against its reference with the
measures of :mod:`labkit.measures` (overlap, surface distances in mm, volume differences, and
lesion-wise counts), one row per case and label; :func:`summarize` averages the rows per label and
counts the empty cases so that no mean silently hides them; :func:`write_metrics_csv` and
:func:`read_metrics_csv` keep them on disk. The measures themselves live in
:mod:`labkit.measures` (and lesion counts in :mod:`labkit.lesions`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labkit.files import atomic_path
from labkit.lesions import lesion_metrics
from labkit.measures import (
    METRIC_COLUMNS,
    binary_metrics,
    check_pair,
)

__all__ = [
    "evaluate_labels",
    "read_metrics_csv",
    "summarize",
    "summary_line",
    "write_metrics_csv",
]


def evaluate_labels(
    pred: np.ndarray,
    ref: np.ndarray,
    labels: Mapping[int, str] | Iterable[int],
    spacing: Sequence[float] | None = None,
    case: str = "",
    lesions: bool = False,
    ignore: Iterable[int] = (),
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """Per-label metrics of a predicted label map: one row per label.

    Args:
        pred: Predicted integer labels ``(x, y[, z])``.
        ref: Reference labels, same shape.
        labels: Label values to score (background excluded by the caller), or value -> name.
        spacing: Voxel size in mm.
        case: Case identifier written into each row.
        lesions: Add the lesion-wise columns of :func:`lesion_metrics` (components,
            false-positive components, lesion recall, precision and F1).
        ignore: Reference label values whose voxels are left out of every metric, in the
            reference and in the prediction alike (the WMH challenge's label 2, "other
            pathology": a prediction there is neither right nor wrong).
        **kwargs: Passed to :func:`binary_metrics` (``nsd_tolerance_mm``, ``empty_distance``).

    Returns:
        Rows ``{"case", "label", **metrics}``, the label given by its name when names are known.
    """
    pred, ref = np.asarray(pred), np.asarray(ref)
    if pred.shape != ref.shape:
        check_pair(pred, ref)
    ignore = [int(v) for v in ignore]
    if ignore:
        keep = ~np.isin(ref, ignore)
        pred, ref = np.where(keep, pred, 0), np.where(keep, ref, 0)
    names = dict(labels) if isinstance(labels, Mapping) else {int(v): str(v) for v in labels}
    rows = []
    for value, name in names.items():
        p, r = pred == value, ref == value
        row = {"case": case, "label": name, **binary_metrics(p, r, spacing, **kwargs)}
        rows.append({**row, **lesion_metrics(p, r)} if lesions else row)
    return rows


def summarize(
    rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("dice", "hd95")
) -> list[dict[str, Any]]:
    """Summarise per-case rows per label: mean, sd, median, and how many cases hit empty masks.

    NaN values (a surface distance with one mask empty, a lesion recall with no reference
    lesion) are left out of the statistics: each metric says how many cases its mean covers
    (``<m>_n``), how many were undefined (``<m>_nan``) and why (``<m>_nan_why``), so that a mean
    over the both-empty cases never passes for a mean over the cohort.

    Args:
        rows: Rows as returned by :func:`evaluate_labels` (possibly for many cases).
        metrics: Columns to summarise.

    Returns:
        One row per label: ``label``, ``n``, ``ref_empty``, ``pred_empty``, ``both_empty`` (case
        counts), and for each metric ``<m>_mean``, ``<m>_sd`` (sample sd), ``<m>_median``,
        ``<m>_n``, ``<m>_nan`` and ``<m>_nan_why`` (empty when none is undefined).
    """
    out = []
    for label in dict.fromkeys(r["label"] for r in rows):
        sel = [r for r in rows if r["label"] == label]
        ref_empty = [bool(r.get("ref_empty", 0)) for r in sel]
        pred_empty = [bool(r.get("pred_empty", 0)) for r in sel]
        row: dict[str, Any] = {
            "label": label,
            "n": len(sel),
            "ref_empty": sum(ref_empty),
            "pred_empty": sum(pred_empty),
            "both_empty": sum(r and p for r, p in zip(ref_empty, pred_empty, strict=True)),
        }
        for m in metrics:
            values = np.array([float(r[m]) for r in sel], dtype=float)
            ok = np.isfinite(values)
            finite = values[ok]
            row[f"{m}_mean"] = float(finite.mean()) if finite.size else float("nan")
            row[f"{m}_sd"] = float(finite.std(ddof=1)) if finite.size > 1 else float("nan")
            row[f"{m}_median"] = float(np.median(finite)) if finite.size else float("nan")
            row[f"{m}_n"] = int(finite.size)
            row[f"{m}_nan"] = int(values.size - finite.size)
            why = [
                _why_undefined(r, p)
                for r, p, good in zip(ref_empty, pred_empty, ok, strict=True)
                if not good
            ]
            row[f"{m}_nan_why"] = "; ".join(f"{why.count(w)} {w}" for w in dict.fromkeys(why))
        out.append(row)
    return out


def _why_undefined(ref_empty: bool, pred_empty: bool) -> str:
    if ref_empty and not pred_empty:
        return "with a prediction but an empty reference"
    if pred_empty and not ref_empty:
        return "with nothing predicted"
    return "with both masks empty" if ref_empty else "with both masks non-empty"


def summary_line(row: Mapping[str, Any], shown: Mapping[str, str]) -> str:
    """One label's summary in words: each metric's mean over the cases where it is defined, how
    many those are, and why the others are not.

    Args:
        row: A row of :func:`summarize`.
        shown: Metric to its format (``{"dice": "Dice {:.3f}", "hd95": "HD95 {:.2f} mm"}``);
            metrics the row lacks are skipped.

    Returns:
        e.g. ``"Dice 0.833 ± 0.408, HD95 0.00 mm over 5 of 6 cases (1 undefined: with a
        prediction but an empty reference); n=6, 5 with both masks empty"``.
    """
    parts = []
    for metric, fmt in shown.items():
        if f"{metric}_mean" not in row:
            continue
        text = fmt.format(row[f"{metric}_mean"])
        if metric == "dice" and np.isfinite(row.get("dice_sd", float("nan"))):
            text += f" ± {row['dice_sd']:.3f}"
        if row.get(f"{metric}_nan"):
            text += (
                f" over {row[f'{metric}_n']} of {row['n']} cases ({row[f'{metric}_nan']} "
                f"undefined: {row.get(f'{metric}_nan_why', '')})"
            )
        parts.append(text)
    tail = f"n={row['n']}"
    if row.get("both_empty"):
        tail += f", {row['both_empty']} with both masks empty (scored by the empty-mask policy)"
    return f"{', '.join(parts)}; {tail}"


def write_metrics_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write per-case rows as CSV: ``case``, ``label``, ``dice``, ``hd95`` first, then the rest."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = [
        k
        for k in dict.fromkeys(k for r in rows for k in r)
        if k not in ("case", "label", *METRIC_COLUMNS)
    ]
    columns = ["case", "label", *METRIC_COLUMNS, *extra]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in columns})
    return path


def read_metrics_csv(path: str | Path) -> list[dict[str, Any]]:
    """Read a file written by :func:`write_metrics_csv`; numbers come back as floats."""
    rows = []
    with Path(path).open(newline="") as f:
        for r in csv.DictReader(f):
            row: dict[str, Any] = {}
            for k, v in r.items():
                try:
                    row[k] = float(v) if k not in ("case", "label") else v
                except ValueError:
                    row[k] = v
            rows.append(row)
    return rows
