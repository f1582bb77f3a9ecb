"""The BraTS recipe: tumour sub-regions in multi-modal MRI with a 3D U-Net trained on patches.

After the study "Brain tumour auto-segmentation for MRI using 3D U-Net" (course write-up 004):
MSD Task01 (FLAIR, T1, T1Gd, T2; 1 edema, 2 non-enhancing, 3 enhancing tumour), a 3D U-Net after
Cicek et al. (2016) trained on randomly sampled sub-volumes, the soft Dice loss, and per-class
Dice, sensitivity and specificity; batch 8, 100+ epochs on a T4; Dice 0.711 (train) and 0.727
(validation).

What the write-up does not give, this recipe chooses and says so: the patch size, the optimiser
(Adam), the intensity normalisation (a z-score per channel inside the brain), the share of
patches centred on tumour (``foreground``), and how a whole volume is predicted (a sliding window
of overlapping patches blended with Gaussian weights). Evaluation adds what BraTS scores: Dice
and HD95 of the whole tumour, tumour core and enhancing tumour, taken from the label map through
the data's own label convention (:data:`labkit.labels.REGION_CONVENTIONS`).

The network predicts one class per label value of the training data's convention (four for BraTS
2013, three for the others), so a run writes label maps in the convention it was trained on and
records it in ``config.json``. A run also records its modalities; ``predict`` reads exactly those
and says so when a folder lacks one.

Profiles:

- ``full`` — 1 mm voxels, 64^3 patches, batch 8, 120 epochs of 800 patches, a 16-filter U-Net
  with four poolings.
- ``quick`` — a CPU budget: volumes resampled to 2 mm and cropped to the brain, 32^3 patches,
  batch 4, 10 epochs of 80 patches, an 8-filter U-Net with three poolings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from labkit import losses
from labkit import metrics as keras_metrics
from labkit.datasets.brats import (
    BraTSCohort,
    brain_mask,
    load_brats,
    load_brats_case,
    write_brats_twin,
)
from labkit.evaluation import binary_metrics, evaluate_labels
from labkit.inference import save_prediction, sliding_window
from labkit.intensity import zscore
from labkit.io import Volume
from labkit.labels import CONVENTION_LABELS, check_labels, region_masks
from labkit.models import unet
from labkit.pipeline import fixed_patch_dataset, patch_dataset
from labkit.splits import split_ids
from labkit.studies import register
from labkit.studies.common import case_orientation
from labkit.studies.recipe import Inputs, Recipe, RunContext
from labkit.studies.runs import progress
from labkit.transforms import crop_to_box, foreground_box, resize, undo

__all__ = [
    "PROFILES",
    "RECIPE",
    "REGIONS",
    "STUDY_METRICS",
    "BraTSProfile",
    "BraTSRecipe",
    "build_model",
    "case_rows",
    "class_values",
    "predict",
    "predict_labels",
    "predict_probability",
    "prepare",
    "preprocess",
    "region_rows",
    "settings",
    "split_cohort",
    "synth",
    "train",
    "validation_data",
]

#: The regions BraTS scores: whole tumour, tumour core, enhancing tumour.
REGIONS = ("WT", "TC", "ET")

#: Ways to blend overlapping windows in sliding-window inference.
BLENDS = ("gaussian", "constant")

#: The study's per-class table: Dice, sensitivity, specificity; and HD95 for the regions.
STUDY_METRICS = ("dice", "hd95", "sensitivity", "specificity")


@dataclass(frozen=True)
class BraTSProfile:
    """Settings of one profile of the BraTS recipe.

    Attributes:
        patch: Training patch ``(px, py, pz)`` in voxels of ``spacing``; also the sliding window.
        epochs: Training epochs.
        batch_size: Patches per batch (the study: 8).
        learning_rate: Adam's learning rate.
        filters: Filters of the U-Net's first level (doubling at each level down).
        depth: Poolings of the U-Net (2x2x2 each).
        spacing: Voxel size in mm the volumes are resampled to.
        patches_per_epoch: New patches drawn every epoch, spread evenly over the training
            volumes (at least one each), so that an epoch is as long for four patients as for
            forty; validation draws half as many, once.
        foreground: Share of patches centred on a tumour voxel (the rest anywhere).
        loss: A :func:`labkit.losses.get` name; ``"dice"`` is the study's soft Dice, over the
            batch and every class, background included (the study's loss covered its three
            tumour classes; left out, the background gets no direct gradient, and a quick run
            on the twin labelled 35,000 voxels of normal brain as enhancing tumour).
        modalities: Modalities to read, in channel order (empty: all the data has).
        overlap: Share of a window its neighbour overlaps in sliding-window inference.
        blend: ``"gaussian"`` (centre-weighted) or ``"constant"`` window blending.
        fractions: Case shares of train, validation and test.
        holdout: Cases to hold out for testing in a cohort too small for ``fractions`` (0: use
            the fractions). The rest train, and validation patches come from them (a fixed
            draw), which the summary records.
        test_cases: Case ids to hold out for testing, named (a fold of a leave-one-out); the
            rest train, as with ``holdout``.
        batch_norm_momentum: Momentum of the batch-norm statistics (short runs need a short
            memory).
        convention: The label convention of the data (a key of
            :data:`labkit.labels.CONVENTION_LABELS`); empty: the layout's own (MSD
            Task01 for an MSD folder, BraTS 2013 for a folder whose path names it, else 2018).
        split_seed: Seed of the split (-1: the run's seed), so that runs with other seeds can
            test the same cases.
    """

    patch: tuple[int, int, int]
    epochs: int
    batch_size: int
    learning_rate: float
    filters: int
    depth: int = 3
    spacing: tuple[float, float, float] = (2.0, 2.0, 2.0)
    patches_per_epoch: int = 80
    foreground: float = 0.5
    loss: str = "dice"
    modalities: tuple[str, ...] = ()
    overlap: float = 0.5
    blend: str = "gaussian"
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    holdout: int = 0
    test_cases: tuple[str, ...] = ()
    batch_norm_momentum: float = 0.9
    convention: str = ""
    split_seed: int = -1


PROFILES = {
    "quick": BraTSProfile(
        patch=(32, 32, 32), epochs=10, batch_size=4, learning_rate=3e-3, filters=8
    ),
    "full": BraTSProfile(
        patch=(64, 64, 64),
        epochs=120,
        batch_size=8,
        learning_rate=3e-4,
        filters=16,
        depth=4,
        spacing=(1.0, 1.0, 1.0),
        patches_per_epoch=800,
    ),
}


def settings(profile: str, overrides: Mapping[str, Any] | None = None) -> BraTSProfile:
    """The settings of a profile, with some of them replaced (``{"modalities": ["FLAIR"]}``).

    Raises:
        ValueError: For an unknown profile or field, a bad blend, or a patch the U-Net cannot
            pool ``depth`` times.
    """
    return RECIPE.settings(profile, overrides)


def class_values(convention: str) -> tuple[int, ...]:
    """Label values of a convention in the order of the network's classes 1, 2, ..."""
    return tuple(sorted(CONVENTION_LABELS[convention]))


def preprocess(
    image: np.ndarray,
    spacing: Sequence[float],
    prof: BraTSProfile,
    label: np.ndarray | None = None,
    convention: str = "msd_task01",
) -> tuple[np.ndarray, np.ndarray | None, list]:
    """Resample to ``prof.spacing``, crop to the brain, z-score each channel inside the brain.

    Args:
        image: ``(x, y, z, c)`` skull-stripped MRI.
        spacing: Its voxel size in mm.
        prof: Settings (``spacing``).
        label: Label map ``(x, y, z)`` in ``convention`` (resampled by nearest neighbour and
            turned into class indices 0..K).
        convention: The label map's convention.

    Returns:
        ``(image (*grid, c) float32 with 0 outside the brain, classes (*grid) uint8 or None,
        records)``; :func:`labkit.transforms.undo` takes a prediction back to the source grid.

    Raises:
        LabelValueError: If ``label`` holds a value ``convention`` does not use.
    """
    image = np.asarray(image, np.float32)
    sizes = zip(image.shape[:3], spacing, prof.spacing, strict=True)
    grid = [max(1, round(n * s / t)) for n, s, t in sizes]
    brain = brain_mask(image)
    resized, record = resize(image, grid, order=1)
    brain = resize(brain.astype(np.uint8), grid, order=0)[0] > 0
    start, stop = foreground_box(brain, margin=2)
    cropped, crop = crop_to_box(resized, start, stop)
    brain = brain[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))]
    x = zscore(cropped, brain) * brain[..., None]
    classes = None
    if label is not None:
        check_labels(label, convention)  # a value outside the table would become background
        lut = np.zeros(256, np.uint8)
        for index, value in enumerate(class_values(convention), 1):
            lut[value] = index
        small = resize(np.asarray(label, np.uint8), grid, order=0)[0]
        classes = lut[crop_to_box(small, start, stop)[0]]
    return x.astype(np.float32), classes, [record, crop]


