"""The WMH recipe: the skeleton's hooks, the tuned threshold, and repeated runs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np

from labkit import experiments
from labkit.checks import check_image
from labkit.datasets.base import Cohort, load_case
from labkit.datasets.wmh import IGNORE_LABEL, LABELS, LAYOUT, load_wmh, write_wmh_twin
from labkit.evaluation import summarize
from labkit.io import load_nifti, nifti_files
from labkit.progress import progress
from labkit.studies import register
from labkit.studies.context import Inputs, RunContext
from labkit.studies.recipe import Recipe
from labkit.studies.settings.wmh import PROFILES, WMHSettings
from labkit.studies.wmh.scoring import (
    CHALLENGE_METRICS,
    challenge_rows,
    choose_threshold,
    run_threshold,
)
from labkit.studies.wmh.steps import (
    INPUTS,
    build_model,
    predict_probability,
    predict_volume,
    prepare,
    split_cohort,
    training_data,
    validation_data,
)
from labkit.volume import Volume

__all__ = [
    "RECIPE",
    "WMHRecipe",
    "ablation_variants",
    "predict",
    "repeat_runs",
    "run_settings",
    "settings",
    "synth",
    "train",
]


def ablation_variants(settings: WMHSettings) -> dict[str, dict[str, Any]]:
    """The study's ablation as overrides of a profile: each choice undone on its own.

    Without augmentation the training set is ``1 + copies`` times smaller, so that variant
    trains that many times more epochs: the same number of gradient steps as the faithful run,
    so that augmentation is not credited with what is only longer training.
    """
    return {
        "faithful": {},
        "no augmentation": {"copies": 0, "epochs": settings.epochs * (1 + settings.copies)},
        "3x3x3 kernels": {"kernel": (3, 3, 3)},
    }


def repeat_runs(
    data: Path,
    out: Path,
    profile: str,
    seeds: Sequence[int],
    variants: Mapping[str, Mapping[str, Any]],
    unseen_sites: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Train every variant with every seed on the same split, and leave-one-site-out runs.

    Args:
        data: A folder in the challenge layout.
        out: Folder for the run folders.
        profile: ``"quick"`` or ``"full"``.
        seeds: Seeds (each draws the weights, the shuffling and the augmentation; the split is
            drawn with seed 0 for all, so that every run tests the same subjects).
        variants: Name to overrides (see :func:`ablation_variants`).
        unseen_sites: Sites to leave out in turn, with the first variant's settings (variant
            name ``"unseen <site>"``).

    Returns:
        One record per run: ``seed``, ``variant``, ``dice`` (test subject to Dice on its own
        grid), ``train_seconds``.
    """
    same_split = {"split_seed": 0}
    records = experiments.repeat(train, data, out, profile, seeds, variants, same_split)
    first = dict(next(iter(variants.values()), {}))
    unseen = {f"unseen {s}": {**first, "test_site": s} for s in unseen_sites}
    return records + experiments.repeat(train, data, out, profile, seeds, unseen, same_split)


def _flairs(input_dir: Path) -> Iterator[tuple[str, Path]]:
    folder = Path(input_dir)
    if LAYOUT.matches(folder):
        for case in load_wmh(folder).cases:
            yield case.case_id, case.images[0]
        return
    files = nifti_files(folder)
    if not files:
        raise FileNotFoundError(
            f"no FLAIR images in {folder}; expected {LAYOUT.describe()} or a folder of FLAIR "
            ".nii.gz files."
        )
    yield from files.items()


class WMHRecipe(Recipe):
    """The WMH study's hooks of the recipe skeleton (:class:`labkit.studies.recipe.Recipe`)."""

    name = "wmh"
    profiles = PROFILES
    labels = LABELS
    ignore_label = IGNORE_LABEL
    modalities = ("FLAIR",)
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {"input": INPUTS}
    metrics = CHALLENGE_METRICS

    def load(self, data: Path, settings: WMHSettings) -> Cohort:
        return load_wmh(data)

    def split(self, cohort: Cohort, settings: WMHSettings, seed: int) -> dict[str, list[str]]:
        return split_cohort(cohort, settings, seed)

    def inputs(self, run: RunContext) -> Inputs:
        """Whole resized volumes or patches (:func:`training_data`, :func:`validation_data`)."""
        settings, seed = run.settings, run.seed
        xs, ys = prepare(run.cohort, run.split["train"], settings, "training volumes")
        train_data, n_train = training_data(xs, ys, settings, seed)
        val_volumes = prepare(run.cohort, run.split["val"], settings, "validation volumes")
        facts = {"train_volumes": n_train, "val_volumes": len(run.split["val"])}
        return Inputs(train_data, validation_data(*val_volumes, settings, seed), facts)

    def model(self, run: RunContext) -> keras.Model:
        return build_model(run.settings)

    def tune(self, run: RunContext, model: keras.Model) -> dict[str, Any]:
        """With ``tune_threshold``, the threshold with the best validation Dice
        (:func:`choose_threshold`) and the Dice of each candidate."""
        if not run.settings.tune_threshold:
            return {}
        probs, refs = [], []
        for case in progress(run.cases("val"), "choosing the threshold"):
            loaded = load_case(case)
            image = loaded.image.array[..., :1]
            probs.append(predict_probability(model, image, loaded.image.spacing, run.settings))
            refs.append(loaded.label.array)
        threshold, tuning = choose_threshold(probs, refs)
        return {"threshold": threshold, "val_dice": tuning}

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """The challenge's metrics of one subject, with its site."""
        settings = run.settings
        case = run.case(case_id)
        loaded = self.read(run.cohort, case)
        pred = self.label_map(model, loaded.image, settings, run.config)
        spacing = loaded.image.spacing
        return challenge_rows(pred, loaded.label.array, spacing, case_id, case.meta["site"])

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The metrics per site, the training volumes and the threshold used."""
        return {
            "sites": {
                site: summarize([r for r in rows if r["site"] == site], CHALLENGE_METRICS)[0]
                for site in dict.fromkeys(r["site"] for r in rows)
            },
            "train_volumes": run.config["train_volumes"],
            "threshold": run_threshold(run.config, run.settings),
        }

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """The FLAIRs of a challenge folder or of a plain folder of ``.nii.gz`` files."""
        for case_id, path in progress(list(_flairs(input_dir)), "predicting"):
            yield case_id, check_image(load_nifti(path, ndim=3))

    def segment(
        self, model: keras.Model, volume: Volume, settings: WMHSettings, config: Mapping[str, Any]
    ) -> np.ndarray:
        """The mask at the run's threshold (the one chosen on validation, if it chose one)."""
        threshold = run_threshold(config, settings)
        flair = volume.array[..., :1] if volume.array.ndim == 4 else volume.array[..., None]
        return predict_volume(model, flair, volume.spacing, settings, threshold)

    def combine(self, configs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The first fold's configuration, with the mean of the folds' tuned thresholds (each
        chosen on its own validation subjects) when they tuned one."""
        merged = super().combine(configs)
        if all("threshold" in c for c in configs):
            merged["threshold"] = float(np.mean([c["threshold"] for c in configs]))
            merged["val_dice"] = [c["val_dice"] for c in configs]
        return merged

    def synth(self, out: Path, cases: int = 20, seed: int = 0) -> Path:
        """Write a synthetic WMH cohort in the challenge layout: ``cases`` subjects per site."""
        write_wmh_twin(out, n_per_site=cases, seed=seed)
        return Path(out)


RECIPE = register(WMHRecipe())


train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
settings, run_settings = RECIPE.settings, RECIPE.run_settings
