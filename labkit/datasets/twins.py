"""Writing synthetic twin cohorts: once per specification, and their cases drawn in parallel.

:func:`cached_cohort` writes a generated cohort into a folder once and reuses it while its
specification and the generating code are unchanged; :func:`draw_cases` draws a cohort's cases
in forked worker processes, case ``i`` always from the same generator, so the cohort is the same
whichever process draws it.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from labkit.progress import progress

__all__ = ["cached_cohort", "draw_cases"]

_MANIFEST = ".labkit-cohort.json"
_T = TypeVar("_T")


def _generator_fingerprint() -> str:
    """Hash of the source code that generates cohorts (phantoms and dataset writers)."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted([*package.glob("phantoms/*.py"), *package.glob("datasets/*.py")]):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_cohort(
    folder: str | Path, spec: Mapping[str, Any], write: Callable[[Path], None]
) -> Path:
    """Write a generated cohort into ``folder`` once, and reuse it while ``spec`` is unchanged.

    A manifest file in the folder records ``spec`` (generator, case count, seed, version) and a
    fingerprint of the generating code, so an edit to a phantom regenerates the cohort. When both
    match, nothing is written; otherwise a folder that labkit wrote before is emptied and
    ``write(folder)`` is called. A non-empty folder without the manifest is never touched.

    Args:
        folder: Destination folder.
        spec: JSON-serialisable description that determines the cohort's content.
        write: Function that writes the cohort into the folder it is given.

    Returns:
        The folder.

    Raises:
        FileExistsError: If ``folder`` holds files that labkit did not write.
    """
    folder = Path(folder)
    manifest = folder / _MANIFEST
    wanted = json.loads(json.dumps({**spec, "code": _generator_fingerprint()}))
    if manifest.is_file():
        try:
            if json.loads(manifest.read_text()) == wanted:
                return folder
        except json.JSONDecodeError:
            pass
    if folder.exists() and any(folder.iterdir()):
        if not manifest.is_file():
            raise FileExistsError(
                f"{folder} is not empty and was not written by labkit (no {_MANIFEST}); refusing "
                "to overwrite it. Choose an empty or new folder for the synthetic cohort."
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write(folder)
    manifest.write_text(json.dumps(wanted, indent=1, sort_keys=True))
    return folder


def _on_jax() -> bool:
    """Whether Keras, already imported, runs on JAX (Keras imports JAX on any backend where it is
    installed, so a loaded ``jax`` module says nothing)."""
    keras = sys.modules.get("keras")
    return keras is not None and keras.backend.backend() == "jax"


def draw_cases(
    draw: Callable[[np.random.Generator], _T],
    n_cases: int,
    seed: int | Sequence[int],
    workers: int | None = None,
) -> Iterator[_T]:
    """Draw a synthetic cohort's cases in parallel, case ``i`` from ``default_rng([seed, i])``.

    Each case has its own generator, so the cohort is the same whichever process draws which
    case, and the cases come back in order. Drawing a head takes seconds of single-threaded
    SciPy; on a 2-core machine two processes halve the time a twin takes to write.

    Args:
        draw: Draws one case from a generator. Runs in a forked worker process, so it must not
            use TensorFlow (a forked copy of a running TensorFlow is not safe to use).
        n_cases: Number of cases.
        seed: Cohort seed, or several integers (``(seed, site)``: case ``i`` then comes from
            ``default_rng([seed, site, i])``).
        workers: Processes (default: the CPUs this process may use, at most ``n_cases``). With
            1, off Linux (forking a process that runs TensorFlow is unsafe on macOS), or where
            JAX is loaded (a fork of its threads can deadlock), the cases are drawn here, one by
            one.

    Yields:
        What ``draw`` returns, for case 0, 1, ... in turn (at most two per worker are held).
    """
    key = [int(seed)] if np.ndim(seed) == 0 else [int(s) for s in seed]
    rngs = (np.random.default_rng([*key, i]) for i in range(n_cases))
    if workers is None:
        affinity = getattr(os, "sched_getaffinity", None)
        workers = len(affinity(0)) if affinity else os.cpu_count() or 1
    workers = max(1, min(workers, n_cases))
    # fork is unsafe on macOS, and where JAX runs (its threads can deadlock a forked copy)
    if workers == 1 or not sys.platform.startswith("linux") or _on_jax():
        yield from progress(map(draw, rngs), "drawing cases", total=n_cases)
        return
    yield from progress(_pooled(draw, rngs, workers), "drawing cases", total=n_cases)


def _pooled(
    draw: Callable[[np.random.Generator], _T], rngs: Iterator[np.random.Generator], workers: int
) -> Iterator[_T]:
    """``draw`` of each generator in ``workers`` forked processes, in order (at most two
    pending per worker)."""
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: list[Future[_T]] = []
        for rng in rngs:
            pending.append(pool.submit(draw, rng))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
