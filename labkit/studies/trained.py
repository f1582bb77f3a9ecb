"""A finished run, opened to predict: :class:`TrainedRun`.

Training and using a trained run are separate objects here, as nnU-Net separates its trainer
from its predictor (Isensee et al. 2021): a :class:`labkit.studies.recipe.Recipe` trains and
fills a run folder; :meth:`TrainedRun.open` reads that folder back (the model, or the folds'
models averaged, mirrored with test-time augmentation; the settings; ``config.json``) and
predicts new images, or scores the run's test cases again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labkit.ensemble import Averaged
from labkit.runfolder import RunFolder
from labkit.studies.common import in_frame, save_in_source
from labkit.studies.context import RunContext, bounded_split
from labkit.studies.heldout import write_held_out
from labkit.volume import Volume

__all__ = ["TrainedRun"]


@dataclass
class TrainedRun:
    """A finished run (or cross-validation) of one study, ready to predict.

    Attributes:
        recipe: The study's recipe (its ``segment`` and ``images`` hooks are used).
        folder: The run folder.
        model: The best model, or an :class:`labkit.ensemble.Averaged` of the folds' models
            and of mirrored inputs.
        settings: The settings it was trained with, overrides included.
        config: Its ``config.json``.
        tta: Whether its inputs are mirrored (test-time augmentation).
        ensemble: Whether it averages the folds of a cross-validation.

    Example:
        >>> from labkit.studies import phh  # doctest: +SKIP
        >>> trained = TrainedRun.open(phh.RECIPE, "runs/phh", tta=True)  # doctest: +SKIP
        >>> trained.predict("new_scans/", "labels/")  # doctest: +SKIP
    """

    recipe: Any
    folder: RunFolder
    model: Any
    settings: Any
    config: dict[str, Any]
    tta: bool = False
    ensemble: bool = False

    @classmethod
    def open(
        cls, recipe: Any, run: str | Path, tta: bool = False, ensemble: bool = False
    ) -> TrainedRun:
        """Read a finished run folder.

        Args:
            recipe: The study's recipe.
            run: A run folder, or with ``ensemble`` a folder of ``labkit train --folds K``.
            tta: Average each model over every mirrored copy of its input, flipped back
                (:class:`labkit.ensemble.Averaged`), over the axes its training flipped (the
                settings' ``flip_axes``).
            ensemble: Average the probabilities of every fold's model.

        Raises:
            FileNotFoundError: If ``run`` is not a finished run (or cross-validation folder).
            ValueError: If ``run`` belongs to another study, if ``tta`` is asked of a run whose
                augmentation flips nothing, or if ``ensemble`` is asked of a single run (or a
                cross-validation folder is given without it).
        """
        folder = RunFolder(run)
        folds = folder.folds(ensemble)
        config = folder.config()
        settings = recipe.run_settings(run, config)
        models = [f.model() for f in folds] if folds else [folder.model()]
        axes = tuple(int(a) for a in settings.flip_axes) if tta else ()
        if tta and not axes:
            raise ValueError(
                f"{run}: the {recipe.name} run's augmentation flips no axis, so test-time "
                "augmentation by mirroring would show the network images unlike any it was "
                "trained on. Train with --set flip_axes=[0] (random flips of the first axis) "
                "to use --tta."
            )
        model = models[0] if len(models) == 1 and not axes else Averaged(models, axes)
        return cls(recipe, folder, model, settings, config, tta, ensemble)

    def label_map(self, volume: Volume) -> np.ndarray:
        """Label map ``(x, y, z)`` uint8 of one volume already in the run's frame, post-processed
        as the run chose (:meth:`labkit.studies.recipe.Recipe.label_map`)."""
        return self.recipe.label_map(self.model, volume, self.settings, self.config)

    def predict(self, input_dir: str | Path, output_dir: str | Path) -> list[Path]:
        """Segment every image of ``input_dir``; write ``<case id>.nii.gz`` label maps on each
        image's own grid, affine and header.

        Each image is first put in the orientation the run was trained in
        (:func:`labkit.studies.common.in_frame`) and its labels put back after.

        Args:
            input_dir: A folder in the study's layout, or of plain ``.nii.gz`` images.
            output_dir: Folder for the label maps.

        Returns:
            The files written.
        """
        written = []
        for case_id, volume in self.recipe.images(Path(input_dir), self.config):
            framed = in_frame(volume, self.config.get("orientation"))
            path = Path(output_dir) / f"{case_id}.nii.gz"
            written.append(save_in_source(self.label_map(framed), framed, volume, path))
        return written

    def test_cases(self, data: str | Path) -> list[Any]:
        """The run's test cases (``split.json`` order), read again from ``data``, the folder it
        was trained on."""
        by_id = {c.case_id: c for c in self.recipe.load(Path(data), self.settings).cases}
        return [by_id[i] for i in self.folder.split()["test"]]

    def evaluate(self, data: str | Path, out: str | Path) -> dict[str, Any]:
        """Score the run's test cases again into a new folder (``metrics.csv``,
        ``summary.json``): the same cases and metrics as the run's own, so the two summaries
        compare move for move (with test-time augmentation, or as an ensemble, as opened).

        Args:
            data: The dataset folder it was trained on.
            out: Folder for the results (created; not the run folder).

        Returns:
            The summary, with ``tta``, ``ensemble`` and ``predict_seconds`` (the wall time of
            predicting and scoring the test cases).
        """
        out = Path(out)
        if out.resolve() == self.folder.path.resolve():
            raise ValueError(
                f"evaluate would overwrite the run's own results in {self.folder.path}; give "
                "another folder."
            )
        cohort = self.recipe.load(Path(data), self.settings)
        split = self.folder.split()
        if "folds" in split:  # a cross-validation: every fold's validation cases trained others
            split = {"train": sorted(i for f in split["folds"] for i in f["val"]), **split}
        split = bounded_split({"train": [], "val": [], **split}, self.settings)
        profile, seed = self.config["profile"], self.config["seed"]
        run = RunContext(out, profile, self.settings, seed, cohort, split, self.config)
        out.mkdir(parents=True, exist_ok=True)
        extra = {"tta": self.tta, "ensemble": self.ensemble}
        return write_held_out(self.recipe, run, self.model, extra, time.perf_counter())
