"""The BraTS recipe: preprocessing and its undoing, class indices and label values per
convention, region scoring by hand, and the command line end to end on a small twin."""

import json
import shutil

import keras
import numpy as np
import pytest
from _tiny import use_tiny

from labkit.datasets.brats import load_brats, load_brats_case
from labkit.errors import LabelValueError
from labkit.evaluation import read_metrics_csv
from labkit.io import load_label
from labkit.studies import brats
from labkit.transforms import undo
from labkit_cli import main


def _image():
    """A (8, 6, 4, 2) skull-stripped image: background -1, a 4x4x2 brain of 0..31."""
    image = np.full((8, 6, 4, 2), -1.0, np.float32)
    brain = np.arange(32, dtype=np.float32).reshape(4, 4, 2)
    image[2:6, 1:5, 1:3, 0] = brain
    image[2:6, 1:5, 1:3, 1] = 2 * brain + 5
    return image


def test_preprocess_crops_to_the_brain_and_z_scores_inside_it():
    settings = brats.settings("quick", {"spacing": [1.0, 1.0, 1.0]})
    label = np.zeros((8, 6, 4), np.uint8)
    label[3, 2, 1], label[4, 2, 1], label[4, 3, 2] = 1, 2, 4
    x, classes, records = brats.preprocess(_image(), (1.0, 1.0, 1.0), settings, label, "brats2018")
    assert x.shape == (8, 6, 4, 2)  # the brain plus a margin of 2, clipped to the volume
    inside = x[2:6, 1:5, 1:3]
    np.testing.assert_allclose(inside.mean(axis=(0, 1, 2)), 0.0, atol=1e-6)
    np.testing.assert_allclose(inside.std(axis=(0, 1, 2)), 1.0, atol=1e-5)
    assert not x[0].any()  # 0 outside the brain, whatever the stored background
    # BraTS 2018 values 1, 2, 4 are the network's classes 1, 2, 3
    assert (classes[3, 2, 1], classes[4, 2, 1], classes[4, 3, 2]) == (1, 2, 3)
    assert undo(classes, records).shape == (8, 6, 4)
    with pytest.raises(LabelValueError, match=r"label values \[4\]"):  # 4 is not an MSD label
        brats.preprocess(_image(), (1.0, 1.0, 1.0), settings, label, "msd_task01")


def test_preprocess_resamples_to_the_profile_spacing():
    settings = brats.settings("quick")  # 2 mm
    x, _, records = brats.preprocess(_image(), (1.0, 1.0, 1.0), settings)
    assert records[0].shape == (4, 3, 2)
    assert x.shape[:3] == tuple(
        b - a for a, b in zip(records[1].start, records[1].stop, strict=True)
    )
    prob = np.zeros((*x.shape[:3], 4), np.float32)
    assert undo(prob, records).shape == (8, 6, 4, 4)


@pytest.mark.parametrize(
    ("convention", "expected"),
    [("msd_task01", [0, 1, 2, 3]), ("brats2018", [0, 1, 2, 4]), ("brats2013", [0, 1, 2, 3, 4])],
)
def test_predicted_classes_become_the_conventions_values(convention, expected):
    n = len(expected)
    settings = brats.settings("quick", {"patch": [8, 8, 8], "spacing": [1.0, 1.0, 1.0]})
    image = np.zeros((8, 8, 8, 1), np.float32)
    image[1:7, 1:7, 1:7, 0] = np.random.default_rng(0).uniform(1.0, 2.0, (6, 6, 6))
    for cls in range(1, n):
        # a "network" that says class ``cls`` wherever there is brain
        def model(batch, cls=cls):
            onehot = np.zeros((*batch.shape[:-1], n), np.float32)
            onehot[..., 0] = 1.0
            onehot[batch[..., 0] != 0] = np.eye(n)[cls]
            return onehot

        labels = brats.predict_labels(model, image, (1.0, 1.0, 1.0), settings, convention)
        assert set(np.unique(labels)) == {0, expected[cls]}
        assert labels[0, 0, 0] == 0 and labels[3, 3, 3] == expected[cls]


