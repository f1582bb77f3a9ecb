"""The WMH recipe: settings, preprocessing both ways, the challenge's scoring, and the command
line end to end on a small three-site twin in the challenge layout."""

import json
import shutil

import numpy as np
import pytest
from _tiny import use_tiny

from labkit.datasets.wmh import load_wmh
from labkit.evaluation import read_metrics_csv
from labkit.io import load_label, load_nifti
from labkit.phantoms.hyperintensities import SITES
from labkit.studies import wmh
from labkit.transforms import undo
from labkit_cli import main


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """Three twin subjects per site in the challenge layout, written once for this module."""
    data = tmp_path_factory.mktemp("wmh") / "training"
    assert main(["synth", "wmh", str(data), "--cases", "3", "--seed", "5"]) == 0
    return data


@pytest.fixture
def tiny_profile(monkeypatch):
    use_tiny(monkeypatch, "wmh")


def test_full_profile_keeps_the_study_settings():
    full = wmh.PROFILES["full"]
    assert (full.shape, full.kernel, full.copies, full.input) == (
        (128, 128, 16),
        (3, 3, 1),
        3,
        "resize",
    )
    assert full.test_site == "" and wmh.build_model(full).get_layer("enc0_conv1").kernel.shape[
        :3
    ] == (3, 3, 1)


def test_settings_errors():
    assert wmh.settings("quick", {"kernel": [3, 3, 3]}).kernel == (3, 3, 3)
    with pytest.raises(ValueError, match=r"kernel must be three odd sizes .*got \(3, 2, 1\)"):
        wmh.settings("quick", {"kernel": [3, 2, 1]})
    with pytest.raises(ValueError, match=r"input must be 'resize' or 'patches'; got 'crop'"):
        wmh.settings("quick", {"input": "crop"})


def test_model_has_no_batch_norm():
    model = wmh.build_model(wmh.settings("quick"))
    assert not [layer for layer in model.layers if "bn" in layer.name]
    assert model.input_shape == (None, 64, 64, 16, 1)


def test_preprocess_resizes_or_keeps_the_resolution_and_undoes():
    image = np.random.default_rng(0).random((40, 30, 12, 1)).astype(np.float32) * 500
    label = np.zeros((40, 30, 12), np.uint8)
    label[10:20, 10:20, 4:8], label[30:34, 5:9, 2:4] = 1, 2
    resize = wmh.settings("quick", {"shape": [16, 16, 8]})
    x, y, records = wmh.preprocess(image, (1.0, 1.0, 3.0), resize, label)
    assert x.shape == (16, 16, 8, 1) and y.shape == (16, 16, 8)
    assert set(np.unique(y)) == {0, 1}  # other pathology is background for training
    assert abs(float(x.mean())) < 1.0  # z-scored over the head
    assert undo(y.astype(np.float32), records).shape == (40, 30, 12)
    patches = wmh.settings("quick", {"input": "patches", "spacing": [2.0, 2.0, 3.0]})
    assert wmh.input_grid(image.shape, (1.0, 1.0, 3.0), patches) == (20, 15, 12)
    x, y, records = wmh.preprocess(image, (1.0, 1.0, 3.0), patches, label)
    assert x.shape == (20, 15, 12, 1) and y[5:10, 5:10, 4:8].all()


def test_challenge_rows_leave_label_2_out():
    ref = np.zeros((8, 8, 4), np.uint8)
    ref[1:3, 1:3, 1:3] = 1
    ref[5:7, 5:7, 1:3] = 2
    pred = (ref > 0).astype(np.uint8)  # the other pathology predicted as WMH too
    row = wmh.challenge_rows(pred, ref, (1.0, 1.0, 2.0), "U_0", "Utrecht")[0]
    assert (row["case"], row["site"], row["label"]) == ("U_0", "Utrecht", "wmh")
    assert row["dice"] == 1.0 and row["avd_pct"] == 0.0 and row["hd95"] == 0.0
    assert row["lesion_recall"] == row["lesion_f1"] == 1.0


def test_synth_train_predict_evaluate(tmp_path, twin, tiny_profile, capsys):
    data, run, pred = twin, tmp_path / "run", tmp_path / "pred"
    assert sorted(p.name for p in data.iterdir() if p.is_dir()) == sorted(SITES)

    assert main(["train", "wmh", "--data", str(data), "--out", str(run)]) == 0
    split = json.loads((run / "split.json").read_text())
    assert [len(split[k]) for k in ("train", "val", "test")] == [3, 3, 3]
    assert {i.split("_")[0] for i in split["test"]} == set(SITES)  # every site is tested
    config = json.loads((run / "config.json").read_text())
    assert config["train_volumes"] == 2 * len(split["train"])  # one augmented copy each
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["sites"]) == set(SITES)
    assert {f"{m}_mean" for m in wmh.CHALLENGE_METRICS} <= set(summary["labels"][0])
    held_out = read_metrics_csv(run / "metrics.csv")
    assert [r["case"] for r in held_out] == split["test"]

    assert main(["predict", str(run), "--input", str(data), "--output", str(pred)]) == 0
    assert len(list(pred.iterdir())) == 9
    flair = load_nifti(data / "GE3T" / "100" / "pre" / "FLAIR.nii.gz")
    mask = load_label(pred / "GE3T_100.nii.gz")
    assert mask.shape == flair.shape and np.allclose(mask.affine, flair.affine)

    # evaluating the test subjects' predictions against the challenge folder reproduces
    # metrics.csv: label 2 left out, lesions scored, the site in every row
    test_pred = tmp_path / "test_pred"
    test_pred.mkdir()
    for case in split["test"]:
        shutil.copy(pred / f"{case}.nii.gz", test_pred)
    out_csv = tmp_path / "eval.csv"
    argv = ["evaluate", "--pred", str(test_pred), "--ref", str(data), "--out", str(out_csv)]
    assert main(argv) == 0
    assert "AVD" in capsys.readouterr().out
    again = read_metrics_csv(out_csv)
    assert [r["case"] for r in again] == [r["case"] for r in held_out]
    for a, b in zip(again, held_out, strict=True):
        assert a["site"] == b["site"]
        for m in wmh.CHALLENGE_METRICS:
            assert a[m] == pytest.approx(b[m], nan_ok=True), m


