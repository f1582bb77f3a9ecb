"""How the WMH study is judged: the challenge's metrics, the study's resized-grid Dice."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from labkit.datasets.wmh import IGNORE_LABEL, LABELS
from labkit.evaluation import evaluate_labels
from labkit.measures import dice
from labkit.studies.settings.wmh import WMHSettings
from labkit.studies.wmh.steps import (
    preprocess,
)
from labkit.transforms import resize, undo

__all__ = [
    "CHALLENGE_METRICS",
    "THRESHOLDS",
    "challenge_rows",
    "choose_threshold",
    "resize_ceiling",
    "resized_grid_dice",
    "run_threshold",
]


#: Candidate thresholds for ``tune_threshold``.
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


#: The challenge's five metrics, in its order.
CHALLENGE_METRICS = ("dice", "hd95", "avd_pct", "lesion_recall", "lesion_f1")


def resized_grid_dice(
    model: Any,
    image: np.ndarray,
    spacing: Sequence[float],
    label: np.ndarray,
    settings: WMHSettings,
) -> tuple[float, int, int]:
    """The study's measure for one subject: Dice on the input grid, not on the subject's own.

    The output thresholded at ``settings.threshold`` is compared with the WMH mask resized to the
    input grid (nearest neighbour), as a pipeline that resizes first and scores after sees it.

    Args:
        model: Keras model (or callable ``model(x, training=False)``) for ``(1, *grid, 1)``.
        image: FLAIR ``(x, y, z, 1)``.
        spacing: Its voxel size in mm.
        label: Challenge labels ``(x, y, z)``.
        settings: Settings.

    Returns:
        ``(Dice, 2 * overlap, predicted + reference voxels)``; summing the last two over subjects
        gives the pooled Dice the study reported ("for all validation image arrays").
    """
    x, target, _ = preprocess(image, spacing, settings, label)
    out = keras.ops.convert_to_numpy(model(x[None], training=False))
    pred = out[0, ..., 0] >= settings.threshold
    ref = target == 1
    overlap = 2 * int(np.count_nonzero(pred & ref))
    return dice(pred, ref), overlap, int(np.count_nonzero(pred) + np.count_nonzero(ref))


def resize_ceiling(label: np.ndarray, shape: Sequence[int]) -> float:
    """Dice of a WMH mask sent to an input grid and back, against itself (label 2 left out).

    What the resize alone costs: a network that reproduced the coarse mask perfectly would score
    this on the subject's own grid. The mask is resized linearly (each coarse voxel holds the
    lesion's share of it), back the same way, and thresholded at one half.

    Args:
        label: Challenge labels ``(x, y, z)`` (1 WMH, 2 other pathology).
        shape: The input grid, e.g. ``settings.shape``.
    """
    wmh_mask = (np.asarray(label) == 1).astype(np.float32)
    small, record = resize(wmh_mask, tuple(shape), order=1)
    back = undo(small, [record]) >= 0.5
    return dice(back & (label != IGNORE_LABEL), label == 1)


def run_threshold(config: Mapping[str, Any], settings: WMHSettings) -> float:
    """The threshold a run predicts with: the one it chose on its validation subjects
    (``config.json``'s ``threshold``, with ``tune_threshold``), else its settings' own."""
    return float(config.get("threshold", settings.threshold))


def choose_threshold(
    probs: Sequence[np.ndarray],
    refs: Sequence[np.ndarray],
    candidates: Sequence[float] = THRESHOLDS,
) -> tuple[float, dict[float, float]]:
    """The threshold with the best mean Dice over some subjects (ties go to the one nearest 0.5).

    Args:
        probs: WMH probabilities ``(x, y, z)``, one per subject.
        refs: Challenge labels ``(x, y, z)`` (label 2 is left out of the Dice).
        candidates: Thresholds to try.

    Returns:
        ``(best threshold, {threshold: mean Dice})``.
    """
    if not probs or len(probs) != len(refs):
        raise ValueError(
            f"choose_threshold needs one reference per probability map; got {len(probs)} and "
            f"{len(refs)}."
        )
    means = {}
    for t in candidates:
        scores = []
        for p, r in zip(probs, refs, strict=True):
            keep = r != IGNORE_LABEL
            scores.append(dice((p >= t) & keep, r == 1))
        means[float(t)] = float(np.mean(scores))
    best = max(means, key=lambda t: (round(means[t], 6), -abs(t - 0.5)))
    return best, means


def challenge_rows(
    pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float], case: str, site: str = ""
) -> list[dict[str, Any]]:
    """The challenge's per-subject metrics of a WMH mask, label 2 left out.

    Args:
        pred: Predicted mask or labels ``(x, y, z)`` (1 is WMH).
        ref: Challenge labels ``(x, y, z)``: 0, 1 WMH, 2 other pathology.
        spacing: Voxel size in mm.
        case: Case id.
        site: Acquisition site, written into the row.

    Returns:
        One row: the columns of :func:`labkit.evaluation.evaluate_labels` with lesion-wise
        columns (components fully connected, as the challenge counts them), plus ``site``.
    """
    rows = evaluate_labels(
        pred, ref, LABELS, spacing, case=case, lesions=True, ignore=(IGNORE_LABEL,)
    )
    return [{**row, "site": site} for row in rows]
