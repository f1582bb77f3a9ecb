"""Per-mask segmentation measures in NumPy, on the physical voxel spacing.

Overlap: Dice, IoU (Jaccard), sensitivity, specificity, precision, accuracy.
Surface (in mm, from the voxel spacing): Hausdorff distance, HD95, average symmetric surface
distance (ASSD), normalised surface Dice (NSD, Nikolov et al. 2021, JMIR 23:e26151).
Volume: relative and absolute volume difference (in ml, and in percent of the reference: the WMH
challenge's AVD, Kuijf et al. 2019). Lesion-wise detection is in :mod:`labkit.lesions`.

Surfaces are the mask voxels removed by one binary erosion (6-connected in 3D), and distances run
between surface voxel centres, as in MONAI (``monai.metrics``), against which this module is
tested. HD95 is the larger of the two directed 95th percentiles (MONAI's definition; medpy instead
takes the 95th percentile of both directions pooled, a difference the course's "U-Net, losses and
metrics" chapter measures).

Empty masks follow one policy, :data:`EMPTY_POLICY`:

- reference and prediction both empty: Dice, IoU and NSD are 1, the surface distances 0 and the
  volume differences 0; sensitivity and precision are NaN (0/0).
- exactly one empty: Dice, IoU and NSD are 0; the surface distances are NaN (there is no surface
  to measure to) unless ``empty_distance`` gives a value to use instead (BraTS uses the image
  diagonal); the relative volume difference is NaN when the reference is empty.

:func:`labkit.evaluation.summarize` reports how many cases hit each case so that no mean
silently hides them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from labkit.errors import LabelValueError, ShapeError

__all__ = [
    "EMPTY_POLICY",
    "METRIC_COLUMNS",
    "SurfaceDistances",
    "binary_metrics",
    "check_pair",
    "confusion",
    "dice",
    "generalized_dice",
    "surface_distances",
]

#: Column order of per-case metric tables and CSV files, after ``case`` and ``label``.
METRIC_COLUMNS = (
    "dice", "hd95", "iou", "sensitivity", "specificity", "precision", "accuracy", "hd", "assd",
    "nsd", "volume_ref_ml", "volume_pred_ml", "rvd", "avd_ml", "avd_pct", "ref_empty",
    "pred_empty",
)  # fmt: skip

EMPTY_POLICY = (
    "both empty: dice = iou = nsd = 1, distances = 0, sensitivity and precision NaN; "
    "one empty: dice = iou = nsd = 0, distances NaN (or empty_distance)"
)


def _check_shapes(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, ref = np.asarray(pred), np.asarray(ref)
    if pred.shape != ref.shape:
        raise ShapeError(
            f"prediction has shape {pred.shape} but reference has {ref.shape}; expected the same "
            "grid. Resample the prediction onto the reference grid before evaluating."
        )
    return pred, ref


def _as_mask(array: np.ndarray, name: str) -> np.ndarray:
    """A bool mask of ``array``, refused unless it holds only 0 and 1 (or is bool)."""
    if array.dtype == bool:
        return array
    if array.dtype.kind not in "iuf":
        raise LabelValueError(f"the {name} has dtype {array.dtype}; expected a 0/1 or bool mask.")
    bad = (array != 0) & (array != 1)
    if bad.any():
        examples = ", ".join(f"{v:g}" for v in np.unique(array[bad])[:5])
        raise LabelValueError(
            f"the {name} (shape {array.shape}) holds values other than 0 and 1 in "
            f"{int(bad.sum())} voxel(s) (e.g. {examples}); expected a binary mask, or every "
            "non-zero voxel would count as foreground. Threshold probabilities first "
            "(probs >= 0.5), or pick one label of a label map (labels == 1)."
        )
    return array.astype(bool)


def check_pair(pred: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, ref)`` as bool masks, refused unless they share one shape (naming both) and
    each holds only 0 and 1 (a probability map or a multi-label map is not a mask)."""
    pred, ref = _check_shapes(pred, ref)
    return _as_mask(pred, "prediction"), _as_mask(ref, "reference")


