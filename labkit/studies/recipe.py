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

:meth:`Recipe.train` runs the steps: settings, seed, load, split, ``split.json``, inputs,
``config.json``, fit, best model, held-out predictions and scores, ``metrics.csv``, and
``summary.json`` (:class:`labkit.runfolder.RunFolder` owns the run folder's files).
:meth:`Recipe.predict` reads a run's settings and model, puts each image in the frame the run
was trained in, segments it and writes the labels on the image's own grid.

Three moves of nnU-Net (Isensee et al. 2021) are options of every recipe:

- ``largest_component="auto"`` (a setting): after training, each label keeps only its largest
  connected component if that raises its mean Dice on the validation cases
  (:mod:`labkit.postprocessing`); the choice is recorded in ``config.json`` and applied by
  :meth:`Recipe.label_map`, which scoring and ``predict`` both use.
- :meth:`Recipe.train_folds`: patient-level k-fold cross-validation on the training cases (the
  test cases stay out of every fold), one run folder a fold, then the folds' ensemble scored on
  the test cases.
- ``tta`` and ``ensemble`` in :meth:`Recipe.predict` and :meth:`Recipe.evaluate`: mirrored
  inputs and the folds' models averaged (:class:`labkit.ensemble.Averaged`).
"""

from __future__ import annotations

import abc
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import keras

from labkit.callbacks import EpochLine
from labkit.datasets.base import LoadedCase, check_held_out, load_case
from labkit.ensemble import Averaged
from labkit.evaluation import summarize
from labkit.hardware import placement, precision
from labkit.io import Volume
from labkit.lock import hold
from labkit.postprocessing import apply_choice, choose_largest_component
from labkit.progress import progress
from labkit.runfolder import RunFolder
from labkit.splits import fold_split, split_ids
from labkit.studies.common import case_orientation, in_frame, save_in_source
from labkit.studies.context import Inputs, RunContext
from labkit.studies.settings import profile_settings, split_seed
from labkit.training import fit, seed_everything

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

    # --- hooks ---------------------------------------------------------------------------

    def settings(self, profile: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """The settings of a profile with some replaced (see
        :func:`labkit.studies.settings.profile_settings`); checks that concern one study's
        fields live in its settings dataclass's ``__post_init__``."""
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
        """The compiled network (``run.config`` holds what the inputs hook found)."""

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

    # --- the skeleton --------------------------------------------------------------------

    def label_map(
        self, model: Any, volume: Volume, settings: Any, config: Mapping[str, Any]
    ) -> Any:
        """:meth:`segment`, then the post-processing the run chose on its validation cases
        (``config["largest_component"]``, :func:`labkit.postprocessing.apply_choice`)."""
        return apply_choice(self.segment(model, volume, settings, config), config)

    def predictor(
        self, run: Path, tta: bool = False, ensemble: bool = False
    ) -> tuple[Any, Any, dict[str, Any]]:
        """What predicting with a finished run needs: the model (or the folds' averaged
        models, mirrored with ``tta``), the settings and the configuration.

        Args:
            run: A run folder, or with ``ensemble`` a folder of ``labkit train --folds K``.
            tta: Average each model over every mirrored copy of its input, flipped back
                (:class:`labkit.ensemble.Averaged`), over the axes its training flipped
                (the settings' ``flip_axes``).
            ensemble: Average the probabilities of every fold's model.

        Returns:
            ``(model, settings, config)``.

        Raises:
            FileNotFoundError: If ``run`` is not a finished run (or cross-validation folder).
            ValueError: If ``run`` belongs to another study, if ``tta`` is asked of a run whose
                augmentation flips nothing, or if ``ensemble`` is asked of a single run (or a
                cross-validation folder is given without it).
        """
        folder = RunFolder(run)
        folds = folder.folds(ensemble)
        config = folder.config()
        settings = self._settings_of(run, config)
        models = [f.model() for f in folds] if folds else [folder.model()]
        axes = tuple(int(a) for a in settings.flip_axes) if tta else ()
        if tta and not axes:
            raise ValueError(
                f"{run}: the {self.name} run's augmentation flips no axis, so test-time "
                "augmentation by mirroring would show the network images unlike any it was "
                "trained on. Train with --set flip_axes=[0] (random flips of the first axis) "
                "to use --tta."
            )
        if len(models) == 1 and not axes:
            return models[0], settings, config
        return Averaged(models, axes), settings, config

    def predict(
        self,
        run: Path,
        input_dir: Path,
        output_dir: Path,
        tta: bool = False,
        ensemble: bool = False,
    ) -> list[Path]:
        """Segment every image of ``input_dir`` with a finished run; write ``<case id>.nii.gz``
        label maps on each image's own grid, affine and header.

        Each image is first put in the orientation the run was trained in
        (:func:`labkit.studies.common.in_frame`) and its labels put back after.

        Args:
            run: Run folder, or cross-validation folder with ``ensemble``.
            input_dir: A folder in the study's layout, or of plain ``.nii.gz`` images.
            output_dir: Folder for the label maps.
            tta: Mirror the inputs (see :meth:`predictor`).
            ensemble: Average the folds' models (see :meth:`predictor`).
        """
        model, settings, config = self.predictor(run, tta, ensemble)
        written = []
        for case_id, volume in self.images(Path(input_dir), config):
            framed = in_frame(volume, config.get("orientation"))
            labels = self.label_map(model, framed, settings, config)
            path = Path(output_dir) / f"{case_id}.nii.gz"
            written.append(save_in_source(labels, framed, volume, path))
        return written

    def run_settings(self, run: Path) -> Any:
        """The settings a finished run was trained with, overrides included.

        Raises:
            ValueError: If the run belongs to another study.
        """
        return self._settings_of(run, RunFolder(run).config())

    def _settings_of(self, run: Path, config: Mapping[str, Any]) -> Any:
        if config.get("study") != self.name:
            raise ValueError(
                f"{run} is a run of the {config.get('study')!r} study, not of {self.name!r}."
            )
        return self.settings(config["profile"], dict(config["settings"]))

    def held_out(self, run: Path, data: Path) -> tuple[keras.Model, Any, list[Any]]:
        """A finished run's model, its settings and its test cases (``split.json`` order), read
        again from ``data``, the folder it was trained on: what predicting them again needs.

        Raises:
            FileNotFoundError, ValueError: As :meth:`run_settings`.
        """
        folder = RunFolder(run)
        settings = self.run_settings(run)
        model = folder.model()
        by_id = {c.case_id: c for c in self.load(Path(data), settings).cases}
        test = folder.split()["test"]
        return model, settings, [by_id[i] for i in test]

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
            fold: ``(i, k)``: train fold ``i`` of a ``k``-fold cross-validation of the split's
                training and validation cases (:func:`labkit.splits.fold_split`); the test
                cases are the split's, the same in every fold. See :meth:`train_folds`.

        Returns:
            The summary written to ``summary.json``: ``labels`` (per label, the means of
            :attr:`metrics` over the held-out cases), what :meth:`report` adds, and
            ``train_seconds``.

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
            split = self._split(cohort, settings, seed, fold)
            folder.write_split(split)
            check_held_out(cohort.cases, split["test"], lambda case: self.read(cohort, case))
            run = RunContext(out, profile, settings, seed, cohort, split)
            inputs = self.inputs(run)
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
                    inputs.train,
                    inputs.val,
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
                run.config["largest_component"] = self._choose_components(run, [(model, val)])
            folder.write_config(run.config)
            return self._held_out(run, model, {"train_seconds": train_seconds})

    def _split(
        self, cohort: Any, settings: Any, seed: int, fold: tuple[int, int] | None
    ) -> dict[str, list[str]]:
        split = self.split(cohort, settings, split_seed(settings, seed))
        if fold is None:
            return split
        return fold_split(split, *fold, seed=split_seed(settings, seed))

    def _held_out(
        self, run: RunContext, model: Any, extra: Mapping[str, Any], since: float | None = None
    ) -> dict[str, Any]:
        """Score the test cases into ``metrics.csv`` and write ``summary.json`` (with
        ``predict_seconds`` since the ``time.perf_counter()`` value ``since``, if given)."""
        rows: list[dict[str, Any]] = []
        for case_id in progress(run.split["test"], "evaluating"):
            rows += self.score(run, model, case_id)
        summary = {
            "study": self.name,
            "profile": run.profile,
            "labels": summarize(rows, metrics=self.metrics),
            **self.report(run, model, rows),
            **extra,
        }
        if since is not None:
            summary["predict_seconds"] = round(time.perf_counter() - since, 1)
        RunFolder(run.out).write_results(rows, summary)
        return summary

    def _choose_components(
        self, run: RunContext, models: Sequence[tuple[Any, Sequence[str]]]
    ) -> dict[str, Any]:
        """The largest-component choice made on validation cases, each predicted by the model
        it belongs to (``(model, its validation case ids)`` pairs: one for a run, one per fold
        for a cross-validation), without any post-processing."""
        preds, refs, ids = [], [], []
        for model, cases in models:
            for case_id in progress(list(cases), "choosing the post-processing"):
                loaded = self.read(run.cohort, run.case(case_id))
                preds.append(self.segment(model, loaded.image, run.settings, run.config))
                refs.append(loaded.label.array)
                ids.append(case_id)
        labels = [int(k) for k in run.config.get("labels", {}) if int(k) != 0]
        return choose_largest_component(preds, refs, labels, ids, self.ignore_label)

    def train_folds(
        self,
        data: Path,
        out: Path,
        folds: int,
        profile: str = "quick",
        seed: int = 0,
        overrides: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """K-fold cross-validation: one run a fold, then the folds' ensemble on the test cases.

        The split's test cases are set aside as :meth:`train` sets them aside; the training and
        validation cases are pooled and cut by patient into ``folds`` folds
        (:func:`labkit.splits.fold_split`). Run ``i`` (``out/fold_i``) validates on fold ``i``
        and trains on the others, so every pooled case is a validation case exactly once and
        no test case is ever seen. The ensemble (every fold's model, probabilities averaged)
        then predicts the test cases; with ``largest_component="auto"`` its post-processing is
        chosen on the pooled validation cases, each predicted by its own fold's model (the
        out-of-fold predictions nnU-Net chooses on).

        ``out`` then holds ``folds.json`` (the fold folders), ``config.json`` (what
        :meth:`predict` with ``ensemble=True`` needs, :meth:`combine`), ``split.json`` (the
        test cases and every fold's), ``metrics.csv`` and ``summary.json`` (the ensemble's
        held-out results, with each fold's own beside them).

        Args:
            data, profile, seed, overrides: As :meth:`train`.
            out: Folder of the cross-validation (created).
            folds: Number of folds, at least 2.

        Returns:
            The ensemble's summary.
        """
        if folds < 2:
            raise ValueError(
                f"--folds must be at least 2 (each fold validates on 1/k of the training "
                f"cases); got {folds}. Train without --folds for a single run."
            )
        out = Path(out)
        folder = RunFolder(out)
        with hold(out):
            names = [f"fold_{i}" for i in range(folds)]
            fold_summaries = [
                self.train(data, out / name, profile, seed, overrides, fold=(i, folds))
                for i, name in enumerate(names)
            ]
            settings = self.run_settings(out / names[0])
            runs = [RunFolder(out / n) for n in names]
            splits = [r.split() for r in runs]
            configs = [r.config() for r in runs]
            models = [r.model() for r in runs]
            cohort = self.load(Path(data), settings)
            pooled = sorted(i for sp in splits for i in sp["val"])
            split = {"train": pooled, "val": [], "test": splits[0]["test"]}
            run = RunContext(out, profile, settings, seed, cohort, split)
            run.config = {**self.combine(configs), "folds": folds}
            if settings.largest_component == "auto":
                pairs = [(m, sp["val"]) for m, sp in zip(models, splits, strict=True)]
                run.config["largest_component"] = self._choose_components(run, pairs)
            folder.write_config(run.config)
            folder.write_split(
                {
                    "test": split["test"],
                    "folds": [{"train": sp["train"], "val": sp["val"]} for sp in splits],
                }
            )
            folder.write_folds(self.name, profile, seed, names)
            per_fold = [
                {"run": n, "labels": s["labels"]}
                for n, s in zip(names, fold_summaries, strict=True)
            ]
            return self._held_out(run, Averaged(models), {"folds": per_fold})

    def evaluate(
        self, run: Path, data: Path, out: Path, tta: bool = False, ensemble: bool = False
    ) -> dict[str, Any]:
        """Score a finished run's test cases again, with test-time augmentation or as an
        ensemble, into a new folder (``metrics.csv``, ``summary.json``): the same cases and
        metrics as the run's own, so the two summaries compare move for move.

        Args:
            run: Run folder, or cross-validation folder with ``ensemble``.
            data: The dataset folder it was trained on.
            out: Folder for the results (created; not the run folder).
            tta, ensemble: As :meth:`predictor`.

        Returns:
            The summary, with ``tta``, ``ensemble`` and ``predict_seconds`` (the wall time of
            predicting and scoring the test cases).
        """
        out = Path(out)
        if out.resolve() == Path(run).resolve():
            raise ValueError(
                f"evaluate would overwrite the run's own results in {run}; give another folder."
            )
        model, settings, config = self.predictor(run, tta, ensemble)
        cohort = self.load(Path(data), settings)
        split = RunFolder(run).split()
        if "folds" in split:  # a cross-validation: every fold's validation cases trained others
            split = {"train": sorted(i for f in split["folds"] for i in f["val"]), **split}
        split = {"train": [], "val": [], **split}
        ctx = RunContext(out, config["profile"], settings, config["seed"], cohort, split, config)
        out.mkdir(parents=True, exist_ok=True)
        return self._held_out(ctx, model, {"tta": tta, "ensemble": ensemble}, time.perf_counter())
