"""The recipe skeleton: the twelve steps every study's ``train`` takes, written once.

A study recipe is a :class:`Recipe` subclass that fills in a few hooks, with the same names in
every study, so that "how does the WMH study prepare its inputs?" is answered by opening
``WMHRecipe.inputs``, and the same question of any other study by the method of the same name.
Seven hooks are abstract (a study that leaves one out cannot be instantiated); the others have
defaults that most studies keep. ``tests/test_toy_study.py`` is the smallest complete study, on
2D blobs, and the place to start when adding one.

========================  ============================================================
hook                      what the study says there
========================  ============================================================
``load`` (required)       how its dataset folder is read (a cohort with ``cases``)
``inputs`` (required)     the training and validation data, and facts for ``config.json``
``model`` (required)      the compiled network
``score`` (required)      the metric rows of one held-out case
``images`` (required)     the images ``predict`` reads from a folder, one volume a case
``segment`` (required)    one volume's label map with a trained model
``synth`` (required)      its synthetic twin cohort, in the real layout
``adapt``                 settings that depend on the cohort (default: none)
``split``                 which cases train, validate and test (default: by ``fractions``)
``read``                  how one case is read (default: :func:`load_case`)
``describe``              what ``predict`` needs to know (labels, modalities, orientation)
``tune``                  choices made on validation cases after training (default: none)
``report``                what the summary adds to the per-label metrics (default: none)
``combine``               the folds' ``config.json`` merged into the ensemble's
========================  ============================================================

:meth:`Recipe.train` runs the steps: settings, seed, load, split, ``split.json``, inputs, fit,
best model, the choices made on validation cases, ``config.json``, held-out predictions and
scores, ``metrics.csv`` and ``summary.json`` (:class:`labkit.runfolder.RunFolder` owns the run
folder's files). Using a finished run is another object's work,
:class:`labkit.studies.trained.TrainedRun` (as nnU-Net separates its predictor from its
trainer): it reads the run's settings and model, puts each image in the frame the run was
trained in, segments it and writes the labels on the image's own grid (:meth:`Recipe.predict`
is its shortcut), or scores the run's test cases again.

Three moves of nnU-Net (Isensee et al. 2021) are options of every recipe: the
``largest_component="auto"`` setting (:mod:`labkit.postprocessing`, chosen on validation cases
by :mod:`labkit.studies.heldout`), k-fold cross-validation (:mod:`labkit.studies.crossval`),
and ``tta``/``ensemble`` when predicting (:class:`labkit.ensemble.Averaged`). ``CONTRIBUTING.md``
says how to add a study.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import keras

from labkit.batches import first_batches
from labkit.callbacks import EpochLine
from labkit.config import env_settings
from labkit.datasets.base import LoadedCase, check_held_out, load_case
from labkit.hardware import placement, precision
from labkit.lock import hold
from labkit.postprocessing import apply_choice
from labkit.runfolder import RunFolder
from labkit.splits import fold_split, split_ids
from labkit.studies.common import case_orientation
from labkit.studies.context import Inputs, RunContext, bounded_split
from labkit.studies.heldout import choose_components, write_held_out
from labkit.studies.settings import profile_settings, split_seed
from labkit.studies.trained import TrainedRun
from labkit.training import fit, seed_everything
from labkit.volume import Volume

__all__ = ["Recipe"]


class Recipe(abc.ABC):
    """A study recipe: the skeleton's steps, and hooks a study fills in.

    Class attributes:
        name: The study's command-line name.
        profiles: Profile name to settings (frozen dataclasses).
        choices: Settings with a closed set of values, to the values.
        metrics: The columns of ``metrics.csv`` the summary averages.
        labels: Label value to name (background left out), for studies with fixed labels.
        modalities: The input channels' names, for studies with fixed inputs.
        ignore_label: A reference value left out of every Dice (WMH's other pathology).
    """

    name: ClassVar[str]
    profiles: ClassVar[Mapping[str, Any]]
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {}
    metrics: ClassVar[tuple[str, ...]] = ("dice", "hd95", "nsd")
    labels: ClassVar[Mapping[int, str]] = {}
    modalities: ClassVar[tuple[str, ...]] = ()
    ignore_label: ClassVar[int | None] = None

    def settings(self, profile: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """The settings of a profile with some replaced (see
        :func:`labkit.studies.settings.profile_settings`), then those ``LABKIT_SET`` gives
        every training (:func:`labkit.config.env_settings`); checks that concern one study's
        fields live in its settings dataclass's ``__post_init__``."""
        overrides = {**(overrides or {}), **env_settings()}
        return profile_settings(self.name, self.profiles, profile, overrides, self.choices)

    @abc.abstractmethod
    def load(self, data: Path, settings: Any) -> Any:
        """Read the dataset folder: a cohort with ``cases`` (each with a ``case_id``)."""

    def adapt(self, settings: Any, cohort: Any) -> Any:
        """Settings that depend on the cohort (e.g. hold out one case of a tiny one)."""
        return settings

    def split(self, cohort: Any, settings: Any, seed: int) -> dict[str, list[str]]:
        """Case ids of ``train``, ``val`` and ``test``, drawn with ``seed``: by default a
        patient-level split in the shares of the settings' ``fractions`` (train, val, test)."""
        shares = dict(zip(("train", "val", "test"), settings.fractions, strict=True))
        return split_ids(cohort.case_ids, shares, seed)

    def read(self, cohort: Any, case: Any) -> LoadedCase:
        """One case as loaded (refusing bad files, naming them), its image as :meth:`segment`
        takes it and its label map in the values :meth:`segment` writes."""
        return load_case(case)

    @abc.abstractmethod
    def inputs(self, run: RunContext) -> Inputs:
        """Preprocess the training and validation cases into the data ``fit`` reads."""

    def describe(self, run: RunContext) -> dict[str, Any]:
        """``config.json`` entries that ``predict`` needs: ``labels``, ``modalities``,
        ``orientation``, and anything study-specific (default: the class's ``labels`` and
        ``modalities``, and the orientation of the cohort's first case)."""
        return {
            "labels": {str(k): v for k, v in self.labels.items()},
            "modalities": list(self.modalities),
            "orientation": case_orientation(run.cohort.cases[0]),
        }

    @abc.abstractmethod
    def model(self, run: RunContext) -> keras.Model:
        """The compiled network (``run.inputs`` holds what the inputs hook returned)."""

    def tune(self, run: RunContext, model: keras.Model) -> dict[str, Any]:
        """Choices made on the validation cases after training, added to ``config.json``
        (e.g. a threshold); none by default."""
        return {}

    @abc.abstractmethod
    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """Predict one held-out case (with :meth:`label_map`) and return its metric rows (one
        per label)."""

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Summary entries beyond the per-label means (per site, the study's own measure)."""
        return {}

    @abc.abstractmethod
    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """``(case id, volume as loaded)`` for every image ``predict`` finds in ``input_dir``
        (a folder in the study's layout, or plain ``.nii.gz`` files), refusing a volume the run
        cannot read (e.g. the wrong number of channels)."""

    @abc.abstractmethod
    def segment(
        self, model: keras.Model, volume: Volume, settings: Any, config: Mapping[str, Any]
    ) -> Any:
        """Label map ``(x, y, z)`` uint8 of one volume, already in the run's frame."""

    def combine(self, configs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The ensemble's ``config.json`` from its folds' (default: the first fold's, less its
        ``fold``; a study whose ``tune`` chose a value per fold says how to merge them)."""
        return {k: v for k, v in configs[0].items() if k not in ("fold", "largest_component")}

    @abc.abstractmethod
    def synth(self, out: Path, cases: int, seed: int = 0) -> Path:
        """Write a synthetic twin cohort in the study's real layout."""

    # --- the skeleton: what every study shares ------------------------------------------

    def label_map(
        self, model: Any, volume: Volume, settings: Any, config: Mapping[str, Any]
    ) -> Any:
        """:meth:`segment`, then the post-processing the run chose on its validation cases
        (``config["largest_component"]``, :func:`labkit.postprocessing.apply_choice`)."""
        return apply_choice(self.segment(model, volume, settings, config), config)

    def run_settings(self, run: Path, config: Mapping[str, Any] | None = None) -> Any:
        """The settings a finished run was trained with, overrides included (from its
        ``config.json``, or from ``config`` when given).

        Raises:
            FileNotFoundError: If ``run`` is not a finished run.
            ValueError: If the run belongs to another study.
        """
        config = RunFolder(run).config() if config is None else config
        if config.get("study") != self.name:
            raise ValueError(
                f"{run} is a run of the {config.get('study')!r} study, not of {self.name!r}."
            )
        settings = dict(config["settings"])  # as recorded: LABKIT_SET changes no finished run
        return profile_settings(self.name, self.profiles, config["profile"], settings, self.choices)

    def predict(
        self,
        run: Path,
        input_dir: Path,
        output_dir: Path,
        tta: bool = False,
        ensemble: bool = False,
    ) -> list[Path]:
        """Segment every image of ``input_dir`` with a finished run and write the label maps
        on each image's own grid (:meth:`labkit.studies.trained.TrainedRun.predict`; ``tta``
        and ``ensemble`` as :meth:`~labkit.studies.trained.TrainedRun.open`)."""
        return TrainedRun.open(self, run, tta, ensemble).predict(input_dir, output_dir)

    def train(
        self,
        data: Path,
        out: Path,
        profile: str = "quick",
        seed: int = 0,
        overrides: Mapping[str, Any] | None = None,
        fold: tuple[int, int] | None = None,
    ) -> dict[str, Any]:
        """Train on a dataset folder, evaluate the held-out cases, and fill the run folder.

        Args:
            data: Dataset folder in the study's layout.
            out: Run folder (resumed if it holds the same run, refused if another).
            profile: ``"quick"`` or ``"full"``.
            seed: Seed of the split (unless ``split_seed`` is set), the weights, the shuffling
                and the augmentation.
            overrides: Settings to change (``{"epochs": 4}``).
            fold: ``(i, k)``: fold ``i`` of a ``k``-fold cross-validation of the split's
                training and validation cases (:func:`labkit.studies.crossval.train_folds`).

        Returns:
            ``summary.json``: per label the means of :attr:`metrics` over the held-out cases,
            what :meth:`report` adds, and ``train_seconds``.

        Raises:
            FolderLockedError: If another training holds ``out`` (:func:`labkit.lock.hold`).
            ValueError: If ``out`` holds another run, or this run on data that changed
                (:meth:`labkit.runfolder.RunFolder.claim`).
        """
        settings = self.settings(profile, overrides)
        out = Path(out)
        folder = RunFolder(out)
        with hold(out):
            start = time.perf_counter()
            seed_everything(seed)
            cohort = self.load(Path(data), settings)
            settings = self.adapt(settings, cohort)
            folder.claim(self.name, profile, settings, seed, data, fold, cohort.cases)
            split = self.split(cohort, settings, split_seed(settings, seed))
            if fold is not None:
                split = fold_split(split, *fold, seed=split_seed(settings, seed))
            folder.write_split(split)
            check_held_out(cohort.cases, split["test"], lambda case: self.read(cohort, case))
            run = RunContext(out, profile, settings, seed, cohort, bounded_split(split, settings))
            run.inputs = inputs = self.inputs(run)
            head = {"study": self.name, "profile": profile, "settings": asdict(settings)}
            run.config = {**head, **self.describe(run), "seed": seed, **inputs.facts}
            if fold is not None:
                run.config["fold"] = list(fold)
            with (
                precision(settings.precision),
                placement(settings.devices, settings.batch_size) as strategy,
            ):
                result = fit(
                    lambda: self.model(run),
                    first_batches(inputs.train, settings.steps_per_epoch),
                    first_batches(inputs.val, settings.steps_per_epoch),
                    settings.epochs,
                    out,
                    strategy=strategy,
                    callbacks=[EpochLine(settings.epochs)],
                    verbose=0,
                )
            train_seconds = round(time.perf_counter() - start, 1)
            model = result.best_model()
            run.config.update(self.tune(run, model))
            if settings.largest_component == "auto":
                # a tiny cohort may validate on its training cases
                trained = set(run.split["train"])
                val = [c for c in run.split["val"] if c not in trained]
                run.config["largest_component"] = choose_components(self, run, [(model, val)])
            folder.write_config(run.config)
            return write_held_out(self, run, model, {"train_seconds": train_seconds})
