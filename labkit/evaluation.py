"""Per-case, per-label evaluation of label maps: the rows of ``metrics.csv`` and their summary.

:func:`evaluate_labels` scores each label of a predicted label map against its reference with the
measures of :mod:`labkit.measures` (overlap, surface distances in mm, volume differences, and
lesion-wise counts), one row per case and label; :func:`summarize` averages the rows per label and
counts the empty cases so that no mean silently hides them; :func:`write_metrics_csv` and
:func:`read_metrics_csv` keep them on disk. The measures themselves are re-exported here.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labkit.files import atomic_path
from labkit.measures import (
    EMPTY_POLICY,
    METRIC_COLUMNS,
    SurfaceDistances,
    binary_metrics,
    check_pair,
    confusion,
    dice,
    generalized_dice,
    lesion_metrics,
    surface_distances,
)

__all__ = [
    "EMPTY_POLICY",
    "METRIC_COLUMNS",
    "SurfaceDistances",
    "binary_metrics",
    "confusion",
    "dice",
    "evaluate_labels",
    "generalized_dice",
    "lesion_metrics",
    "read_metrics_csv",
    "summarize",
    "surface_distances",
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

    NaN values are left out of the statistics and counted in ``<metric>_nan``.

    Args:
        rows: Rows as returned by :func:`evaluate_labels` (possibly for many cases).
        metrics: Columns to summarise.

    Returns:
        One row per label: ``label``, ``n``, ``ref_empty``, ``pred_empty`` (case counts), and for
        each metric ``<m>_mean``, ``<m>_sd`` (sample sd), ``<m>_median``, ``<m>_nan``.
    """
    out = []
    for label in dict.fromkeys(r["label"] for r in rows):
        sel = [r for r in rows if r["label"] == label]
        row: dict[str, Any] = {
            "label": label,
            "n": len(sel),
            "ref_empty": int(sum(bool(r.get("ref_empty", 0)) for r in sel)),
            "pred_empty": int(sum(bool(r.get("pred_empty", 0)) for r in sel)),
        }
        for m in metrics:
            values = np.array([float(r[m]) for r in sel], dtype=float)
            finite = values[np.isfinite(values)]
            row[f"{m}_mean"] = float(finite.mean()) if finite.size else float("nan")
            row[f"{m}_sd"] = float(finite.std(ddof=1)) if finite.size > 1 else float("nan")
            row[f"{m}_median"] = float(np.median(finite)) if finite.size else float("nan")
            row[f"{m}_nan"] = int(values.size - finite.size)
        out.append(row)
    return out


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
