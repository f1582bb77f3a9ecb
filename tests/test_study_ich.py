"""The haemorrhage recipe: settings, preprocessing by rule, slice choice, post-processing, and the
command line end to end on a small twin in the INSTANCE layout."""

import json
from pathlib import Path

import numpy as np
import pytest
from _tiny import use_tiny

from labkit.datasets import Case, LoadedCase
from labkit.datasets.ich import LAYOUT as INSTANCE
from labkit.errors import ShapeError
from labkit.evaluation import read_metrics_csv
from labkit.io import load_label, load_nifti, save_nifti
from labkit.measures import dice
from labkit.studies import ich
from labkit.studies.common import single_channel_volumes
from labkit.transforms import undo
from labkit.volume import Volume
from labkit_cli import main


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """Six twin patients in the INSTANCE layout, written once for this module."""
    data = tmp_path_factory.mktemp("ich") / "INSTANCE"
    assert main(["synth", "ich", str(data), "--cases", "6", "--seed", "3"]) == 0
    return data


@pytest.fixture
def tiny_profile(monkeypatch):
    use_tiny(monkeypatch, "ich")


def test_full_profile_keeps_the_study_settings():
    full = ich.PROFILES["full"]
    assert (full.size, full.loss, full.context, full.lesion_free) == (512, "bce", 0, 0.0)
    assert full.normalisation == "fixed" and full.flip_axes == ()
    assert full.min_component_ml == 0 and not full.opening  # no post-processing
    assert full.fractions == (0.7, 0.1, 0.2)


def test_settings_errors():
    assert ich.settings("quick", {"window": [10, 90]}).window == (10, 90)
    with pytest.raises(ValueError, match=r"normalisation must be 'fixed' or 'patient'; got 'z'"):
        ich.settings("quick", {"normalisation": "z"})
    with pytest.raises(ValueError, match=r"unknown ich setting\(s\) \['lr'\]"):
        ich.settings("quick", {"lr": 1.0})


def _head(offset=0.0):
    """Air, scalp, skull and brain (35 HU + offset) in 12 slices; a bleed in slices 5 and 6."""
    x, y = np.meshgrid(np.arange(48), np.arange(48), indexing="ij")
    r = np.hypot(x - 23.5, y - 23.5)
    plane = np.full((48, 48), -1000.0, np.float32)
    plane[r < 22], plane[r < 19], plane[r < 16] = 20.0, 1200.0, 35.0 + offset
    hu = np.repeat(plane[..., None], 12, axis=2)
    label = np.zeros(hu.shape, np.uint8)
    label[18:28, 18:28, 5:7] = 1
    hu[label == 1] = 70.0 + offset
    return hu, label


def test_preprocess_removes_the_skull_crops_and_undoes():
    hu, label = _head()
    settings = ich.settings("quick", {"size": 16, "context": 1})
    pre = ich.preprocess(hu[..., None], (1.0, 1.0, 5.0), settings, label)
    assert pre.image.shape == (16, 16, 12, 3) and pre.label.shape == (16, 16, 12)
    assert pre.shift_hu == 0.0 and pre.image.min() >= 0 and pre.image.max() <= 1
    centre = pre.image[8, 8, 5, 1]
    assert centre == pytest.approx(0.7)  # 70 HU in the 0-100 HU window
    assert not pre.brain[hu == 1200.0].any()  # no skull left
    # the crop is the brain's box plus 2 pixels: 32 + 4 pixels, every slice kept
    assert pre.records[0].start == (6, 6, 0) and pre.records[0].stop == (42, 42, 12)
    assert np.mean(undo(pre.label, pre.records) != label) < 0.01


def test_preprocess_computes_each_intracranial_mask_once(monkeypatch):
    from labkit.ct import intracranial_mask

    calls = []

    def counted(hu, spacing):
        calls.append(spacing)
        return intracranial_mask(hu, spacing)

    monkeypatch.setattr(ich.steps, "intracranial_mask", counted)
    hu = _head(offset=3.0)[0]
    settings = ich.settings("quick", {"size": 16})
    first = ich.preprocess(hu, (1.0, 1.0, 5.0), settings)
    again = ich.preprocess(hu.copy(), (1.0, 1.0, 5.0), ich.settings("quick", {"size": 24}))
    assert again.brain is first.brain and len(calls) == 1
    np.testing.assert_array_equal(first.brain, intracranial_mask(hu, (1.0, 1.0, 5.0)))
    ich.preprocess(hu, (1.0, 1.0, 4.0), settings)  # another spacing is another mask
    hu[0, 0, 0] = -999.0  # so is another volume
    ich.preprocess(hu, (1.0, 1.0, 5.0), settings)
    assert len(calls) == 3
    with pytest.raises(ValueError, match="read-only"):
        first.brain[0, 0, 0] = True  # shared between callers: not to be edited in place


