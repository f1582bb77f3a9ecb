"""The command-line contract, end to end on a small spleen twin (one short epoch)."""

import json
import shutil

import numpy as np
import pytest

from labkit import cli
from labkit.evaluation import read_metrics_csv
from labkit.io import load_label, load_nifti
from labkit.studies import msd


@pytest.fixture
def tiny_profile(monkeypatch):
    monkeypatch.setitem(
        msd.PROFILES,
        "quick",
        msd.MSDProfile(epochs=1, batch_size=16, learning_rate=1e-3, filters=4, depth=2),
    )


def test_help_of_every_command(capsys):
    for args in (
        ["--help"],
        ["synth", "--help"],
        ["train", "--help"],
        ["predict", "--help"],
        ["evaluate", "--help"],
    ):
        with pytest.raises(SystemExit) as exc:
            cli.main(args)
        assert exc.value.code == 0
    assert "--profile {quick,full}" in capsys.readouterr().out


def test_unknown_study_is_refused():
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "nosuchstudy", "--data", ".", "--out", "x"])
    assert exc.value.code == 2


def test_synth_train_predict_evaluate(tmp_path, tiny_profile, capsys):
    data, run, pred = tmp_path / "Task09_Spleen", tmp_path / "run", tmp_path / "pred"
    assert (
        cli.main(["synth", "msd", str(data), "--cases", "6", "--seed", "1", "--task", "spleen"])
        == 0
    )
    assert json.loads((data / "dataset.json").read_text())["numTraining"] == 6

    train = ["train", "msd", "--data", str(data), "--out", str(run), "--seed", "2"]
    assert cli.main([*train, "--set", "batch_size=8", "--set", "loss=dice_ce"]) == 0
    settings = json.loads((run / "config.json").read_text())["settings"]
    assert (settings["batch_size"], settings["loss"]) == (8, "dice_ce")
    for name in (
        "model.keras",
        "history.csv",
        "split.json",
        "metrics.csv",
        "summary.json",
        "config.json",
    ):
        assert (run / name).is_file(), name
    split = json.loads((run / "split.json").read_text())
    assert sorted(i for ids in split.values() for i in ids) == [f"spleen_{i:03d}" for i in range(6)]
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["case", "label", "dice", "hd95"]
    held_out = read_metrics_csv(run / "metrics.csv")
    assert sorted(r["case"] for r in held_out) == split["test"]

    assert cli.main(["predict", str(run), "--input", str(data), "--output", str(pred)]) == 0
    assert sorted(p.name for p in pred.iterdir()) == [f"spleen_{i:03d}.nii.gz" for i in range(6)]
    for i in range(6):
        image = load_nifti(data / "imagesTr" / f"spleen_{i:03d}.nii.gz")
        label = load_label(pred / f"spleen_{i:03d}.nii.gz")
        assert label.shape == image.shape and np.allclose(label.affine, image.affine)

    # evaluating the predictions of the held-out cases reproduces metrics.csv
    test_pred = tmp_path / "test_pred"
    test_pred.mkdir()
    for case in split["test"]:
        shutil.copy(pred / f"{case}.nii.gz", test_pred)
    out_csv = tmp_path / "eval.csv"
    assert (
        cli.main(["evaluate", "--pred", str(test_pred), "--ref", str(data), "--out", str(out_csv)])
        == 0
    )
    again = read_metrics_csv(out_csv)
    assert [(r["case"], r["label"]) for r in again] == [(r["case"], r["label"]) for r in held_out]
    np.testing.assert_allclose([r["dice"] for r in again], [r["dice"] for r in held_out])


def test_predict_a_plain_folder_without_labels(tmp_path, tiny_profile):
    data, run = tmp_path / "Task09_Spleen", tmp_path / "run"
    cli.main(["synth", "msd", str(data), "--cases", "5", "--task", "spleen"])
    cli.main(["train", "msd", "--data", str(data), "--out", str(run)])
    plain = tmp_path / "new_patients"
    plain.mkdir()
    shutil.copy(data / "imagesTr" / "spleen_000.nii.gz", plain / "patient_A.nii.gz")
    out = tmp_path / "out"
    assert cli.main(["predict", str(run), "--input", str(plain), "--output", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["patient_A.nii.gz"]


def test_evaluate_lists_unmatched_cases(tmp_path, capsys):
    from labkit.io import save_nifti

    pred, ref = tmp_path / "pred", tmp_path / "ref"
    for name in ("a", "b", "c"):
        save_nifti(pred / f"{name}.nii.gz", np.zeros((3, 3, 3), np.uint8), np.eye(4))
    save_nifti(ref / "a.nii.gz", np.zeros((3, 3, 3), np.uint8), np.eye(4))
    code = cli.main(
        ["evaluate", "--pred", str(pred), "--ref", str(ref), "--out", str(tmp_path / "x.csv")]
    )
    assert code == 2
    assert "2 prediction(s)" in capsys.readouterr().err


def test_predict_needs_a_finished_run(tmp_path, capsys):
    assert (
        cli.main(
            ["predict", str(tmp_path), "--input", str(tmp_path), "--output", str(tmp_path / "o")]
        )
        == 2
    )
    assert "is not a finished labkit run" in capsys.readouterr().err


def test_train_set_refuses_unknown_or_malformed_settings(tmp_path, capsys):
    data = tmp_path / "Task09_Spleen"
    assert cli.main(["synth", "msd", str(data), "--cases", "3", "--task", "spleen"]) == 0
    train = ["train", "msd", "--data", str(data), "--out", str(tmp_path / "run")]
    assert cli.main([*train, "--set", "lr=3"]) == 2
    assert "unknown msd setting(s) ['lr']" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main([*train, "--set", "epochs"])
    assert exc.value.code == 2
    assert "--set expects KEY=VALUE" in capsys.readouterr().err
