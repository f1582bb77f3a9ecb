"""The Decathlon recipe: the skeleton's hooks, and the held-out cases' table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np

from labkit.checks import check_image
from labkit.datasets.base import LoadedCase, load_case
from labkit.datasets.msd import MSDDataset, load_msd, write_msd_twin
from labkit.errors import ShapeError
from labkit.evaluation import evaluate_labels
from labkit.io import load_nifti
from labkit.measures import generalized_dice
from labkit.pipeline import slice_dataset
from labkit.progress import progress
from labkit.runfolder import RunFolder
from labkit.slices import stack_slices
from labkit.splits import split_ids
from labkit.studies import register
from labkit.studies.common import case_orientation
from labkit.studies.context import Inputs, RunContext
from labkit.studies.msd.steps import (
    NORMALISATIONS,
    compiled_model,
    image_cases,
    predict_volume,
    prepare,
)
from labkit.studies.recipe import Recipe
from labkit.studies.settings.msd import PROFILES, MSDSettings
from labkit.studies.trained import TrainedRun
from labkit.volume import Volume

__all__ = [
    "RECIPE",
    "MSDRecipe",
    "case_table",
    "held_out_predictions",
    "predict",
    "run_settings",
    "settings",
    "synth",
    "train",
]


def held_out_predictions(run: Path, data: Path) -> dict[str, tuple[LoadedCase, np.ndarray]]:
    """Predict a finished run's held-out test cases again, as ``train`` scored them.

    Args:
        run: Run folder (``model.keras``, ``config.json``, ``split.json``).
        data: The MSD task folder the run was trained on.

    Returns:
        Case id (in ``split.json`` order) to ``(loaded case, label map (x, y, z) uint8)``, the
        prediction on the case's own grid.
    """
    trained = TrainedRun.open(RECIPE, run)
    out = {}
    for case in progress(trained.test_cases(data), "predicting"):
        loaded = load_case(case)
        out[case.case_id] = (loaded, trained.label_map(loaded.image))
    return out


def case_table(run: Path, data: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A finished run's held-out cases, one row each: the generalized Dice of the label map
    (:func:`labkit.measures.generalized_dice`, over all classes) beside each class's Dice and
    HD95 from ``metrics.csv``.

    Args:
        run: Run folder.
        data: The MSD task folder the run was trained on.

    Returns:
        ``(rows, predictions)``: the rows, and :func:`held_out_predictions`'s case id to
        ``(loaded case, label map)``, for figures.
    """
    preds = held_out_predictions(run, data)
    metrics_rows = RunFolder(run).metrics()
    rows = []
    for case_id, (case, pred) in preds.items():
        row = {"case": case_id, "generalized Dice": generalized_dice(pred, case.label.array)}
        for r in (r for r in metrics_rows if r["case"] == case_id):
            row[f"{r['label']} Dice"] = r["dice"]
            row[f"{r['label']} HD95 (mm)"] = r["hd95"]
        rows.append(row)
    return rows, preds


class MSDRecipe(Recipe):
    """The Decathlon study's hooks of the recipe skeleton
    (:class:`labkit.studies.recipe.Recipe`)."""

    name = "msd"
    profiles = PROFILES
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {
        "schedule": ("constant", "cosine"),
        "normalisation": NORMALISATIONS,
    }

    def load(self, data: Path, settings: MSDSettings) -> MSDDataset:
        return load_msd(data)

    def split(self, cohort: MSDDataset, settings: MSDSettings, seed: int) -> dict[str, list[str]]:
        """``test_fraction`` of the cases for testing, ``val_fraction`` of the rest for
        validation."""
        test_share = settings.test_fraction
        val_share = (1 - test_share) * settings.val_fraction
        shares = {"train": 1 - test_share - val_share, "val": val_share, "test": test_share}
        return split_ids(cohort.case_ids, shares, seed)

    def inputs(self, run: RunContext) -> Inputs:
        """Every axial slice of the training and validation volumes, padded to one shape (a
        multiple of ``2 ** depth``)."""
        settings = run.settings
        norm, context = settings.normalisation, settings.context
        train_img, train_lab = prepare(run.cases("train"), settings.max_size, norm, context)
        val_img, val_lab = prepare(run.cases("val"), settings.max_size, norm, context)
        multiple = 2**settings.depth
        size = np.max([img.shape[:2] for img in train_img + val_img], axis=0)
        shape = tuple(int(-(-s // multiple) * multiple) for s in size)
        x_train, y_train = stack_slices(train_img, train_lab, shape)
        x_val, y_val = stack_slices(val_img, val_lab, shape)
        facts = {"slice_shape": list(shape), "train_slices": len(x_train), "val_slices": len(x_val)}
        train = slice_dataset(
            x_train,
            y_train,
            settings.batch_size,
            shuffle=True,
            flip_axes=settings.flip_axes,
            seed=run.seed,
        )
        val = slice_dataset(x_val, y_val, settings.batch_size)
        return Inputs(train, val, facts, train_examples=len(x_train))

    def describe(self, run: RunContext) -> dict[str, Any]:
        ds = run.cohort
        return {
            "task": ds.name,
            "labels": {str(k): v for k, v in ds.labels.items()},
            "modalities": list(ds.modalities),
            "orientation": case_orientation(ds.cases[0]),
        }

    def model(self, run: RunContext) -> keras.Model:
        ds = run.cohort
        n_classes = max(ds.labels) + 1
        channels = len(ds.modalities) * (2 * run.settings.context + 1)
        return compiled_model(run.settings, channels, n_classes, run.inputs.train_examples)

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        loaded = self.read(run.cohort, run.case(case_id))
        pred = self.label_map(model, loaded.image, run.settings, run.config)
        labels = {k: v for k, v in run.cohort.labels.items() if k != 0}
        return evaluate_labels(pred, loaded.label.array, labels, loaded.image.spacing, case=case_id)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {"task": run.cohort.name}

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """Every image of an MSD task folder, or of a plain folder, with one channel per
        modality the run was trained on."""
        modalities = config["modalities"]
        for case in progress(image_cases(input_dir, modalities), "predicting"):
            volume = check_image(load_nifti(case.images[0]))
            channels = volume.array.shape[3] if volume.array.ndim == 4 else 1
            if channels != len(modalities):
                raise ShapeError(
                    f"{volume.name} has {channels} channel(s) but the model was trained on "
                    f"{len(modalities)} modalities {modalities}; expected one channel per "
                    "modality, in that order."
                )
            yield case.case_id, volume

    def segment(
        self, model: keras.Model, volume: Volume, settings: MSDSettings, config: Mapping[str, Any]
    ) -> np.ndarray:
        image = volume.array if volume.array.ndim == 4 else volume.array[..., None]
        return predict_volume(model, image, settings)

    def synth(self, out: Path, cases: int = 20, seed: int = 0, task: str = "hippocampus") -> Path:
        """Write a twin of an MSD task (``hippocampus``, ``liver`` or ``spleen``) into ``out``."""
        write_msd_twin(out, task, n_cases=cases, seed=seed)
        return Path(out)


RECIPE = register(MSDRecipe())


train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
settings, run_settings = RECIPE.settings, RECIPE.run_settings