def test_leave_one_site_out_and_patches(tmp_path, twin, tiny_profile):
    overrides = {"test_site": "Singapore", "input": "patches", "patches_per_volume": 2}
    summary = wmh.train(twin, tmp_path / "run", "quick", seed=1, overrides=overrides)
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["test"] == ["Singapore_50", "Singapore_51", "Singapore_52"]
    assert (len(split["train"]), len(split["val"])) == (4, 2)
    assert not any(i.startswith("Singapore") for i in split["train"] + split["val"])
    assert list(summary["sites"]) == ["Singapore"]
    with pytest.raises(ValueError, match=r"test_site 'Leiden' is not a site of .*'GE3T'"):
        wmh.train(twin, tmp_path / "x", "quick", overrides={"test_site": "Leiden"})


def test_choose_threshold_picks_the_best_mean_dice():
    ref = np.zeros((4, 4, 2), np.uint8)
    ref[:2, :2] = 1
    ref[3, 3] = 2
    prob = np.zeros((4, 4, 2), np.float32)
    prob[:2, :2] = 0.35  # found only below 0.4
    prob[3, 3] = 0.9  # other pathology: ignored
    best, means = wmh.choose_threshold([prob], [ref], (0.2, 0.3, 0.5))
    assert best == 0.3 and means == {0.2: 1.0, 0.3: 1.0, 0.5: 0.0}  # a tie goes nearer 0.5
    with pytest.raises(ValueError, match=r"one reference per probability map; got 1 and 0"):
        wmh.choose_threshold([prob], [])


def test_no_augmentation_trains_as_many_steps():
    settings = wmh.settings("quick")
    variants = wmh.ablation_variants(settings)
    assert variants["no augmentation"] == {
        "copies": 0,
        "epochs": settings.epochs * (1 + settings.copies),
    }
    assert variants["faithful"] == {} and variants["3x3x3 kernels"]["kernel"] == (3, 3, 3)


def test_repeat_runs_test_the_same_subjects(tmp_path, twin, tiny_profile):
    variants = {"faithful": {}, "no augmentation": {"copies": 0}}
    records = wmh.repeat_runs(twin, tmp_path, "quick", (2,), variants, ["GE3T"])
    assert [(r["variant"], r["seed"]) for r in records] == [
        ("faithful", 2),
        ("no augmentation", 2),
        ("unseen GE3T", 2),
    ]
    # the split is drawn with seed 0 whatever the run's seed, so every run tests these subjects
    split = wmh.split_cohort(load_wmh(twin), wmh.settings("quick"), seed=0)
    assert sorted(records[0]["dice"]) == sorted(records[1]["dice"]) == split["test"]
    assert sorted(records[-1]["dice"]) == ["GE3T_100", "GE3T_101", "GE3T_102"]


def test_resized_grid_dice_scores_on_the_input_grid():
    settings = wmh.settings("quick", {"shape": [8, 8, 4]})
    label = np.zeros((16, 16, 8), np.uint8)
    label[:8, :8, :4] = 1  # half of x, y and z: 4 x 4 x 2 = 32 of the 256 input voxels
    image = np.random.default_rng(0).random((16, 16, 8, 1)).astype(np.float32)

    def everywhere(x, training=False):
        return np.ones((*x.shape[:-1], 1), np.float32)

    score, overlap, voxels = wmh.resized_grid_dice(everywhere, image, (1, 1, 1), label, settings)
    assert (overlap, voxels) == (2 * 32, 256 + 32)
    assert score == pytest.approx(64 / 288)


def test_resize_ceiling_by_hand():
    label = np.ones((8, 8, 4), np.uint8)  # lesion everywhere: every coarse voxel is all lesion
    assert wmh.resize_ceiling(label, (4, 4, 2)) == 1.0
    label[:4, :4, :2] = 0  # a block's edge is blurred by the linear round trip, not lost
    assert 0.9 < wmh.resize_ceiling(label, (4, 4, 2)) < 1.0
    speck = np.zeros((16, 16, 4), np.uint8)
    speck[5, 5, 1] = 1  # one voxel: an eighth of a coarse voxel, gone after the round trip
    assert wmh.resize_ceiling(speck, (4, 4, 2)) == 0.0
    speck[6, 6, 1] = 2  # label 2 is left out, whatever the network does there
    assert wmh.resize_ceiling(speck, (4, 4, 2)) == 0.0
