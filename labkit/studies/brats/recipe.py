"""The BraTS recipe: the skeleton's hooks filled in with the study's steps."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np

from labkit.datasets.base import LoadedCase
from labkit.datasets.brats import (
    BraTSCohort,
    load_brats,
    load_brats_case,
    write_brats_twin,
)
from labkit.inference import save_prediction
from labkit.labels import CONVENTION_LABELS
from labkit.pipeline import patch_dataset
from labkit.progress import progress
from labkit.studies import register
from labkit.studies.brats.scoring import (
    STUDY_METRICS,
    case_rows,
)
from labkit.studies.brats.steps import (
    BLENDS,
    build_model,
    class_values,
    predict_labels,
    prepare,
    split_cohort,
    validation_data,
)
from labkit.studies.common import case_orientation
from labkit.studies.context import Inputs, RunContext
from labkit.studies.recipe import Recipe
from labkit.studies.settings.brats import PROFILES, BraTSSettings
from labkit.volume import Volume

__all__ = [
    "RECIPE",
    "BraTSRecipe",
    "predict",
    "run_settings",
    "settings",
    "synth",
    "train",
]


class BraTSRecipe(Recipe):
    """The brain-tumour study's hooks of the recipe skeleton
    (:class:`labkit.studies.recipe.Recipe`)."""

    name = "brats"
    profiles = PROFILES
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {
        "blend": BLENDS,
        "convention": ("", *CONVENTION_LABELS),
    }
    metrics = STUDY_METRICS

    def load(self, data: Path, settings: BraTSSettings) -> BraTSCohort:
        return load_brats(data, settings.modalities or None, settings.convention or None)

    def adapt(self, settings: BraTSSettings, cohort: BraTSCohort) -> BraTSSettings:
        """A cohort of fewer than ten cases holds out one case (``holdout=1``) unless the
        settings say otherwise."""
        if len(cohort.cases) < 10 and not (settings.holdout or settings.test_cases):
            return replace(settings, holdout=1)
        return settings

    def split(
        self, cohort: BraTSCohort, settings: BraTSSettings, seed: int
    ) -> dict[str, list[str]]:
        return split_cohort(cohort, settings, seed)

    def read(self, cohort: BraTSCohort, case: Any) -> LoadedCase:
        return load_brats_case(case, cohort.convention)

    def inputs(self, run: RunContext) -> Inputs:
        """Patches drawn afresh every epoch from the training volumes; fixed validation patches
        from the validation volumes, or from the training volumes of a tiny cohort."""
        settings, seed = run.settings, run.seed
        xs, ys = prepare(run.cohort, run.split["train"], settings, "training volumes")
        per_volume = -(-settings.patches_per_epoch // len(xs))
        train_data = patch_dataset(
            xs,
            ys,
            settings.patch,
            per_volume,
            settings.batch_size,
            settings.foreground,
            seed,
            settings.flip_axes,
        )
        small = bool(settings.holdout or settings.test_cases)
        if not small:
            xs, ys = prepare(run.cohort, run.split["val"], settings, "validation volumes")
        facts = {"validation": "patches of the training cases" if small else "validation cases"}
        return Inputs(train_data, validation_data(xs, ys, settings, seed), facts)

    def describe(self, run: RunContext) -> dict[str, Any]:
        cohort = run.cohort
        return {
            "settings": {**asdict(run.settings), "modalities": list(cohort.modalities)},
            "modalities": list(cohort.modalities),
            "orientation": case_orientation(cohort.cases[0]),
            "convention": cohort.convention,
            "labels": {str(k): v for k, v in CONVENTION_LABELS[cohort.convention].items()},
            "layout": cohort.layout,
        }

    def model(self, run: RunContext) -> keras.Model:
        n_classes = len(class_values(run.cohort.convention))
        return build_model(run.settings, len(run.cohort.modalities), n_classes)

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """Predict one test case, keep its label map in the run's ``predictions/``, and score
        it per class and per region (:func:`case_rows`)."""
        convention = run.cohort.convention
        image, labels = self.read(run.cohort, run.case(case_id))
        pred = self.label_map(model, image, run.settings, run.config)
        save_prediction(pred, image, run.out / "predictions" / f"{case_id}.nii.gz")
        return case_rows(pred, labels.array, convention, image.spacing, case_id)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "convention": run.cohort.convention,
            "modalities": list(run.cohort.modalities),
            "train_cases": len(run.split["train"]),
            "test_cases": len(run.split["test"]),
        }

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """Every case of a BraTS or MSD Task01 folder, reading the modalities the run was
        trained on (and saying which one a case lacks)."""
        cohort = load_brats(input_dir, config["modalities"])
        for case in progress(list(cohort.cases), "predicting"):
            image, _ = load_brats_case(replace(case, label=None), config["convention"])
            yield case.case_id, image

    def segment(
        self, model: keras.Model, volume: Volume, settings: BraTSSettings, config: Mapping[str, Any]
    ) -> np.ndarray:
        """The label map in the run's label convention."""
        return predict_labels(model, volume.array, volume.spacing, settings, config["convention"])

    def synth(self, out: Path, cases: int = 16, seed: int = 0, layout: str = "msd") -> Path:
        """Write a synthetic brain-tumour cohort (MSD Task01 layout, or ``layout="brats"``)."""
        write_brats_twin(out, n_cases=cases, seed=seed, layout=layout)
        return Path(out)


RECIPE = register(BraTSRecipe())


train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
settings, run_settings = RECIPE.settings, RECIPE.run_settings
