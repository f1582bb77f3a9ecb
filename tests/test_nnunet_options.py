"""nnU-Net's three moves as options of every recipe: k-fold ensembles, mirroring at test time,
and the largest component kept per label only where validation says it helps."""

import json
import shutil

import keras
import numpy as np
import pytest
from _tiny import use_tiny

from labkit.ensemble import Averaged, mirror_sets
from labkit.io import load_label
from labkit.postprocessing import (
    apply_choice,
    choose_largest_component,
    describe_largest_component,
    largest_component_per_label,
)
from labkit.splits import fold_split
from labkit.studies import msd
from labkit.studies.trained import TrainedRun
from labkit_cli import main

# --- mirroring and averaging ----------------------------------------------------------------


@pytest.mark.backends
def test_mirror_sets_are_every_subset_no_flip_first():
    assert mirror_sets(()) == [()]
    assert mirror_sets((1, 0)) == [(), (0,), (1,), (0, 1)]
    assert len(mirror_sets((0, 1, 2))) == 8
    with pytest.raises(ValueError, match=r"distinct spatial axes .* got \(0, 0\)"):
        mirror_sets((0, 0))


def _conv_model(kernel: np.ndarray) -> keras.Model:
    """A one-filter 3x3 convolution and a sigmoid: mirror-equivariant iff the kernel is
    symmetric under the same mirror."""
    inputs = keras.Input((None, None, 1))
    conv = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")
    model = keras.Model(inputs, conv(inputs))
    conv.set_weights([kernel.reshape(3, 3, 1, 1).astype(np.float32), np.zeros(1, np.float32)])
    return model


@pytest.mark.backends
def test_an_ensemble_of_two_identical_models_equals_one():
    model = _conv_model(np.random.default_rng(0).normal(size=(3, 3)))
    x = np.random.default_rng(1).normal(size=(2, 8, 6, 1)).astype(np.float32)
    one = np.asarray(model.predict_on_batch(x))
    np.testing.assert_allclose(Averaged([model, model]).predict_on_batch(x), one, rtol=1e-6)
    assert len(Averaged([model, model])) == 2


@pytest.mark.backends
def test_tta_of_a_symmetric_input_under_a_mirror_equivariant_net_equals_no_tta():
    symmetric = np.array([[1.0, 2.0, 1.0], [0.5, -3.0, 0.5], [1.0, 2.0, 1.0]])
    x = np.random.default_rng(2).normal(size=(1, 6, 6, 1)).astype(np.float32)
    x = x + x[:, ::-1] + x[:, :, ::-1] + x[:, ::-1, ::-1]  # symmetric in both axes
    model = _conv_model(symmetric)
    tta = Averaged([model], mirror_axes=(0, 1))
    assert len(tta) == 4
    np.testing.assert_allclose(tta(x, training=False), model.predict_on_batch(x), atol=1e-6)
    # the same check fails for a net that is not equivariant: the views then differ
    skewed = _conv_model(np.array([[0.0, 0.0, 3.0], [0.0, 1.0, 0.0], [-2.0, 0.0, 0.0]]))
    x = np.random.default_rng(3).normal(size=(1, 6, 6, 1)).astype(np.float32)
    assert not np.allclose(Averaged([skewed], (0,)).predict_on_batch(x), skewed.predict_on_batch(x))


@pytest.mark.backends
def test_tta_flips_each_view_back_before_averaging():
    def running_sum(batch):  # a "network" that is not mirror-equivariant along axis 1
        return np.cumsum(batch, axis=1)

    x = np.array([[[1.0], [2.0], [4.0]]])  # (n=1, x=3, c=1): one spatial axis
    # views: as is [1, 3, 7]; mirrored [4, 2, 1] -> [4, 6, 7] -> flipped back [7, 6, 4]
    expected = np.array([[[4.0], [4.5], [5.5]]])
    np.testing.assert_allclose(Averaged([running_sum], (0,)).predict_on_batch(x), expected)
    with pytest.raises(ValueError, match=r"mirror axes \(1,\) do not fit a batch \(1, 3, 1\)"):
        Averaged([running_sum], (1,)).predict_on_batch(x)
    with pytest.raises(ValueError, match="at least one model"):
        Averaged([])


# --- largest component, chosen on validation -------------------------------------------------


