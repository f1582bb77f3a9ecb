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
from labkit.pipeline import slice_dataset
from labkit.postprocessing import apply_choice
from labkit.studies import register
from labkit.studies.common import single_channel_volumes
from labkit.studies.context import Inputs, RunContext
from labkit.studies.phh.steps import (
    LABELS,
    build_model,
    csf_probability,
    predict_volume,
    prepare,
    preprocess,
    to_source,
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
        """The case's metrics, and the study's own measure on its preprocessed slices
        (``slice_accuracy``: pixels where the probability above 0.5 matches the mask, as Keras's
        ``BinaryAccuracy``; ``slice_accuracy_no_csf``: the same for a model that predicts no CSF
        at all), from one prediction of its slices."""
        loaded = self.read(run.cohort, run.case(case_id))
        image = loaded.image.array.reshape(*loaded.image.shape[:3], 1)
        pre, mask, records = preprocess(image, run.settings, loaded.label.array)
        probs = csf_probability(model, pre, run.settings)
        pred = apply_choice(to_source(probs, records), run.config)
        rows = evaluate_labels(pred, loaded.label.array, LABELS, loaded.image.spacing, case=case_id)
        csf = mask > 0.5
        accuracy = {
            "slice_accuracy": float(np.mean((probs > 0.5) == csf)),
            "slice_accuracy_no_csf": float(1.0 - np.mean(csf)),
        }
        return [{**row, **accuracy} for row in rows]

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The study's own measure over all test slices: every case is a cube of ``size``
        slices, so the pooled pixel accuracy is the mean of the cases' (:meth:`score`)."""
        return {
            "test_slice_accuracy": float(np.mean([r["slice_accuracy"] for r in rows])),
            "test_slice_accuracy_no_csf": float(
                np.mean([r["slice_accuracy_no_csf"] for r in rows])
            ),
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
