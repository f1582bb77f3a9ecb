"""The BraTS study's steps: resample, crop, normalise; 3D patches; a sliding window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from labkit import losses
from labkit import metrics as keras_metrics
from labkit.datasets.brats import (
    BraTSCohort,
    load_brats_case,
)
from labkit.inference import sliding_window
from labkit.intensity import brain_mask, zscore
from labkit.labels import CONVENTION_LABELS, check_labels
from labkit.models import unet
from labkit.pipeline import fixed_patch_dataset
from labkit.progress import progress
from labkit.splits import split_ids
from labkit.studies.settings.brats import BraTSSettings
from labkit.transforms import crop_to_box, foreground_box, resize, undo

__all__ = [
    "BLENDS",
    "REGIONS",
    "build_model",
    "class_values",
    "predict_labels",
    "predict_probability",
    "prepare",
    "preprocess",
    "split_cohort",
    "validation_data",
]


#: The regions BraTS scores: whole tumour, tumour core, enhancing tumour.
REGIONS = ("WT", "TC", "ET")


#: Ways to blend overlapping windows in sliding-window inference.
BLENDS = ("gaussian", "constant")


def class_values(convention: str) -> tuple[int, ...]:
    """Label values of a convention in the order of the network's classes 1, 2, ..."""
    return tuple(sorted(CONVENTION_LABELS[convention]))


def preprocess(
    image: np.ndarray,
    spacing: Sequence[float],
    settings: BraTSSettings,
    label: np.ndarray | None = None,
    convention: str = "msd_task01",
) -> tuple[np.ndarray, np.ndarray | None, list]:
    """Resample to ``settings.spacing``, crop to the brain, z-score each channel inside the brain.

    Args:
        image: ``(x, y, z, c)`` skull-stripped MRI.
        spacing: Its voxel size in mm.
        settings: Settings (``spacing``).
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
    sizes = zip(image.shape[:3], spacing, settings.spacing, strict=True)
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


def build_model(settings: BraTSSettings, channels: int, n_classes: int) -> keras.Model:
    """A compiled 3D U-Net for ``(*patch, channels)`` patches with a softmax over background
    and ``n_classes`` tumour classes; soft Dice over the batch and all classes, mean hard Dice
    of the tumour classes as the metric."""
    model = unet(
        (*settings.patch, channels),
        n_classes + 1,
        depth=settings.depth,
        filters=settings.filters,
        batch_norm_momentum=settings.batch_norm_momentum,
        name="unet3d_brats",
    )
    loss = losses.get(settings.loss, batch=True)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=loss,
        metrics=[keras_metrics.DiceScore(n_classes + 1)],
    )
    return model


def split_cohort(cohort: BraTSCohort, settings: BraTSSettings, seed: int) -> dict[str, list[str]]:
    """Train / val / test case ids: by ``fractions``, or ``test_cases`` or ``holdout`` test cases
    and the rest training (``val`` then repeats the training ids: validation patches come from
    them)."""
    ids = cohort.case_ids
    if settings.test_cases:
        if unknown := sorted(set(settings.test_cases) - set(ids)):
            raise ValueError(f"test_cases {unknown} are not cases of {cohort.root}: {ids}.")
        train = [i for i in ids if i not in settings.test_cases]
        if not train:
            raise ValueError("test_cases must leave at least one training case.")
        return {"train": train, "val": train, "test": sorted(settings.test_cases)}
    if settings.holdout:
        if not 0 < settings.holdout < len(ids):
            raise ValueError(
                f"holdout must leave at least one training case; got {settings.holdout} of "
                f"{len(ids)} cases in {cohort.root}."
            )
        order = np.random.default_rng(seed).permutation(len(ids))
        test = sorted(ids[i] for i in order[: settings.holdout])
        train = sorted(ids[i] for i in order[settings.holdout :])
        return {"train": train, "val": train, "test": test}
    train, val, test = settings.fractions
    return split_ids(ids, {"train": train, "val": val, "test": test}, seed)


def prepare(
    cohort: BraTSCohort, ids: Sequence[str], settings: BraTSSettings, label: str = "volumes"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Preprocessed volumes ``(*grid, c)`` and class maps ``(*grid, 1)`` of some cases."""
    by_id = {c.case_id: c for c in cohort.cases}
    xs, ys = [], []
    for case_id in progress(list(ids), label):
        image, labels = load_brats_case(by_id[case_id], cohort.convention)
        x, y, _ = preprocess(image.array, image.spacing, settings, labels.array, cohort.convention)
        xs.append(x)
        ys.append(y[..., None])
    return xs, ys


def validation_data(
    xs: Sequence[np.ndarray], ys: Sequence[np.ndarray], settings: BraTSSettings, seed: int
) -> Any:
    """The fixed validation patches of a run: half an epoch's worth, spread over the volumes
    (:func:`labkit.pipeline.fixed_patch_dataset`)."""
    per_volume = -(-settings.patches_per_epoch // (2 * len(xs)))
    return fixed_patch_dataset(xs, ys, settings.patch, per_volume, settings.batch_size, seed)


def predict_probability(
    model: keras.Model, image: np.ndarray, spacing: Sequence[float], settings: BraTSSettings
) -> np.ndarray:
    """Class probabilities ``(x, y, z, K + 1)`` on the source grid of one image ``(x, y, z, c)``:
    a sliding window over the preprocessed volume, taken back through the crop and the resize
    (0 for every class outside the brain, which the argmax reads as background)."""
    x, _, records = preprocess(image, spacing, settings)
    prob = sliding_window(model, x, settings.patch, settings.overlap, settings.blend, batch_size=4)
    return undo(prob, records)


def predict_labels(
    model: keras.Model,
    image: np.ndarray,
    spacing: Sequence[float],
    settings: BraTSSettings,
    convention: str,
) -> np.ndarray:
    """Label map ``(x, y, z)`` uint8 in ``convention`` on the source grid of one image."""
    classes = np.argmax(predict_probability(model, image, spacing, settings), axis=-1)
    values = np.array((0, *class_values(convention)), np.uint8)
    return values[classes]
