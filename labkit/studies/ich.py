"""The haemorrhage recipe: intracerebral haemorrhage in head CT with a 2D U-Net, per patient.

After the study "Segmentation method for intracerebral hemorrhage" (course write-up 002):
INSTANCE 2022 non-contrast head CT with haemorrhage masks; intensity ranges chosen by eye to remove
the skull, adjust the brain and enhance the lesions; volumes cut into axial slices and only the
slices with sufficiently large lesions kept for training; an 80/20 patient split (78/17) with a
validation set; a 2D U-Net trained with Adam and binary cross-entropy, accuracy and Dice
monitored; test volumes rebuilt from predicted slices and scored per patient (Dice and false
positives).

What the study chose by eye is a rule here: the skull is removed with
:func:`labkit.ct.intracranial_mask` and the brain is shown through a fixed window of 0 to 100 HU
(fresh blood towards white). The study's own proposed fixes are settings, so that each can be
measured against the faithful pipeline on the same split:

- ``lesion_free`` — lesion-free brain slices in training (a share of the lesion slices);
- ``normalisation="patient"`` — the window placed relative to each patient's median brain HU;
- ``context`` — neighbouring slices as extra channels (2.5D input);
- ``min_component_ml`` and ``opening`` — post-processing of the predicted mask (kept inside the
  skull, small components dropped, a slice-wise morphological opening).

Profiles:

- ``full`` — the study's setting as far as it was reported: slices at the CT's 512 pixels, Adam,
  binary cross-entropy; epochs, batch size and learning rate were not reported, so Keras'
  defaults for Adam (1e-3), batch 8 and 50 epochs.
- ``quick`` — a CPU budget of one to two minutes a run: the brain's bounding box resized to
  80x80 pixels, a narrow U-Net, a higher learning rate.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
from scipy import ndimage

from labkit.ct import apply_window, brain_median_hu, intracranial_mask
from labkit.datasets.base import Case, Cohort, LoadedCase, load_case
from labkit.datasets.ich import LABELS, load_instance, write_ich_twin
from labkit.evaluation import evaluate_labels
from labkit.inference import predict_slices
from labkit.io import Volume
from labkit.morphology import remove_small_components
from labkit.pipeline import neighbour_channels, slice_dataset
from labkit.studies import register
from labkit.studies.common import binary_slice_model, single_channel_volumes
from labkit.studies.recipe import Inputs, Recipe, RunContext
from labkit.studies.runs import progress
from labkit.tables import paired_verdict
from labkit.transforms import Crop, Resize, crop_to_box, foreground_box, resize, undo

__all__ = [
    "ALL_TOGETHER",
    "FIXES",
    "PROFILES",
    "RECIPE",
    "ICHProfile",
    "ICHRecipe",
    "Preprocessed",
    "build_model",
    "held_out_predictions",
    "patient_rows",
    "patient_table",
    "postprocess",
    "predict",
    "predict_probabilities",
    "preprocess",
    "run_settings",
    "score_postprocessing",
    "select_slices",
    "settings",
    "synth",
    "train",
    "verdict",
]


@dataclass(frozen=True)
class ICHProfile:
    """Settings of one profile of the haemorrhage recipe.

    Attributes:
        size: In-plane edge the brain's bounding box is resized to (the study: the CT's 512).
        epochs: Training epochs.
        batch_size: Slices per batch.
        learning_rate: Adam's learning rate.
        filters: Filters of the U-Net's first level.
        depth: Number of poolings of the U-Net.
        batch_norm_momentum: Momentum of the batch-normalisation statistics.
        loss: A :func:`labkit.losses.get` name (the study: ``"bce"``).
        window: ``(low, high)`` HU of the fixed window (skull removed first).
        normalisation: ``"fixed"`` (the window as given) or ``"patient"`` (the window shifted by
            the patient's median brain HU minus ``reference_hu``).
        reference_hu: Median brain HU the fixed window is meant for.
        min_lesion_mm2: A training slice is kept when its lesion covers at least this area.
        lesion_free: Lesion-free brain slices added to training, as a share of the lesion slices
            (0: the study, which kept none).
        context: Neighbouring slices per side as extra channels (0: the study's 2D input).
        flip: Random left-right flips of training slices.
        min_component_ml: At prediction, drop connected components smaller than this (0: off).
        opening: At prediction, a slice-wise binary opening (3x3 cross) before the components.
        nsd_tolerance_mm: Tolerance of the normalised surface Dice.
        fractions: Patient shares of train, validation and test (the study: 80% / 20%, with a
            validation set out of the training patients).
        split_seed: Seed of the split (-1: the run's seed), so that runs with other seeds can
            test the same patients.
    """

    size: int
    epochs: int
    batch_size: int
    learning_rate: float
    filters: int
    depth: int
    batch_norm_momentum: float = 0.99
    loss: str = "bce"
    window: tuple[float, float] = (0.0, 100.0)
    normalisation: str = "fixed"
    reference_hu: float = 32.0
    min_lesion_mm2: float = 40.0
    lesion_free: float = 0.0
    context: int = 0
    flip: bool = False
    min_component_ml: float = 0.0
    opening: bool = False
    nsd_tolerance_mm: float = 2.0
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_seed: int = -1


#: The study's proposed fixes that need a training of their own, as settings (the chapter and
#: ``benchmarks/ich_fixes.py`` train each once per seed; the post-processing needs none).
FIXES: dict[str, dict[str, Any]] = {
    "lesion-free slices": {"lesion_free": 1.0},
    "per-patient normalisation": {"normalisation": "patient"},
    "2.5D input": {"context": 1},
}

#: Every fix together, with the post-processing and left-right flips: the chapter's last
#: pipeline, whose per-patient mean Dice the chapter floors (``benchmarks/floor_spread.py ich``).
ALL_TOGETHER: dict[str, Any] = {
    "lesion_free": 1.0,
    "normalisation": "patient",
    "context": 1,
    "flip": True,
    "min_component_ml": 0.1,
    "opening": True,
}


PROFILES = {
    "quick": ICHProfile(
        size=80,
        epochs=20,
        batch_size=16,
        learning_rate=2e-3,
        filters=16,
        depth=3,
        batch_norm_momentum=0.9,
    ),
    "full": ICHProfile(size=512, epochs=50, batch_size=8, learning_rate=1e-3, filters=64, depth=4),
}


def settings(profile: str, overrides: Mapping[str, Any] | None = None) -> ICHProfile:
    """The settings of a profile, with some of them replaced.

    Raises:
        ValueError: For an unknown profile, field or normalisation.
    """
    return RECIPE.settings(profile, overrides)


def run_settings(run: Path) -> ICHProfile:
    """The settings a finished run was trained with, overrides included (from ``config.json``)."""
    return RECIPE.run_settings(run)


@dataclass(frozen=True)
class Preprocessed:
    """One CT volume, ready for the 2D U-Net.

    Attributes:
        image: ``(size, size, z, 1 + 2 * context)`` float32 in ``[0, 1]``, skull removed.
        label: ``(size, size, z)`` uint8 haemorrhage mask, or ``None``.
        brain: ``(x, y, z)`` intracranial mask on the source grid (read-only: later calls on
            the same CT return the same array).
        records: Crop and resize records back to the source grid (:func:`labkit.transforms.undo`).
        shift_hu: How far the window was moved for this patient (0 with ``"fixed"``).
    """

    image: np.ndarray
    label: np.ndarray | None
    brain: np.ndarray
    records: list[Crop | Resize]
    shift_hu: float


_MASKS: OrderedDict[bytes, np.ndarray] = OrderedDict()
_MASK_BYTES = 256 * 2**20


def _intracranial(hu: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """:func:`labkit.ct.intracranial_mask`, remembered for the CTs this process saw last.

    A chapter trains several runs on the same patients; each run preprocesses every CT again.
    The mask is keyed by a hash of the volume and its spacing, and the oldest masks are
    forgotten beyond 256 MB.
    """
    digest = hashlib.blake2b(hu.tobytes(), digest_size=16)
    digest.update(repr((hu.shape, tuple(float(s) for s in spacing))).encode())
    key = digest.digest()
    if key in _MASKS:
        _MASKS.move_to_end(key)
        return _MASKS[key]
    brain = intracranial_mask(hu, spacing)
    brain.flags.writeable = False  # shared between callers
    _MASKS[key] = brain
    while sum(m.nbytes for m in _MASKS.values()) > _MASK_BYTES and len(_MASKS) > 1:
        _MASKS.popitem(last=False)
    return brain


def preprocess(
    hu: np.ndarray,
    spacing: tuple[float, ...],
    prof: ICHProfile,
    label: np.ndarray | None = None,
) -> Preprocessed:
    """The study's preprocessing, by rule: skull removed, windowed, cropped to the brain, resized.

    Args:
        hu: CT volume ``(x, y, z)`` or ``(x, y, z, 1)`` in Hounsfield units.
        spacing: Voxel size in mm.
        prof: Settings (``window``, ``normalisation``, ``size``, ``context``).
        label: Haemorrhage mask ``(x, y, z)`` to crop and resize alongside (nearest neighbour).

    Returns:
        The :class:`Preprocessed` volume. Slices keep their index: slice ``k`` of the output is
        slice ``k`` of the CT.
    """
    hu = np.asarray(hu[..., 0] if hu.ndim == 4 else hu, dtype=np.float32)
    brain = _intracranial(hu, spacing)
    shift = 0.0
    if prof.normalisation == "patient":
        shift = brain_median_hu(hu, brain) - prof.reference_hu
    low, high = prof.window
    image = apply_window(hu, (shift + (low + high) / 2, high - low)) * brain
    start, stop = foreground_box(brain.any(axis=2), margin=2)  # in-plane; every slice kept
    start, stop = (*start, 0), (*stop, hu.shape[2])
    cropped, crop = crop_to_box(image, start, stop)
    shape = (prof.size, prof.size, hu.shape[2])
    resized, size = resize(cropped, shape, order=1)
    out = neighbour_channels(resized[..., None], prof.context, axis=2)
    if label is not None:
        label = resize(crop_to_box(label, start, stop)[0], shape, order=0)[0].astype(np.uint8)
    return Preprocessed(out, label, brain, [crop, size], shift)


def select_slices(
    label: np.ndarray,
    brain: np.ndarray,
    spacing: tuple[float, ...],
    min_lesion_mm2: float,
    lesion_free: float,
    rng: np.random.Generator,
) -> list[int]:
    """The axial slices a volume gives to training, as the study chose them.

    Args:
        label: Haemorrhage mask ``(x, y, z)`` on the source grid.
        brain: Intracranial mask ``(x, y, z)``.
        spacing: Voxel size in mm.
        min_lesion_mm2: Lesion area a slice needs to be kept.
        lesion_free: Lesion-free slices to add, as a share of the lesion slices kept (drawn from
            the slices with some brain and no lesion at all).
        rng: Generator for drawing the lesion-free slices.

    Returns:
        Sorted slice indices.
    """
    area = label.reshape(-1, label.shape[2]).sum(axis=0) * spacing[0] * spacing[1]
    lesion = np.flatnonzero(area >= min_lesion_mm2)
    brain_area = brain.reshape(-1, brain.shape[2]).sum(axis=0) * spacing[0] * spacing[1]
    empty = np.flatnonzero((area == 0) & (brain_area >= 1000.0))  # at least 10 cm^2 of brain
    n = min(len(empty), round(lesion_free * len(lesion)))
    extra = rng.choice(empty, size=n, replace=False) if n else np.zeros(0, int)
    return sorted(int(k) for k in (*lesion, *extra))


def _slices(
    cases: list[Case], prof: ICHProfile, label: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for case in progress(cases, label):
        loaded = load_case(case)
        spacing = loaded.image.spacing
        pre = preprocess(loaded.image.array, spacing, prof, loaded.label.array)
        keep = select_slices(
            loaded.label.array, pre.brain, spacing, prof.min_lesion_mm2, prof.lesion_free, rng
        )
        xs.append(np.moveaxis(pre.image[:, :, keep], 2, 0))
        ys.append(np.moveaxis(pre.label[:, :, keep], 2, 0)[..., None])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.uint8)


def build_model(prof: ICHProfile) -> keras.Model:
    """A compiled 2D U-Net for ``(size, size, 1 + 2 * context)`` slices with a sigmoid output."""
    return binary_slice_model(prof)


def predict_probabilities(
    model: keras.Model, hu: np.ndarray, spacing: tuple[float, ...], prof: ICHProfile
) -> tuple[np.ndarray, np.ndarray]:
    """Haemorrhage probability of every voxel of one CT, on its own grid.

    Every axial slice is predicted (not only those with lesions: a test patient's slices are not
    chosen by their reference), and the slices are stacked back into the volume.

    Args:
        model: A trained model of this recipe.
        hu: CT volume ``(x, y, z)`` or ``(x, y, z, 1)`` in HU.
        spacing: Voxel size in mm.
        prof: The settings the model was trained with.

    Returns:
        ``(probability (x, y, z) float32, intracranial mask (x, y, z) bool)``.
    """
    pre = preprocess(hu, spacing, prof)
    probs = predict_slices(model, pre.image, axis=2, multiple=2**prof.depth)[..., 0]
    return undo(probs, pre.records), pre.brain


def postprocess(
    mask: np.ndarray,
    brain: np.ndarray,
    spacing: tuple[float, ...],
    min_component_ml: float,
    opening: bool = False,
) -> np.ndarray:
    """The clean-up the study proposed: morphology and connected components.

    Args:
        mask: Predicted haemorrhage mask ``(x, y, z)``.
        brain: Intracranial mask ``(x, y, z)``: nothing outside it is kept.
        spacing: Voxel size in mm.
        min_component_ml: Components (3D, full connectivity) smaller than this are dropped.
        opening: Open each axial slice with a 3x3 cross first (removes specks and one-pixel
            bridges; also thins a crescent that is one or two pixels thick).

    Returns:
        uint8 mask ``(x, y, z)``.
    """
    out = np.asarray(mask, bool) & brain
    if opening:
        cross = ndimage.generate_binary_structure(2, 1)[..., None]  # 3x3, within each slice
        out = ndimage.binary_opening(out, structure=cross)
    if min_component_ml > 0:
        out = remove_small_components(out, min_component_ml * 1000.0, spacing)
    return out.astype(np.uint8)


def score_postprocessing(
    held_out: Mapping[str, tuple[LoadedCase, np.ndarray, np.ndarray]],
    min_component_ml: float,
    opening: bool = False,
    nsd_tolerance_mm: float = 2.0,
) -> list[dict[str, Any]]:
    """Post-process a run's held-out predictions and score them as ``train`` scores a run.

    This measures post-processing without training again: the probabilities of
    :func:`held_out_predictions`, thresholded at 0.5, cleaned by :func:`postprocess`.

    Args:
        held_out: What :func:`held_out_predictions` returns.
        min_component_ml: Smallest component kept (0: none dropped).
        opening: Open each axial slice first.
        nsd_tolerance_mm: Tolerance of the normalised surface Dice.

    Returns:
        One row per patient with the columns of ``metrics.csv`` (the lesion-wise ones included).
    """
    rows = []
    for case_id, (loaded, probs, brain) in held_out.items():
        spacing = loaded.image.spacing
        mask = postprocess(probs >= 0.5, brain, spacing, min_component_ml, opening)
        rows += patient_rows(mask, loaded, case_id, nsd_tolerance_mm)
    return rows


def patient_rows(
    mask: np.ndarray, loaded: LoadedCase, case_id: str, nsd_tolerance_mm: float
) -> list[dict[str, Any]]:
    """The per-patient metrics of a predicted mask ``(x, y, z)``, lesion-wise columns included:
    the rows of ``metrics.csv``."""
    return evaluate_labels(
        mask,
        loaded.label.array,
        LABELS,
        loaded.image.spacing,
        case=case_id,
        lesions=True,
        nsd_tolerance_mm=nsd_tolerance_mm,
    )


def patient_table(
    rows: Sequence[Mapping[str, Any]], kinds: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The study's per-patient view of ``metrics.csv`` rows: blood and predicted volume, Dice,
    and false-positive regions (predicted components that touch no blood).

    Args:
        rows: Rows of a run's ``metrics.csv`` (or :func:`score_postprocessing`).
        kinds: Patient id to kind of bleed (the twin's ``kinds.json``; ``"?"`` when unknown).
    """
    kinds = kinds or {}
    return [
        {
            "patient": r["case"],
            "kind": kinds.get(r["case"], "?"),
            "blood (mL)": r["volume_ref_ml"],
            "predicted (mL)": r["volume_pred_ml"],
            "Dice": r["dice"],
            "false-positive regions": int(r["fp_components"]),
        }
        for r in rows
    ]


def verdict(rows: Sequence[Mapping[str, Any]], base: Sequence[Mapping[str, Any]]) -> str:
    """A change against a baseline on the same patients, in words: the paired Dice verdict
    (:func:`labkit.tables.paired_verdict`) and the change in false-positive regions per patient.

    Raises:
        ValueError: If the two lists do not hold the same patients in the same order.
    """
    if [r["case"] for r in rows] != [b["case"] for b in base]:
        raise ValueError(
            f"verdict compares the same patients in the same order; got "
            f"{[r['case'] for r in rows]} and {[b['case'] for b in base]}."
        )
    dice_words = paired_verdict([r["dice"] for r in rows], [b["dice"] for b in base])
    fp = [r["fp_components"] for r in rows]
    change = np.mean(fp) - np.mean([b["fp_components"] for b in base])
    return f"Dice {dice_words}; false positives {change:+.1f} per patient"


def predict_volume(
    model: keras.Model, hu: np.ndarray, spacing: tuple[float, ...], prof: ICHProfile
) -> np.ndarray:
    """Haemorrhage mask ``(x, y, z)`` uint8 on the CT's own grid, post-processed as ``prof``
    says (nothing, in the faithful pipeline)."""
    probs, brain = predict_probabilities(model, hu, spacing, prof)
    mask = probs >= 0.5
    if prof.min_component_ml > 0 or prof.opening:
        return postprocess(mask, brain, spacing, prof.min_component_ml, prof.opening)
    return mask.astype(np.uint8)


def held_out_predictions(
    run: Path, data: Path
) -> dict[str, tuple[LoadedCase, np.ndarray, np.ndarray]]:
    """Predict a finished run's test patients again, before any post-processing.

    Args:
        run: Run folder (``model.keras``, ``config.json``, ``split.json``).
        data: The INSTANCE folder the run was trained on.

    Returns:
        Case id (in ``split.json`` order) to ``(loaded case, probability (x, y, z), intracranial
        mask (x, y, z))`` on the case's own grid; thresholding the probability at 0.5 gives what
        ``train`` scored when the run's settings had no post-processing.
    """
    model, prof, cases = RECIPE.held_out(run, data)
    out = {}
    for case in cases:
        loaded = load_case(case)
        probs, brain = predict_probabilities(model, loaded.image.array, loaded.image.spacing, prof)
        out[case.case_id] = (loaded, probs, brain)
    return out


class ICHRecipe(Recipe):
    """The haemorrhage study's hooks of the recipe skeleton
    (:class:`labkit.studies.recipe.Recipe`)."""

    name = "ich"
    description = "intracerebral haemorrhage in head CT (INSTANCE), 2D U-Net, per-patient scores"
    profiles = PROFILES
    labels = LABELS
    modalities = ("CT",)
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {"normalisation": ("fixed", "patient")}
    metrics = ("dice", "hd", "hd95", "nsd", "rvd", "fp_components")

    def load(self, data: Path, prof: ICHProfile) -> Cohort:
        return load_instance(data)

    def inputs(self, run: RunContext) -> Inputs:
        """The chosen slices (:func:`select_slices`) of the training and validation patients;
        the lesion-free ones drawn with the run's seed."""
        prof, seed = run.settings, run.seed
        rng = np.random.default_rng(seed)
        x_train, y_train = _slices(run.cases("train"), prof, "training slices", rng)
        x_val, y_val = _slices(run.cases("val"), prof, "validation slices", rng)
        flips = (0,) if prof.flip else ()  # axis 0 of a slice is x: left-right
        facts = {
            "train_slices": len(x_train),
            "train_lesion_slices": int(y_train.reshape(len(y_train), -1).any(axis=1).sum()),
            "val_slices": len(x_val),
        }
        return Inputs(
            slice_dataset(x_train, y_train, prof.batch_size, True, flip_axes=flips, seed=seed),
            slice_dataset(x_val, y_val, prof.batch_size),
            facts,
        )

    def model(self, run: RunContext) -> keras.Model:
        return build_model(run.settings)

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """Every axial slice of the patient predicted, stacked, post-processed as the settings
        say, and scored per patient."""
        prof = run.settings
        loaded = self.read(run.cohort, run.case(case_id))
        mask = predict_volume(model, loaded.image.array, loaded.image.spacing, prof)
        return patient_rows(mask, loaded, case_id, prof.nsd_tolerance_mm)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {"train_slices": run.config["train_slices"]}

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """The CTs (in HU) of an INSTANCE folder (``data/``) or of a plain folder."""
        layout = "an INSTANCE folder (data/ + label/)"
        return single_channel_volumes(input_dir, "data", "CT", layout)

    def segment(
        self, model: keras.Model, volume: Volume, prof: ICHProfile, config: Mapping[str, Any]
    ) -> np.ndarray:
        image = volume.array.reshape(*volume.shape[:3], 1)
        return predict_volume(model, image, volume.spacing, prof)

    def synth(self, out: Path, cases: int = 24, seed: int = 0) -> Path:
        """Write a synthetic haemorrhage cohort (INSTANCE ``data/`` + ``label/``) into ``out``."""
        write_ich_twin(out, n_cases=cases, seed=seed)
        return Path(out)


RECIPE = register(ICHRecipe())
train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
