"""The reliability sweep of 2026-12-07 (``shared/reviews/reliability-sweep-2026-12-07.md``): every
row that gave a wrong answer (SILENT), a traceback (TRACEBACK) or a vague error (VAGUE), each as a
test named after its id. Each builds the sweep's bad input in miniature and asserts a clear
refusal (what, where, how to fix) or the correct result."""

from __future__ import annotations

import errno
import json
import math
import os
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import torch
from _tiny import use_tiny
from monai.losses import GeneralizedDiceLoss as MonaiGDL

from labkit import cli, losses
from labkit.datasets.brats import load_brats
from labkit.errors import (
    DatasetLayoutError,
    ImageValueError,
    LabelValueError,
    ShapeError,
    TrainingInterrupted,
)
from labkit.evaluation import summarize, summary_line
from labkit.inference import predict_slices, sliding_window
from labkit.io import load_label, save_nifti
from labkit.lock import LOCK_FILE, FolderLockedError, hold
from labkit.measures import binary_metrics, dice
from labkit.studies import phh
from labkit_cli import main

SHAPE = (24, 24, 8)


def _phh_folder(root, n=6, stray=None):
    """A tiny PHH cohort: a bright head block, a CSF box; ``stray=(i, v)`` puts one voxel of
    value ``v`` in case ``i``'s mask."""
    rng = np.random.default_rng(0)
    for i in range(n):
        image = rng.normal(0, 0.02, SHAPE).astype(np.float32)
        image[4:20, 4:20, 1:7] += 1.0
        mask = np.zeros(SHAPE, np.uint8)
        mask[8 + i % 3 : 14, 8:14, 2:6] = 1
        if stray is not None and stray[0] == i:
            mask[9, 9, 3] = stray[1]
        save_nifti(root / "images" / f"phh{i:03d}.nii.gz", image, np.eye(4))
        save_nifti(root / "masks" / f"phh{i:03d}.nii.gz", mask, np.eye(4))
    return root


def _maps(folder, maps):
    for name, array in maps.items():
        save_nifti(folder / f"{name}.nii.gz", np.asarray(array, np.uint8), np.eye(4))
    return folder


@pytest.fixture
def tiny_phh(monkeypatch):
    use_tiny(monkeypatch, "phh")


# --- SILENT ----------------------------------------------------------------------------------


def test_o2c_changed_data_under_the_same_out_is_refused_naming_the_cases(tmp_path, tiny_phh):
    data, out = _phh_folder(tmp_path / "phh", n=7), tmp_path / "run"
    phh.train(data, out, "quick", seed=0)
    # the same files written again (new modification times, same content): the run goes on
    mask = load_label(data / "masks" / "phh003.nii.gz")
    save_nifti(data / "masks" / "phh003.nii.gz", mask.array, mask.affine)
    phh.train(data, out, "quick", seed=0)
    # one voxel of one mask changed
    edited = mask.array.copy()
    edited[0, 0, 0] = 1
    save_nifti(data / "masks" / "phh003.nii.gz", edited, mask.affine)
    with pytest.raises(ValueError, match=r"since then 1 case\(s\) whose files changed: phh003"):
        phh.train(data, out, "quick", seed=0)
    save_nifti(data / "masks" / "phh003.nii.gz", mask.array, mask.affine)
    for sub in ("images", "masks"):
        (data / sub / "phh006.nii.gz").unlink()
    before = (out / "split.json").read_text()
    with pytest.raises(ValueError, match=r"1 case\(s\) removed: phh006.*new --out folder"):
        phh.train(data, out, "quick", seed=0)
    assert (out / "split.json").read_text() == before  # refused before anything is rewritten