def test_patient_normalisation_follows_the_scanner_offset():
    settings = ich.settings("quick", {"size": 16, "normalisation": "patient", "reference_hu": 35.0})
    plain = ich.preprocess(*_head()[:1], (1.0, 1.0, 5.0), settings)
    shifted = ich.preprocess(*_head(offset=8.0)[:1], (1.0, 1.0, 5.0), settings)
    assert plain.shift_hu == 0.0 and shifted.shift_hu == 8.0
    np.testing.assert_allclose(shifted.image, plain.image, atol=1e-5)
    fixed = ich.preprocess(*_head(offset=8.0)[:1], (1.0, 1.0, 5.0), ich.settings("quick"))
    assert fixed.shift_hu == 0.0 and fixed.image.max() > plain.image.max()


def test_select_slices_keeps_large_lesions_and_draws_lesion_free_ones():
    label = np.zeros((20, 20, 8), np.uint8)
    label[:3, :3, 1] = 1  # 9 pixels of 4 mm2 = 36 mm2: too small
    label[:3, :4, 2] = 1  # 12 pixels = 48 mm2: kept
    label[:5, :5, 6] = 1  # 100 mm2: kept
    brain = np.ones_like(label, bool)
    brain[..., 7] = False  # no brain: never a lesion-free pick
    rng = np.random.default_rng(0)
    assert ich.select_slices(label, brain, (2, 2, 5), 40.0, 0.0, rng) == [2, 6]
    picked = ich.select_slices(label, brain, (2, 2, 5), 40.0, 1.0, rng)
    assert len(picked) == 4 and {2, 6} < set(picked)
    assert set(picked) - {2, 6} <= {0, 3, 4, 5}  # empty slices with brain (1 has a lesion)
    assert len(ich.select_slices(label, brain, (2, 2, 5), 40.0, 9.0, rng)) == 6  # all there are


def test_postprocess_keeps_the_brain_drops_specks_and_opens():
    brain = np.zeros((12, 12, 3), bool)
    brain[1:11, 1:11] = True
    mask = np.zeros((12, 12, 3), bool)
    mask[2:6, 2:6, 1] = True  # 16 voxels of 1 mm3: a lesion
    mask[9, 9, 1] = True  # a speck
    mask[0, :, 1] = True  # outside the brain
    mask[8, 2:7, 0] = True  # a one-pixel line
    out = ich.postprocess(mask, brain, (1, 1, 1), min_component_ml=0.002)
    assert out.dtype == np.uint8 and out.sum() == 16 + 5  # speck and outside gone, line stays
    opened = ich.postprocess(mask, brain, (1, 1, 1), min_component_ml=0.0, opening=True)
    assert opened.sum() == 16 - 4  # the line and the speck open away; the square loses corners
    assert not ich.postprocess(mask, brain, (1, 1, 1), 0.1).any()  # 0.1 mL: all are small


def test_score_postprocessing_drops_specks_and_scores_like_train():
    ref = np.zeros((12, 12, 3), np.uint8)
    ref[2:6, 2:6, 1] = 1
    probs = np.zeros(ref.shape, np.float32)
    probs[2:6, 2:6, 1] = 0.9  # the bleed, found
    probs[9, 9, 1] = 0.8  # a one-voxel false positive
    probs[8, 1, 2] = 0.4  # below the threshold
    image = Volume(np.zeros((12, 12, 3, 1), np.float32), np.eye(4))
    case = Case("p1", (Path("p1.nii.gz"),), None, ("CT",))
    loaded = LoadedCase(case, image, Volume(ref, np.eye(4)))
    held_out = {"p1": (loaded, probs, np.ones(ref.shape, bool))}
    (raw,) = ich.score_postprocessing(held_out, min_component_ml=0.0)
    (clean,) = ich.score_postprocessing(held_out, min_component_ml=0.002)  # 2 voxels of 1 mm3
    assert (raw["case"], raw["label"]) == ("p1", "haemorrhage")
    assert raw["fp_components"] == 1 and clean["fp_components"] == 0
    assert raw["dice"] == pytest.approx(2 * 16 / 33) and clean["dice"] == 1.0


