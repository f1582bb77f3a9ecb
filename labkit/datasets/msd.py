"""The Medical Segmentation Decathlon layout: ``dataset.json``, ``imagesTr/``, ``labelsTr/``.

Every MSD task (Simpson et al. 2019, arXiv:1902.09063; Antonelli et al. 2022, Nature
Communications 13:4128) ships one folder::

    Task04_Hippocampus/
        dataset.json   # name, modality {"0": "MRI"}, labels {"0": "background", ...},
                       # training [{"image": "./imagesTr/x.nii.gz", "label": ...}], test [...]
        imagesTr/x.nii.gz       # 3D, or 4D (x, y, z, c) for multi-modal tasks such as Task01
        labelsTr/x.nii.gz
        imagesTs/...            # unlabelled test images

:func:`load_msd` reads that layout into :class:`~labkit.datasets.base.Case` records;
:func:`write_msd` writes arrays in it; :func:`write_msd_twin` writes a synthetic twin of Task04
(hippocampus MRI), Task03 (liver and tumours in CT) or Task09 (spleen CT).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

import labkit
from labkit.datasets.base import Case
from labkit.datasets.layout import Layout
from labkit.datasets.twins import cached_cohort, draw_cases
from labkit.errors import DatasetLayoutError
from labkit.io import nifti_stem, save_nifti
from labkit.phantoms import hippocampus_mri
from labkit.phantoms.abdomen import abdomen_case

__all__ = ["LAYOUT", "TWIN_TASKS", "MSDDataset", "load_msd", "write_msd", "write_msd_twin"]


@dataclass(frozen=True)
class MSDDataset:
    """A Decathlon task folder, read.

    Attributes:
        root: The task folder.
        name: The task's name from ``dataset.json``.
        modalities: Modality names in channel order.
        labels: Label value to name, e.g. ``{0: "background", 1: "Anterior", 2: "Posterior"}``.
        cases: Training cases (with labels), in ``dataset.json`` order.
        test_cases: Test cases (images only).
    """

    root: Path
    name: str
    modalities: tuple[str, ...]
    labels: dict[int, str]
    cases: tuple[Case, ...]
    test_cases: tuple[Case, ...] = ()

    @property
    def case_ids(self) -> list[str]:
        """Identifiers of the training cases."""
        return [c.case_id for c in self.cases]


def _index(meta_path: Path) -> Callable[[str], int]:
    """Reads a key of dataset.json's ``modality`` or ``labels`` as the integer it must be."""

    def index(key: str) -> int:
        try:
            return int(key)
        except (TypeError, ValueError):
            raise DatasetLayoutError(
                f"{meta_path}: the keys of 'modality' and 'labels' must be integers written as "
                f'strings ("0", "1", ...); found {key!r}.'
            ) from None

    return index


def load_msd(root: str | Path) -> MSDDataset:
    """Read a Decathlon task folder.

    Args:
        root: Folder holding ``dataset.json`` (e.g. ``.../Task04_Hippocampus``).

    Returns:
        The dataset, with every listed file checked to exist.

    Raises:
        DatasetLayoutError: If ``dataset.json`` is missing, unreadable, lacks required keys, or
            lists files that are not on disk (the message counts them and names the first few).
    """
    root = Path(root)
    meta_path = root / "dataset.json"
    if not meta_path.is_file():
        raise DatasetLayoutError(
            f"no dataset.json in {root}; expected a Medical Segmentation Decathlon task folder "
            "(dataset.json, imagesTr/, labelsTr/). Point to the folder named TaskNN_Name."
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetLayoutError(
            f"{meta_path} is not valid JSON ({exc}); re-download the task."
        ) from exc
    missing_keys = [k for k in ("modality", "labels", "training") if k not in meta]
    if missing_keys:
        raise DatasetLayoutError(
            f"{meta_path} lacks the key(s) {missing_keys}; an MSD dataset.json needs 'modality', "
            "'labels' and 'training'."
        )
    modalities = tuple(meta["modality"][k] for k in sorted(meta["modality"], key=_index(meta_path)))
    labels = {_index(meta_path)(k): v for k, v in meta["labels"].items()}
    entries = meta["training"]
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("image"), str) and isinstance(e.get("label"), str)
        for e in entries
    ):
        shown = json.dumps(entries)[:120]
        raise DatasetLayoutError(
            f'{meta_path}: \'training\' must be a list of {{"image": ..., "label": ...}} '
            f"entries (paths relative to the folder); found {shown}."
        )
    missing: list[str] = []

    def resolve(rel: str) -> Path:
        path = (root / rel).resolve()
        if not path.is_file():
            missing.append(rel)
        return path

    cases = tuple(
        Case(
            case_id=nifti_stem(entry["image"]),
            images=(resolve(entry["image"]),),
            label=resolve(entry["label"]),
            modalities=modalities,
            meta={"labels": tuple(sorted(labels))},
        )
        for entry in entries
    )
    tests = tuple(
        Case(case_id=nifti_stem(rel), images=(resolve(rel),), label=None, modalities=modalities)
        for rel in meta.get("test", [])
    )
    if missing:
        shown = ", ".join(missing[:5])
        raise DatasetLayoutError(
            f"{meta_path} lists {len(missing)} file(s) that are not on disk under {root}, e.g. "
            f"{shown}. Expected every 'image' and 'label' entry to exist: finish extracting the "
            "archive, or remove the entries of cases you deleted from dataset.json."
        )
    return MSDDataset(
        root=root,
        name=str(meta.get("name", root.name)),
        modalities=modalities,
        labels=labels,
        cases=cases,
        test_cases=tests,
    )


