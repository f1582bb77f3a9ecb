"""What every study recipe shares: run-folder files, held-out evaluation, folders of images.

A run folder (``labkit train ... --out RUN``) holds ``model.keras`` (best on validation loss),
``history.csv``, ``split.json`` (case ids per subset), ``config.json`` (everything ``predict``
needs: study, profile, labels, modalities, preprocessing), ``metrics.csv`` (held-out per-case,
per-label metrics) and ``summary.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

import keras
import numpy as np

from labkit import losses
from labkit import metrics as keras_metrics
from labkit.datasets.base import Case
from labkit.datasets.msd import load_msd
from labkit.errors import DatasetLayoutError, ShapeError
from labkit.evaluation import evaluate_labels, summarize, write_metrics_csv
from labkit.files import write_text
from labkit.io import Volume, load_nifti, nifti_files
from labkit.models import unet

__all__ = [
    "binary_slice_model",
    "finish_run",
    "image_cases",
    "profile_settings",
    "progress",
    "read_config",
    "run_profile",
    "single_channel_volumes",
    "write_json",
]

T = TypeVar("T")
P = TypeVar("P")


def profile_settings(
    study: str,
    profiles: Mapping[str, P],
    profile: str,
    overrides: Mapping[str, Any] | None,
    choices: Mapping[str, Sequence[str]] | None = None,
) -> P:
    """One profile's settings (a frozen dataclass) with some fields replaced.

    Args:
        study: Study name, for the messages.
        profiles: Profile name to settings.
        profile: The profile to start from.
        overrides: Field name to new value; lists (as JSON gives them) become tuples where the
            field holds a tuple.
        choices: Field name to the values it may take (e.g. ``{"schedule": ("constant",
            "cosine")}``).

    Raises:
        ValueError: For an unknown profile or field, or a value outside its choices.
    """
    if profile not in profiles:
        raise ValueError(
            f"unknown profile {profile!r} for the {study} study; expected one of "
            f"{sorted(profiles)}."
        )
    base = profiles[profile]
    known = {f.name for f in fields(base)}
    overrides = dict(overrides or {})
    if unknown := sorted(set(overrides) - known):
        raise ValueError(f"unknown {study} setting(s) {unknown}; the settings are {sorted(known)}.")
    for name, value in overrides.items():
        if isinstance(getattr(base, name), tuple):
            overrides[name] = tuple(value)
    prof = replace(base, **overrides)
    for name, allowed in (choices or {}).items():
        if getattr(prof, name) not in allowed:
            options = " or ".join(repr(a) for a in allowed)
            raise ValueError(f"{name} must be {options}; got {getattr(prof, name)!r}.")
    return prof


def run_profile(run: Path, study: str, settings: Callable[[str, Mapping[str, Any]], P]) -> P:
    """The settings a finished run was trained with, overrides included (from ``config.json``).

    Args:
        run: Run folder.
        study: The study the run must belong to.
        settings: The study's ``settings(profile, overrides)``.

    Raises:
        ValueError: If the run belongs to another study.
    """
    config = read_config(run)
    if config.get("study") != study:
        raise ValueError(f"{run} is a run of the {config.get('study')!r} study, not of {study!r}.")
    return settings(config["profile"], dict(config["settings"]))


def binary_slice_model(prof: Any) -> keras.Model:
    """A compiled 2D U-Net with one sigmoid output, for ``(size, size, 1 + 2 * context)`` slices.

    Args:
        prof: A study profile with ``size``, ``context``, ``depth``, ``filters``,
            ``batch_norm_momentum``, ``learning_rate`` and ``loss``.

    Returns:
        The model, compiled with Adam, the profile's loss, pixel accuracy and Dice.
    """
    model = unet(
        (prof.size, prof.size, 2 * prof.context + 1),
        1,
        depth=prof.depth,
        filters=prof.filters,
        batch_norm_momentum=prof.batch_norm_momentum,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(prof.learning_rate),
        loss=losses.get(prof.loss),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras_metrics.DiceScore(1)],
    )
    return model


def progress(items: Sequence[T], label: str) -> Iterator[T]:
    """Yield items while drawing a one-line progress bar on stderr."""
    n = len(items)
    for i, item in enumerate(items, 1):
        done = int(30 * i / max(n, 1))
        sys.stderr.write(f"\r{label} [{'#' * done}{'.' * (30 - done)}] {i}/{n}")
        sys.stderr.flush()
        yield item
    sys.stderr.write("\n")


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
    """Read ``config.json`` of a run folder, with a clear error when it is not one."""
    path = Path(run) / "config.json"
    if not path.is_file() or not (Path(run) / "model.keras").is_file():
        raise FileNotFoundError(
            f"{run} is not a finished labkit run (expected config.json and model.keras in it). "
            "Train one with `labkit train STUDY --data DIR --out RUN`."
        )
    return json.loads(path.read_text())


def image_cases(folder: Path, modalities: Sequence[str]) -> list[Case]:
    """The images to predict in ``folder``: an MSD task folder (every image it lists) or a plain
    folder of ``.nii.gz`` files, one per case (3D, or 4D with one channel per modality)."""
    folder = Path(folder)
    if (folder / "dataset.json").is_file():
        ds = load_msd(folder)
        return [Case(c.case_id, c.images, None, c.modalities) for c in (*ds.cases, *ds.test_cases)]
    files = nifti_files(folder)
    if not files:
        raise DatasetLayoutError(
            f"no images in {folder}: expected an MSD task folder (with dataset.json) or .nii.gz "
            "files, one per case."
        )
    return [Case(case_id, (f,), None, tuple(modalities)) for case_id, f in files.items()]


def single_channel_volumes(
    input_dir: Path, subfolder: str, modality: str, layout: str
) -> Iterator[tuple[str, Volume, np.ndarray]]:
    """The images to predict for a one-modality study, read one at a time with a progress bar.

    Args:
        input_dir: A dataset folder (its ``subfolder`` holds the images) or a plain folder of
            ``.nii.gz`` volumes, one per case.
        subfolder: The images' sub-folder in the study's layout (``"images"``, ``"data"``).
        modality: The modality's name, for the messages (``"T2"``, ``"CT"``).
        layout: The study's layout in words, for the messages.

    Yields:
        ``(case id, volume as loaded, image (x, y, z, 1))``.

    Raises:
        FileNotFoundError: If there are no images.
        ShapeError: If an image has more than one channel.
    """
    folder = Path(input_dir)
    folder = folder / subfolder if (folder / subfolder).is_dir() else folder
    files = nifti_files(folder)
    if not files:
        raise FileNotFoundError(
            f"no .nii.gz images in {folder}; expected {layout} or a folder of {modality} "
            "volumes, one per patient."
        )
    for case_id, path in progress(list(files.items()), "predicting"):
        volume = load_nifti(path)
        image = volume.array if volume.array.ndim == 4 else volume.array[..., None]
        if image.shape[-1] != 1:
            raise ShapeError(
                f"{path} has {image.shape[-1]} channels (shape {image.shape}); the model reads "
                f"one {modality} volume (x, y, z) per patient. Pass the {modality} image alone."
            )
        yield case_id, volume, image


def finish_run(
    run: Path,
    predictions: Iterable[tuple[str, np.ndarray, np.ndarray, tuple[float, ...]]],
    labels: Mapping[int, str],
    extra: Mapping[str, Any] | None = None,
    metrics: tuple[str, ...] = ("dice", "hd95", "nsd"),
    **kwargs: Any,
) -> dict[str, Any]:
    """Evaluate held-out predictions and write ``metrics.csv`` and ``summary.json``.

    Args:
        run: Run folder.
        predictions: ``(case_id, predicted labels, reference labels, spacing)`` per held-out case,
            on the source grid.
        labels: Label value to name (background excluded).
        extra: More facts for the summary (profile, timings, ...).
        metrics: Columns to summarise.
        **kwargs: Passed to :func:`labkit.evaluation.evaluate_labels` (``lesions``,
            ``nsd_tolerance_mm``, ``empty_distance``).

    Returns:
        The summary: per label ``dice_mean``, ``dice_sd``, ``dice_median``, ``hd95_*`` and counts.
    """
    rows = []
    for case_id, pred, ref, spacing in predictions:
        rows += evaluate_labels(pred, ref, labels, spacing, case=case_id, **kwargs)
    write_metrics_csv(rows, run / "metrics.csv")
    summary = {"labels": summarize(rows, metrics=metrics), **(extra or {})}
    write_json(run / "summary.json", summary)
    return summary
