"""A run folder's files, read and written through one object: :class:`RunFolder`.

``labkit train ... --out RUN`` fills one folder:

==================  =====================================================================
``run.json``        which run it is (study, profile, settings, seed, data and its files);
                    written once, when the run claims the folder (:meth:`RunFolder.claim`)
``split.json``      the case ids of each subset (:meth:`RunFolder.split`)
``state.json`` ...  the checkpoints and ``history.csv``, by :mod:`labkit.checkpoints`
``model.keras``     the best model on validation loss (:meth:`RunFolder.model`)
``config.json``     what ``predict`` needs: study, profile, settings, labels, modalities,
                    preprocessing, the choices made after training, and the versions of
                    labkit, Keras, its backend and Python; written once, after training
``metrics.csv``     held-out metric rows, one per case and label
``summary.json``    their means and what the study adds; written last, so a folder with it
                    is a finished run (:attr:`RunFolder.finished`)
==================  =====================================================================

A cross-validation folder (``labkit train --folds K``) holds one run folder per fold, and
``folds.json`` (their names), ``config.json``, ``split.json``, ``metrics.csv`` and
``summary.json`` of their ensemble. Every JSON file is written atomically.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
import numpy as np

from labkit import __version__
from labkit.datasets.base import Case
from labkit.errors import LabkitError
from labkit.evaluation import read_metrics_csv, write_metrics_csv
from labkit.files import write_text
from labkit.fingerprint import describe_changes, fingerprint_cases
from labkit.saving import load_model

__all__ = ["RunFolder", "versions"]


def versions() -> dict[str, str]:
    """The versions a run was made with: labkit, Keras, the Keras backend and Python."""
    return {
        "labkit": __version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "python": platform.python_version(),
    }


def _clean(v: Any) -> Any:
    """JSON-ready: NaN and infinities become null, NumPy scalars Python numbers."""
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        return _clean(v.item())
    return v


class RunFolder:
    """The files of one run folder (or cross-validation folder).

    Args:
        path: The folder (need not exist yet).

    Example:
        >>> run = RunFolder("runs/phh")  # doctest: +SKIP
        >>> run.split()["test"], run.config()["settings"]["epochs"]  # doctest: +SKIP
    """

    RUN, SPLIT, CONFIG, SUMMARY, FOLDS, METRICS, MODEL = (
        "run.json", "split.json", "config.json", "summary.json", "folds.json", "metrics.csv",
        "model.keras",
    )  # fmt: skip

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _read(self, name: str) -> dict[str, Any]:
        path = self.path / name
        if not path.is_file():
            raise FileNotFoundError(f"{self.path} has no {name}: it is not a labkit run folder.")
        return json.loads(path.read_text())

    def _write(self, name: str, data: Mapping[str, Any]) -> Path:
        return write_text(self.path / name, json.dumps(_clean(dict(data)), indent=1))

    # --- claiming the folder -------------------------------------------------------------

    def claim(
        self,
        study: str,
        profile: str,
        settings: Any,
        seed: int,
        data: Path,
        fold: tuple[int, int] | None,
        cases: Iterable[Case],
    ) -> None:
        """Make the folder this run's (``run.json``), or refuse if it holds another run.

        Training resumes whatever a run folder holds, so a folder reused with other settings
        would continue the old model under them and split the cases again (a held-out case
        could become a training case). A later call goes on only with the same study,
        profile, settings, seed, data folder and fold, and the same data in it: ``run.json``
        records each case's files (:func:`labkit.fingerprint.fingerprint_cases`), and a case
        added, removed or edited since is named and refused.

        Args:
            study, profile, seed: The run's.
            settings: The run's settings (a dataclass).
            data: The dataset folder.
            fold: ``(i, k)`` for fold ``i`` of a ``k``-fold cross-validation, else ``None``.
            cases: The cohort's cases, whose files are fingerprinted.

        Raises:
            ValueError: If the folder holds another run (each difference named), this run on
                data that changed (the cases named), or a run that never claimed it.
        """
        wanted = _clean(  # as run.json reads back: tuples as lists, NaN as null
            {
                "study": study,
                "profile": profile,
                "seed": int(seed),
                "data": str(Path(data).resolve()),
                "settings": asdict(settings),
                **({"fold": list(fold)} if fold is not None else {}),
                "cases": fingerprint_cases(cases),
            }
        )
        if (self.path / self.RUN).is_file():
            held = self._read(self.RUN)
            diffs = [
                f"{k}: {held.get(k)!r} there, {wanted.get(k)!r} now"
                for k in ("study", "profile", "seed", "data", "fold")
                if held.get(k) != wanted.get(k)
            ]
            old = held.get("settings", {})
            diffs += [
                f"{k}: {old.get(k)!r} there, {v!r} now"
                for k, v in wanted["settings"].items()
                if old.get(k) != v
            ]
            if diffs:
                raise ValueError(
                    f"{self.path} holds another run ({'; '.join(diffs)}). A run folder resumes "
                    "only with the same study, profile, settings, seed, data and fold. Choose a "
                    f"new --out folder, or delete {self.path} to start this run from scratch."
                )
            if "cases" in held and (changes := describe_changes(held["cases"], wanted["cases"])):
                raise ValueError(
                    f"{self.path} holds a run trained on other data in {data}: since then "
                    f"{'; '.join(changes)}. Resuming would keep the old model and split the new "
                    "cases again, so a case it trained on could be scored as held-out. Choose a "
                    f"new --out folder for the new data, or delete {self.path} to train again."
                )
            return
        if any((self.path / name).exists() for name in ("state.json", self.CONFIG)):
            raise ValueError(
                f"{self.path} holds the files of a run that did not record its settings (no "
                f"{self.RUN}): it cannot be resumed safely. Choose a new --out folder, or "
                "delete it."
            )
        self._write(self.RUN, wanted)

    def claimed(self) -> dict[str, Any]:
        """``run.json``: the study, profile, seed, data folder, settings and case files of the
        run that claimed the folder."""
        return self._read(self.RUN)

    # --- the files, one accessor each ----------------------------------------------------

    def write_split(self, split: Mapping[str, Any]) -> None:
        """Write ``split.json``: case ids per subset (and per fold in a cross-validation)."""
        self._write(self.SPLIT, split)

    def split(self) -> dict[str, Any]:
        """``split.json``: ``train``, ``val`` and ``test`` case ids (a cross-validation
        folder: ``test``, and ``folds``, each fold's ``train`` and ``val``)."""
        return self._read(self.SPLIT)

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Write ``config.json``, with the versions this process runs (:func:`versions`)."""
        self._write(self.CONFIG, {**config, "versions": versions()})

    @property
    def finished(self) -> bool:
        """Whether the run has written its held-out results (``summary.json``), its last step."""
        return (self.path / self.SUMMARY).is_file()

    def config(self) -> dict[str, Any]:
        """``config.json`` of a finished run or cross-validation.

        Raises:
            FileNotFoundError: If the folder is not a run, or an unfinished one (a run killed
                during training has a ``model.keras``, its best epoch so far, but not the
                model the run would have produced).
        """
        single = (self.path / self.MODEL).is_file()
        if not (self.path / self.CONFIG).is_file() or not (single or self.is_folds):
            raise FileNotFoundError(
                f"{self.path} is not a finished labkit run (expected config.json and "
                "model.keras in it). Train one with `labkit train STUDY --data DIR --out RUN`."
            )
        if not self.finished:
            raise FileNotFoundError(
                f"{self.path} is an unfinished labkit run (no summary.json: its training or "
                "evaluation was interrupted). Run the same `labkit train` command again to "
                "finish it."
            )
        return self._read(self.CONFIG)

    def write_results(self, rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> None:
        """Write ``metrics.csv`` (the rows), then ``summary.json``, which marks the run done."""
        write_metrics_csv(rows, self.path / self.METRICS)
        self._write(self.SUMMARY, summary)

    def metrics(self) -> list[dict[str, Any]]:
        """``metrics.csv``: one row per held-out case and label (numbers as floats)."""
        if not (self.path / self.METRICS).is_file():
            raise FileNotFoundError(f"{self.path} has no {self.METRICS}: the run has not finished.")
        return read_metrics_csv(self.path / self.METRICS)

    def summary(self) -> dict[str, Any]:
        """``summary.json``: the held-out means per label and what the study adds."""
        return self._read(self.SUMMARY)

    def model(self) -> keras.Model:
        """The best model of a finished run (``model.keras``).

        Raises:
            FileNotFoundError: As :meth:`config`.
            LabkitError: If ``model.keras`` is there but does not load (truncated by a copy or
                a full disk, or not a Keras file).
        """
        self.config()
        path = self.path / self.MODEL
        try:
            return load_model(path)
        except Exception as err:  # zipfile, h5py, json and Keras errors alike
            raise LabkitError(
                f"{path} could not be loaded as a Keras model ({path.stat().st_size} bytes; "
                f"{type(err).__name__}: {str(err)[:200]}). The file is truncated or not a Keras "
                "file: copy it again from where it was trained, or train the run again."
            ) from err

    # --- cross-validation ----------------------------------------------------------------

    @property
    def is_folds(self) -> bool:
        """Whether this is a cross-validation folder (it holds ``folds.json``)."""
        return (self.path / self.FOLDS).is_file()

    def write_folds(self, study: str, profile: str, seed: int, runs: Sequence[str]) -> None:
        """Write ``folds.json``: the study, profile, seed and fold folders (relative names)."""
        data = {"study": study, "profile": profile, "seed": int(seed), "runs": list(runs)}
        self._write(self.FOLDS, data)

    def folds(self, ensemble: bool) -> list[RunFolder] | None:
        """The fold runs of a cross-validation folder when ``ensemble`` is asked, ``None`` for
        a single run; a mix-up of the two is refused with what to do instead.

        Raises:
            ValueError: If ``ensemble`` is asked of a single run folder, or a cross-validation
                folder is given without it.
            FileNotFoundError: If a fold listed is not a finished run.
        """
        if not self.is_folds:
            if ensemble:
                raise ValueError(
                    f"{self.path} is not a cross-validation folder (no {self.FOLDS}); an "
                    "ensemble needs the folder written by `labkit train STUDY --folds K`. "
                    "Predict without --ensemble to use this single run."
                )
            return None
        names = self._read(self.FOLDS)["runs"]
        if not ensemble:
            raise ValueError(
                f"{self.path} is a cross-validation folder of {len(names)} fold runs; predict "
                "with --ensemble to average them, or give one fold's folder "
                f"({self.path / names[0]})."
            )
        runs = [RunFolder(self.path / name) for name in names]
        for run in runs:
            run.config()
        return runs