#: Where a Decathlon task keeps its files: ``dataset.json`` lists them (and names the labels);
#: this is where :func:`write_msd` puts a training case.
LAYOUT = Layout(
    name="an MSD task folder",
    image="imagesTr/{case}.nii.gz",
    label="labelsTr/{case}.nii.gz",
    markers=("dataset.json",),
    load=load_msd,
)


def write_msd(
    root: str | Path,
    name: str,
    modalities: Iterable[str],
    labels: Mapping[int, str],
    cases: Iterable[tuple[str, np.ndarray, np.ndarray | None, np.ndarray]],
    description: str = "",
) -> MSDDataset:
    """Write cases in the Decathlon layout and return the dataset read back.

    Args:
        root: Task folder to write (created).
        name: Task name for ``dataset.json``.
        modalities: Modality names in channel order.
        labels: Label value to name, including 0.
        cases: ``(case_id, image, label, affine)`` per case; image ``(x, y, z)`` or
            ``(x, y, z, c)``, label ``(x, y, z)`` integers or ``None`` for a test case.
        description: Free text for ``dataset.json``.

    Returns:
        The written dataset, loaded with :func:`load_msd`.
    """
    root = Path(root)
    modalities = list(modalities)
    training, test = [], []
    for case_id, image, label, affine in cases:
        if label is None:  # a test case: an image only, listed apart
            save_nifti(root / "imagesTs" / f"{case_id}.nii.gz", image, affine)
            test.append(f"./imagesTs/{case_id}.nii.gz")
            continue
        save_nifti(LAYOUT.image_file(root, case=case_id), image, affine)
        save_nifti(LAYOUT.label_file(root, case=case_id), np.asarray(label, np.uint8), affine)
        training.append(
            {
                "image": f"./{LAYOUT.image.format(case=case_id)}",
                "label": f"./{LAYOUT.label.format(case=case_id)}",
            }
        )
    meta = {
        "name": name,
        "description": description,
        "tensorImageSize": "4D" if len(modalities) > 1 else "3D",
        "modality": {str(i): m for i, m in enumerate(modalities)},
        "labels": {str(k): v for k, v in sorted(labels.items())},
        "numTraining": len(training),
        "numTest": len(test),
        "training": training,
        "test": test,
    }
    (root / "dataset.json").write_text(json.dumps(meta, indent=1))
    return load_msd(root)


def _hippocampus_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    crop = hippocampus_mri(rng)
    return crop.image, crop.label, crop.affine


#: Twin tasks: short name -> (folder name, task name, modalities, labels, prefix, description).
TWIN_TASKS: dict[str, tuple[str, str, tuple[str, ...], dict[int, str], str, str]] = {
    "hippocampus": (
        "Task04_Hippocampus",
        "Hippocampus",
        ("MRI",),
        {0: "background", 1: "Anterior", 2: "Posterior"},
        "hippocampus",
        "Synthetic twin of MSD Task04: T1 crops around a hippocampus on MNI anatomy",
    ),
    "liver": (
        "Task03_Liver",
        "LiverTumour",
        ("CT",),
        {0: "background", 1: "liver", 2: "cancer"},
        "liver",
        "Synthetic twin of MSD Task03: procedural portal-venous CT, HU",
    ),
    "spleen": (
        "Task09_Spleen",
        "Spleen",
        ("CT",),
        {0: "background", 1: "spleen"},
        "spleen",
        "Synthetic twin of MSD Task09: procedural portal-venous CT, HU",
    ),
}


def write_msd_twin(root: str | Path, task: str, n_cases: int = 20, seed: int = 0) -> MSDDataset:
    """Write (or reuse) a synthetic twin of a Decathlon task in the real MSD layout.

    Case ``i`` is drawn from its own generator seeded with ``(seed, i)``, so a larger cohort
    extends a smaller one with the same first cases. A cohort already in ``root`` with the same
    task, size, seed and labkit version is reused as it is.

    Args:
        root: Destination folder (e.g. ``labkit.config.cache_dir("twins") / "Task04_Hippocampus"``).
        task: ``"hippocampus"`` (Task04), ``"liver"`` (Task03) or ``"spleen"`` (Task09).
        n_cases: Number of labelled cases.
        seed: Cohort seed.

    Returns:
        The cohort, read back with :func:`load_msd`.
    """
    if task not in TWIN_TASKS:
        raise ValueError(f"unknown MSD twin task {task!r}; expected one of {sorted(TWIN_TASKS)}.")
    if n_cases < 1:
        raise ValueError(f"n_cases must be at least 1; got {n_cases}.")
    _, name, modalities, labels, prefix, description = TWIN_TASKS[task]

    def cases() -> Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        draw = _hippocampus_case if task == "hippocampus" else partial(abdomen_case, task)
        for i, (image, label, affine) in enumerate(draw_cases(draw, n_cases, seed)):
            yield f"{prefix}_{i:03d}", image, label, affine

    spec = {
        "generator": f"msd-{task}",
        "n_cases": n_cases,
        "seed": seed,
        "version": labkit.__version__,
    }
    cached_cohort(
        root, spec, lambda folder: write_msd(folder, name, modalities, labels, cases(), description)
    )
    return load_msd(root)
