"""A run folder: claimed by one run, resumed only by it, read back once finished.

A run folder (``labkit train ... --out RUN``) holds ``run.json`` (which run it is),
``model.keras`` (best on validation loss), ``history.csv``, ``split.json`` (case ids per subset),
``config.json`` (everything ``predict`` needs: study, profile, labels, modalities,
preprocessing), ``metrics.csv`` (held-out per-case, per-label metrics) and ``summary.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import keras
import numpy as np

from labkit.datasets.base import Case, load_case
from labkit.errors import LabkitError
from labkit.files import write_text
from labkit.fingerprint import describe_changes, fingerprint_cases
from labkit.progress import progress
from labkit.saving import load_model

__all__ = [
    "FOLDS_FILE",
    "RUN_FILE",
    "check_held_out",
    "claim_run",
    "load_run_model",
    "read_config",
    "read_folds",
    "write_folds",
    "write_json",
]

T = TypeVar("T")


#: The file of a run folder that says which run it is: study, profile, settings, seed and data.
RUN_FILE = "run.json"

#: The file of a cross-validation folder (``labkit train --folds K``) that lists its fold runs.
FOLDS_FILE = "folds.json"


def claim_run(
    out: Path,
    study: str,
    profile: str,
    settings: Any,
    seed: int,
    data: Path,
    fold: tuple[int, int] | None,
    cases: Iterable[Case],
) -> Path:
    """Make ``out`` the folder of this run, or refuse if it holds another run.

    Training resumes whatever a run folder holds, so a folder reused with other settings would
    continue the old model under the new settings and re-split the cases with the new seed
    (held-out cases could then be training cases). A folder is therefore claimed by a run on
    first use (``run.json``), and later calls go on only with the same study, profile,
    settings, seed and data folder, and the same data in it: ``run.json`` records each case's
    files (size and content checksum, :func:`labkit.fingerprint.fingerprint_cases`), and a
    case added, removed or edited since is named and refused.

    Args:
        out: Run folder (created if needed).
        study: Study name.
        profile: Profile name.
        settings: The run's settings (a dataclass).
        seed: The run's seed.
        data: The dataset folder.
        fold: ``(i, k)`` for fold ``i`` of a ``k``-fold cross-validation, else ``None``.
        cases: The cohort's cases, whose files are fingerprinted.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``out`` holds a run with anything else different (each difference is
            named), the same run on data that changed since (the cases are named), or training
            files of a run that did not claim it.
    """
    out = Path(out)
    wanted = json.loads(
        json.dumps(
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
    )
    path = out / RUN_FILE
    if path.is_file():
        held = json.loads(path.read_text())
        diffs = [
            f"{k}: {held.get(k)!r} there, {wanted[k]!r} now"
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
                f"{out} holds another run ({'; '.join(diffs)}). A run folder resumes only "
                "with the same study, profile, settings, seed, data and fold. Choose a new --out "
                f"folder, or delete {out} to start this run from scratch."
            )
        if "cases" in held and (changes := describe_changes(held["cases"], wanted["cases"])):
            raise ValueError(
                f"{out} holds a run trained on other data in {data}: since then "
                f"{'; '.join(changes)}. Resuming would keep the old model and split the new "
                "cases again, so a case it trained on could be scored as held-out. Choose a "
                f"new --out folder for the new data, or delete {out} to train again."
            )
        return out
    if out.is_dir() and any((out / name).exists() for name in ("state.json", "config.json")):
        raise ValueError(
            f"{out} holds the files of a run that did not record its settings (no {RUN_FILE}): "
            "it cannot be resumed safely. Choose a new --out folder, or delete it."
        )
    write_text(path, json.dumps(wanted, indent=1))
    return out


def check_held_out(
    cases: Iterable[Case], ids: Sequence[str], load: Callable[[Case], Any] = load_case
) -> None:
    """Read every held-out case once before training starts.

    Training reads only the training and validation cases; the test cases are read after it.
    A broken test file (NaN voxels, a label the dataset does not declare, a grid that differs
    from its label's) would then fail the run after minutes of training. Reading them first
    costs a few seconds and fails at once, naming the file.

    Args:
        cases: The cohort's cases.
        ids: The held-out case ids.
        load: Reads one case and raises on bad input (default
            :func:`labkit.datasets.base.load_case`).
    """
    wanted = set(ids)
    for case in progress([c for c in cases if c.case_id in wanted], "checking held-out cases"):
        load(case)


def write_json(path: Path, data: Mapping[str, Any]) -> Path:
    """Write pretty JSON (NaN becomes null), atomically (:func:`labkit.files.write_text`)."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        if isinstance(v, np.generic):
            return clean(v.item())
        return v

    return write_text(path, json.dumps(clean(dict(data)), indent=1))


def read_config(run: Path) -> dict[str, Any]:
    """Read ``config.json`` of a finished run folder, with a clear error when it is not one.

    A run is finished once its held-out results (``summary.json``) are written, the last step
    of every recipe; a run killed during training has a ``model.keras`` (its best epoch so far)
    but is refused, since that model is not the one the run would have produced.
    """
    path = Path(run) / "config.json"
    if not path.is_file() or not (Path(run) / "model.keras").is_file():
        raise FileNotFoundError(
            f"{run} is not a finished labkit run (expected config.json and model.keras in it). "
            "Train one with `labkit train STUDY --data DIR --out RUN`."
        )
    if not (Path(run) / "summary.json").is_file():
        raise FileNotFoundError(
            f"{run} is an unfinished labkit run (no summary.json: its training or evaluation "
            "was interrupted). Run the same `labkit train` command again to finish it."
        )
    return json.loads(path.read_text())


def write_folds(out: Path, study: str, profile: str, seed: int, runs: Sequence[str]) -> Path:
    """Write ``folds.json``: the study, profile, seed and fold run folders (relative names) of
    a cross-validation folder."""
    data = {"study": study, "profile": profile, "seed": int(seed), "runs": list(runs)}
    return write_json(Path(out) / FOLDS_FILE, data)


def read_folds(run: Path, ensemble: bool) -> dict[str, Any] | None:
    """``folds.json`` of a cross-validation folder when ``ensemble`` is asked, ``None`` for a
    single run; a mix-up of the two is refused with what to do instead.

    Raises:
        ValueError: If ``ensemble`` is asked of a single run folder, or a cross-validation
            folder is given without it.
        FileNotFoundError: If a fold listed is not a finished run.
    """
    path = Path(run) / FOLDS_FILE
    if not path.is_file():
        if ensemble:
            raise ValueError(
                f"{run} is not a cross-validation folder (no {FOLDS_FILE}); an ensemble needs "
                "the folder written by `labkit train STUDY --folds K`. Predict without "
                "--ensemble to use this single run."
            )
        return None
    folds = json.loads(path.read_text())
    if not ensemble:
        raise ValueError(
            f"{run} is a cross-validation folder of {len(folds['runs'])} fold runs; predict "
            "with --ensemble to average them, or give one fold's folder "
            f"({Path(run) / folds['runs'][0]})."
        )
    for name in folds["runs"]:
        read_config(Path(run) / name)
    return folds


def load_run_model(run: Path) -> keras.Model:
    """The best model of a finished run (``model.keras``), with a clear error when it does not
    load (a file truncated by a copy or a full disk, or not a Keras file at all).

    Raises:
        FileNotFoundError: If ``run`` is not a finished run (see :func:`read_config`).
        LabkitError: If ``model.keras`` is there but cannot be loaded.
    """
    read_config(run)
    path = Path(run) / "model.keras"
    try:
        return load_model(path)
    except Exception as err:  # zipfile, h5py, json and Keras errors alike
        raise LabkitError(
            f"{path} could not be loaded as a Keras model ({path.stat().st_size} bytes; "
            f"{type(err).__name__}: {str(err)[:200]}). The file is truncated or not a Keras "
            "file: copy it again from where it was trained, or train the run again."
        ) from err
