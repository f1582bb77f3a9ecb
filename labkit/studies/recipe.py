"""The recipe skeleton: the twelve steps every study's ``train`` takes, written once.

A study recipe is a :class:`Recipe` subclass that fills in a few hooks, with the same names in
every study, so that "how does the WMH study prepare its inputs?" is answered by opening
``WMHRecipe.inputs``, and the same question of any other study by the method of the same name:

========================  ============================================================
hook                      what the study says there
========================  ============================================================
``settings``              its profiles, and the checks its settings need
``load``                  how its dataset folder is read (a cohort with ``cases``)
``adapt``                 settings that depend on the cohort (default: none)
``split``                 which cases train, validate and test
``read``                  how one case is read (the held-out check and the scoring)
``inputs``                the training and validation data, and facts for ``config.json``
``describe``              what ``predict`` needs to know (labels, modalities, orientation)
``model``                 the compiled network
``tune``                  choices made on validation cases after training (default: none)
``score``                 the metric rows of one held-out case
``report``                what the summary adds to the per-label metrics
``images``                the images ``predict`` reads from a folder, one volume a case
``segment``               one volume's label map with a trained model
``synth``                 its synthetic twin cohort, in the real layout
========================  ============================================================

:meth:`Recipe.train` runs the steps: settings, seed, load, split, ``split.json``, inputs,
``config.json``, fit, best model, held-out predictions and scores, ``metrics.csv``, and
``summary.json`` (see :mod:`labkit.studies.runs` for the run folder's files).
:meth:`Recipe.predict` reads a run's settings and model, puts each image in the frame the run
was trained in, segments it and writes the labels on the image's own grid.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import keras

from labkit.datasets.base import load_case
from labkit.evaluation import summarize, write_metrics_csv
from labkit.hardware import placement, precision
from labkit.io import Volume
from labkit.splits import split_ids
from labkit.studies.common import case_orientation, in_frame, save_in_source
from labkit.studies.runs import (
    check_held_out,
    claim_run,
    load_run_model,
    progress,
    read_config,
    write_json,
)
from labkit.studies.settings import profile_settings, split_seed
from labkit.training import fit, seed_everything

__all__ = ["Inputs", "Recipe", "RunContext"]


@dataclass
class RunContext:
    """What the hooks of one training run share.

    Attributes:
        out: The run folder.
        profile: The profile's name (``"quick"``, ``"full"``).
        settings: The run's settings (the study's profile dataclass, overrides applied).
        seed: The run's seed (weights, shuffling, augmentation).
        cohort: What :meth:`Recipe.load` returned.
        split: Case ids per subset (``train``, ``val``, ``test``).
        config: ``config.json`` as written so far.
    """

    out: Path
    profile: str
    settings: Any
    seed: int
    cohort: Any
    split: dict[str, list[str]]
    config: dict[str, Any] = field(default_factory=dict)

    def cases(self, subset: str) -> list[Any]:
        """The cohort's cases of one subset, in the split's order."""
        by_id = {c.case_id: c for c in self.cohort.cases}
        return [by_id[i] for i in self.split[subset]]

    def case(self, case_id: str) -> Any:
        """The cohort's case with this id."""
        return next(c for c in self.cohort.cases if c.case_id == case_id)


@dataclass
class Inputs:
    """What :meth:`Recipe.inputs` returns.

    Attributes:
        train: Training data for :func:`labkit.training.fit` (a ``tf.data.Dataset`` or any
            iterable of batches Keras takes).
        val: Validation data.
        facts: Entries for ``config.json`` (slice or volume counts).
    """

    train: Any
    val: Any
    facts: dict[str, Any] = field(default_factory=dict)


