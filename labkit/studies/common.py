"""What every study recipe shares: settings, run-folder files, folders of images to predict.

A run folder (``labkit train ... --out RUN``) holds ``model.keras`` (best on validation loss),
``history.csv``, ``split.json`` (case ids per subset), ``config.json`` (everything ``predict``
needs: study, profile, labels, modalities, preprocessing), ``metrics.csv`` (held-out per-case,
per-label metrics) and ``summary.json``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import keras
import nibabel as nib
import numpy as np

from labkit import losses
from labkit import metrics as keras_metrics
from labkit.datasets.base import Case, load_case
from labkit.errors import LabkitError, ShapeError
from labkit.files import write_text
from labkit.inference import save_prediction
from labkit.io import Volume, check_image, load_nifti, nifti_files, orientation, reorient
from labkit.models import unet

__all__ = [
    "RUN_FILE",
    "binary_slice_model",
    "case_orientation",
    "check_held_out",
    "claim_run",
    "in_frame",
    "load_run_model",
    "profile_settings",
    "progress",
    "read_config",
    "save_in_source",
    "single_channel_volumes",
    "split_seed",
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
    hints = get_type_hints(type(base))
    for name, value in overrides.items():
        overrides[name] = _checked(study, name, value, hints[name], getattr(base, name))
    prof = replace(base, **overrides)
    for name, allowed in (choices or {}).items():
        if getattr(prof, name) not in allowed:
            options = " or ".join(repr(a) for a in allowed)
            raise ValueError(f"{name} must be {options}; got {getattr(prof, name)!r}.")
    return prof


#: Settings that must be at least 1 whichever study has them.
_AT_LEAST_ONE = ("epochs", "batch_size", "filters", "depth", "patches_per_volume")


def _checked(study: str, name: str, value: Any, hint: Any, current: Any) -> Any:
    """``value`` as the setting ``name`` of type ``hint`` holds it, or a clear ValueError.

    ``--set`` reads values as JSON, so ``epochs=abc`` arrives as the string ``"abc"`` and
    ``epochs=1.5`` as a float; both are refused here, before any data are loaded, rather than
    deep inside Keras after minutes of preprocessing.
    """

    example = json.dumps(list(current) if isinstance(current, tuple) else current).replace(" ", "")

    def fail(expected: str) -> ValueError:
        return ValueError(
            f"the {study} setting {name} must be {expected}; got {value!r}. "
            f"The profile's value is --set {name.split('[')[0]}={example}."
        )

    if hint is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail("a whole number")
        if float(value) != int(value):
            raise fail("a whole number")
        value = int(value)
        if name in _AT_LEAST_ONE and value < 1:
            raise fail("at least 1")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise fail("a number")
        if name == "learning_rate" and value <= 0:
            raise fail("a number above 0")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise fail("a list")
        if args and args[-1] is not Ellipsis and len(value) != len(args):
            raise fail(f"a list of {len(args)} values")
        inner = args[0] if args else Any
        if inner in (int, float, str, bool):
            value = [
                _checked(study, f"{name}[{i}]", v, inner, current) for i, v in enumerate(value)
            ]
        return tuple(value)
    return value


#: The file of a run folder that says which run it is: study, profile, settings, seed and data.
RUN_FILE = "run.json"


def claim_run(out: Path, study: str, profile: str, prof: Any, seed: int, data: Path) -> Path:
    """Make ``out`` the folder of this run, or refuse if it holds another run.

    Training resumes whatever a run folder holds, so a folder reused with other settings would
    continue the old model under the new settings and re-split the cases with the new seed
    (held-out cases could then be training cases). A folder is therefore claimed by a run on
    first use (``run.json``), and later calls go on only with the same study, profile,
    settings, seed and data folder.

    Args:
        out: Run folder (created if needed).
        study: Study name.
        profile: Profile name.
        prof: The run's settings (a dataclass).
        seed: The run's seed.
        data: The dataset folder.

    Returns:
        ``out`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``out`` holds a run with anything else different (each difference is
            named), or training files of a run that did not claim it.
    """
    out = Path(out)
    wanted = json.loads(
        json.dumps(
            {
                "study": study,
                "profile": profile,
                "seed": int(seed),
                "data": str(Path(data).resolve()),
                "settings": asdict(prof),
            }
        )
    )
    path = out / RUN_FILE
    if path.is_file():
        held = json.loads(path.read_text())
        diffs = [
            f"{k}: {held.get(k)!r} there, {wanted[k]!r} now"
            for k in ("study", "profile", "seed", "data")
            if held.get(k) != wanted[k]
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
                "with the same study, profile, settings, seed and data. Choose a new --out "
                f"folder, or delete {out} to start this run from scratch."
            )
        return out
    if out.is_dir() and any((out / name).exists() for name in ("state.json", "config.json")):
        raise ValueError(
            f"{out} holds the files of a run that did not record its settings (no {RUN_FILE}): "
            "it cannot be resumed safely. Choose a new --out folder, or delete it."
        )
    write_text(path, json.dumps(wanted, indent=1))
    return out


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


def split_seed(prof: Any, seed: int) -> int:
    """The seed that draws a run's split: the profile's ``split_seed``, or -1 for the run's seed.

    A fixed ``split_seed`` lets runs with other seeds (other weights, shuffling and augmentation)
    test the same cases, as a floor's seed spread and a paired comparison need.
    """
    return seed if prof.split_seed < 0 else prof.split_seed


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
        return keras.models.load_model(path)
    except Exception as err:  # zipfile, h5py, json and Keras errors alike
        raise LabkitError(
            f"{path} could not be loaded as a Keras model ({path.stat().st_size} bytes; "
            f"{type(err).__name__}: {str(err)[:200]}). The file is truncated or not a Keras "
            "file: copy it again from where it was trained, or train the run again."
        ) from err


def case_orientation(case: Case) -> str:
    """The axis codes (``"RAS"``, ``"LPS"``, ...) of a case's first image, from its header."""
    return orientation(nib.load(case.images[0]).affine)


def in_frame(volume: Volume, frame: str | None) -> Volume:
    """``volume`` with its axes flipped and permuted into ``frame``, the orientation the run was
    trained in (``config.json``'s ``orientation``); unchanged when it is already so or when
    ``frame`` is ``None`` (a run from before labkit recorded it).

    A network learns anatomy in the array's axes: the same head stored LPS instead of RAS
    reaches it mirrored front to back and left to right, and is segmented wrongly. Predict in
    the training frame, then write the labels back with :func:`save_in_source`.
    """
    if not frame or orientation(volume.affine) == frame:
        return volume
    return reorient(volume, frame)


def save_in_source(labels: np.ndarray, framed: Volume, source: Volume, path: Path) -> Path:
    """Write labels ``(x, y, z)`` predicted on ``framed`` (``source`` put :func:`in_frame`) on
    ``source``'s own grid, affine and header."""
    back = reorient(framed.with_array(np.asarray(labels, np.uint8)), orientation(source.affine))
    return save_prediction(back.array, source, path)


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
        ``(case id, volume as loaded)``, the volume ``(x, y, z)`` or ``(x, y, z, 1)``.

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
        volume = check_image(load_nifti(path))
        image = volume.array if volume.array.ndim == 4 else volume.array[..., None]
        if image.shape[-1] != 1:
            raise ShapeError(
                f"{path} has {image.shape[-1]} channels (shape {image.shape}); the model reads "
                f"one {modality} volume (x, y, z) per patient. Pass the {modality} image alone."
            )
        yield case_id, volume
