"""The command-line contract, end to end on a small spleen twin (one short epoch)."""

import inspect
import json
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
from _tiny import use_tiny

import labkit
import labkit_cli
from labkit.evaluation import read_metrics_csv
from labkit.io import load_label, load_nifti, save_nifti
from labkit.runfolder import RunFolder
from labkit.spatial import reorient
from labkit_cli import main


@pytest.fixture
def tiny_profile(monkeypatch):
    use_tiny(monkeypatch, "msd")


def test_help_of_every_command(capsys):
    for args in (
        ["--help"],
        ["synth", "--help"],
        ["train", "--help"],
        ["predict", "--help"],
        ["evaluate", "--help"],
    ):
        with pytest.raises(SystemExit) as exc:
            main(args)
        assert exc.value.code == 0
    assert "--profile {auto,quick,full}" in capsys.readouterr().out


def test_help_and_version_import_neither_labkit_nor_keras():
    """``labkit --help`` answers before any heavy import (the front door, labkit_cli)."""
    code = (
        "import sys, labkit_cli\n"
        "for argv in (['--help'], ['train', '--help'], ['--version']):\n"
        "    try:\n"
        "        labkit_cli.main(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, (argv, exc.code)\n"
        "heavy = sorted(m for m in ('labkit', 'keras', 'tensorflow', 'jax', 'torch')\n"
        "               if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert f"labkit {labkit.__version__}" in done.stdout
    assert "examples:\n  labkit train phh --data data/phh --out runs/phh" in done.stdout


def test_every_command_has_examples_and_the_studies_are_labkits():
    from labkit.studies import BUILTIN, get

    assert set(labkit_cli.STUDIES) == set(BUILTIN)
    for name, (_, cases) in labkit_cli.STUDIES.items():  # the --cases defaults --help prints
        synth = inspect.signature(get(name).synth).parameters["cases"]
        assert synth.default == cases, name
    for name, text in labkit_cli.EXAMPLES.items():
        command = f"labkit {name}" if name else "labkit "
        assert text.startswith("examples:\n") and command in text, name
        if name:  # every example parses
            for line in text.splitlines():
                if line.startswith(f"  labkit {name}"):
                    argv = shlex.split(line.split("#")[0])[1:]
                    assert labkit_cli.build_parser().parse_args(argv).command == name


def test_a_failing_command_exits_1_and_a_bad_command_line_2(tmp_path, capsys):
    assert main(["evaluate", "--pred", str(tmp_path), "--ref", str(tmp_path), "--out",
                     str(tmp_path / "m.csv"), "--nsd-tolerance", "0"]) == 1  # fmt: skip
    err = capsys.readouterr().err
    assert "--nsd-tolerance must be a finite distance in mm above 0; got 0.0." in err
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", "--pred", "x"])
    assert exc.value.code == 2


def test_unknown_study_is_refused():
    with pytest.raises(SystemExit) as exc:
        main(["train", "nosuchstudy", "--data", ".", "--out", "x"])
    assert exc.value.code == 2


def test_synth_train_predict_evaluate(tmp_path, tiny_profile, capsys):
    data, run, pred = tmp_path / "Task09_Spleen", tmp_path / "run", tmp_path / "pred"
    assert main(["synth", "msd", str(data), "--cases", "6", "--seed", "1", "--task", "spleen"]) == 0
    assert json.loads((data / "dataset.json").read_text())["numTraining"] == 6

    train = ["train", "msd", "--data", str(data), "--out", str(run), "--seed", "2"]
    mixed = ["--set", "precision=mixed_bfloat16"]  # and predicted with, as the file says
    assert main([*train, "--set", "batch_size=8", "--set", "loss=dice_ce", *mixed]) == 0
    settings = json.loads((run / "config.json").read_text())["settings"]
    assert (settings["batch_size"], settings["loss"]) == (8, "dice_ce")
    assert settings["precision"] == "mixed_bfloat16"
    assert RunFolder(run).model().get_layer("enc0_conv1").compute_dtype == "bfloat16"
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

    assert main(["predict", str(run), "--input", str(data), "--output", str(pred)]) == 0
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
        main(["evaluate", "--pred", str(test_pred), "--ref", str(data), "--out", str(out_csv)]) == 0
    )
    again = read_metrics_csv(out_csv)
    assert [(r["case"], r["label"]) for r in again] == [(r["case"], r["label"]) for r in held_out]
    np.testing.assert_allclose([r["dice"] for r in again], [r["dice"] for r in held_out])


