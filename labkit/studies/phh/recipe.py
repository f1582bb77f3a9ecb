"""The PHH recipe: the skeleton's hooks filled in with :mod:`labkit.studies.phh.steps`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

from labkit.augment import augmented_dataset, slice_augmentation
from labkit.datasets.base import Cohort
from labkit.datasets.phh import LAYOUT, load_phh, write_phh_twin
from labkit.evaluation import evaluate_labels
from labkit.inference import as_predictor
from labkit.pipeline import slice_dataset
from labkit.studies import register
from labkit.studies.common import single_channel_volumes
from labkit.studies.context import Inputs, RunContext
from labkit.studies.phh.steps import (
    LABELS,
    build_model,
    predict_volume,
    prepare,
)
from labkit.studies.recipe import Recipe
from labkit.studies.settings.phh import PROFILES, PHHSettings
from labkit.volume import Volume

__all__ = [
    "RECIPE",
    "PHHRecipe",
    "predict",
    "run_settings",
    "settings",
    "synth",
    "train",
]


class PHHRecipe(Recipe):
    """The PHH study's hooks of the recipe skeleton (:class:`labkit.studies.recipe.Recipe`)."""

    name = "phh"
    profiles = PROFILES
    labels = LABELS
    modalities = ("T2",)

    def load(self, data: Path, settings: PHHSettings) -> Cohort:
        return load_phh(data)

    def inputs(self, run: RunContext) -> Inputs:
        settings, seed = run.settings, run.seed
        x_train, y_train = prepare(run.cases("train"), settings, "training slices")
        x_val, y_val = prepare(run.cases("val"), settings, "validation slices")
        augment = slice_augmentation(
            settings.noise_std,
            settings.rotate_degrees,
            settings.augment_prob,
            seed,
            settings.flip_axes,
        )
        return Inputs(
            augmented_dataset(x_train, y_train, settings.batch_size, augment, seed=seed),
            slice_dataset(x_val, y_val, settings.batch_size),
            {"train_slices": len(x_train), "val_slices": len(x_val)},
        )

    def model(self, run: RunContext) -> keras.Model:
        return build_model(run.settings)

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        loaded = self.read(run.cohort, run.case(case_id))
        pred = self.label_map(model, loaded.image, run.settings, run.config)
        return evaluate_labels(pred, loaded.label.array, LABELS, loaded.image.spacing, case=case_id)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The study's own measure: pixel accuracy over the test patients' preprocessed slices
        (probability above 0.5, as Keras's ``BinaryAccuracy``), beside the accuracy of a model
        that predicts no CSF at all."""
        x_test, y_test = prepare(run.cases("test"), run.settings, "test slices")
        predict, size = as_predictor(model), run.settings.batch_size
        correct = sum(
            int(
                np.count_nonzero(
                    (predict(x_test[i : i + size]) > 0.5) == (y_test[i : i + size] > 0.5)
                )
            )
            for i in range(0, len(x_test), size)
        )
        return {
            "test_slice_accuracy": correct / y_test.size,
            "test_slice_accuracy_no_csf": float(1.0 - y_test.mean()),
        }

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """The T2 volumes of a PHH folder (``images/``) or of a plain folder, one per patient."""
        return single_channel_volumes(input_dir, LAYOUT, "T2")

    def segment(
        self, model: keras.Model, volume: Volume, settings: PHHSettings, config: Mapping[str, Any]
    ) -> np.ndarray:
        return predict_volume(model, volume.array.reshape(*volume.shape[:3], 1), settings)

    def synth(self, out: Path, cases: int = 10, seed: int = 0) -> Path:
        """Write a synthetic PHH cohort (``images/`` + ``masks/``) into ``out``."""
        write_phh_twin(out, n_cases=cases, seed=seed)
        return Path(out)


RECIPE = register(PHHRecipe())


train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
settings, run_settings = RECIPE.settings, RECIPE.run_settings
