"""Where data lives and which profile runs: the settings every chapter and recipe share.

Four environment variables steer the course; each has a default that works on a fresh
clone with no real data:

- ``LABKIT_PROFILE`` — ``quick`` (CPU, minutes), ``full`` (the study's settings where it gave
  them, ours where it did not, for a GPU) or ``auto`` (default: ``full`` where a GPU is
  visible, else ``quick``).
- ``LABKIT_SET`` — settings every training of the process takes on top of its profile and of
  the chapter's own changes, as a JSON object (default: none), e.g.
  ``{"steps_per_epoch": 2, "max_test_cases": 1}`` to see a ``full`` chapter run to its end on a
  CPU (:func:`env_settings`).
- ``LABKIT_DATA_ROOT`` — a folder holding real datasets in their published layouts
  (``Task04_Hippocampus/``, ``BraTS2013/``, ...). When it is unset, a ``shared/data``
  folder beside the repository checkout is used if there is one.
- ``LABKIT_CACHE`` — where synthetic twin cohorts and other generated files go
  (default ``~/.cache/labkit``), so that running a chapter never writes into the repository.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "PROFILES",
    "ProfileChoice",
    "accelerators",
    "cache_dir",
    "choose_profile",
    "data_or_twin",
    "data_root",
    "download_root",
    "env_settings",
    "find_real_dataset",
    "profile",
    "recorded_results",
]

PROFILES = ("quick", "full")


class ProfileChoice(NamedTuple):
    """The profile a chapter or command runs, and why (in words, for it to print)."""

    name: str
    reason: str


def accelerators() -> list[str]:
    """The GPUs (or TPUs) the active Keras backend can train on, by the names it places work on
    (``/device:GPU:0``, ``gpu:0``, ``cuda:0``); empty on a CPU-only machine."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_logical_devices("GPU")]
    if backend == "jax":
        return [d for d in keras.distribution.list_devices() if not d.startswith("cpu")]
    if backend == "torch":
        import torch

        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return []


def choose_profile(requested: str | None = None, study: str | None = None) -> ProfileChoice:
    """Pick the profile to run: ``quick``, ``full``, or ``auto`` (the default) resolved to one.

    ``auto`` runs ``full`` (the study's settings where it gave them) where the Keras backend
    sees a GPU, and ``quick`` (minutes on a CPU) otherwise; given a ``study``, ``auto`` also
    runs ``quick`` on a GPU whose memory the ``full`` profile's estimated need
    (:func:`labkit.gpu_estimates.needed_mib`) does not fit. CI and ``make book`` set ``quick``.

    Args:
        requested: ``"quick"``, ``"full"`` or ``"auto"``; ``None`` reads ``LABKIT_PROFILE``
            (default ``auto``).
        study: The study the profile is for, to weigh its ``full`` profile's memory.

    Returns:
        The profile and why it was chosen.

    Raises:
        ValueError: If the request (or the variable) holds another value.
    """
    source = "LABKIT_PROFILE" if requested is None else "the requested profile"
    if requested is None:
        requested = os.environ.get("LABKIT_PROFILE") or "auto"
    value = requested.strip().lower()
    if value in PROFILES:
        return ProfileChoice(value, f"{source} is {value}")
    if value != "auto":
        raise ValueError(
            f"{source} is {requested!r}; expected one of {(*PROFILES, 'auto')}. Set it with "
            "`export LABKIT_PROFILE=quick` (CPU), `full` (GPU) or `auto` (full where a GPU is "
            "visible)."
        )
    found = accelerators()
    if not found:
        return ProfileChoice("quick", "auto: no GPU visible, so the CPU profile")
    why = f"auto: {len(found)} GPU(s) visible ({', '.join(found)})"
    if study is None:
        return ProfileChoice("full", why)
    from labkit.gpu_estimates import gpu_memory_mib, needed_mib

    need, have = needed_mib(study), gpu_memory_mib()
    if need is None or have is None:
        unknown = "its need" if need is None else "the GPU's memory"
        return ProfileChoice("full", f"{why}; {unknown} unknown, so full")
    fits = f"~{need / 1024:.1f} GiB estimated for {study}'s full profile, {have / 1024:.1f} GiB"
    if need > have:
        return ProfileChoice("quick", f"{why}, but {fits} on the GPU: quick")
    return ProfileChoice("full", f"{why}; {fits} on the GPU: it fits")


def profile(requested: str | None = None) -> str:
    """The name of the profile :func:`choose_profile` picks (``"quick"`` or ``"full"``)."""
    return choose_profile(requested).name