def build_model(prof: BraTSProfile, channels: int, n_classes: int) -> keras.Model:
    """A compiled 3D U-Net for ``(*patch, channels)`` patches with a softmax over background
    and ``n_classes`` tumour classes; soft Dice over the batch and all classes, mean hard Dice
    of the tumour classes as the metric."""
    model = unet(
        (*prof.patch, channels),
        n_classes + 1,
        depth=prof.depth,
        filters=prof.filters,
        batch_norm_momentum=prof.batch_norm_momentum,
        name="unet3d_brats",
    )
    loss = losses.get(prof.loss, batch=True)
    model.compile(
        optimizer=keras.optimizers.Adam(prof.learning_rate),
        loss=loss,
        metrics=[keras_metrics.DiceScore(n_classes + 1)],
    )
    return model


def split_cohort(cohort: BraTSCohort, prof: BraTSProfile, seed: int) -> dict[str, list[str]]:
    """Train / val / test case ids: by ``fractions``, or ``test_cases`` or ``holdout`` test cases
    and the rest training (``val`` then repeats the training ids: validation patches come from
    them)."""
    ids = cohort.case_ids
    if prof.test_cases:
        if unknown := sorted(set(prof.test_cases) - set(ids)):
            raise ValueError(f"test_cases {unknown} are not cases of {cohort.root}: {ids}.")
        train = [i for i in ids if i not in prof.test_cases]
        if not train:
            raise ValueError("test_cases must leave at least one training case.")
        return {"train": train, "val": train, "test": sorted(prof.test_cases)}
    if prof.holdout:
        if not 0 < prof.holdout < len(ids):
            raise ValueError(
                f"holdout must leave at least one training case; got {prof.holdout} of "
                f"{len(ids)} cases in {cohort.root}."
            )
        order = np.random.default_rng(seed).permutation(len(ids))
        test = sorted(ids[i] for i in order[: prof.holdout])
        train = sorted(ids[i] for i in order[prof.holdout :])
        return {"train": train, "val": train, "test": test}
    train, val, test = prof.fractions
    return split_ids(ids, {"train": train, "val": val, "test": test}, seed)