def _spacing(spacing: Sequence[float] | None, ndim: int) -> np.ndarray:
    if spacing is None:
        return np.ones(ndim)
    given = np.asarray(spacing, dtype=float)
    if given.ndim > 1 or (given.ndim == 1 and given.size != ndim):
        raise ShapeError(
            f"spacing {tuple(given.ravel().tolist())} has {given.size} value(s) but the masks have "
            f"{ndim} axes; expected one voxel size in mm per axis (volume.spacing of a "
            f"{ndim}D image)."
        )
    sp = np.broadcast_to(given, (ndim,)).copy()
    if not np.all(np.isfinite(sp)) or np.any(sp <= 0):
        raise ValueError(f"spacing must be positive millimetres; got {tuple(sp.tolist())}.")
    return sp


def confusion(pred: np.ndarray, ref: np.ndarray) -> tuple[int, int, int, int]:
    """Return ``(tp, fp, fn, tn)`` voxel counts of two binary masks of one shape."""
    pred, ref = check_pair(pred, ref)
    tp = int(np.count_nonzero(pred & ref))
    fp = int(np.count_nonzero(pred & ~ref))
    fn = int(np.count_nonzero(~pred & ref))
    return tp, fp, fn, int(pred.size - tp - fp - fn)


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice coefficient ``2|A∩B| / (|A| + |B|)`` (1.0 when both masks are empty)."""
    tp, fp, fn, _ = confusion(pred, ref)
    return _dice(tp, fp, fn)


def _dice(tp: int, fp: int, fn: int) -> float:
    return 1.0 if tp + fp + fn == 0 else 2.0 * tp / (2 * tp + fp + fn)


def generalized_dice(
    pred: np.ndarray, ref: np.ndarray, labels: Sequence[int] | None = None
) -> float:
    """Generalized Dice score of two label maps (Sudre et al. 2017, DLMIA, LNCS 10553).

    ``2 sum_c w_c |P_c ∩ R_c| / sum_c w_c (|P_c| + |R_c|)`` with ``w_c = 1 / |R_c|^2``: one number
    for all classes in which each class counts about equally, whatever its size. A class absent
    from the reference (infinite weight) gets the largest finite weight, as in MONAI's
    ``GeneralizedDiceScore`` (against which this is tested). This is the hard score of the
    predicted labels; :class:`labkit.metrics.GeneralizedDiceScore` is the soft one of training.

    Args:
        pred: Predicted label map ``(x, y[, z])`` of integers.
        ref: Reference label map of the same shape.
        labels: Label values to score, background included if wanted (default: ``0`` up to the
            largest value in either map).

    Returns:
        The score in ``[0, 1]``; 1.0 when every scored class is empty in both maps.

    Raises:
        ShapeError: If the shapes differ.
    """
    pred, ref = _check_shapes(pred, ref)
    if labels is None:
        labels = range(int(max(pred.max(initial=0), ref.max(initial=0))) + 1)
    inter = np.array([np.count_nonzero((pred == c) & (ref == c)) for c in labels], dtype=float)
    size_ref = np.array([np.count_nonzero(ref == c) for c in labels], dtype=float)
    size_pred = np.array([np.count_nonzero(pred == c) for c in labels], dtype=float)
    present = size_ref > 0
    if not present.any():
        return 1.0 if not size_pred.any() else 0.0
    w = np.zeros_like(size_ref)
    w[present] = 1.0 / size_ref[present] ** 2
    w[~present] = w[present].max()
    return float(2.0 * np.sum(w * inter) / np.sum(w * (size_ref + size_pred)))


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


@dataclass(frozen=True)
class SurfaceDistances:
    """Distances in mm from each surface voxel of one mask to the other mask's surface.

    Attributes:
        pred_to_ref: One distance per surface voxel of the prediction.
        ref_to_pred: One distance per surface voxel of the reference.
    """

    pred_to_ref: np.ndarray
    ref_to_pred: np.ndarray


def _surface(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask)


def surface_distances(
    pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float] | None = None
) -> SurfaceDistances:
    """Compute the surface-to-surface distances of two non-empty binary masks.

    The work is confined to the bounding box of both masks plus one voxel, so a small lesion in
    a large volume costs little.

    Args:
        pred: Predicted mask, any dimensionality.
        ref: Reference mask, same shape.
        spacing: Voxel size in mm per axis (default 1).

    Returns:
        The two directed distance sets (empty arrays when a mask is empty).
    """
    pred, ref = check_pair(pred, ref)
    sp = _spacing(spacing, pred.ndim)
    if not pred.any() or not ref.any():
        return SurfaceDistances(np.zeros(0), np.zeros(0))
    union = np.argwhere(pred | ref)
    box = tuple(
        slice(max(lo - 1, 0), hi + 2) for lo, hi in zip(union.min(0), union.max(0), strict=True)
    )
    p = np.pad(pred[box], 1)
    r = np.pad(ref[box], 1)
    sp_surf, sr_surf = _surface(p), _surface(r)
    to_ref = ndimage.distance_transform_edt(~sr_surf, sampling=sp)
    to_pred = ndimage.distance_transform_edt(~sp_surf, sampling=sp)
    return SurfaceDistances(pred_to_ref=to_ref[sp_surf], ref_to_pred=to_pred[sr_surf])


def binary_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: Sequence[float] | None = None,
    nsd_tolerance_mm: float = 1.0,
    empty_distance: float | None = None,
) -> dict[str, float]:
    """All overlap, surface and volume metrics of one binary mask against its reference.

    Args:
        pred: Predicted mask ``(x, y[, z])``, bool or 0/1.
        ref: Reference mask, same shape.
        spacing: Voxel size in mm per axis (from the image affine, e.g. ``volume.spacing``).
        nsd_tolerance_mm: Tolerance of the normalised surface Dice, finite and above 0.
        empty_distance: Value for surface distances when exactly one mask is empty (default NaN).

    Returns:
        A dict with the keys of :data:`METRIC_COLUMNS`; see the module docstring for empty masks.

    Raises:
        ShapeError: If the shapes differ, or ``spacing`` has another number of axes.
        LabelValueError: If a mask holds values other than 0 and 1.
        ValueError: If the spacing or the tolerance is not a positive finite number.
    """
    pred, ref = check_pair(pred, ref)
    sp = _spacing(spacing, pred.ndim)
    if not (np.isfinite(nsd_tolerance_mm) and nsd_tolerance_mm > 0):
        raise ValueError(
            f"nsd_tolerance_mm must be a finite distance in mm above 0; got {nsd_tolerance_mm}."
        )
    tp, fp, fn, tn = confusion(pred, ref)
    voxel_ml = float(np.prod(sp)) / 1000.0
    v_ref, v_pred = (tp + fn) * voxel_ml, (tp + fp) * voxel_ml
    ref_empty, pred_empty = tp + fn == 0, tp + fp == 0
    out: dict[str, float] = {
        "dice": _dice(tp, fp, fn),
        "iou": 1.0 if tp + fp + fn == 0 else tp / (tp + fp + fn),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "accuracy": (tp + tn) / pred.size,
        "volume_ref_ml": v_ref,
        "volume_pred_ml": v_pred,
        "rvd": 0.0 if ref_empty and pred_empty else _ratio(v_pred - v_ref, v_ref),
        "avd_ml": abs(v_pred - v_ref),
        "avd_pct": 0.0 if ref_empty and pred_empty else 100.0 * abs(_ratio(v_pred - v_ref, v_ref)),
        "ref_empty": float(ref_empty),
        "pred_empty": float(pred_empty),
    }
    if ref_empty and pred_empty:
        out.update(hd=0.0, hd95=0.0, assd=0.0, nsd=1.0)
    elif ref_empty or pred_empty:
        fill = float("nan") if empty_distance is None else float(empty_distance)
        out.update(hd=fill, hd95=fill, assd=fill, nsd=0.0)
    else:
        d = surface_distances(pred, ref, sp)
        both = np.concatenate([d.pred_to_ref, d.ref_to_pred])
        out.update(
            hd=float(max(d.pred_to_ref.max(), d.ref_to_pred.max())),
            hd95=float(max(np.percentile(d.pred_to_ref, 95), np.percentile(d.ref_to_pred, 95))),
            assd=float(both.mean()),
            nsd=float(np.count_nonzero(both <= nsd_tolerance_mm) / both.size),
        )
    return {k: out[k] for k in METRIC_COLUMNS}