@pytest.mark.backends
def test_largest_component_is_kept_only_where_it_raises_the_mean_dice():
    ref = np.zeros((10, 10), np.uint8)
    ref[1:4, 1:4] = 1  # label 1: one blob of 9 pixels
    ref[6:8, 0:2] = 2  # label 2: two real components of 4 pixels each
    ref[6:8, 8:10] = 2
    pred = ref.copy()
    pred[8, 5] = 1  # a stray pixel of label 1
    pred[6:8, 8:10] = 0
    pred[6:8, 7:10] = 2  # label 2's second component predicted 6 pixels wide
    choice = choose_largest_component([pred], [ref], [1, 2], ["case_a"])
    # label 1: 2*9/(10+9) = 0.947 as predicted, 1.0 with the stray pixel removed
    assert choice["val_dice"]["1"]["as predicted"] == pytest.approx(18 / 19)
    assert choice["val_dice"]["1"]["largest component"] == pytest.approx(1.0)
    # label 2: 2*8/(10+8) = 0.889 as predicted; keeping the larger (6) drops to 2*4/(6+8)
    assert choice["val_dice"]["2"]["as predicted"] == pytest.approx(16 / 18)
    assert choice["val_dice"]["2"]["largest component"] == pytest.approx(8 / 14)
    assert choice["labels"] == [1] and choice["cases"] == ["case_a"]
    cleaned = apply_choice(pred, {"largest_component": choice})
    assert cleaned[8, 5] == 0 and (cleaned == 2).sum() == 10  # label 2 left as it was
    np.testing.assert_array_equal(apply_choice(pred, {}), pred)


@pytest.mark.backends
def test_an_ignored_reference_region_is_left_out_of_the_choice():
    ref = np.zeros((8, 8), np.uint8)
    ref[0:3, 0:3] = 1
    ref[6:8, 6:8] = 2  # "other pathology": not scored
    pred = (ref > 0).astype(np.uint8)  # predicts the other pathology as label 1 too
    assert choose_largest_component([pred], [ref], [1])["labels"] == [1]
    ignored = choose_largest_component([pred], [ref], [1], ignore=2)
    assert ignored["labels"] == [] and ignored["val_dice"]["1"]["as predicted"] == 1.0


@pytest.mark.backends
def test_choice_refuses_mismatched_inputs_and_keeps_nothing_without_cases():
    with pytest.raises(ValueError, match=r"case_b: prediction \(2, 2\) and reference \(3, 2\)"):
        choose_largest_component(
            [np.zeros((2, 2)), np.zeros((2, 2))],
            [np.zeros((2, 2)), np.zeros((3, 2))],
            [1],
            ["case_a", "case_b"],
        )
    with pytest.raises(ValueError, match="2 predictions and 1 references"):
        choose_largest_component([np.zeros(2)] * 2, [np.zeros(2)], [1])
    assert choose_largest_component([], [], [1])["labels"] == []


@pytest.mark.backends
def test_largest_component_per_label_keeps_other_labels():
    label_map = np.array([[1, 0, 1, 1], [2, 0, 0, 0], [0, 0, 2, 0]], np.uint8)
    out = largest_component_per_label(label_map, [1])
    np.testing.assert_array_equal(out, [[0, 0, 1, 1], [2, 0, 0, 0], [0, 0, 2, 0]])
    assert out.dtype == np.uint8


# --- folds -----------------------------------------------------------------------------------


@pytest.mark.backends
def test_fold_split_validates_every_pooled_case_once_and_never_touches_the_test_cases():
    split = {"train": ["a", "b", "c", "d", "e"], "val": ["f"], "test": ["x", "y"]}
    folds = [fold_split(split, i, 3, seed=4) for i in range(3)]
    assert sorted(c for f in folds for c in f["val"]) == list("abcdef")
    for f in folds:
        assert f["test"] == ["x", "y"]
        assert sorted(f["train"] + f["val"]) == list("abcdef") and not set(f["train"]) & set(
            f["val"]
        )
    assert folds == [fold_split(split, i, 3, seed=4) for i in range(3)]  # the seed fixes them
    with pytest.raises(ValueError, match="fold must be between 0 and k - 1 = 2; got 3"):
        fold_split(split, 3, 3)
    with pytest.raises(ValueError, match=r"k must be between 2 and the number of cases \(6\)"):
        fold_split(split, 0, 7)


# --- every study, through the command line ---------------------------------------------------