class Recipe:
    """A study recipe: the skeleton's steps, and hooks a study fills in.

    Class attributes:
        name: The study's command-line name.
        description: One line for ``labkit --help``.
        profiles: Profile name to settings (frozen dataclasses).
        choices: Settings with a closed set of values, to the values.
        metrics: The columns of ``metrics.csv`` the summary averages.
        labels: Label value to name (background left out), for studies with fixed labels.
        modalities: The input channels' names, for studies with fixed inputs.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    profiles: ClassVar[Mapping[str, Any]]
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {}
    metrics: ClassVar[tuple[str, ...]] = ("dice", "hd95", "nsd")
    labels: ClassVar[Mapping[int, str]] = {}
    modalities: ClassVar[tuple[str, ...]] = ()

    # --- hooks ---------------------------------------------------------------------------

    def settings(self, profile: str, overrides: Mapping[str, Any] | None = None) -> Any:
        """The settings of a profile with some replaced (see
        :func:`labkit.studies.settings.profile_settings`); a study adds its own checks."""
        return profile_settings(self.name, self.profiles, profile, overrides, self.choices)

    def load(self, data: Path, settings: Any) -> Any:
        """Read the dataset folder: a cohort with ``cases`` (each with a ``case_id``)."""
        raise NotImplementedError

    def adapt(self, settings: Any, cohort: Any) -> Any:
        """Settings that depend on the cohort (e.g. hold out one case of a tiny one)."""
        return settings

    def split(self, cohort: Any, settings: Any, seed: int) -> dict[str, list[str]]:
        """Case ids of ``train``, ``val`` and ``test``, drawn with ``seed``: by default a
        patient-level split in the shares of the settings' ``fractions`` (train, val, test)."""
        shares = dict(zip(("train", "val", "test"), settings.fractions, strict=True))
        return split_ids(cohort.case_ids, shares, seed)

    def read(self, cohort: Any, case: Any) -> Any:
        """One case as loaded (refusing bad files, naming them)."""
        return load_case(case)

    def inputs(self, run: RunContext) -> Inputs:
        """Preprocess the training and validation cases into the data ``fit`` reads."""
        raise NotImplementedError

    def describe(self, run: RunContext) -> dict[str, Any]:
        """``config.json`` entries that ``predict`` needs: ``labels``, ``modalities``,
        ``orientation``, and anything study-specific (default: the class's ``labels`` and
        ``modalities``, and the orientation of the cohort's first case)."""
        return {
            "labels": {str(k): v for k, v in self.labels.items()},
            "modalities": list(self.modalities),
            "orientation": case_orientation(run.cohort.cases[0]),
        }

    def model(self, run: RunContext) -> keras.Model:
        """The compiled network (``run.config`` holds what the inputs hook found)."""
        raise NotImplementedError

    def tune(self, run: RunContext, model: keras.Model) -> dict[str, Any]:
        """Choices made on the validation cases after training, added to ``config.json``
        (e.g. a threshold); none by default."""
        return {}

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """Predict one held-out case and return its metric rows (one per label)."""
        raise NotImplementedError

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Summary entries beyond the per-label means (per site, the study's own measure)."""
        return {}

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """``(case id, volume as loaded)`` for every image ``predict`` finds in ``input_dir``
        (a folder in the study's layout, or plain ``.nii.gz`` files), refusing a volume the run
        cannot read (e.g. the wrong number of channels)."""
        raise NotImplementedError

    def segment(
        self, model: keras.Model, volume: Volume, settings: Any, config: Mapping[str, Any]
    ) -> Any:
        """Label map ``(x, y, z)`` uint8 of one volume, already in the run's frame."""
        raise NotImplementedError

    def synth(self, out: Path, cases: int, seed: int = 0) -> Path:
        """Write a synthetic twin cohort in the study's real layout."""
        raise NotImplementedError

    # --- the skeleton --------------------------------------------------------------------

    def predict(self, run: Path, input_dir: Path, output_dir: Path) -> list[Path]:
        """Segment every image of ``input_dir`` with a finished run; write ``<case id>.nii.gz``
        label maps on each image's own grid, affine and header.

        Each image is first put in the orientation the run was trained in
        (:func:`labkit.studies.common.in_frame`) and its labels put back after.
        """
        config = read_config(run)
        settings = self._settings_of(run, config)
        model = load_run_model(Path(run))
        written = []
        for case_id, volume in self.images(Path(input_dir), config):
            framed = in_frame(volume, config.get("orientation"))
            labels = self.segment(model, framed, settings, config)
            path = Path(output_dir) / f"{case_id}.nii.gz"
            written.append(save_in_source(labels, framed, volume, path))
        return written

    def run_settings(self, run: Path) -> Any:
        """The settings a finished run was trained with, overrides included.

        Raises:
            ValueError: If the run belongs to another study.
        """
        return self._settings_of(run, read_config(run))

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
        settings = self.run_settings(run)
        model = load_run_model(Path(run))
        by_id = {c.case_id: c for c in self.load(Path(data), settings).cases}
        test = json.loads((Path(run) / "split.json").read_text())["test"]
        return model, settings, [by_id[i] for i in test]

    def train(
        self,
        data: Path,
        out: Path,
        profile: str = "quick",
        seed: int = 0,
        overrides: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Train on a dataset folder, evaluate the held-out cases, and fill the run folder.

        Args:
            data: Dataset folder in the study's layout.
            out: Run folder (resumed if it holds the same run, refused if another).
            profile: ``"quick"`` or ``"full"``.
            seed: Seed of the split (unless ``split_seed`` is set), the weights, the shuffling
                and the augmentation.
            overrides: Settings to change (``{"epochs": 4}``).

        Returns:
            The summary written to ``summary.json``: ``labels`` (per label, the means of
            :attr:`metrics` over the held-out cases), what :meth:`report` adds, and
            ``train_seconds``.
        """
        settings = self.settings(profile, overrides)
        start = time.perf_counter()
        seed_everything(seed)
        cohort = self.load(Path(data), settings)
        settings = self.adapt(settings, cohort)
        out = claim_run(out, self.name, profile, settings, seed, data)
        split = self.split(cohort, settings, split_seed(settings, seed))
        write_json(out / "split.json", split)
        check_held_out(cohort.cases, split["test"], lambda case: self.read(cohort, case))
        run = RunContext(out, profile, settings, seed, cohort, split)
        inputs = self.inputs(run)
        head = {"study": self.name, "profile": profile, "settings": asdict(settings)}
        run.config = {**head, **self.describe(run), "seed": seed, **inputs.facts}
        write_json(out / "config.json", run.config)
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
                verbose=2,
            )
        train_seconds = round(time.perf_counter() - start, 1)
        model = result.best_model()
        if tuned := self.tune(run, model):
            run.config.update(tuned)
            write_json(out / "config.json", run.config)
        rows: list[dict[str, Any]] = []
        for case_id in progress(split["test"], "evaluating"):
            rows += self.score(run, model, case_id)
        write_metrics_csv(rows, out / "metrics.csv")
        summary = {
            "study": self.name,
            "profile": profile,
            "labels": summarize(rows, metrics=self.metrics),
            **self.report(run, model, rows),
            "train_seconds": train_seconds,
        }
        write_json(out / "summary.json", summary)
        return summary
