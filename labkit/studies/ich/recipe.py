"""The haemorrhage recipe: the skeleton's hooks filled in with the study's steps."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np

from labkit.datasets.base import Cohort, LoadedCase, load_case
from labkit.datasets.ich import LABELS, LAYOUT, load_instance, write_ich_twin
from labkit.pipeline import slice_dataset
from labkit.studies import register
from labkit.studies.common import single_channel_volumes
from labkit.studies.context import Inputs, RunContext
from labkit.studies.ich.scoring import (
    patient_rows,
)
from labkit.studies.ich.steps import (
    build_model,
    predict_probabilities,
    predict_volume,
    prepare,
)
from labkit.studies.recipe import Recipe
from labkit.studies.settings.ich import PROFILES, ICHSettings
from labkit.studies.trained import TrainedRun
from labkit.volume import Volume

__all__ = [
    "RECIPE",
    "ICHRecipe",
    "held_out_predictions",
    "predict",
    "run_settings",
    "settings",
    "synth",
    "train",
]


def held_out_predictions(
    run: Path, data: Path
) -> dict[str, tuple[LoadedCase, np.ndarray, np.ndarray]]:
    """Predict a finished run's test patients again, before any post-processing.

    Args:
        run: Run folder (``model.keras``, ``config.json``, ``split.json``).
        data: The INSTANCE folder the run was trained on.

    Returns:
        Case id (in ``split.json`` order) to ``(loaded case, probability (x, y, z), intracranial
        mask (x, y, z))`` on the case's own grid; thresholding the probability at 0.5 gives what
        ``train`` scored when the run's settings had no post-processing.
    """
    trained = TrainedRun.open(RECIPE, run)
    out = {}
    for case in trained.test_cases(data):
        loaded = load_case(case)
        probs, brain = predict_probabilities(
            trained.model, loaded.image.array, loaded.image.spacing, trained.settings
        )
        out[case.case_id] = (loaded, probs, brain)
    return out


class ICHRecipe(Recipe):
    """The haemorrhage study's hooks of the recipe skeleton
    (:class:`labkit.studies.recipe.Recipe`)."""

    name = "ich"
    profiles = PROFILES
    labels = LABELS
    modalities = ("CT",)
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {"normalisation": ("fixed", "patient")}
    metrics = ("dice", "hd", "hd95", "nsd", "rvd", "fp_components")

    def load(self, data: Path, settings: ICHSettings) -> Cohort:
        return load_instance(data)

    def inputs(self, run: RunContext) -> Inputs:
        """The chosen slices (:func:`select_slices`) of the training and validation patients;
        the lesion-free ones drawn with the run's seed."""
        settings, seed = run.settings, run.seed
        rng = np.random.default_rng(seed)
        x_train, y_train = prepare(run.cases("train"), settings, "training slices", rng)
        x_val, y_val = prepare(run.cases("val"), settings, "validation slices", rng)
        facts = {
            "train_slices": len(x_train),
            "train_lesion_slices": int(y_train.reshape(len(y_train), -1).any(axis=1).sum()),
            "val_slices": len(x_val),
        }
        return Inputs(
            slice_dataset(
                x_train, y_train, settings.batch_size, True, settings.flip_axes, seed=seed
            ),
            slice_dataset(x_val, y_val, settings.batch_size),
            facts,
        )

    def model(self, run: RunContext) -> keras.Model:
        return build_model(run.settings)

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """Every axial slice of the patient predicted, stacked, post-processed as the settings
        say, and scored per patient."""
        settings = run.settings
        loaded = self.read(run.cohort, run.case(case_id))
        mask = self.label_map(model, loaded.image, settings, run.config)
        return patient_rows(mask, loaded, case_id, settings.nsd_tolerance_mm)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {"train_slices": run.config["train_slices"]}

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """The CTs (in HU) of an INSTANCE folder (``data/``) or of a plain folder."""
        return single_channel_volumes(input_dir, LAYOUT, "CT")

    def segment(
        self, model: keras.Model, volume: Volume, settings: ICHSettings, config: Mapping[str, Any]
    ) -> np.ndarray:
        image = volume.array.reshape(*volume.shape[:3], 1)
        return predict_volume(model, image, volume.spacing, settings)

    def synth(self, out: Path, cases: int = 24, seed: int = 0) -> Path:
        """Write a synthetic haemorrhage cohort (INSTANCE ``data/`` + ``label/``) into ``out``."""
        write_ich_twin(out, n_cases=cases, seed=seed)
        return Path(out)


RECIPE = register(ICHRecipe())


train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
settings, run_settings = RECIPE.settings, RECIPE.run_settings