#: Per study: ``synth`` arguments, and the flips that let ``--tta`` mirror.
STUDIES = {
    "msd": (["--cases", "7", "--task", "spleen"], ["--set", "flip_axes=[0]"]),
    "phh": (["--cases", "6"], ["--set", "flip_axes=[1]"]),
    "ich": (["--cases", "6"], ["--set", "flip_axes=[0]"]),
    "wmh": (["--cases", "3"], ["--set", "flip_axes=[0]"]),
    "brats": (["--cases", "5"], ["--set", "flip_axes=[0,1,2]"]),
}


@pytest.mark.parametrize("study", sorted(STUDIES))
def test_folds_ensemble_tta_and_largest_component_on_every_study(
    study, tmp_path, monkeypatch, capsys
):
    synth_args, flips = STUDIES[study]
    use_tiny(monkeypatch, study)
    data, cv = tmp_path / "data", tmp_path / "cv"
    assert main(["synth", study, str(data), *synth_args]) == 0
    train = ["train", study, "--data", str(data), "--out", str(cv), "--folds", "2"]
    assert main([*train, "--set", "largest_component=auto", *flips]) == 0, capsys.readouterr().err
    assert "2 folds written to" in capsys.readouterr().out

    splits = [json.loads((cv / f"fold_{i}" / "split.json").read_text()) for i in range(2)]
    for i, split in enumerate(splits):
        ids = [c for subset in split.values() for c in subset]
        assert len(ids) == len(set(ids)), f"fold {i}: a patient is in two subsets"
        config = json.loads((cv / f"fold_{i}" / "config.json").read_text())
        assert config["fold"] == [i, 2]
        # the post-processing was chosen on this fold's validation cases, never on its test cases
        assert config["largest_component"]["cases"] == split["val"]
        assert not set(config["largest_component"]["cases"]) & set(split["test"])
    assert splits[0]["test"] == splits[1]["test"]
    assert set(splits[0]["val"]) == set(splits[1]["train"])
    ensemble = json.loads((cv / "config.json").read_text())
    pooled = sorted(splits[0]["val"] + splits[1]["val"])
    assert sorted(ensemble["largest_component"]["cases"]) == pooled
    summary = json.loads((cv / "summary.json").read_text())
    assert [f["run"] for f in summary["folds"]] == ["fold_0", "fold_1"]
    assert summary["labels"] and (cv / "metrics.csv").is_file()

    out = tmp_path / "pred"
    predict = ["predict", str(cv), "--input", str(data), "--output", str(out), "--ensemble"]
    assert main(predict) == 0
    written = sorted(out.iterdir())
    assert len(written) == len(pooled) + len(splits[0]["test"])
    tta = tmp_path / "tta"
    assert main([*predict[:-2], str(tta), "--ensemble", "--tta"]) == 0
    assert sorted(p.name for p in tta.iterdir()) == [p.name for p in written]


def test_an_ensemble_of_two_identical_folds_predicts_as_one_fold(tmp_path, monkeypatch, capsys):
    synth_args, _ = STUDIES["msd"]
    use_tiny(monkeypatch, "msd")
    data, cv = tmp_path / "data", tmp_path / "cv"
    main(["synth", "msd", str(data), *synth_args])
    assert main(["train", "msd", "--data", str(data), "--out", str(cv), "--folds", "2"]) == 0
    shutil.copy(cv / "fold_0" / "model.keras", cv / "fold_1" / "model.keras")
    one, both = tmp_path / "one", tmp_path / "both"
    assert main(["predict", str(cv / "fold_0"), "--input", str(data), "--output", str(one)]) == 0
    assert (
        main(["predict", str(cv), "--input", str(data), "--output", str(both), "--ensemble"]) == 0
    )
    for path in sorted(one.iterdir()):
        np.testing.assert_array_equal(load_label(both / path.name).array, load_label(path).array)
    # the two kinds of run folder are not mixed up
    capsys.readouterr()
    assert main(["predict", str(cv), "--input", str(data), "--output", str(both)]) == 1
    assert "is a cross-validation folder of 2 fold runs; predict with --ensemble" in (
        capsys.readouterr().err
    )
    single = ["predict", str(cv / "fold_0"), "--input", str(data), "--output", str(both)]
    assert main([*single, "--ensemble"]) == 1
    assert "is not a cross-validation folder" in capsys.readouterr().err
    assert main([*single, "--tta"]) == 1  # trained without flips
    err = capsys.readouterr().err
    assert "augmentation flips no axis" in err and "--set flip_axes=[0]" in err
    assert main(["train", "msd", "--data", str(data), "--out", str(cv), "--folds", "1"]) == 1
    assert "--folds must be at least 2" in capsys.readouterr().err


