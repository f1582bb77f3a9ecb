"""Post-processing chosen on validation cases: keep a label's largest component only where it helps.

A network often predicts a few small islands away from the structure (a speck of "hippocampus"
in the temporal lobe). Keeping only the largest connected component of each label removes them,
but also removes real second components (a second bleed, a lesion load of dozens of white-matter
lesions). nnU-Net (Isensee et al. 2021, Nature Methods 18:203) therefore decides per label, on its
cross-validation predictions: the largest component is kept for a label only if that raises the
label's mean Dice over those cases. This module does the same on a run's validation cases, never
its test cases, and :func:`apply_choice` applies the recorded choice to new label maps.

Label maps are ``(x, y[, z])`` integer arrays; removed voxels become background (0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from labkit.errors import ShapeError
from labkit.measures import dice
from labkit.morphology import keep_largest_component

__all__ = [
    "apply_choice",
    "choose_largest_component",
    "describe_largest_component",
    "largest_component_per_label",
]


def largest_component_per_label(label_map: np.ndarray, labels: Sequence[int]) -> np.ndarray:
    """The label map with only the largest connected component of each of ``labels`` kept
    (full connectivity); the voxels of the other components become background (0).

    Args:
        label_map: ``(x, y[, z])`` integer label map.
        labels: Label values to clean; other labels are left as they are.

    Returns:
        A new label map of the same shape and dtype.
    """
    out = np.array(label_map, copy=True)
    for value in labels:
        mask = out == value
        if mask.any():
            out[mask & ~keep_largest_component(mask)] = 0
    return out


def choose_largest_component(
    predictions: Sequence[np.ndarray],
    references: Sequence[np.ndarray],
    labels: Sequence[int],
    case_ids: Sequence[str] = (),
    ignore: int | None = None,
) -> dict[str, Any]:
    """Decide, per label, whether keeping its largest component raises the mean Dice.

    Args:
        predictions: Predicted label maps of the validation cases, ``(x, y[, z])`` each.
        references: Their reference label maps, the same shapes, in the same label values.
        labels: Label values to decide on (background left out).
        case_ids: The cases' ids, recorded with the choice (so a reader can check that no test
            case was used).
        ignore: A reference value whose voxels every Dice leaves out, in the prediction as in
            the reference (the WMH challenge's "other pathology", 2).

    Returns:
        ``{"labels": [values kept to their largest component], "cases": [ids], "val_dice":
        {value: {"as predicted": mean Dice, "largest component": mean Dice}}}``: the entry a
        run's ``config.json`` records under ``largest_component``. A label is kept only if its
        mean Dice rises strictly; with no validation case, nothing is kept.

    Raises:
        ShapeError: If a prediction and its reference differ in shape, or the lists in length.
    """
    if len(predictions) != len(references):
        raise ShapeError(
            f"choose_largest_component got {len(predictions)} predictions and "
            f"{len(references)} references; expected one reference per prediction."
        )
    for k, (p, r) in enumerate(zip(predictions, references, strict=True)):
        if p.shape != r.shape:
            raise ShapeError(
                f"validation case {case_ids[k] if case_ids else k}: prediction {p.shape} and "
                f"reference {r.shape} differ in shape; expected both on the case's own grid."
            )
    kept: list[int] = []
    table: dict[str, dict[str, float]] = {}
    for value in (int(v) for v in labels):
        before, after = [], []
        for p, r in zip(predictions, references, strict=True):
            keep = np.ones(r.shape, bool) if ignore is None else r != ignore
            mask = p == value
            largest = keep_largest_component(mask) if mask.any() else mask
            before.append(dice(mask & keep, (r == value) & keep))
            after.append(dice(largest & keep, (r == value) & keep))
        if not before:
            continue
        table[str(value)] = {
            "as predicted": float(np.mean(before)),
            "largest component": float(np.mean(after)),
        }
        if np.mean(after) > np.mean(before):
            kept.append(value)
    return {"labels": kept, "cases": list(case_ids), "val_dice": table}


def apply_choice(label_map: np.ndarray, config: Mapping[str, Any]) -> np.ndarray:
    """Apply a run's recorded choice (``config["largest_component"]``, written by
    :func:`choose_largest_component`) to one label map; unchanged if the run made none."""
    choice = config.get("largest_component") or {}
    labels = choice.get("labels") or []
    return largest_component_per_label(label_map, labels) if labels else label_map


def describe_largest_component(rows: Sequence[Mapping[str, Any]], structure: str) -> str:
    """What keeping the largest component did to a run's test cases, in one paragraph, for a
    chapter's text (written from the run, so it cannot disagree with the table it follows).

    Args:
        rows: One per test case: ``"case"``, ``"predicted components"`` (of the raw prediction),
            ``"Dice"``, ``"Dice, largest component"``, ``"HD95 (mm)"`` and
            ``"HD95 (mm), largest component"``.
        structure: What the label is, for the text (e.g. ``"spleen"``).

    Returns:
        The paragraph: that nothing changed where every prediction is one component, else each
        case with islands (its HD95 and Dice before and after) and the mean HD95 over all cases.
    """
    before = float(np.mean([r["HD95 (mm)"] for r in rows]))
    after = float(np.mean([r["HD95 (mm), largest component"] for r in rows]))
    islands = [r for r in rows if r["predicted components"] > 1]
    if not islands:
        return (
            f"On this run every test case's predicted {structure} is a single component, so "
            f"keeping the largest changes nothing: the mean HD95 stays at {before:.1f} mm. Run it "
            f"on other seeds, or on the real data, to see cases it fixes."
        )
    cases = "; ".join(
        f"{r['case']}, {r['predicted components']} pieces: HD95 {r['HD95 (mm)']:.1f} to "
        f"{r['HD95 (mm), largest component']:.1f} mm, Dice {r['Dice']:.3f} to "
        f"{r['Dice, largest component']:.3f}"
        for r in islands
    )
    return (
        f"On this run {len(islands)} of {len(rows)} test cases had islands ({cases}), and the "
        f"mean HD95 over all cases went from {before:.1f} to {after:.1f} mm."
    )