def env_settings() -> dict[str, Any]:
    """The settings ``LABKIT_SET`` gives every training (a JSON object; none when unset).

    :meth:`labkit.studies.recipe.Recipe.settings` applies them last, over a chapter's own
    changes, so that ``LABKIT_SET='{"epochs": 1, "steps_per_epoch": 2}'`` bounds every run of a
    chapter; each is checked as ``--set`` is.

    Raises:
        ValueError: If ``LABKIT_SET`` is not a JSON object.
    """
    text = os.environ.get("LABKIT_SET", "").strip()
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"LABKIT_SET is not JSON ({exc.msg}): {text!r}. Give an object, e.g. "
            "LABKIT_SET='{\"steps_per_epoch\": 2}'."
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f'LABKIT_SET must be a JSON object of settings, e.g. {{"steps_per_epoch": 2}}; '
            f"got {text!r}."
        )
    return value


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the labkit cache, ``LABKIT_CACHE`` or ``~/.cache/labkit``.

    Args:
        *parts: Sub-folder names appended to the cache root.

    Returns:
        The absolute path of the folder, which exists on return.
    """
    path = _cache_path(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _cache_path(*parts: str) -> Path:
    """A path under the labkit cache (``LABKIT_CACHE`` or ``~/.cache/labkit``), not created."""
    root = Path(os.environ.get("LABKIT_CACHE", Path.home() / ".cache" / "labkit"))
    return root.joinpath(*parts).expanduser().resolve()


def _candidate_roots() -> list[Path]:
    env = os.environ.get("LABKIT_DATA_ROOT")
    if env:
        return [Path(env).expanduser()]
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    roots = []
    for start in starts:
        for folder in (start, *start.parents):
            roots.append(folder / "shared" / "data")
            roots.append(folder.parent / "shared" / "data")
            if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
                break
    return roots


def data_root() -> Path | None:
    """Return the folder of real datasets, or ``None`` when there is none.

    ``LABKIT_DATA_ROOT`` wins when set (and must exist). Otherwise the first ``shared/data``
    folder found beside the repository that holds labkit (or the working directory) is used.

    Raises:
        FileNotFoundError: If ``LABKIT_DATA_ROOT`` names a folder that does not exist.
    """
    env = os.environ.get("LABKIT_DATA_ROOT")
    if env and not Path(env).expanduser().is_dir():
        raise FileNotFoundError(
            f"LABKIT_DATA_ROOT is {env!r}, which is not a folder. Point it at the folder that "
            "holds your datasets (e.g. the parent of Task04_Hippocampus/), or unset it."
        )
    for root in _candidate_roots():
        if root.is_dir():
            return root.resolve()
    return None


def data_or_twin(
    variable: str, write_twin: Callable[[], Any], twin: str = "the synthetic twin cohort"
) -> tuple[Path, str]:
    """A chapter's dataset folder: yours, named by an environment variable, or its twin.

    Args:
        variable: The environment variable that names a real folder in the study's layout
            (e.g. ``"LABKIT_PHH_DATA"``).
        write_twin: Writes (or reuses) the twin cohort and returns it (a cohort with ``root``,
            or a folder); called only when ``variable`` is not set.
        twin: How to name the twin in what the chapter prints.

    Returns:
        ``(folder, where the data come from, in words)``.

    Raises:
        FileNotFoundError: If the variable names a folder that does not exist.
    """
    if os.environ.get(variable):
        folder = Path(os.environ[variable]).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{variable} is {os.environ[variable]!r}, which is not a folder. Point it at a "
                "dataset folder in the study's layout, or unset it to use the synthetic twin."
            )
        return folder, f"the folder {folder}"
    written = write_twin()
    return Path(written if isinstance(written, str | os.PathLike) else written.root), twin


def download_root() -> Path:
    """The folder ``labkit download`` extracts into by default: ``LABKIT_DATA_ROOT`` when set,
    else ``<labkit cache>/data`` (not created here)."""
    env = os.environ.get("LABKIT_DATA_ROOT")
    return Path(env).expanduser() if env else _cache_path("data")


def find_real_dataset(name: str) -> Path | None:
    """Return a real dataset's folder when it is present, else ``None``.

    Looked for in :func:`data_root` (``LABKIT_DATA_ROOT``, or ``shared/data`` beside the
    checkout), then in :func:`download_root`, where ``labkit download`` puts a task.

    Args:
        name: Folder name of the dataset, e.g. ``"Task04_Hippocampus"`` or ``"BraTS2013"``.
    """
    for root in (data_root(), download_root()):
        if root is not None and (root / name).is_dir():
            return root / name
    return None


def recorded_results(name: str) -> dict[str, Any] | None:
    """Read a result file that a benchmark script recorded, shipped in :mod:`labkit.records`.

    A chapter shows such a file where training the runs itself would take too long. The files
    are package data, so a chapter finds them wherever labkit is installed: in a checkout, or in
    a notebook opened alone on Colab.

    Args:
        name: File name, e.g. ``"wmh_ablation_quick.json"``.

    Returns:
        The parsed JSON, or ``None`` when no such record ships with this version of labkit.
    """
    record = resources.files("labkit.records").joinpath(name)
    return json.loads(record.read_text()) if record.is_file() else None
