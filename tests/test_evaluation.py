import math

import numpy as np
import pytest
import torch
from monai.metrics import (
    GeneralizedDiceScore,
    compute_average_surface_distance,
    compute_dice,
    compute_hausdorff_distance,
    compute_surface_dice,
)

from labkit import evaluation as ev
from labkit import labels, measures
from labkit.errors import LabelValueError, ShapeError
from labkit.lesions import lesion_metrics
from labkit.phantoms import irregular_blob

#: Backend-neutral: make test runs this module under JAX and PyTorch too.
pytestmark = pytest.mark.backends


def _blobs(seed, shape=(40, 36, 20)):
    rng = np.random.default_rng(seed)
    ref = irregular_blob(shape, (20, 18, 10), (9, 7, 5), rng, roughness=0.4)
    pred = irregular_blob(shape, (21, 17, 10), (8, 8, 4), rng, roughness=0.4)
    pred |= irregular_blob(shape, (5, 30, 15), (2, 2, 2), rng)  # a stray blob
    return pred, ref


def _t(mask):  # (x, y, z) -> (batch, channel, x, y, z)
    return torch.from_numpy(mask[None, None].astype(np.float32))


def test_overlap_metrics_by_hand():
    ref = np.zeros((4, 5), bool)
    ref[0, :4] = True  # 4 voxels
    pred = np.zeros((4, 5), bool)
    pred[0, 2:] = True  # 3 voxels, 2 on the reference
    m = measures.binary_metrics(pred, ref, spacing=(2.0, 0.5))
    assert measures.confusion(pred, ref) == (2, 1, 2, 15)
    assert m["dice"] == pytest.approx(4 / 7)
    assert m["iou"] == pytest.approx(2 / 5)
    assert m["sensitivity"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["specificity"] == pytest.approx(15 / 16)
    assert m["accuracy"] == pytest.approx(17 / 20)
    assert m["volume_ref_ml"] == pytest.approx(4 * 1.0 / 1000)
    assert m["rvd"] == pytest.approx(-0.25)
    assert m["avd_ml"] == pytest.approx(0.001)


def test_surface_distances_by_hand():
    # two 1-voxel-thick slabs 3 voxels apart along an axis of 2.5 mm
    ref = np.zeros((3, 3, 8), bool)
    ref[:, :, 2] = True
    pred = np.zeros_like(ref)
    pred[:, :, 5] = True
    m = measures.binary_metrics(pred, ref, spacing=(1.0, 1.0, 2.5), nsd_tolerance_mm=7.5)
    assert m["hd"] == pytest.approx(7.5) and m["hd95"] == pytest.approx(7.5)
    assert m["assd"] == pytest.approx(7.5) and m["nsd"] == 1.0
    assert (
        measures.binary_metrics(pred, ref, spacing=(1.0, 1.0, 2.5), nsd_tolerance_mm=7.4)["nsd"]
        == 0.0
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_monai_on_blobs_with_anisotropic_spacing(seed):
    pred, ref = _blobs(seed)
    spacing = (0.8, 1.1, 3.0)
    ours = measures.binary_metrics(pred, ref, spacing, nsd_tolerance_mm=2.0)
    p, r = _t(pred), _t(ref)
    assert ours["dice"] == pytest.approx(
        float(compute_dice(p, r, include_background=True)), rel=1e-6
    )
    hd95 = compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=spacing)
    hd = compute_hausdorff_distance(p, r, include_background=True, spacing=spacing)
    assd = compute_average_surface_distance(
        p, r, include_background=True, symmetric=True, spacing=spacing
    )
    nsd = compute_surface_dice(p, r, [2.0], include_background=True, spacing=spacing)
    assert ours["hd95"] == pytest.approx(float(hd95), rel=1e-5)
    assert ours["hd"] == pytest.approx(float(hd), rel=1e-5)
    assert ours["assd"] == pytest.approx(float(assd), rel=1e-5)
    assert ours["nsd"] == pytest.approx(float(nsd), rel=1e-5)


def test_stray_blob_moves_hausdorff_not_dice():
    rng = np.random.default_rng(5)
    ref = irregular_blob((40, 36, 20), (20, 18, 10), (9, 7, 5), rng, roughness=0.2)
    pred = irregular_blob((40, 36, 20), (21, 17, 10), (9, 7, 5), rng, roughness=0.2)
    stray = np.zeros_like(pred)
    stray[1:4, 1:4, 16:19] = True
    a = measures.binary_metrics(pred, ref, (1, 1, 1))
    b = measures.binary_metrics(pred | stray, ref, (1, 1, 1))
    assert abs(a["dice"] - b["dice"]) < 0.02
    assert b["hd"] > 3 * a["hd"]


def test_empty_mask_policy():
    empty = np.zeros((6, 6, 6), bool)
    full = empty.copy()
    full[2:4, 2:4, 2:4] = True
    both = measures.binary_metrics(empty, empty)
    assert both["dice"] == 1 and both["iou"] == 1 and both["nsd"] == 1
    assert both["hd95"] == 0 and both["assd"] == 0 and both["rvd"] == 0
    assert math.isnan(both["sensitivity"]) and math.isnan(both["precision"])
    missed = measures.binary_metrics(empty, full)
    assert missed["dice"] == 0 and missed["nsd"] == 0 and missed["sensitivity"] == 0
    assert math.isnan(missed["hd95"]) and missed["pred_empty"] == 1 and missed["ref_empty"] == 0
    hallucinated = measures.binary_metrics(full, empty, empty_distance=373.13)
    assert hallucinated["hd95"] == 373.13 and math.isnan(hallucinated["rvd"])


def test_lesion_metrics_by_hand():
    ref = np.zeros((10, 10, 10), bool)
    ref[1:3, 1:3, 1:3] = True  # lesion A: detected
    ref[6:8, 6:8, 6:8] = True  # lesion B: missed
    pred = np.zeros_like(ref)
    pred[2:4, 2:4, 2:4] = True  # overlaps A
    pred[6, 0, 0] = True  # false positive
    pred[0, 9, 9] = True  # false positive
    m = lesion_metrics(pred, ref)
    assert (m["n_ref"], m["n_pred"], m["detected"], m["fp_components"]) == (2, 3, 1, 2)
    assert m["lesion_recall"] == 0.5 and m["lesion_precision"] == pytest.approx(1 / 3)
    assert m["lesion_f1"] == pytest.approx(2 * 0.5 / 3 / (0.5 + 1 / 3))
    diagonal = np.eye(3, dtype=bool)[:, :, None] * np.ones((1, 1, 1), bool)
    assert lesion_metrics(diagonal, diagonal)["n_ref"] == 1  # full connectivity
    assert lesion_metrics(diagonal, diagonal, connectivity=1)["n_ref"] == 3


def test_region_masks_per_convention():
    brats = np.array([0, 1, 2, 4])
    msd = np.array([0, 1, 2, 3])
    r = labels.region_masks(brats, "brats2018")
    assert r["WT"].tolist() == [False, True, True, True]
    assert r["TC"].tolist() == [False, True, False, True]
    assert r["ET"].tolist() == [False, False, False, True]
    m = labels.region_masks(msd, "msd_task01")
    assert m["TC"].tolist() == [False, False, True, True] and m["ET"].tolist() == [
        False,
        False,
        False,
        True,
    ]
    b13 = labels.region_masks(np.array([0, 1, 2, 3, 4]), "brats2013")
    assert b13["TC"].tolist() == [False, True, False, True, True]


def test_region_mix_up_is_an_error():
    with pytest.raises(
        LabelValueError,
        match=r"label values \[3\] are not tumour labels of the brats2018 .*"
        r"fit: \['brats2013', 'brats2023', 'msd_task01'\]",
    ):
        labels.region_masks(np.array([0, 1, 2, 3]), "brats2018")
    with pytest.raises(LabelValueError, match=r"label values \[4\] .* msd_task01"):
        labels.region_masks(np.array([0, 1, 2, 4]), "msd_task01")
    with pytest.raises(ValueError, match="unknown convention"):
        labels.region_masks(np.array([0]), "brats2030")


def test_evaluate_labels_summary_and_csv_round_trip(tmp_path):
    ref = np.zeros((8, 8, 8), np.uint8)
    ref[1:4, 1:4, 1:4] = 1
    ref[5:7, 5:7, 5:7] = 2
    pred = ref.copy()
    pred[5:7, 5:7, 5:7] = 0  # label 2 missed entirely
    rows = ev.evaluate_labels(pred, ref, {1: "anterior", 2: "posterior"}, (1, 1, 2), case="c1")
    rows += ev.evaluate_labels(ref, ref, {1: "anterior", 2: "posterior"}, (1, 1, 2), case="c2")
    assert [(r["case"], r["label"]) for r in rows] == [
        ("c1", "anterior"),
        ("c1", "posterior"),
        ("c2", "anterior"),
        ("c2", "posterior"),
    ]
    summary = {s["label"]: s for s in ev.summarize(rows)}
    assert summary["posterior"]["dice_mean"] == pytest.approx(0.5)
    assert summary["posterior"]["hd95_nan"] == 1 and summary["posterior"]["pred_empty"] == 1
    assert summary["anterior"]["dice_sd"] == 0.0
    path = ev.write_metrics_csv(rows, tmp_path / "m.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert header[:4] == ["case", "label", "dice", "hd95"]
    back = ev.read_metrics_csv(path)
    assert back[0]["case"] == "c1" and back[0]["dice"] == pytest.approx(1.0)
    assert math.isnan(back[1]["hd95"])


def test_shape_mismatch():
    with pytest.raises(
        ShapeError, match=r"prediction has shape \(2, 2\) but reference has \(3, 2\)"
    ):
        measures.dice(np.zeros((2, 2)), np.zeros((3, 2)))


def test_generalized_dice_by_hand():
    ref = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])
    pred = np.array([0, 0, 0, 0, 0, 1, 1, 1, 0, 0])
    # class sizes in ref 6, 3, 1 and in pred 7, 3, 0; weights 1/36, 1/9, 1; intersections 5, 2, 0
    num = 2 * (5 / 36 + 2 / 9 + 0)
    den = (6 + 7) / 36 + (3 + 3) / 9 + (1 + 0) / 1
    assert measures.generalized_dice(pred, ref) == pytest.approx(num / den)
    # the tumour-like class 2 (one voxel, missed) pulls the score far below plain accuracy
    assert measures.generalized_dice(pred, ref) < np.mean(pred == ref) - 0.3
    assert measures.generalized_dice(ref, ref) == 1.0
    assert measures.generalized_dice(np.zeros(4, int), np.zeros(4, int), labels=[1, 2]) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generalized_dice_agrees_with_monai(seed):
    rng = np.random.default_rng(seed)
    ref = rng.choice(4, size=(12, 10, 6), p=[0.7, 0.2, 0.1, 0.0])  # class 3 absent
    pred = np.where(rng.random(ref.shape) < 0.8, ref, rng.integers(0, 4, ref.shape))
    one_hot = lambda a: torch.nn.functional.one_hot(torch.as_tensor(a), 4).permute(3, 0, 1, 2)  # noqa: E731
    theirs = GeneralizedDiceScore(include_background=True)(one_hot(pred)[None], one_hot(ref)[None])
    assert measures.generalized_dice(pred, ref, labels=range(4)) == pytest.approx(
        float(theirs), abs=1e-6
    )