@pytest.mark.parametrize("case", range(6))
def test_n10_n11_an_undeclared_mask_value_is_refused_in_any_subset(tmp_path, tiny_phh, case):
    data = _phh_folder(tmp_path / "phh", stray=(case, 7))
    with pytest.raises(
        LabelValueError,
        match=rf"phh{case:03d}\.nii\.gz holds label value\(s\) \[7\] in 1 voxel\(s\) of 7 that the "
        r"dataset does not declare .* Expected 0 background, 1 csf in masks/",
    ):
        phh.train(data, tmp_path / "run", "quick", seed=0)
    assert not (tmp_path / "run" / "model.keras").exists()


def test_n28_a_modality_some_subjects_lack_is_refused_not_dropped(tmp_path):
    for subject in ("s1", "s2", "s3"):
        folder = tmp_path / subject
        folder.mkdir()
        kinds = ["flair", "t1", "t2", "seg"] + ([] if subject == "s2" else ["t1ce"])
        for kind in kinds:
            (folder / f"{subject}_{kind}.nii.gz").touch()
    with pytest.raises(
        DatasetLayoutError,
        match=r"T1Gd missing in 1 of 3 case\(s\): s2\).*would drop \['T1Gd'\] for the whole "
        r"cohort.*--set 'modalities=\[\"FLAIR\", \"T1\", \"T2\"\]'",
    ):
        load_brats(tmp_path)
    assert load_brats(tmp_path, modalities=("FLAIR", "T1", "T2")).modalities == (
        "FLAIR",
        "T1",
        "T2",
    )


