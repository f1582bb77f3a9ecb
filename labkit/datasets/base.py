"""Case records shared by every dataset loader, a layout of paired folders, and reading a case.

Writing synthetic cohorts (cached, drawn in parallel) is in :mod:`labkit.datasets.twins`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from labkit.checks import check_declared_labels, check_image, check_same_grid
from labkit.datasets.layout import Layout
from labkit.errors import DatasetLayoutError, ShapeError
from labkit.io import load_label, load_nifti, nifti_files
from labkit.progress import progress
from labkit.volume import Volume

__all__ = [
    "Case",
    "Cohort",
    "LoadedCase",
    "check_held_out",
    "declared_labels",
    "load_case",
    "paired_folders",
]


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


def declared_labels(names: Mapping[int, str], where: str) -> dict[str, Any]:
    """The :class:`Case` ``meta`` entries that declare a layout's label scheme.

    Args:
        names: Label value to name, background (0) left out, e.g. ``{1: "csf"}``.
        where: Where the label maps are, for the message (``"masks/"``).

    Returns:
        ``{"labels": (1,), "labels_fix": "Expected 0 background, 1 csf in masks/."}``.
    """
    scheme = ", ".join(f"{v} {name}" for v, name in {0: "background", **names}.items())
    return {"labels": tuple(sorted(names)), "labels_fix": f"Expected {scheme} in {where}."}


def paired_folders(root: str | Path, layout: Layout, modality: str, hint: str) -> Cohort:
    """Read a layout of two sub-folders, images and label maps paired by file name.

    Args:
        root: The dataset folder.
        layout: Its declaration (:class:`~labkit.datasets.layout.Layout`), whose ``image`` and
            ``label`` are ``<sub-folder>/{case}.nii.gz``, and whose ``labels`` are the values
            (0, background, left out) a map may hold: a map holding any other value is refused
            when read (:func:`load_case`).
        modality: Name of the single image modality (``"T2"``, ``"CT"``).
        hint: What to put where, for the error messages.

    Returns:
        The cohort, sorted by case id. Grids are checked when a case is loaded
        (:func:`load_case`).

    Raises:
        DatasetLayoutError: If a sub-folder is missing or empty, or files are unpaired.
    """
    root = Path(root)
    image_dir, label_dir = layout.image_dir, layout.label_dir
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
    meta = declared_labels(layout.labels, f"{label_dir}/")
    cases = tuple(
        Case(
            case_id=pid, images=(images[pid],), label=masks[pid], modalities=(modality,), meta=meta
        )
        for pid in sorted(images)
    )
    return Cohort(root=root, cases=cases)


@dataclass(frozen=True)
class LoadedCase:
    """A case read into memory: what every dataset's loader returns.

    Attributes:
        case: The record it came from.
        image: Volume ``(x, y, z, c)`` float32, channels in ``case.modalities`` order.
        label: Integer label volume ``(x, y, z)`` on the same grid, or ``None``.

    It unpacks as ``image, label``::

        image, label = load_case(case)
    """

    case: Case
    image: Volume
    label: Volume | None

    def __iter__(self) -> Iterator[Volume | None]:
        return iter((self.image, self.label))


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
        load: Reads one case and raises on bad input (default :func:`load_case`).
    """
    wanted = set(ids)
    for case in progress([c for c in cases if c.case_id in wanted], "checking held-out cases"):
        load(case)
