"""Repeat a recipe over seeds and variants, and summarise the per-case results in pairs.

A single training is one draw: its seed picks the weights, the shuffling and the augmentation, and
the Dice of a handful of test cases moves by a few hundredths from seed to seed. To compare two
variants of a recipe, train each with the same seeds on the same test cases and compare them case
by case and seed by seed (paired), which is what the WMH recipe's repeated runs and the benchmark
scripts do with the functions here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from labkit.evaluation import read_metrics_csv

__all__ = [
    "Scorer",
    "Train",
    "case_scores",
    "differences",
    "mean_and_sd",
    "paired_difference",
    "paired_scores",
    "pooled",
    "repeat",
    "run_folder",
]

#: A recipe's ``train(data, out, profile, seed, overrides)``, which writes ``out/metrics.csv``
#: and returns its summary (with ``train_seconds``), as every ``labkit.studies`` recipe does.
Train = Callable[[Path, Path, str, int, Mapping[str, Any]], Mapping[str, Any]]

#: Reads one finished run folder and returns one score per test case (case id to value).
Scorer = Callable[[Path], Mapping[str, float]]


def case_scores(
    run: str | Path, metric: str = "dice", label: str | None = None
) -> dict[str, float]:
    """One score per test case from a run folder's ``metrics.csv``, rounded to 4 decimals.

    Args:
        run: Run folder holding ``metrics.csv`` (one row per case and label).
        metric: Column to read.
        label: Rows of this label only (``None``: the file must hold one row per case).

    Returns:
        Case id to score, in the file's order.
    """
    path = Path(run) / "metrics.csv"
    rows = [r for r in read_metrics_csv(path) if label is None or r["label"] == label]
    if not rows:
        raise ValueError(f"{path} has no rows with label {label!r}; pass one of its labels.")
    scores = {str(r["case"]): round(float(r[metric]), 4) for r in rows}
    if len(scores) != len(rows):
        labels = sorted({str(r["label"]) for r in rows})
        raise ValueError(
            f"{path} holds several rows per case (labels {labels}); pass label= to pick one."
        )
    return scores


def run_folder(out: str | Path, variant: str, seed: int) -> Path:
    """The folder :func:`repeat` trains a variant's run of one seed into:
    ``out/<variant>-<seed>``, spaces as underscores."""
    return Path(out) / f"{variant}-{seed}".replace(" ", "_")


def repeat(
    train: Train,
    data: str | Path,
    out: str | Path,
    profile: str,
    seeds: Sequence[int],
    variants: Mapping[str, Mapping[str, Any]],
    fixed: Mapping[str, Any] | None = None,
    scores: Mapping[str, Scorer] | None = None,
) -> list[dict[str, Any]]:
    """Train every variant with every seed (seed by seed), each into its own run folder.

    Args:
        train: The recipe's ``train`` (see :data:`Train`).
        data: The data folder every run reads.
        out: Folder for the run folders (:func:`run_folder`).
        profile: ``"quick"`` or ``"full"``.
        seeds: Seeds of the runs.
        variants: Variant name to the settings it changes.
        fixed: Settings every run gets on top of its variant's, e.g. ``{"split_seed": 0}`` so
            that every run tests the same cases.
        scores: Record key to a :data:`Scorer` of a finished run folder (default: ``{"dice":
            case_scores}``, for a ``metrics.csv`` with one row per case), e.g. ``{"cancer":
            lambda run: case_scores(run, label="cancer")}``.

    Returns:
        One record per run: ``seed``, ``variant``, one entry per scorer (case id to score) and
        ``train_seconds``, in the order trained.
    """
    scorers = scores or {"dice": case_scores}
    records = []
    for seed in seeds:
        for name, overrides in variants.items():
            folder = run_folder(out, name, seed)
            summary = train(Path(data), folder, profile, seed, {**overrides, **(fixed or {})})
            record: dict[str, Any] = {"seed": seed, "variant": name}
            record.update({key: dict(score(folder)) for key, score in scorers.items()})
            records.append({**record, "train_seconds": summary["train_seconds"]})
    return records


def pooled(records: Sequence[Mapping[str, Any]], variant: str, key: str) -> list[float]:
    """Every case score of one variant over all its runs (seed by seed, cases in order)."""
    return [v for r in records if r["variant"] == variant for v in r[key].values()]


def paired_scores(
    records: Sequence[Mapping[str, Any]],
    variant: str,
    baseline: str,
    key: str,
    shared: bool = False,
) -> tuple[list[float], list[float]]:
    """The scores of ``variant`` and of ``baseline`` paired case by case within each seed, for
    every seed both were run with: the two sides of a paired comparison.

    Args:
        records: From :func:`repeat`.
        variant: The variant compared.
        baseline: The variant it is compared with.
        key: The score compared (a key of the records, e.g. ``"dice"``).
        shared: Pair only the cases both runs of a seed tested (a leave-one-site-out run
            against the mixed-site run); otherwise they must have tested the same cases.

    Returns:
        ``(variant's scores, baseline's scores)``, in the baseline runs' order of seeds and
        cases.

    Raises:
        ValueError: If the two runs of a seed did not test the same cases (and not ``shared``).
    """
    new: list[float] = []
    old: list[float] = []
    for base in (r for r in records if r["variant"] == baseline):
        other = next(
            (r for r in records if r["variant"] == variant and r["seed"] == base["seed"]), None
        )
        if other is None:
            continue
        if not shared and set(other[key]) != set(base[key]):
            raise ValueError(
                f"the {variant!r} and {baseline!r} runs of seed {base['seed']} tested different "
                f"cases ({sorted(other[key])} and {sorted(base[key])}); give them one split "
                "(fixed={'split_seed': 0})."
            )
        cases = [case for case in base[key] if case in other[key]]
        new += [other[key][case] for case in cases]
        old += [base[key][case] for case in cases]
    return new, old


def differences(
    records: Sequence[Mapping[str, Any]],
    variant: str,
    baseline: str,
    key: str,
    shared: bool = False,
) -> list[float]:
    """``variant`` minus ``baseline``, case by case within each seed (see
    :func:`paired_scores`, which takes the same arguments and raises the same error)."""
    new, old = paired_scores(records, variant, baseline, key, shared)
    return [a - b for a, b in zip(new, old, strict=True)]


def mean_and_sd(values: Sequence[float]) -> list[float]:
    """``[mean, sample standard deviation]`` of some values, rounded to 4 decimals.

    The numbers behind :func:`labkit.tables.format_mean_sd`, which formats them for reading.
    """
    array = np.asarray(values, dtype=float)
    if array.size < 2:
        raise ValueError(f"a standard deviation needs two or more values; got {array.size}.")
    return [round(float(array.mean()), 4), round(float(array.std(ddof=1)), 4)]


def paired_difference(diffs: Sequence[float], count_name: str) -> dict[str, Any]:
    """Mean, spread and sign count of paired differences (one per case and seed).

    Args:
        diffs: Differences, variant minus baseline, each for the same case and seed.
        count_name: Key under which the number of pairs is reported (e.g. ``n_case_runs``).

    Returns:
        ``mean``, ``sd`` (``None`` for a single pair), the count, and ``positive`` (how many
        differences are above 0).
    """
    values = np.asarray(diffs, dtype=float)
    return {
        "mean": round(float(values.mean()), 4),
        "sd": round(float(values.std(ddof=1)), 4) if len(values) > 1 else None,
        count_name: len(values),
        "positive": int(np.sum(values > 0)),
    }