def test_n31_a_second_training_into_a_held_folder_is_refused(tmp_path, tiny_phh, capsys):
    data, out = _phh_folder(tmp_path / "phh"), tmp_path / "run"
    out.mkdir()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        holder = {"pid": sleeper.pid, "host": socket.gethostname(), "since": time.time()}
        (out / LOCK_FILE).write_text(json.dumps({**holder, "what": "training"}))
        with pytest.raises(
            FolderLockedError, match=rf"in use by another training \(process {sleeper.pid} on"
        ):
            phh.train(data, out, "quick", seed=0)
        assert not (out / "split.json").exists() and not (out / "config.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    # the holder is gone: its lock is stale, reported and taken over, and released after
    with hold(out):
        assert json.loads((out / LOCK_FILE).read_text())["pid"] == os.getpid()
        with pytest.raises(FolderLockedError, match=rf"process {os.getpid()} on host"):
            with hold(out):
                pass
    assert "is no longer running" in capsys.readouterr().err
    assert not (out / LOCK_FILE).exists()
    # a lock taken on another machine cannot be checked from here: refused, with what to delete
    (out / LOCK_FILE).write_text(json.dumps({**holder, "host": "another-host"}))
    with pytest.raises(FolderLockedError, match=r"on another machine\), delete .*\.labkit-lock"):
        with hold(out):
            pass


def test_n51_n52_an_all_empty_cohort_is_scorable_by_the_stated_policy(tmp_path, capsys):
    empty = np.zeros((6, 6, 4))
    pred = _maps(tmp_path / "pred", {"a": empty, "b": empty})
    ref = _maps(tmp_path / "ref", {"a": empty, "b": empty})
    args = ["evaluate", "--pred", str(pred), "--ref", str(ref), "--out", str(tmp_path / "m.csv")]
    assert main(args) == 1
    assert "every map in" in (err := capsys.readouterr().err) and "--labels 1" in err
    assert main([*args, "--labels", "1"]) == 0
    said = capsys.readouterr().out
    assert "scored under the empty-mask policy" in said and "wrote 2 rows" in said
    assert "Dice 1.000 ± 0.000, HD95 0.00 mm; n=2, 2 with both masks empty" in said


def test_n61_an_infinite_nsd_tolerance_is_refused(tmp_path, capsys):
    pred = _maps(tmp_path / "pred", {"a": np.ones((4, 4, 4))})
    args = ["evaluate", "--pred", str(pred), "--ref", str(pred), "--out", str(tmp_path / "m.csv")]
    assert main([*args, "--nsd-tolerance", "inf"]) == 1
    assert "above 0; got inf (it would make NSD 1 for any two" in capsys.readouterr().err
    with pytest.raises(ValueError, match="finite distance in mm above 0"):
        binary_metrics(np.ones((4, 4)), np.ones((4, 4)), nsd_tolerance_mm=math.inf)


def test_n67_a_summary_says_what_each_mean_covers(tmp_path, capsys):
    ref_map = np.zeros((8, 8, 4))
    ref_map[2:5, 2:5, 1:3] = 1
    fp = ref_map.copy()
    fp[6, 6, 1] = 2  # a false positive of label 2, which no reference holds
    names = [f"c{i}" for i in range(6)]
    pred = _maps(tmp_path / "pred", {n: fp if n == "c0" else ref_map for n in names})
    ref = _maps(tmp_path / "ref", dict.fromkeys(names, ref_map))
    args = ["evaluate", "--pred", str(pred), "--ref", str(ref), "--out", str(tmp_path / "m.csv")]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert (
        "HD95 0.00 mm over 5 of 6 cases (1 undefined: 1 with a prediction but an empty "
        "reference); n=6, 5 with both masks empty" in said
    )
    row = summarize([{"label": "x", "hd95": np.nan, "ref_empty": 0, "pred_empty": 1}], ["hd95"])[0]
    assert (row["hd95_n"], row["hd95_nan"], row["hd95_nan_why"]) == (
        0,
        1,
        "1 with nothing predicted",
    )
    assert "HD95 nan mm over 0 of 1 cases" in summary_line(row, {"hd95": "HD95 {:.2f} mm"})


def test_a2_generalized_dice_charges_false_positives_on_an_empty_target():
    empty, half = np.zeros((2, 16, 16, 1), np.float32), np.full((2, 16, 16, 1), 0.5, np.float32)
    ours = float(losses.GeneralizedDiceLoss()(empty, half))
    assert ours == pytest.approx(float(losses.SoftDiceLoss()(empty, half)), rel=1e-6)
    assert ours > 0.99
    assert float(losses.GeneralizedDiceLoss()(empty, np.zeros_like(half))) == pytest.approx(0.0)
    # the documented departure: MONAI's weights are all 0 there, so its loss is 0
    monai = MonaiGDL()(torch.full((2, 1, 16, 16), 0.5), torch.zeros((2, 1, 16, 16)))
    assert float(monai) == pytest.approx(0.0, abs=1e-6)


def test_a3_loss_targets_outside_the_label_range_are_refused():
    half = np.full((2, 8, 8, 1), 0.5, np.float32)
    with pytest.raises(ValueError, match=r"y_true holds values \[7.0\].*outside 0 and 1"):
        losses.SoftDiceLoss()(np.full((2, 8, 8, 1), 7.0, np.float32), half)
    thirds = np.full((2, 8, 8, 3), 1 / 3, np.float32)
    with pytest.raises(ValueError, match=r"outside the class values 0 \.\. 2"):
        losses.DiceCELoss()(np.full((2, 8, 8, 1), 3), thirds)


def test_a6_dice_of_a_probability_map_is_refused():
    mask = np.zeros((8, 8, 8), np.uint8)
    mask[2:6, 2:6, 2:6] = 1
    with pytest.raises(LabelValueError, match=r"prediction \(shape \(8, 8, 8\)\) holds values "):
        dice(np.full((8, 8, 8), 0.4), mask)
    assert dice(mask.astype(np.float32), mask) == 1.0  # a 0/1 float mask is a mask


def _conv(ndim: int, channels: int = 1) -> keras.Model:
    conv = keras.layers.Conv2D if ndim == 2 else keras.layers.Conv3D
    inputs = keras.Input((None,) * ndim + (channels,))
    return keras.Model(inputs, conv(1, 1, activation="sigmoid")(inputs))


def test_a13_predicting_a_nan_volume_is_refused():
    image = np.zeros((20, 20, 5, 1), np.float32)
    image[3, 4, 2, 0] = np.nan
    with pytest.raises(ImageValueError, match=r"predict_slices: .* holds 1 NaN and 0 infinite"):
        predict_slices(_conv(2), image)


# --- TRACEBACK ---------------------------------------------------------------------------------


@pytest.mark.backends
def test_n32_ctrl_c_saves_the_last_finished_epoch_and_says_how_to_resume(tmp_path):
    from _toy_fit import build_toy_unet, toy_slices

    from labkit.pipeline import slice_dataset
    from labkit.saving import load_model
    from labkit.training import fit, seed_everything

    class CtrlC(keras.callbacks.Callback):
        finished = None

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.finished = [w.copy() for w in self.model.get_weights()]

        def on_train_batch_end(self, batch, logs=None):
            if self.finished is not None and batch == 1:  # in the middle of the third epoch
                raise KeyboardInterrupt

    seed_everything(0)
    x, y = toy_slices()
    train, val = slice_dataset(x, y, 8, shuffle=True), slice_dataset(x, y, 8)
    ctrl_c = CtrlC()
    with pytest.raises(TrainingInterrupted, match=r"holds 2 finished epoch\(s\).*epoch 3\."):
        fit(build_toy_unet, train, val, 4, tmp_path, callbacks=[ctrl_c], save_every_s=1e9)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epochs_done"] == 2
    saved = load_model(tmp_path / state["last"])
    for got, want in zip(saved.get_weights(), ctrl_c.finished, strict=True):
        np.testing.assert_array_equal(got, want)  # the epoch as it ended, not half the next
    iterations = keras.ops.convert_to_numpy(saved.optimizer.iterations)
    assert int(iterations) == 2 * math.ceil(len(x) / 8)
    again = fit(build_toy_unet, train, val, 4, tmp_path, verbose=0)
    assert again.resumed_from == 2 and len(again.history) == 4


def test_n32_the_command_exits_130_with_one_line(monkeypatch, capsys, tmp_path):
    def interrupted(args):
        raise TrainingInterrupted(tmp_path / "run", 2)

    monkeypatch.setitem(cli.COMMANDS, "train", interrupted)
    argv = ["train", "phh", "--data", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Run the same command again to resume from epoch 3" in err


def test_n37_a_mistyped_backend_names_the_valid_ones(monkeypatch, capsys):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflw")
    assert main(["predict", "r", "--input", "i", "--output", "o"]) == 1
    assert (
        "KERAS_BACKEND='tensorflw' is not a Keras backend; expected one of tensorflow, jax, torch"
        in capsys.readouterr().err
    )


def test_a4_loss_shapes_that_differ_are_refused_before_the_backend():
    with pytest.raises(ValueError, match=r"y_true has shape \(2, 8, 8, 1\) but y_pred has shape"):
        losses.SoftDiceLoss()(np.zeros((2, 8, 8, 1)), np.full((2, 16, 16, 1), 0.5, np.float32))


def test_a9_a10_a11_channels_first_or_the_wrong_channel_count(rng):
    with pytest.raises(ShapeError, match=r"5 channel\(s\) on its last axis, but the model reads 1"):
        predict_slices(_conv(2), np.zeros((1, 20, 20, 5), np.float32))
    with pytest.raises(ShapeError, match=r"It looks channels-first .*np.moveaxis\(image, 0, -1\)"):
        predict_slices(_conv(2), np.zeros((1, 20, 20, 5), np.float32))
    with pytest.raises(ShapeError, match=r"2 channel\(s\) on its last axis, but the model reads 1"):
        predict_slices(_conv(2), np.zeros((20, 20, 5, 2), np.float32))
    with pytest.raises(ShapeError, match=r"sliding_window: .* looks channels-first"):
        sliding_window(_conv(3), np.zeros((1, 40, 40, 40), np.float32), (16, 16, 16))
    volume = rng.random((20, 20, 5, 1)).astype(np.float32)
    assert predict_slices(_conv(2), volume).shape == (20, 20, 5, 1)  # the right input still runs


# --- VAGUE -------------------------------------------------------------------------------------


def test_n33_a_full_disk_names_the_path_and_the_option(monkeypatch, capsys, tmp_path):
    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(cli.COMMANDS, "train", full)
    out = tmp_path / "run"
    assert main(["train", "phh", "--data", str(tmp_path), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"no space left on the device while writing {out} (--out {out})" in err


def test_n46_an_output_below_a_file_is_named(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    images = tmp_path / "images"
    images.mkdir()
    output = tmp_path / "afile" / "sub"
    assert main(["predict", "run", "--input", str(images), "--output", str(output)]) == 1
    assert f"--output {output} cannot be written: {tmp_path / 'afile'} is a file, not a" in (
        capsys.readouterr().err
    )
    assert main(["train", "phh", "--data", str(images), "--out", str(tmp_path / "afile")]) == 1
    assert f"--out {tmp_path / 'afile'} is a file; expected a run folder" in (
        capsys.readouterr().err
    )


def test_n62_n63_n65_evaluate_names_the_option_that_is_wrong(tmp_path, capsys):
    pred = _maps(tmp_path / "pred", {"a": np.ones((4, 4, 4))})
    base = ["evaluate", "--pred", str(pred), "--ref", str(pred)]
    assert main([*base, "--out", str(tmp_path / "m.csv"), "--labels", "0"]) == 1
    assert "0 is the background, which is never scored" in capsys.readouterr().err
    assert main([*base, "--out", str(tmp_path)]) == 1
    assert f"--out {tmp_path} is a folder; expected the path of the CSV file" in (
        capsys.readouterr().err
    )
    missing = tmp_path / "nowhere"
    args = ["evaluate", "--pred", str(pred), "--ref", str(missing), "--out", str(tmp_path / "m")]
    assert main(args) == 1
    assert f"--ref {missing} is not a folder (it does not exist)" in capsys.readouterr().err


def test_n66_evaluate_reads_the_phh_and_brats_layouts(tmp_path, capsys):
    data = _phh_folder(tmp_path / "phh")
    pred = tmp_path / "pred"
    pred.mkdir()
    for case in ("phh000", "phh001"):
        (pred / f"{case}.nii.gz").write_bytes((data / "masks" / f"{case}.nii.gz").read_bytes())
    args = ["evaluate", "--pred", str(pred), "--ref", str(data), "--out", str(tmp_path / "m.csv")]
    assert main(args) == 0
    assert "csf: Dice 1.000 ± 0.000" in capsys.readouterr().out
    brats = tmp_path / "BraTS2021"
    seg = np.zeros((6, 6, 4))
    seg[1:3, 1:3, 1:3], seg[3, 3, 2] = 2, 4
    for subject in ("s1", "s2"):
        _maps(brats / subject, {f"{subject}_seg": seg})
        _maps(tmp_path / "bpred", {subject: seg})
    args = ["evaluate", "--pred", str(tmp_path / "bpred"), "--ref", str(brats), "--out"]
    assert main([*args, str(tmp_path / "b.csv")]) == 0
    said = capsys.readouterr().out
    assert "edema: Dice 1.000" in said and "enhancing: Dice 1.000" in said


def test_a8_a_spacing_with_too_few_axes_is_named():
    with pytest.raises(
        ShapeError, match=r"spacing \(1.0, 1.0\) has 2 value\(s\) but the masks have 3"
    ):
        binary_metrics(np.ones((4, 4, 4)), np.ones((4, 4, 4)), spacing=(1, 1))


def test_a12_a_patch_side_of_zero_is_refused():
    with pytest.raises(ValueError, match=r"roi_size \(0, 16, 16\): every patch side must be at"):
        sliding_window(_conv(3), np.zeros((40, 40, 40, 1), np.float32), (0, 16, 16))
