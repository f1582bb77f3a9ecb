"""The PHH recipe: settings, preprocessing, and the command line end to end on a small twin."""

import json
import shutil

import numpy as np
import pytest
from _tiny import use_tiny

from labkit.evaluation import read_metrics_csv
from labkit.io import load_label, load_nifti
from labkit.studies import phh
from labkit.transforms import Crop, Resize, undo
from labkit_cli import main


@pytest.fixture
def tiny_profile(monkeypatch):
    use_tiny(monkeypatch, "phh")


def test_full_profile_keeps_the_study_settings():
    full = phh.PROFILES["full"]
    assert (full.size, full.epochs, full.learning_rate, full.loss) == (256, 25, 1e-4, "bce")
    assert full.context == 0 and full.fractions == (0.7, 0.1, 0.2)


def test_settings_overrides_and_errors():
    changed = phh.settings("quick", {"loss": "dice_ce", "fractions": [0.6, 0.2, 0.2]})
    assert changed.loss == "dice_ce" and changed.fractions == (0.6, 0.2, 0.2)
    assert phh.settings("quick").loss == "bce"
    with pytest.raises(ValueError, match=r"unknown phh setting\(s\) \['lr'\]"):
        phh.settings("quick", {"lr": 1.0})
    with pytest.raises(ValueError, match=r"unknown profile 'huge'.*\['full', 'quick'\]"):
        phh.settings("huge")


def test_head_box_ignores_background_noise(rng):
    image = np.abs(rng.normal(0, 0.03, (40, 40, 30))).astype(np.float32)
    image[10:25, 5:30, 8:20] += 1.0
    start, stop = phh.head_box(image, margin=2)
    # the bright block, one voxel of smoothing and the margin of two on every side
    assert start == (7, 2, 5) and stop == (28, 33, 23)
    with pytest.raises(ValueError, match=r"no head found in an image of shape \(4, 4, 4\)"):
        phh.head_box(np.zeros((4, 4, 4)))


def test_preprocess_crops_resizes_and_undoes(rng):
    image = np.abs(rng.normal(0, 0.03, (40, 44, 30, 1))).astype(np.float32)
    image[10:30, 6:36, 5:25] += 1.0
    label = np.zeros((40, 44, 30), np.uint8)
    label[15:25, 15:25, 10:20] = 1
    settings = phh.settings("quick", {"size": 16, "context": 1})
    out, lab, records = phh.preprocess(image, settings, label)
    assert out.shape == (16, 16, 16, 3) and lab.shape == (16, 16, 16)
    assert out.min() >= 0 and out.max() <= 1
    assert set(np.unique(lab)) == {0, 1}
    assert isinstance(records[0], Crop) and isinstance(records[1], Resize)
    back = undo(lab, records)
    assert back.shape == label.shape
    assert np.mean(back != label) < 0.01


@pytest.mark.backends
def test_synth_train_predict_evaluate(tmp_path, tiny_profile):
    data, run, pred = tmp_path / "PHH", tmp_path / "run", tmp_path / "pred"
    assert main(["synth", "phh", str(data), "--cases", "6", "--seed", "3"]) == 0
    assert sorted(p.name for p in (data / "masks").iterdir())[0] == "phh000.nii.gz"

    assert main(["train", "phh", "--data", str(data), "--out", str(run)]) == 0
    split = json.loads((run / "split.json").read_text())
    assert [len(split[k]) for k in ("train", "val", "test")] == [4, 1, 1]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["labels"][0]["label"] == "csf"
    assert 0.5 < summary["test_slice_accuracy_no_csf"] < 1.0
    held_out = read_metrics_csv(run / "metrics.csv")
    assert [r["case"] for r in held_out] == split["test"]

    # a PHH folder: every patient of images/, masks on the source grid
    assert main(["predict", str(run), "--input", str(data), "--output", str(pred)]) == 0
    assert sorted(p.name for p in pred.iterdir()) == [f"phh{i:03d}.nii.gz" for i in range(6)]
    image = load_nifti(data / "images" / "phh000.nii.gz")
    mask = load_label(pred / "phh000.nii.gz")
    assert mask.shape == image.shape and np.allclose(mask.affine, image.affine)

    # scoring the test patient's prediction again, against the dataset folder itself (the
    # example of `labkit evaluate --help`), reproduces metrics.csv
    test_pred = tmp_path / "test_pred"
    test_pred.mkdir()
    for case in split["test"]:
        shutil.copy(pred / f"{case}.nii.gz", test_pred)
    out_csv = tmp_path / "eval.csv"
    assert (
        main(["evaluate", "--pred", str(test_pred), "--ref", str(data), "--out", str(out_csv)]) == 0
    )
    again = read_metrics_csv(out_csv)
    np.testing.assert_allclose([r["dice"] for r in again], [r["dice"] for r in held_out])

    # a plain folder of T2 volumes
    plain = tmp_path / "new"
    plain.mkdir()
    shutil.copy(data / "images" / "phh002.nii.gz", plain / "baby_A.nii.gz")
    assert main(["predict", str(run), "--input", str(plain), "--output", str(tmp_path / "o")]) == 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["baby_A.nii.gz"]


def test_too_few_patients_for_the_split(tmp_path, tiny_profile, capsys):
    data = tmp_path / "PHH"
    main(["synth", "phh", str(data), "--cases", "3"])
    assert main(["train", "phh", "--data", str(data), "--out", str(tmp_path / "run")]) == 1
    assert "3 cases are too few for the split" in capsys.readouterr().err


def test_synth_refuses_a_task_option(tmp_path, capsys):
    assert main(["synth", "phh", str(tmp_path / "x"), "--task", "liver"]) == 1
    assert "the phh study has one task" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_synth_refuses_a_layout_option(tmp_path, capsys):
    assert main(["synth", "phh", str(tmp_path / "x"), "--layout", "brats"]) == 1
    err = capsys.readouterr().err
    assert "the phh study has one layout, but --layout brats was given" in err
    assert "such as brats" in err and not (tmp_path / "x").exists()
