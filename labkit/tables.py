"""Small result tables for chapters: ``mean ± sd`` summaries rendered as Markdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from labkit.experiments import paired_scores, pooled

__all__ = [
    "ablation_table",
    "by_configuration",
    "by_variant",
    "format_mean_sd",
    "format_mean_sd_by",
    "markdown_table",
    "paired_verdict",
    "show_table",
    "unseen_site_table",
]


def _number(x: float, digits: int) -> str:
    if abs(x) >= 10**digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def format_mean_sd(values: Sequence[float], digits: int = 3) -> str:
    """Format values as ``"mean ± sd (n=N)"`` with ``digits`` significant digits.

    Numbers of ``digits`` or more integer digits are written in full with thousands separators.

    NaN values are left out of both statistics and reported as ``", k NaN"``.

    Args:
        values: Numbers, e.g. one Dice per case.
        digits: Significant digits of the mean and the standard deviation.

    Returns:
        The summary string; ``"–"`` when there is no finite value.
    """
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    nan = int(arr.size - finite.size)
    if finite.size == 0:
        return "–"
    sd = finite.std(ddof=1) if finite.size > 1 else 0.0
    text = f"{_number(finite.mean(), digits)} ± {_number(sd, digits)}"
    text += f" (n={finite.size}" + (f", {nan} NaN)" if nan else ")")
    return text


def format_mean_sd_by(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[str],
    key: str = "label",
    groups: Sequence[Any] | None = None,
    digits: int = 3,
) -> list[dict[str, Any]]:
    """One table row per group of metric rows (per label, per site), each metric as
    :func:`format_mean_sd` over the group's rows.

    Args:
        rows: Metric rows, e.g. ``metrics.csv`` read by
            :func:`labkit.evaluation.read_metrics_csv`.
        metrics: Columns to summarise.
        key: The column that names a row's group.
        groups: The groups to show, in order (default: every value of ``key``, first seen first).
        digits: Significant digits.

    Returns:
        Rows ``{key: group, metric: "mean ± sd (n=N)", ...}`` for :func:`show_table`.
    """
    groups = list(dict.fromkeys(r[key] for r in rows)) if groups is None else list(groups)
    return [
        {
            key: g,
            **{m: format_mean_sd([r[m] for r in rows if r[key] == g], digits) for m in metrics},
        }
        for g in groups
    ]


def paired_verdict(new: Sequence[float], base: Sequence[float], margin: float = 0.01) -> str:
    """Say in words how a change moved a score, case by case (the same cases in both lists).

    A change is called better (or worse) only when every case moved by more than ``margin`` in
    the same direction; anything else is "no consistent change", with the range of the moves.

    Args:
        new: Per-case scores with the change (e.g. Dice per test patient).
        base: Per-case scores without it, in the same case order.
        margin: Smallest move per case that counts.

    Returns:
        E.g. ``"better on every case (+0.012 to +0.080)"``.
    """
    if len(new) != len(base) or not len(new):
        raise ValueError(
            f"paired_verdict needs the same cases in both lists; got {len(new)} and {len(base)}."
        )
    gain = np.asarray(new, dtype=float) - np.asarray(base, dtype=float)
    moves = f"{gain.min():+.3f} to {gain.max():+.3f}"
    if gain.min() > margin:
        return f"better on every case ({moves})"
    if gain.max() < -margin:
        return f"worse on every case ({moves})"
    return f"no consistent change ({moves})"


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, float | np.floating):
        return format(float(value), floatfmt)
    return str(value).replace("|", "\\|")


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, floatfmt: str = ".3g"
) -> str:
    """Render rows of a table as GitHub-flavoured Markdown.

    Args:
        rows: One mapping per row, column name to value.
        columns: Column order (default: the keys of the first row).
        floatfmt: Format of float cells.

    Returns:
        The Markdown text, header and separator included.
    """
    if not rows:
        raise ValueError("markdown_table needs at least one row.")
    columns = list(columns or rows[0].keys())
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, ""), floatfmt) for c in columns) + " |")
    return "\n".join(lines)


def show_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, floatfmt: str = ".3g"
) -> Any:
    """Display a table in a notebook (as Markdown) and return the display object.

    Outside IPython the Markdown text is printed instead and returned as a string.
    """
    text = markdown_table(rows, columns, floatfmt)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython ships with the book extra
        print(text)
        return text
    if get_ipython() is None:
        print(text)
        return text
    md = Markdown(text)
    display(md)
    return md


def ablation_table(records: Sequence[Mapping[str, Any]], baseline: str = "faithful") -> list[dict]:
    """Per variant: Dice over all subject-runs, the mean per seed, and the paired verdict.

    Args:
        records: From :func:`labkit.experiments.repeat` (``seed``, ``variant``, and ``dice``:
            case id to Dice), e.g. :func:`labkit.studies.wmh.repeat_runs`; the ``unseen ...``
            runs are left out.
        baseline: The variant the others are compared with, subject by subject and seed by seed.

    Returns:
        Table rows.
    """
    names = [n for n in dict.fromkeys(r["variant"] for r in records) if not n.startswith("unseen")]
    rows = []
    for name in names:
        runs = sorted((r for r in records if r["variant"] == name), key=lambda r: r["seed"])
        per_seed = [float(np.mean(list(r["dice"].values()))) for r in runs]
        rows.append(
            {
                "variant": name,
                "Dice, subject-runs": format_mean_sd(pooled(records, name, "dice")),
                "mean Dice per seed": ", ".join(f"{v:.3f}" for v in per_seed),
                f"against {baseline}, paired": (
                    ""
                    if name == baseline
                    else paired_verdict(*paired_scores(records, name, baseline, "dice"))
                ),
            }
        )
    return rows


def unseen_site_table(records: Sequence[Mapping[str, Any]], mixed: str = "faithful") -> list[dict]:
    """Per left-out site: Dice on its subjects when unseen, against the mixed-site run of the
    same seed on the subjects both runs tested."""
    rows = []
    for name in dict.fromkeys(r["variant"] for r in records if r["variant"].startswith("unseen")):
        unseen, seen = paired_scores(records, name, mixed, "dice", shared=True)
        rows.append(
            {
                "left-out site": name.removeprefix("unseen "),
                "Dice, all its subjects": format_mean_sd(pooled(records, name, "dice")),
                "subject-runs also in the mixed test": len(unseen),
                "there, trained on all sites": format_mean_sd(seen),
                "there, site unseen": format_mean_sd(unseen),
                "paired": paired_verdict(unseen, seen),
            }
        )
    return rows


def by_variant(records: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> list[dict]:
    """One row per variant of recorded runs (``benchmarks/hippocampus_frontier.py``): each
    label's held-out mean Dice as :func:`format_mean_sd` over the variant's seeds, and its mean
    training minutes.

    Args:
        records: Runs ``{"variant", "seed", "train_seconds", "labels": {label: {"dice_mean"}}}``.
        labels: The labels to show, in order.

    Returns:
        Rows ``{"variant", "seeds", "<label> Dice", "training minutes"}``, variants in first-seen
        order.
    """
    rows = []
    for variant in dict.fromkeys(r["variant"] for r in records):
        mine = [r for r in records if r["variant"] == variant]
        row: dict[str, Any] = {"variant": variant, "seeds": len(mine)}
        for label in labels:
            values = [r["labels"][label]["dice_mean"] for r in mine]
            row[f"{label} Dice"] = format_mean_sd(values) if len(values) > 1 else f"{values[0]:.3f}"
        row["training minutes"] = f"{np.mean([r['train_seconds'] for r in mine]) / 60:.1f}"
        rows.append(row)
    return rows


def by_configuration(rows: Sequence[Mapping[str, Any]], baseline: str = "single") -> list[dict]:
    """One row per prediction configuration (``benchmarks/hippocampus_options.py``): each
    label's test Dice as :func:`format_mean_sd` over the configuration's members, its gain over
    ``baseline`` (mean of the members' means; the baseline's mean for an ensemble), and the
    minutes it costs on top of training.

    Args:
        rows: ``{"configuration", "member", "dice": {label: mean Dice}, "seconds"}`` each.
        baseline: The configuration the gains are measured from.
    """
    labels = list(rows[0]["dice"])
    base = {
        k: np.mean([r["dice"][k] for r in rows if r["configuration"] == baseline]) for k in labels
    }
    out = []
    for name in dict.fromkeys(r["configuration"] for r in rows):
        mine = [r for r in rows if r["configuration"] == name]
        row: dict[str, Any] = {"configuration": name, "members": len(mine)}
        for k in labels:
            values = [r["dice"][k] for r in mine]
            text = format_mean_sd(values) if len(values) > 1 else f"{values[0]:.3f}"
            row[f"{k} Dice"] = f"{text}, {np.mean(values) - base[k]:+.3f}"
        row["minutes"] = f"{np.mean([r['seconds'] for r in mine]) / 60:.1f}"
        out.append(row)
    return out