def test_region_rows_by_hand():
    ref = np.zeros((6, 6, 6), np.uint8)
    ref[1:3, 1:3, 1:3] = 2  # edema, 8 voxels
    ref[3:5, 1:3, 1:3] = 4  # enhancing, 8 voxels
    pred = ref.copy()
    pred[3:5, 1:3, 1:3] = 1  # the enhancing part called necrotic core
    rows = {r["label"]: r for r in brats.region_rows(pred, ref, "brats2018", (1.0, 1.0, 1.0))}
    assert rows["WT"]["dice"] == 1.0  # every tumour voxel found
    assert rows["TC"]["dice"] == 1.0  # 1 and 4 are both tumour core
    assert rows["ET"]["dice"] == 0.0 and rows["ET"]["sensitivity"] == 0.0
    # the MSD convention reads 4 as no label at all: an error, not an empty region
    with pytest.raises(LabelValueError, match=r"label values \[4\]"):
        brats.region_rows(pred, ref, "msd_task01", (1.0, 1.0, 1.0))


def test_settings_errors():
    with pytest.raises(ValueError, match=r"divisible by 2\*\*depth = 8; got \(32, 32, 20\)"):
        brats.settings("quick", {"patch": [32, 32, 20]})
    with pytest.raises(ValueError, match="blend must be 'gaussian' or 'constant'"):
        brats.settings("quick", {"blend": "max"})
    with pytest.raises(ValueError, match=r"convention must be '' or 'brats2013' or"):
        brats.settings("quick", {"convention": "brats2017"})
    assert brats.settings("quick", {"convention": "msd_task01"}).convention == "msd_task01"
    full = brats.PROFILES["full"]
    assert (full.batch_size, full.loss, full.spacing) == (8, "dice", (1.0, 1.0, 1.0))


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """Four twin subjects in the BraTS folder layout, written once for this module."""
    data = tmp_path_factory.mktemp("brats") / "data"
    assert main(["synth", "brats", str(data), "--cases", "4", "--layout", "brats"]) == 0
    return data


@pytest.fixture
def tiny_profile(monkeypatch):
    use_tiny(monkeypatch, "brats")


def test_a_small_cohort_holds_one_case_out(twin):
    cohort = load_brats(twin)
    split = brats.split_cohort(cohort, brats.settings("quick", {"holdout": 2}), seed=0)
    assert len(split["test"]) == 2 and split["val"] == split["train"]
    assert not set(split["test"]) & set(split["train"])
    with pytest.raises(ValueError, match="holdout must leave at least one training case"):
        brats.split_cohort(cohort, brats.settings("quick", {"holdout": 4}), seed=0)


def test_synth_train_predict_on_two_modalities(twin, tmp_path, tiny_profile):
    run, pred = tmp_path / "run", tmp_path / "pred"
    train = ["train", "brats", "--data", str(twin), "--out", str(run)]
    assert main([*train, "--set", 'modalities=["FLAIR", "T1Gd"]']) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["modalities"] == ["FLAIR", "T1Gd"] and config["convention"] == "brats2018"
    assert config["validation"] == "patches of the training cases"  # 4 cases: one held out
    # plain Keras reloads the model: no custom objects needed
    model = keras.models.load_model(run / "model.keras")
    assert model.input_shape == (None, 16, 16, 16, 2) and model.output_shape[-1] == 4
    rows = read_metrics_csv(run / "metrics.csv")
    labels = [r["label"] for r in rows]
    assert labels == ["necrotic/non-enhancing", "edema", "enhancing", "WT", "TC", "ET"]

    test_id = json.loads((run / "split.json").read_text())["test"][0]
    one = tmp_path / "one"
    shutil.copytree(twin / test_id, one / test_id)
    assert main(["predict", str(run), "--input", str(one), "--output", str(pred)]) == 0
    written = load_label(pred / f"{test_id}.nii.gz")
    image, _ = load_brats_case(load_brats(one).cases[0], "brats2018")
    assert written.shape == image.shape[:3]
    np.testing.assert_allclose(written.affine, image.affine)
    assert set(np.unique(written.array)) <= {0, 1, 2, 4}  # the run's convention
    # the same labels as the run's own held-out prediction, which its metrics scored
    during_training = load_label(run / "predictions" / f"{test_id}.nii.gz")
    np.testing.assert_array_equal(written.array, during_training.array)

    for path in (one / test_id).glob("*_t1ce.nii.gz"):
        path.unlink()
    assert main(["predict", str(run), "--input", str(one), "--output", str(pred)]) == 1


def test_a_patch_that_does_not_pool_depth_times_is_refused():
    with pytest.raises(ValueError, match=r"patch must be three sizes divisible by 2\*\*depth = 8"):
        brats.settings("quick", {"patch": [30, 32, 32]})
    with pytest.raises(ValueError, match=r"divisible by 2\*\*depth = 16; got \(24, 32, 32\)"):
        brats.settings("quick", {"depth": 4, "patch": [24, 32, 32]})