def test_generalized_dice_shape_mismatch():
    with pytest.raises(ShapeError, match=r"prediction has shape \(3,\) but reference has \(4,\)"):
        measures.generalized_dice(np.zeros(3, int), np.zeros(4, int))


def test_evaluate_labels_adds_lesion_columns_on_request():
    ref = np.zeros((10, 10, 3), np.uint8)
    ref[1:3, 1:3, 1] = 1  # lesion A, found
    ref[6:8, 6:8, 1] = 1  # lesion B, missed
    pred = np.zeros_like(ref)
    pred[1:3, 1:3, 1] = 1
    pred[5, 1, 0] = 1  # a false-positive speck
    plain = ev.evaluate_labels(pred, ref, {1: "bleed"})
    assert "fp_components" not in plain[0]
    (row,) = ev.evaluate_labels(pred, ref, {1: "bleed"}, lesions=True, case="p1")
    assert (row["case"], row["label"]) == ("p1", "bleed")
    assert (row["n_ref"], row["detected"], row["fp_components"]) == (2, 1, 1)
    assert row["lesion_recall"] == 0.5 and row["lesion_precision"] == 0.5
    assert row["dice"] == pytest.approx(2 * 4 / (5 + 8))


def test_ignored_label_is_left_out_of_prediction_and_reference():
    # the WMH challenge's label 2: a prediction there is neither right nor wrong
    ref = np.zeros((6, 6, 1), np.uint8)
    ref[0:2, 0:2] = 1  # 4 WMH voxels
    ref[4:6, 4:6] = 2  # 4 voxels of other pathology
    pred = np.zeros_like(ref)
    pred[0:2, 0:1] = 1  # 2 of the WMH voxels
    pred[4:6, 4:6] = 1  # all of the other pathology: ignored, not false positives
    row = ev.evaluate_labels(pred, ref, {1: "wmh"}, (1, 1, 1), lesions=True, ignore=(2,))[0]
    assert row["dice"] == pytest.approx(2 * 2 / (2 + 4))
    assert row["precision"] == 1.0 and row["fp_components"] == 0 and row["lesion_recall"] == 1
    assert row["avd_pct"] == pytest.approx(50.0)  # |2 - 4| / 4
    counted = ev.evaluate_labels(pred, ref, {1: "wmh"}, (1, 1, 1), lesions=True)[0]
    assert counted["fp_components"] == 1 and counted["dice"] == pytest.approx(4 / 10)


def test_avd_pct_policy_for_empty_masks():
    empty, one = np.zeros((3, 3), bool), np.eye(3, dtype=bool)
    assert measures.binary_metrics(empty, empty)["avd_pct"] == 0.0
    assert math.isnan(measures.binary_metrics(one, empty)["avd_pct"])
    assert measures.binary_metrics(empty, one)["avd_pct"] == 100.0


def test_stray_labels_names_the_values_and_the_conventions_they_fit():
    brats2018 = np.array([[0, 1], [2, 4]])
    assert labels.stray_labels(brats2018, "brats2018") == ([], [], [1, 2, 4])
    # read as 1/2/3, the 4 is stray, and only brats2013 and brats2018 use 1, 2 and 4
    assert labels.stray_labels(brats2018, "msd_task01") == (
        [4],
        ["brats2013", "brats2018"],
        [1, 2, 4],
    )
    assert labels.stray_labels(np.array([0, 7, 3]), "brats2023") == ([7], [], [3, 7])
    assert labels.stray_labels(np.zeros(3, int), "brats2013") == ([], [], [])