@pytest.mark.backends
def test_evaluate_scores_the_same_test_cases_again_with_tta(tmp_path, monkeypatch):
    synth_args, _ = STUDIES["msd"]
    use_tiny(monkeypatch, "msd")
    data, run = tmp_path / "data", tmp_path / "run"
    main(["synth", "msd", str(data), *synth_args])
    own = msd.train(data, run, "quick", overrides={"flip_axes": [0, 1]})
    again = TrainedRun.open(msd.RECIPE, run).evaluate(data, tmp_path / "again")
    assert again["labels"] == own["labels"]  # no option: exactly the run's own scores
    tta = TrainedRun.open(msd.RECIPE, run, tta=True).evaluate(data, tmp_path / "tta")
    assert tta["tta"] and tta["labels"][0]["n"] == own["labels"][0]["n"]
    assert (tmp_path / "tta" / "metrics.csv").is_file()
    with pytest.raises(ValueError, match="would overwrite the run's own results"):
        TrainedRun.open(msd.RECIPE, run).evaluate(data, run)


# --- the flips that test-time mirroring relies on --------------------------------------------


@pytest.mark.backends
def test_patch_flips_mirror_image_and_label_together_and_leave_the_draws_alone():
    from labkit.batches import one_epoch
    from labkit.pipeline import patch_dataset

    rng = np.random.default_rng(0)
    image = rng.normal(size=(12, 10, 8, 1)).astype(np.float32)
    label = (image[..., 0] > 0.5).astype(np.uint8)
    plain = one_epoch(patch_dataset([image], [label], (6, 4, 4), 8, 8, seed=3))
    flipped = one_epoch(patch_dataset([image], [label], (6, 4, 4), 8, 8, seed=3, flip_axes=(0,)))
    (x0, y0), (x1, y1) = plain[0], flipped[0]
    same = [np.array_equal(a, b) for a, b in zip(x0, x1, strict=True)]
    mirrored = [np.array_equal(a[::-1], b) for a, b in zip(x0, x1, strict=True)]
    assert all(s or m for s, m in zip(same, mirrored, strict=True))
    assert any(mirrored) and any(same)  # about half of them, drawn per patch
    for k, m in enumerate(mirrored):
        np.testing.assert_array_equal(y1[k], y0[k][::-1] if m and not same[k] else y0[k])


@pytest.mark.backends
def test_slice_flips_mirror_image_and_label_together():
    from labkit.augment import apply_augmentation, slice_augmentation

    x = np.arange(12, dtype=np.float32).reshape(3, 4, 1)
    y = (x > 5).astype(np.uint8)
    flips = slice_augmentation(noise_std=0, rotate_degrees=0, seed=0, flip_axes=(1,))
    outcomes = set()
    for _ in range(12):
        ax, ay = apply_augmentation(flips, x, y)
        is_flipped = np.array_equal(ax, x[:, ::-1])
        assert is_flipped or np.array_equal(ax, x)
        np.testing.assert_array_equal(ay, y[:, ::-1] if is_flipped else y)
        outcomes.add(is_flipped)
    assert outcomes == {True, False}


def _effect(case, pieces, hd, hd_after, dice=0.8, dice_after=0.8):
    return {
        "case": case,
        "predicted components": pieces,
        "Dice": dice,
        "Dice, largest component": dice_after,
        "HD95 (mm)": hd,
        "HD95 (mm), largest component": hd_after,
    }


def test_describing_the_largest_component_where_every_prediction_is_one_piece():
    text = describe_largest_component(
        [_effect("a", 1, 10.0, 10.0), _effect("b", 1, 20.0, 20.0)], "spleen"
    )
    assert text.startswith("On this run every test case's predicted spleen is a single component")
    assert "the mean HD95 stays at 15.0 mm" in text


def test_describing_the_largest_component_names_each_case_with_islands():
    rows = [_effect("a", 1, 10.0, 10.0), _effect("b", 3, 50.0, 20.0, 0.7, 0.71)]
    text = describe_largest_component(rows, "spleen")
    assert (
        "1 of 2 test cases had islands (b, 3 pieces: HD95 50.0 to 20.0 mm, Dice 0.700 to 0.710)"
        in text
    )
    assert text.endswith("the mean HD95 over all cases went from 30.0 to 15.0 mm.")
    assert "a," not in text