def test_predict_a_plain_folder_without_labels(tmp_path, tiny_profile, capsys):
    data, run = tmp_path / "Task09_Spleen", tmp_path / "run"
    main(["synth", "msd", str(data), "--cases", "5", "--task", "spleen"])
    main(["train", "msd", "--data", str(data), "--out", str(run)])
    plain = tmp_path / "new_patients"
    plain.mkdir()
    shutil.copy(data / "imagesTr" / "spleen_000.nii.gz", plain / "patient_A.nii.gz")
    # the same patient stored LPS (the twin is RAS): the model must see it as in training
    ras = load_nifti(plain / "patient_A.nii.gz")
    lps = reorient(ras, "LPS")
    save_nifti(plain / "patient_B.nii.gz", lps.array, lps.affine)
    out = tmp_path / "out"
    assert main(["predict", str(run), "--input", str(plain), "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["patient_A.nii.gz", "patient_B.nii.gz"]
    a, b = load_label(out / "patient_A.nii.gz"), load_label(out / "patient_B.nii.gz")
    np.testing.assert_allclose(b.affine, lps.affine)  # written on the source grid
    assert a.array.any()
    np.testing.assert_array_equal(reorient(b, "RAS").array, a.array)
    # an image with two channels where the run was trained on one modality is refused
    two = tmp_path / "two_channels"
    save_nifti(two / "patient_C.nii.gz", np.stack([ras.array, ras.array], -1), ras.affine)
    assert main(["predict", str(run), "--input", str(two), "--output", str(out)]) == 1
    assert (
        "patient_C.nii.gz has 2 channel(s) but the model was trained on 1"
        in capsys.readouterr().err
    )


def test_evaluate_lists_unmatched_cases(tmp_path, capsys):
    from labkit.io import save_nifti

    pred, ref = tmp_path / "pred", tmp_path / "ref"
    for name in ("a", "b", "c"):
        save_nifti(pred / f"{name}.nii.gz", np.zeros((3, 3, 3), np.uint8), np.eye(4))
    save_nifti(ref / "a.nii.gz", np.zeros((3, 3, 3), np.uint8), np.eye(4))
    code = main(
        ["evaluate", "--pred", str(pred), "--ref", str(ref), "--out", str(tmp_path / "x.csv")]
    )
    assert code == 1
    assert "2 prediction(s)" in capsys.readouterr().err


def test_predict_needs_a_finished_run(tmp_path, capsys):
    assert (
        main(["predict", str(tmp_path), "--input", str(tmp_path), "--output", str(tmp_path / "o")])
        == 1
    )
    assert "is not a finished labkit run" in capsys.readouterr().err


def test_train_set_refuses_unknown_or_malformed_settings(tmp_path, capsys):
    data = tmp_path / "Task09_Spleen"
    assert main(["synth", "msd", str(data), "--cases", "3", "--task", "spleen"]) == 0
    train = ["train", "msd", "--data", str(data), "--out", str(tmp_path / "run")]
    assert main([*train, "--set", "lr=3"]) == 1
    assert "unknown msd setting(s) ['lr']" in capsys.readouterr().err
    for setting, message in [
        ("epochs=abc", "the msd setting epochs must be a whole number; got 'abc'"),
        ("epochs=1.5", "the msd setting epochs must be a whole number; got 1.5"),
        ("epochs=0", "the msd setting epochs must be at least 1; got 0"),
        ("batch_size=-4", "the msd setting batch_size must be at least 1; got -4"),
        ("learning_rate=fast", "the msd setting learning_rate must be a number; got 'fast'"),
        ("flip_axes=0", "the msd setting flip_axes must be a list; got 0"),
        ("steps_per_epoch=-2", "steps_per_epoch must be 0 (no bound) or more; got -2"),
        ("max_test_cases=1.5", "the msd setting max_test_cases must be a whole number; got 1.5"),
    ]:
        assert main([*train, "--set", setting]) == 1, setting
        err = capsys.readouterr().err
        assert message in err and "The profile's value is --set" in err, err
    assert not (tmp_path / "run").exists()  # refused before anything was loaded or written
    with pytest.raises(SystemExit) as exc:
        main([*train, "--set", "epochs"])
    assert exc.value.code == 2
    assert "--set expects KEY=VALUE" in capsys.readouterr().err


def test_predict_refuses_a_missing_input_and_an_output_onto_the_input(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "model.keras", "summary.json"):
        (run / name).write_text('{"study": "msd"}')
    images = tmp_path / "images"
    predict = ["predict", str(run), "--input", str(images), "--output"]
    assert main([*predict, str(tmp_path / "out")]) == 1
    assert f"--input {images} is not a folder" in capsys.readouterr().err
    images.mkdir()
    assert main([*predict, str(images)]) == 1
    assert "would overwrite the images they were made from" in capsys.readouterr().err


def test_train_refuses_nan_and_constant_images_naming_the_file(tmp_path, capsys):
    from labkit.io import load_nifti, save_nifti

    data = tmp_path / "Task09_Spleen"
    assert main(["synth", "msd", str(data), "--cases", "6", "--task", "spleen"]) == 0
    image = sorted((data / "imagesTr").glob("*.nii.gz"))[1]
    volume = load_nifti(image)
    train = ["train", "msd", "--data", str(data), "--out"]
    broken = volume.array.astype("float32")
    broken[1, 2, 3] = float("nan")
    save_nifti(image, broken, volume.affine)
    assert main([*train, str(tmp_path / "a")]) == 1
    assert f"{image} holds 1 NaN and 0 infinite voxel(s)" in capsys.readouterr().err
    save_nifti(image, np.zeros_like(broken), volume.affine)
    assert main([*train, str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert str(image) in err and "holds the single value" in err and "expected an image" in err


def _label_folder(folder, maps):
    from labkit.io import save_nifti

    for name, array in maps.items():
        save_nifti(folder / f"{name}.nii.gz", np.asarray(array, np.uint8), np.eye(4))


def test_evaluate_scores_every_label_on_every_case_and_refuses_inflating_input(tmp_path, capsys):
    pred, ref, out = tmp_path / "pred", tmp_path / "ref", tmp_path / "m.csv"
    lesion = np.zeros((4, 4, 4), np.uint8)
    lesion[1:3, 1:3, 1:3] = 1
    # case a: perfect on label 1; case b: the reference is empty, the prediction has 8 voxels
    _label_folder(ref, {"a": lesion, "b": 0 * lesion})
    _label_folder(pred, {"a": lesion, "b": lesion})
    evaluate = ["evaluate", "--pred", str(pred), "--ref", str(ref), "--out", str(out)]
    assert main(evaluate) == 0
    rows = {r["case"]: r for r in read_metrics_csv(out)}
    assert (rows["a"]["dice"], rows["b"]["dice"]) == (1.0, 0.0)  # b's false positives count
    assert rows["b"]["ref_empty"] == 1.0
    # a label only the prediction has is scored too (it was taken from each reference before)
    _label_folder(pred, {"a": lesion * 2})
    assert main(evaluate) == 0
    rows = read_metrics_csv(out)
    assert [(r["case"], r["label"], r["dice"]) for r in rows] == [
        ("a", "1", 0.0),
        ("a", "2", 0.0),
        ("b", "1", 0.0),
        ("b", "2", 1.0),
    ]
    capsys.readouterr()
    assert main([*evaluate, "--labels", "7"]) == 1
    assert "--labels 7: in no prediction" in capsys.readouterr().err
    (pred / "b.nii.gz").unlink()
    assert main(evaluate) == 1
    err = capsys.readouterr().err
    assert "1 reference(s) in" in err and "have no prediction" in err and ": b. A case" in err


def test_predict_with_a_truncated_model_says_so(tmp_path, capsys):
    run, images = tmp_path / "run", tmp_path / "images"
    images.mkdir()
    run.mkdir()
    config = {"study": "msd", "profile": "quick", "settings": {}, "modalities": ["MRI"]}
    (run / "config.json").write_text(json.dumps(config))
    (run / "summary.json").write_text("{}")
    (run / "model.keras").write_bytes(b"PK\x03\x04 half a zip")
    predict = ["predict", str(run), "--input", str(images), "--output", str(tmp_path / "out")]
    assert main(predict) == 1
    err = capsys.readouterr().err
    assert "model.keras could not be loaded as a Keras model (15 bytes" in err
    assert "truncated or not a Keras file" in err


def test_too_few_cases_for_the_split_says_the_minimum(tmp_path, capsys):
    data = tmp_path / "Task09_Spleen"
    assert main(["synth", "msd", str(data), "--cases", "3", "--task", "spleen"]) == 0
    assert main(["train", "msd", "--data", str(data), "--out", str(tmp_path / "run")]) == 1
    assert "3 cases are too few" in (err := capsys.readouterr().err)
    assert "This split needs at least 5 cases" in err


def test_evaluate_nsd_tolerance_reaches_the_metric(tmp_path):
    pred, ref, out = tmp_path / "pred", tmp_path / "ref", tmp_path / "m.csv"
    cube = np.zeros((12, 12, 12), np.uint8)
    cube[3:8, 3:8, 3:8] = 1
    _label_folder(ref, {"a": cube})
    _label_folder(pred, {"a": np.roll(cube, 2, axis=0)})  # every x face 2 mm off (1 mm voxels)
    evaluate = ["evaluate", "--pred", str(pred), "--ref", str(ref), "--out", str(out)]
    assert main([*evaluate, "--nsd-tolerance", "1"]) == 0
    tight = read_metrics_csv(out)[0]["nsd"]
    assert main([*evaluate, "--nsd-tolerance", "2"]) == 0
    assert tight < 1.0 and read_metrics_csv(out)[0]["nsd"] == 1.0  # 2 mm covers every offset


def test_settings_prints_each_value_and_where_it_comes_from(capsys):
    assert labkit_cli.main(["settings", "phh"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:3] for line in out[2:]}
    assert rows["learning_rate"] == ["0.0001", "study"]  # "a learning rate of 0.0001"
    assert rows["filters"] == ["64", "ours"]  # not in the write-up
    assert labkit_cli.main(["settings", "msd", "--profile", "quick", "--set", "epochs=4"]) == 0
    rows = {line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["epochs"] == ["4", "--set"] and rows["batch_size"] == ["32", "ours"]
    assert labkit_cli.main(["settings", "wmh", "--set", "epoch=4"]) == 1
    assert "unknown wmh setting(s) ['epoch']" in capsys.readouterr().err