def test_synth_train_predict_evaluate(tmp_path, twin, tiny_profile):
    data, run, pred = twin, tmp_path / "run", tmp_path / "pred"
    assert sorted(p.name for p in (data / "label").iterdir())[0] == "001.nii.gz"

    assert main(["train", "ich", "--data", str(data), "--out", str(run)]) == 0
    split = json.loads((run / "split.json").read_text())
    assert [len(split[k]) for k in ("train", "val", "test")] == [4, 1, 1]
    config = json.loads((run / "config.json").read_text())
    assert config["train_slices"] == config["train_lesion_slices"] > 0  # lesion slices only
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels"][0]["label"] == "haemorrhage"
    assert {"hd_mean", "nsd_mean", "rvd_mean", "fp_components_mean"} <= set(summary["labels"][0])
    held_out = read_metrics_csv(run / "metrics.csv")
    assert [r["case"] for r in held_out] == split["test"]

    # every CT of the INSTANCE folder, masks on the source grid
    assert main(["predict", str(run), "--input", str(data), "--output", str(pred)]) == 0
    assert sorted(p.name for p in pred.iterdir()) == [f"{i:03d}.nii.gz" for i in range(1, 7)]
    image, mask = load_nifti(data / "data" / "001.nii.gz"), load_label(pred / "001.nii.gz")
    assert mask.shape == image.shape and np.allclose(mask.affine, image.affine)

    # evaluate against the INSTANCE folder itself, with the lesion columns
    out_csv = tmp_path / "eval.csv"
    argv = ["evaluate", "--pred", str(pred), "--ref", str(data), "--out", str(out_csv)]
    assert main([*argv, "--lesions"]) == 0
    again = {r["case"]: r for r in read_metrics_csv(out_csv)}
    assert len(again) == 6 and {r["label"] for r in again.values()} == {"haemorrhage"}
    for r in held_out:
        assert again[r["case"]]["dice"] == pytest.approx(r["dice"])
        assert again[r["case"]]["fp_components"] == r["fp_components"]


def test_held_out_predictions_reproduce_the_scores(tmp_path, twin, tiny_profile):
    data, run = twin, tmp_path / "run"
    ich.train(data, run, "quick", seed=1)
    scored = {r["case"]: r["dice"] for r in read_metrics_csv(run / "metrics.csv")}
    again = ich.held_out_predictions(run, data)
    assert list(again) == list(scored)
    for case_id, (loaded, probs, brain) in again.items():
        assert probs.shape == brain.shape == loaded.label.shape
        assert dice(probs >= 0.5, loaded.label.array) == pytest.approx(scored[case_id])
    (run / "config.json").write_text(json.dumps({"study": "phh"}))
    with pytest.raises(ValueError, match=r"is a run of the 'phh' study, not of 'ich'"):
        ich.run_settings(run)


def test_single_channel_volumes_reads_a_layout_or_a_plain_folder(tmp_path):
    ct = np.arange(48, dtype=np.float32).reshape(4, 4, 3)  # an image must have contrast
    save_nifti(tmp_path / "data" / "a.nii.gz", ct, np.eye(4))
    found = list(single_channel_volumes(tmp_path, INSTANCE, "CT"))
    assert [(c, v.shape) for c, v in found] == [("a", (4, 4, 3))]
    with pytest.raises(
        FileNotFoundError,
        match=r"expected an INSTANCE folder \(data/\{case\}\.nii\.gz and label/.*or a folder of CT",
    ):
        list(single_channel_volumes(tmp_path / "none", INSTANCE, "CT"))
    save_nifti(tmp_path / "two" / "b.nii.gz", np.stack([ct, ct], -1), np.eye(4))
    with pytest.raises(ShapeError, match=r"b\.nii\.gz has 2 channels .* one CT volume"):
        list(single_channel_volumes(tmp_path / "two", INSTANCE, "CT"))


def test_patient_table_and_verdict_by_hand():
    base = [
        {
            "case": "001",
            "dice": 0.5,
            "fp_components": 4,
            "volume_ref_ml": 2.0,
            "volume_pred_ml": 3.0,
        },
        {
            "case": "002",
            "dice": 0.6,
            "fp_components": 2,
            "volume_ref_ml": 1.0,
            "volume_pred_ml": 1.5,
        },
    ]
    better = [{**r, "dice": r["dice"] + 0.1, "fp_components": 1} for r in base]
    table = ich.patient_table(base, {"001": "deep"})
    assert [(r["patient"], r["kind"], r["false-positive regions"]) for r in table] == [
        ("001", "deep", 4),
        ("002", "?", 2),
    ]
    words = ich.verdict(better, base)
    assert words.startswith("Dice better on every case") and words.endswith("-2.0 per patient")
    with pytest.raises(ValueError, match="same patients in the same order"):
        ich.verdict(better[::-1], base)
