"""The smallest complete study: the recipe skeleton's contract, as documentation and as a test.

A study is a :class:`labkit.studies.recipe.Recipe` subclass with a settings dataclass and the
seven abstract hooks filled in; everything else (splitting, the run folder, fitting, choosing
the post-processing, scoring, ``predict``, ``evaluate``, k-fold cross-validation) is the
skeleton's. This toy segments bright discs in noisy 2D images stored as ``images/`` + ``masks/``
NIfTI volumes, one slice deep.
"""

from dataclasses import dataclass
from typing import ClassVar

import keras
import numpy as np
import pytest

from labkit.checkpoints import read_history
from labkit.datasets.base import paired_folders
from labkit.datasets.layout import Layout
from labkit.evaluation import evaluate_labels
from labkit.inference import predict_slices
from labkit.io import save_nifti
from labkit.models import unet
from labkit.pipeline import slice_dataset
from labkit.runfolder import RunFolder
from labkit.studies.common import single_channel_volumes
from labkit.studies.context import Inputs
from labkit.studies.recipe import Recipe
from labkit.studies.settings import TrainSettings
from labkit.studies.trained import TrainedRun


@dataclass(frozen=True, kw_only=True)
class BlobSettings(TrainSettings):  # epochs, batch size, learning rate, U-Net size, loss, flips
    epochs: int = 8
    batch_size: int = 4
    learning_rate: float = 3e-3
    filters: int = 8
    depth: int = 2
    loss: str = "sparse_categorical_crossentropy"
    fractions: tuple[float, float, float] = (0.5, 0.25, 0.25)  # train, validation, test


def _load(root):
    return paired_folders(root, LAYOUT, "MR", "Put images in images/ and masks in masks/.")


#: Where the dataset keeps its files, declared once (the loader, synth and predict read it).
LAYOUT = Layout(
    "a blobs folder",
    "images/{case}.nii.gz",
    "masks/{case}.nii.gz",
    ("images/*", "masks/*"),
    _load,
    labels={1: "blob"},
)


class BlobRecipe(Recipe):
    name = "blobs"
    profiles: ClassVar = {"quick": BlobSettings()}
    labels: ClassVar = LAYOUT.labels
    modalities = ("MR",)

    def synth(self, out, cases=12, seed=0):
        rng, grid = np.random.default_rng(seed), np.mgrid[:32, :32]
        for i in range(cases):
            centre, radius = rng.uniform(10, 22, 2), rng.uniform(4, 8)
            disc = ((grid[0] - centre[0]) ** 2 + (grid[1] - centre[1]) ** 2) < radius**2
            image = disc + rng.normal(0, 0.3, disc.shape)
            case, affine = f"b{i:02d}", np.eye(4)
            save_nifti(LAYOUT.image_file(out, case=case), image[..., None].astype("f4"), affine)
            save_nifti(LAYOUT.label_file(out, case=case), disc[..., None].astype("u1"), affine)
        return out

    def load(self, data, settings):
        return LAYOUT.load(data)

    def _slices(self, cases):
        loaded = [self.read(None, case) for case in cases]
        x = np.stack([c.image.array[:, :, 0, None] for c in loaded])
        return x.astype("f4"), np.stack([c.label.array[:, :, 0, None] for c in loaded])

    def inputs(self, run):
        (x, y), (xv, yv) = self._slices(run.cases("train")), self._slices(run.cases("val"))
        size = run.settings.batch_size
        train = slice_dataset(x, y, size, shuffle=True, seed=run.seed)
        return Inputs(train, slice_dataset(xv, yv, size), {"train_slices": len(x)})

    def model(self, run):
        s = run.settings
        model = unet((32, 32, 1), 2, depth=s.depth, filters=s.filters, batch_norm_momentum=0.8)
        model.compile(keras.optimizers.Adam(s.learning_rate), s.loss)
        return model

    def segment(self, model, volume, settings, config):
        return predict_slices(model, volume.array.reshape(32, 32, 1, 1)).argmax(-1).astype("u1")

    def score(self, run, model, case_id):
        case = self.read(run.cohort, run.case(case_id))
        pred = self.label_map(model, case.image, run.settings, run.config)
        return evaluate_labels(
            pred, case.label.array, self.labels, case.image.spacing, case=case_id
        )

    def images(self, input_dir, config):
        return single_channel_volumes(input_dir, LAYOUT, "MR")


def test_a_study_that_leaves_out_a_required_hook_cannot_be_made():
    class Incomplete(BlobRecipe):
        segment = Recipe.segment  # the abstract hook again

    with pytest.raises(TypeError, match=r"abstract method.*segment"):
        Incomplete()


def test_the_toy_study_trains_learns_predicts_and_evaluates(tmp_path):
    toy = BlobRecipe()
    data = toy.synth(tmp_path / "data")
    summary = toy.train(data, tmp_path / "run", overrides={"largest_component": "auto"})
    run = RunFolder(tmp_path / "run")
    assert run.finished and run.config()["train_slices"] == 6 and len(run.split()["test"]) == 3
    losses = [row["loss"] for row in read_history(run.path)]
    # it learned: seeds 0-4 ended at 0.33-0.46 of the first epoch's loss (seed 0 the same on one
    # core or two)
    assert len(losses) == 8 and losses[-1] < 0.6 * losses[0], losses
    assert summary["labels"][0]["label"] == "blob"
    written = toy.predict(tmp_path / "run", data, tmp_path / "pred")
    assert len(written) == 12
    again = TrainedRun.open(toy, tmp_path / "run").evaluate(data, tmp_path / "again")
    assert again["labels"][0]["dice_mean"] == pytest.approx(summary["labels"][0]["dice_mean"])
