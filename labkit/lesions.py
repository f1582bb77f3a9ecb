"""Lesion-wise detection: connected components of a prediction and its reference, matched.

Voxel overlap (Dice) is dominated by the largest lesions; a patient with one large lesion and ten
missed small ones can score well. The WMH challenge (Kuijf et al. 2019, IEEE TMI 38:2556-2568)
therefore also scores lesions: a reference lesion counts as detected when any predicted voxel
overlaps it, and a predicted component overlapping no reference voxel is a false positive.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from labkit.measures import _ratio, check_pair

__all__ = ["lesion_metrics"]


def lesion_metrics(
    pred: np.ndarray, ref: np.ndarray, connectivity: int | None = None
) -> dict[str, float]:
    """Lesion-wise detection: connected components of prediction and reference.

    A reference lesion is detected when any predicted voxel overlaps it; a predicted component
    is a false positive when it overlaps no reference voxel.

    Args:
        pred: Predicted mask.
        ref: Reference mask, same shape.
        connectivity: Neighbourhood of the components, 1 (faces) to ``ndim`` (full; default).

    Returns:
        ``n_ref``, ``n_pred``, ``detected`` (reference lesions hit), ``fp_components``,
        ``lesion_recall``, ``lesion_precision``, ``lesion_f1`` (NaN where undefined: recall with no
        reference lesion, precision with no predicted component).
    """
    pred, ref = check_pair(pred, ref)
    structure = ndimage.generate_binary_structure(pred.ndim, connectivity or pred.ndim)
    ref_cc, n_ref = ndimage.label(ref, structure)
    pred_cc, n_pred = ndimage.label(pred, structure)
    detected = len(np.unique(ref_cc[pred & ref]))
    true_pred = len(np.unique(pred_cc[pred & ref]))
    recall = _ratio(detected, n_ref)
    precision = _ratio(true_pred, n_pred)
    if not (np.isfinite(recall) and np.isfinite(precision)):
        f1 = float("nan")
    elif recall + precision == 0:
        f1 = 0.0
    else:
        f1 = 2 * recall * precision / (recall + precision)
    return {
        "n_ref": float(n_ref),
        "n_pred": float(n_pred),
        "detected": float(detected),
        "fp_components": float(n_pred - true_pred),
        "lesion_recall": recall,
        "lesion_precision": precision,
        "lesion_f1": f1,
    }
