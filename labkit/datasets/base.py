"""Case records shared by every dataset loader, reading a case, and caching generated cohorts."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from labkit.errors import DatasetLayoutError, ShapeError
from labkit.io import (
    Volume,
    check_declared_labels,
    check_image,
    check_same_grid,
    load_label,
    load_nifti,
    nifti_files,
)
from labkit.progress import progress

__all__ = [
    "Case",
    "Cohort",
    "LoadedCase",
    "cached_cohort",
    "draw_cases",
    "load_case",
    "paired_folders",
]

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


@dataclass(frozen=True)
class Case:
    """One case (patient or subject) of a dataset: where its files are, nothing loaded yet.

    Attributes:
        case_id: Identifier, unique within the dataset (a patient id for patient-level splits).
        images: One 4D file holding all modalities, or one 3D file per modality.
        label: Label map file, or ``None`` for unlabelled (test) cases.
        modalities: Modality names in channel order, e.g. ``("FLAIR", "T1w", "t1gd", "T2w")``.
        meta: Extra facts such as the acquisition site; ``"labels"`` lists the values a label
            map may hold besides 0 (every loader declares its scheme; :func:`load_case` refuses
            any other value, in training, validation and test cases alike), and
            ``"labels_fix"`` says how to fix a map that holds another.
    """

    case_id: str
    images: tuple[Path, ...]
    label: Path | None
    modalities: tuple[str, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Cohort:
    """A dataset folder, read: where each case's files are.

    Attributes:
        root: The folder.
        cases: One case per patient, sorted by id.
    """

    root: Path
    cases: tuple[Case, ...]

    @property
    def case_ids(self) -> list[str]:
        """Patient identifiers."""
        return [c.case_id for c in self.cases]


def paired_folders(
    root: str | Path,
    image_dir: str,
    label_dir: str,
    modality: str,
    hint: str,
    labels: Mapping[int, str],
) -> Cohort:
    """Read a layout of two sub-folders, images and label maps paired by file name.

    Args:
        root: The dataset folder.
        image_dir: Sub-folder of the images, one ``<case id>.nii.gz`` per patient.
        label_dir: Sub-folder of the label maps, under the same file names.
        modality: Name of the single image modality (``"T2"``, ``"CT"``).
        hint: What to put where, for the error messages.
        labels: The layout's label values (0, background, left out) to their names; a map
            holding any other value is refused when read (:func:`load_case`).

    Returns:
        The cohort, sorted by case id. Grids are checked when a case is loaded
        (:func:`load_case`).

    Raises:
        DatasetLayoutError: If a sub-folder is missing or empty, or files are unpaired.
    """
    root = Path(root)
    images, masks = nifti_files(root / image_dir), nifti_files(root / label_dir)
    if not images or not masks:
        raise DatasetLayoutError(
            f"{root} needs {image_dir}/ and {label_dir}/ sub-folders with one .nii.gz per "
            f"patient; found {len(images)} image(s) and {len(masks)} mask(s). {hint}"
        )
    lonely_images = sorted(set(images) - set(masks))
    lonely_masks = sorted(set(masks) - set(images))
    if lonely_images or lonely_masks:
        raise DatasetLayoutError(
            f"unpaired files in {root}: images without a mask {lonely_images[:10]}, masks without "
            f"an image {lonely_masks[:10]}. Expected the same patient id (file name) in "
            f"{image_dir}/ and {label_dir}/."
        )
    scheme = ", ".join(f"{v} {name}" for v, name in {0: "background", **labels}.items())
    meta = {"labels": tuple(sorted(labels)), "labels_fix": f"Expected {scheme} in {label_dir}/."}
    cases = tuple(
        Case(
            case_id=pid, images=(images[pid],), label=masks[pid], modalities=(modality,), meta=meta
        )
        for pid in sorted(images)
    )
    return Cohort(root=root, cases=cases)


@dataclass(frozen=True)
class LoadedCase:
    """A case read into memory.

    Attributes:
        case: The record it came from.
        image: Volume ``(x, y, z, c)`` float32, channels in ``case.modalities`` order.
        label: Integer label volume ``(x, y, z)`` on the same grid, or ``None``.
    """

    case: Case
    image: Volume
    label: Volume | None


def load_case(case: Case) -> LoadedCase:
    """Read a case's image(s) and label, checking that they share one grid.

    Args:
        case: The record.

    Returns:
        The loaded case; the image always has a channel axis, ``(x, y, z, c)``.

    Raises:
        ShapeError: If the channel count differs from the modality count, or the grids differ.
        ImageValueError: If the image holds NaN or infinite voxels, or a channel holds one
            value only.
        FileNotFoundError, NiftiReadError, LabelValueError: From :mod:`labkit.io`.
    """
    n = len(case.modalities)
    if len(case.images) == 1:
        vol = load_nifti(case.images[0])
        arr = vol.array if vol.array.ndim == 4 else vol.array[..., None]
        if arr.shape[3] != n:
            raise ShapeError(
                f"{vol.name} has {arr.shape[3]} channel(s) (shape {vol.shape}) but the dataset "
                f"lists {n} modalities {case.modalities}; expected one channel per modality. "
                "Check dataset.json's 'modality' entry against the image files."
            )
        image = vol.with_array(arr.astype(np.float32, copy=False))
    else:
        if len(case.images) != n:
            raise ShapeError(
                f"case {case.case_id} has {len(case.images)} image files for {n} modalities "
                f"{case.modalities}; expected one file per modality."
            )
        vols = [load_nifti(p, ndim=3) for p in case.images]
        for other in vols[1:]:
            check_same_grid(vols[0], other)
        stack = np.stack([v.array.astype(np.float32, copy=False) for v in vols], axis=-1)
        image = vols[0].with_array(stack)
    check_image(image)
    label = None
    if case.label is not None:
        label = load_label(case.label)
        check_same_grid(image, label)
        if "labels" in case.meta:
            values, counts = np.unique(label.array, return_counts=True)
            fix = case.meta.get(
                "labels_fix", "Fix the label map, or declare the label (dataset.json's 'labels')."
            )
            check_declared_labels(values, case.meta["labels"], str(case.label), fix, counts)
    return LoadedCase(case=case, image=image, label=label)


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
