"""Records of ``full``-profile runs on a GPU, as the chapters and the Performance page show them.

A study's ``full`` profile (its settings where it gave them, ours elsewhere) needs a GPU, so neither
CI nor a reader's CPU trains it. ``benchmarks/full_profile.py`` trains it on a GPU through the same
recipe and command line a student uses and writes one JSON record per run into :mod:`labkit.records`
(``full_<name>.json``, shipped as package data, so a chapter opened alone on Colab finds it). A
chapter's "paper vs this chapter" table reads its study's record into a "full profile (GPU)" column;
where no record exists, the column says so, and :func:`caption` says how to make one.

A record is a JSON object with the fields of :data:`FIELDS`: what ran (``name``, ``study``,
``data``, ``settings``, ``seed``, ``command``), where and from which code (``date``, ``commit``,
``gpu``, ``backend``, ``precision``), what it cost (``wall_seconds``, ``train_seconds``,
``peak_gpu_mib``) and what it scored (``summary``: the run's per-label means, as
``summary.json`` holds them; ``cases``: the rows of its ``metrics.csv``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from labkit.config import recorded_results
from labkit.runfolder import RunFolder
from labkit.tables import show_table

__all__ = [
    "FIELDS",
    "T4_MIB",
    "appendix_rows",
    "build_record",
    "caption",
    "check_record",
    "load_record",
    "record_name",
    "result_cell",
    "show_with_records",
    "with_column",
]

#: The fields every record holds.
FIELDS = (
    "name",
    "study",
    "date",
    "commit",
    "gpu",
    "backend",
    "precision",
    "data",
    "settings",
    "seed",
    "command",
    "wall_seconds",
    "train_seconds",
    "peak_gpu_mib",
    "summary",
    "cases",
)

#: The memory a Colab T4 offers a process (16 GB card, 15,360 MiB as ``nvidia-smi`` lists it).
T4_MIB = 15360

#: The column's heading in the chapters' tables.
COLUMN = "full profile (GPU)"


def record_name(name: str) -> str:
    """File name of a record in :mod:`labkit.records`: ``full_<name>.json``."""
    return f"full_{name}.json"


def build_record(
    run: Path,
    name: str,
    machine: Mapping[str, Any],
    wall_seconds: float,
    command: str,
) -> dict[str, Any]:
    """A record of a finished run folder (``summary.json``, ``config.json``, ``run.json``,
    ``metrics.csv``).

    Args:
        run: The run folder ``labkit train`` wrote.
        name: The record's name (a study, or a study and task such as ``msd_hippocampus``).
        machine: ``date``, ``commit``, ``gpu``, ``backend`` and ``peak_gpu_mib`` (``None``
            where the backend reports no peak, e.g. on a CPU).
        wall_seconds: Wall time of the whole command (data, training, evaluation).
        command: The command that made the run, to redo it.

    Raises:
        FileNotFoundError: If ``run`` has no ``summary.json`` (an unfinished run).
    """
    folder = RunFolder(run)
    if not folder.finished:
        raise FileNotFoundError(
            f"{run} has no summary.json: the run has not finished. Train it to the end first."
        )
    summary, config, claimed = folder.summary(), folder.config(), folder.claimed()
    with open(folder.path / folder.METRICS, newline="") as f:  # as written, numbers as text
        cases = [dict(row) for row in csv.DictReader(f)]
    record = {
        "name": name,
        "study": config["study"],
        **{k: machine[k] for k in ("date", "commit", "gpu", "backend", "peak_gpu_mib")},
        "precision": config["settings"]["precision"],
        "data": claimed["data"],
        "settings": config["settings"],
        "seed": config["seed"],
        "command": command,
        "wall_seconds": round(float(wall_seconds), 1),
        "train_seconds": summary.get("train_seconds"),
        "summary": {"profile": summary.get("profile"), "labels": summary["labels"]},
        "cases": cases,
    }
    check_record(record, f"the record of {run}")
    return record


def check_record(record: Mapping[str, Any], source: str) -> None:
    """Refuse a record that lacks a field, or whose summary has no per-label rows.

    Raises:
        ValueError: Naming ``source`` (a file) and what is missing.
    """
    missing = [f for f in FIELDS if f not in record]
    if missing:
        raise ValueError(
            f"{source} is not a full-profile record: it lacks {missing}. Records are written "
            "by benchmarks/full_profile.py; run it again rather than editing the file."
        )
    labels = record["summary"].get("labels") if isinstance(record["summary"], Mapping) else None
    if not labels or not all("label" in r and "dice_mean" in r for r in labels):
        raise ValueError(
            f"{source}: summary.labels must be a list of per-label rows with 'label' and "
            f"'dice_mean' (as summary.json holds them); got {labels!r}."
        )


def load_record(name: str) -> dict[str, Any] | None:
    """The record ``full_<name>.json`` shipped in :mod:`labkit.records`, checked; ``None`` if
    none has been recorded."""
    record = recorded_results(record_name(name))
    if record is not None:
        check_record(record, f"labkit/records/{record_name(name)}")
    return record


def _label_rows(record: Mapping[str, Any], labels: Sequence[str] | None) -> list[dict]:
    rows = list(record["summary"]["labels"])
    if labels is None:
        return rows
    found = {r["label"]: r for r in rows}
    unknown = [lab for lab in labels if lab not in found]
    if unknown:
        raise KeyError(
            f"the record {record['name']} has no label(s) {unknown}; it has {sorted(found)}."
        )
    return [found[lab] for lab in labels]


def result_cell(
    record: Mapping[str, Any] | None,
    metric: str = "dice",
    labels: Sequence[str] | None = None,
    digits: int = 3,
) -> str:
    """One table cell: a metric's held-out mean ± sd per label from a record, or ``"not run"``.

    Args:
        record: A record (:func:`load_record`), or ``None``.
        metric: A metric of the run's summary (``dice``, ``hd95``, ...).
        labels: The labels to show, in order (default: every label of the record).
        digits: Decimals.

    Returns:
        e.g. ``"0.912 ± 0.021"``, or ``"Anterior 0.901 ± 0.02, Posterior 0.889 ± 0.03"`` for
        several labels.
    """
    if record is None:
        return "not run"
    parts = []
    rows = _label_rows(record, labels)
    for row in rows:
        mean, sd = row.get(f"{metric}_mean"), row.get(f"{metric}_sd")
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            text = "n/a"
        else:
            text = f"{mean:.{digits}f}"
            if sd is not None and not (isinstance(sd, float) and math.isnan(sd)):
                text += f" ± {sd:.{digits}f}"
        parts.append(text if len(rows) == 1 else f"{row['label']} {text}")
    return ", ".join(parts)


def with_column(
    table: Sequence[Mapping[str, Any]], cells: Mapping[str, str], key: str = ""
) -> list[dict[str, Any]]:
    """The rows of a "paper vs this chapter" table with a :data:`COLUMN` column added.

    Args:
        table: The table's rows (dicts), each named by its ``key`` column.
        cells: Row name to the column's cell (from :func:`result_cell`); other rows get "".

    Raises:
        KeyError: If ``cells`` names a row the table lacks.
    """
    names = [row[key] for row in table]
    unknown = [name for name in cells if name not in names]
    if unknown:
        raise KeyError(f"with_column: no row(s) {unknown} in the table; its rows are {names}.")
    return [{**row, COLUMN: cells.get(row[key], "")} for row in table]


def show_with_records(
    table: Sequence[Mapping[str, Any]],
    rows: Mapping[str, tuple[str, Sequence[str] | None]],
    key: str = "",
) -> None:
    """Show a "paper vs this chapter" table with its :data:`COLUMN` column, then one
    :func:`caption` per record it reads.

    Args:
        table: The table's rows (dicts), each named by its ``key`` column.
        rows: Row name to ``(record name, labels)``: the row's cell is that record's held-out
            Dice (:func:`result_cell`; ``labels`` ``None`` for every label).
        key: The column that names a row.
    """
    records = {name: load_record(name) for name, _ in rows.values()}
    cells = {row: result_cell(records[name], labels=labels) for row, (name, labels) in rows.items()}
    show_table(with_column(table, cells, key))
    for name, record in records.items():
        print(caption(record, name))


def caption(record: Mapping[str, Any] | None, name: str) -> str:
    """One line under a table: where and when the record was made, or how to make it."""
    file = f"labkit/records/{record_name(name)}"
    if record is None:
        return (
            f"{COLUMN}: no run recorded yet. On a GPU, `python benchmarks/full_profile.py "
            f"{name}` trains it and writes {file}."
        )
    peak = record["peak_gpu_mib"]
    memory = f", peak GPU memory {peak / 1024:.1f} GiB" if peak is not None else ""
    return (
        f"{COLUMN}: {record['gpu']}, Keras on {record['backend']}, {record['precision']}, "
        f"{record['date']} (commit {str(record['commit'])[:7]}), "
        f"{record['wall_seconds'] / 60:.0f} min{memory} ({file})."
    )


def appendix_rows(names: Sequence[str]) -> list[dict[str, Any]]:
    """One row per record name for the Performance page: GPU, date, wall time, peak memory
    and whether the peak fits a 16 GB T4 (:data:`T4_MIB`); "not run" where none is recorded."""
    rows = []
    for name in names:
        record = load_record(name)
        if record is None:
            rows.append({"run": name, "GPU": "not run", "date": "", "minutes": "",
                         "peak GPU memory, GiB": "", "fits a 16 GB T4": ""})  # fmt: skip
            continue
        peak = record["peak_gpu_mib"]
        fits = "unknown" if peak is None else ("yes" if peak <= T4_MIB else "no")
        rows.append(
            {
                "run": name,
                "GPU": f"{record['gpu']} ({record['backend']}, {record['precision']})",
                "date": record["date"],
                "minutes": f"{record['wall_seconds'] / 60:.1f}",
                "peak GPU memory, GiB": "" if peak is None else f"{peak / 1024:.1f}",
                "fits a 16 GB T4": fits,
            }
        )
    return rows
