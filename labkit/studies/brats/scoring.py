"""How the BraTS study is judged: the three nested regions, per case."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.evaluation import evaluate_labels
from labkit.labels import CONVENTION_LABELS, region_masks
from labkit.measures import binary_metrics
from labkit.studies.brats.steps import (
    REGIONS,
)

__all__ = ["STUDY_METRICS", "case_rows", "region_rows"]


#: The study's per-class table: Dice, sensitivity, specificity; and HD95 for the regions.
STUDY_METRICS = ("dice", "hd95", "sensitivity", "specificity")


def region_rows(
    pred: np.ndarray,
    ref: np.ndarray,
    convention: str,
    spacing: Sequence[float],
    case: str = "",
) -> list[dict[str, Any]]:
    """BraTS's scoring of one case: Dice, HD95, sensitivity and specificity of the whole
    tumour, tumour core and enhancing tumour, each a union of labels of ``convention``."""
    p, r = region_masks(pred, convention), region_masks(ref, convention)
    return [
        {"case": case, "label": name, **binary_metrics(p[name], r[name], spacing)}
        for name in REGIONS
    ]


def case_rows(
    pred: np.ndarray, ref: np.ndarray, convention: str, spacing: Sequence[float], case: str = ""
) -> list[dict[str, Any]]:
    """Per-class rows (the study's table) followed by the three region rows of one case."""
    rows = evaluate_labels(pred, ref, CONVENTION_LABELS[convention], spacing, case=case)
    return rows + region_rows(pred, ref, convention, spacing, case)