def prepare(
    cohort: BraTSCohort, ids: Sequence[str], prof: BraTSProfile, label: str = "volumes"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Preprocessed volumes ``(*grid, c)`` and class maps ``(*grid, 1)`` of some cases."""
    by_id = {c.case_id: c for c in cohort.cases}
    xs, ys = [], []
    for case_id in progress(list(ids), label):
        image, labels = load_brats_case(by_id[case_id], cohort.convention)
        x, y, _ = preprocess(image.array, image.spacing, prof, labels.array, cohort.convention)
        xs.append(x)
        ys.append(y[..., None])
    return xs, ys


def validation_data(
    xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], prof: BraTSProfile, seed: int
) -> tf.data.Dataset:
    """The fixed validation patches of a run: half an epoch's worth, spread over the volumes
    (:func:`labkit.pipeline.fixed_patch_dataset`)."""
    per_volume = -(-prof.patches_per_epoch // (2 * len(xs)))
    return fixed_patch_dataset(xs, ys, prof.patch, per_volume, prof.batch_size, seed)


def predict_probability(
    model: keras.Model, image: np.ndarray, spacing: Sequence[float], prof: BraTSProfile
) -> np.ndarray:
    """Class probabilities ``(x, y, z, K + 1)`` on the source grid of one image ``(x, y, z, c)``:
    a sliding window over the preprocessed volume, taken back through the crop and the resize
    (0 for every class outside the brain, which the argmax reads as background)."""
    x, _, records = preprocess(image, spacing, prof)
    prob = sliding_window(model, x, prof.patch, prof.overlap, prof.blend, batch_size=4)
    return undo(prob, records)


def predict_labels(
    model: keras.Model,
    image: np.ndarray,
    spacing: Sequence[float],
    prof: BraTSProfile,
    convention: str,
) -> np.ndarray:
    """Label map ``(x, y, z)`` uint8 in ``convention`` on the source grid of one image."""
    classes = np.argmax(predict_probability(model, image, spacing, prof), axis=-1)
    values = np.array((0, *class_values(convention)), np.uint8)
    return values[classes]


def region_rows(
    pred: np.ndarray,
    ref: np.ndarray,
    convention: str,
    spacing: Sequence[float],
    case: str = "",
) -> list[dict[str, Any]]:
    """BraTS's scoring of one case: Dice, HD95, sensitivity and specificity of the whole
    tumour, tumour core and enhancing tumour, each a union of labels of ``convention``."""
    p, r = region_masks(pred, convention), region_masks(ref, convention)
    return [
        {"case": case, "label": name, **binary_metrics(p[name], r[name], spacing)}
        for name in REGIONS
    ]


def case_rows(
    pred: np.ndarray, ref: np.ndarray, convention: str, spacing: Sequence[float], case: str = ""
) -> list[dict[str, Any]]:
    """Per-class rows (the study's table) followed by the three region rows of one case."""
    rows = evaluate_labels(pred, ref, CONVENTION_LABELS[convention], spacing, case=case)
    return rows + region_rows(pred, ref, convention, spacing, case)


class BraTSRecipe(Recipe):
    """The brain-tumour study's hooks of the recipe skeleton
    (:class:`labkit.studies.recipe.Recipe`)."""

    name = "brats"
    description = "brain-tumour sub-regions in multi-modal MRI (MSD Task01 / BraTS), 3D patches"
    profiles = PROFILES
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {
        "blend": BLENDS,
        "convention": ("", *CONVENTION_LABELS),
    }
    metrics = STUDY_METRICS

    def settings(self, profile: str, overrides: Mapping[str, Any] | None = None) -> BraTSProfile:
        """The settings of a profile; the patch must pool ``depth`` times."""
        prof = super().settings(profile, overrides)
        step = 2**prof.depth
        if len(prof.patch) != 3 or any(p % step for p in prof.patch):
            raise ValueError(
                f"patch must be three sizes divisible by 2**depth = {step}; got {prof.patch}."
            )
        return prof

    def load(self, data: Path, prof: BraTSProfile) -> BraTSCohort:
        return load_brats(data, prof.modalities or None, prof.convention or None)

    def adapt(self, prof: BraTSProfile, cohort: BraTSCohort) -> BraTSProfile:
        """A cohort of fewer than ten cases holds out one case (``holdout=1``) unless the
        settings say otherwise."""
        if len(cohort.cases) < 10 and not (prof.holdout or prof.test_cases):
            return replace(prof, holdout=1)
        return prof

    def split(self, cohort: BraTSCohort, prof: BraTSProfile, seed: int) -> dict[str, list[str]]:
        return split_cohort(cohort, prof, seed)

    def read(self, cohort: BraTSCohort, case: Any) -> Any:
        return load_brats_case(case, cohort.convention)

    def inputs(self, run: RunContext) -> Inputs:
        """Patches drawn afresh every epoch from the training volumes; fixed validation patches
        from the validation volumes, or from the training volumes of a tiny cohort."""
        prof, seed = run.settings, run.seed
        xs, ys = prepare(run.cohort, run.split["train"], prof, "training volumes")
        per_volume = -(-prof.patches_per_epoch // len(xs))
        train_data = patch_dataset(
            xs, ys, prof.patch, per_volume, prof.batch_size, prof.foreground, seed
        )
        small = bool(prof.holdout or prof.test_cases)
        if not small:
            xs, ys = prepare(run.cohort, run.split["val"], prof, "validation volumes")
        facts = {"validation": "patches of the training cases" if small else "validation cases"}
        return Inputs(train_data, validation_data(xs, ys, prof, seed), facts)

    def describe(self, run: RunContext) -> dict[str, Any]:
        cohort = run.cohort
        return {
            "settings": {**asdict(run.settings), "modalities": list(cohort.modalities)},
            "modalities": list(cohort.modalities),
            "orientation": case_orientation(cohort.cases[0]),
            "convention": cohort.convention,
            "labels": {str(k): v for k, v in CONVENTION_LABELS[cohort.convention].items()},
            "layout": cohort.layout,
        }

    def model(self, run: RunContext) -> keras.Model:
        n_classes = len(class_values(run.cohort.convention))
        return build_model(run.settings, len(run.cohort.modalities), n_classes)

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        """Predict one test case, keep its label map in the run's ``predictions/``, and score
        it per class and per region (:func:`case_rows`)."""
        convention = run.cohort.convention
        image, labels = self.read(run.cohort, run.case(case_id))
        pred = predict_labels(model, image.array, image.spacing, run.settings, convention)
        save_prediction(pred, image, run.out / "predictions" / f"{case_id}.nii.gz")
        return case_rows(pred, labels.array, convention, image.spacing, case_id)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "convention": run.cohort.convention,
            "modalities": list(run.cohort.modalities),
            "train_cases": len(run.split["train"]),
            "test_cases": len(run.split["test"]),
        }

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """Every case of a BraTS or MSD Task01 folder, reading the modalities the run was
        trained on (and saying which one a case lacks)."""
        cohort = load_brats(input_dir, config["modalities"])
        for case in progress(list(cohort.cases), "predicting"):
            image, _ = load_brats_case(replace(case, label=None), config["convention"])
            yield case.case_id, image

    def segment(
        self, model: keras.Model, volume: Volume, prof: BraTSProfile, config: Mapping[str, Any]
    ) -> np.ndarray:
        """The label map in the run's label convention."""
        return predict_labels(model, volume.array, volume.spacing, prof, config["convention"])

    def synth(self, out: Path, cases: int = 16, seed: int = 0, layout: str = "msd") -> Path:
        """Write a synthetic brain-tumour cohort (MSD Task01 layout, or ``layout="brats"``)."""
        write_brats_twin(out, n_cases=cases, seed=seed, layout=layout)
        return Path(out)


RECIPE = register(BraTSRecipe())
train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
