"""How the haemorrhage study is judged: per patient, with and without post-processing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from labkit.datasets.base import LoadedCase
from labkit.datasets.ich import LABELS
from labkit.evaluation import evaluate_labels
from labkit.studies.ich.steps import (
    postprocess,
)
from labkit.tables import paired_verdict

__all__ = ["patient_rows", "patient_table", "score_postprocessing", "verdict"]


def score_postprocessing(
    held_out: Mapping[str, tuple[LoadedCase, np.ndarray, np.ndarray]],
    min_component_ml: float,
    opening: bool = False,
    nsd_tolerance_mm: float = 2.0,
) -> list[dict[str, Any]]:
    """Post-process a run's held-out predictions and score them as ``train`` scores a run.

    This measures post-processing without training again: the probabilities of
    :func:`held_out_predictions`, thresholded at 0.5, cleaned by :func:`postprocess`.

    Args:
        held_out: What :func:`held_out_predictions` returns.
        min_component_ml: Smallest component kept (0: none dropped).
        opening: Open each axial slice first.
        nsd_tolerance_mm: Tolerance of the normalised surface Dice.

    Returns:
        One row per patient with the columns of ``metrics.csv`` (the lesion-wise ones included).
    """
    rows = []
    for case_id, (loaded, probs, brain) in held_out.items():
        spacing = loaded.image.spacing
        mask = postprocess(probs >= 0.5, brain, spacing, min_component_ml, opening)
        rows += patient_rows(mask, loaded, case_id, nsd_tolerance_mm)
    return rows


def patient_rows(
    mask: np.ndarray, loaded: LoadedCase, case_id: str, nsd_tolerance_mm: float
) -> list[dict[str, Any]]:
    """The per-patient metrics of a predicted mask ``(x, y, z)``, lesion-wise columns included:
    the rows of ``metrics.csv``."""
    return evaluate_labels(
        mask,
        loaded.label.array,
        LABELS,
        loaded.image.spacing,
        case=case_id,
        lesions=True,
        nsd_tolerance_mm=nsd_tolerance_mm,
    )


def patient_table(
    rows: Sequence[Mapping[str, Any]], kinds: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The study's per-patient view of ``metrics.csv`` rows: blood and predicted volume, Dice,
    and false-positive regions (predicted components that touch no blood).

    Args:
        rows: Rows of a run's ``metrics.csv`` (or :func:`score_postprocessing`).
        kinds: Patient id to kind of bleed (the twin's ``kinds.json``; ``"?"`` when unknown).
    """
    kinds = kinds or {}
    return [
        {
            "patient": r["case"],
            "kind": kinds.get(r["case"], "?"),
            "blood (mL)": r["volume_ref_ml"],
            "predicted (mL)": r["volume_pred_ml"],
            "Dice": r["dice"],
            "false-positive regions": int(r["fp_components"]),
        }
        for r in rows
    ]


def verdict(rows: Sequence[Mapping[str, Any]], base: Sequence[Mapping[str, Any]]) -> str:
    """A change against a baseline on the same patients, in words: the paired Dice verdict
    (:func:`labkit.tables.paired_verdict`) and the change in false-positive regions per patient.

    Raises:
        ValueError: If the two lists do not hold the same patients in the same order.
    """
    if [r["case"] for r in rows] != [b["case"] for b in base]:
        raise ValueError(
            f"verdict compares the same patients in the same order; got "
            f"{[r['case'] for r in rows]} and {[b['case'] for b in base]}."
        )
    dice_words = paired_verdict([r["dice"] for r in rows], [b["dice"] for b in base])
    fp = [r["fp_components"] for r in rows]
    change = np.mean(fp) - np.mean([b["fp_components"] for b in base])
    return f"Dice {dice_words}; false positives {change:+.1f} per patient"
