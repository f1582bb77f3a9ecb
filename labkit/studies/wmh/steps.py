"""The WMH study's steps: resize or patches, a 3D U-Net without batch norm, the source grid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from labkit import losses
from labkit import metrics as keras_metrics
from labkit.augment import augmented_copies, volume_augmentation
from labkit.datasets.base import Cohort, load_case
from labkit.inference import sliding_window
from labkit.intensity import zscore
from labkit.models import unet
from labkit.pipeline import fixed_patch_dataset, patch_dataset, slice_dataset
from labkit.progress import progress
from labkit.splits import leave_group_out, stratified_split_ids
from labkit.studies.settings.wmh import WMHSettings
from labkit.transforms import Resize, resize, undo

__all__ = [
    "INPUTS",
    "build_model",
    "input_grid",
    "normalise",
    "predict_probability",
    "predict_volume",
    "prepare",
    "preprocess",
    "site_groups",
    "split_cohort",
    "training_data",
    "validation_data",
]


#: How a FLAIR becomes network input: the study's whole-volume resize, or patches at resolution.
INPUTS = ("resize", "patches")


def normalise(image: np.ndarray) -> np.ndarray:
    """Z-score a FLAIR ``(x, y, z, 1)`` over its head: voxels above a tenth of the 99th
    percentile (sites store FLAIR on scales a hundred times apart; the background is noise)."""
    head = image[..., 0] > 0.1 * np.percentile(image[..., 0], 99)
    return zscore(image, head)


def input_grid(
    shape: Sequence[int], spacing: Sequence[float], settings: WMHSettings
) -> tuple[int, ...]:
    """The grid a FLAIR of ``shape`` and ``spacing`` (mm) is resized to: the study's fixed
    ``settings.shape``, or, for ``"patches"``, the grid that keeps its field of view at
    ``settings.spacing``."""
    if settings.input == "resize":
        return tuple(settings.shape)
    return tuple(
        max(1, round(n * s / t))
        for n, s, t in zip(shape[:3], spacing, settings.spacing, strict=True)
    )


def preprocess(
    image: np.ndarray,
    spacing: Sequence[float],
    settings: WMHSettings,
    label: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None, list[Resize]]:
    """Resize a FLAIR to the input grid (:func:`input_grid`), then normalise it.

    Args:
        image: FLAIR ``(x, y, z, 1)``.
        spacing: Its voxel size in mm.
        settings: Settings (``input``, ``shape``, ``spacing``).
        label: Challenge labels ``(x, y, z)``; WMH (1) becomes the target, everything else
            (other pathology included) background. Resized by nearest neighbour.

    Returns:
        ``(image (*grid, 1), target (*grid) uint8 or None, records)``; the records take a
        prediction back to the source grid with :func:`labkit.transforms.undo`.
    """
    grid = input_grid(image.shape, spacing, settings)
    resized, record = resize(np.asarray(image, np.float32), grid, order=1)
    target = None
    if label is not None:
        target = resize((np.asarray(label) == 1).astype(np.uint8), grid, order=0)[0]
    return normalise(resized), target, [record]


def build_model(settings: WMHSettings) -> keras.Model:
    """A compiled 3D U-Net for ``(*shape, 1)`` FLAIR volumes, no batch norm, sigmoid output."""
    model = unet(
        (*settings.shape, 1),
        1,
        depth=settings.depth,
        filters=settings.filters,
        kernel_size=settings.kernel,
        pool_size=2,
        batch_norm=False,
        name="unet3d_wmh",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=losses.get(settings.loss),
        metrics=[keras_metrics.DiceScore(1)],
    )
    return model


def site_groups(cohort: Cohort) -> dict[str, list[str]]:
    """Case ids per acquisition site."""
    groups: dict[str, list[str]] = {}
    for case in cohort.cases:
        groups.setdefault(case.meta["site"], []).append(case.case_id)
    return groups


def split_cohort(cohort: Cohort, settings: WMHSettings, seed: int) -> dict[str, list[str]]:
    """Train / val / test ids: stratified by site, or leave-one-site-out when ``test_site``.

    Raises:
        ValueError: If ``test_site`` is not a site of the cohort.
    """
    groups = site_groups(cohort)
    train, val, test = settings.fractions
    if not settings.test_site:
        return stratified_split_ids(groups, {"train": train, "val": val, "test": test}, seed)
    if settings.test_site not in groups:
        raise ValueError(
            f"test_site {settings.test_site!r} is not a site of {cohort.root}; its sites are "
            f"{sorted(groups)}."
        )
    rest = {"train": train / (train + val), "val": val / (train + val)}
    return leave_group_out(groups, settings.test_site, rest, seed)


def prepare(
    cohort: Cohort, ids: Sequence[str], settings: WMHSettings, label: str = "volumes"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Preprocessed volumes ``(*grid, 1)`` float32 and targets ``(*grid, 1)`` uint8, per case
    (one grid for all with ``"resize"``; each keeps its own with ``"patches"``)."""
    by_id = {c.case_id: c for c in cohort.cases}
    xs, ys = [], []
    for case_id in progress(list(ids), label):
        loaded = load_case(by_id[case_id])
        image = loaded.image.array[..., :1]
        x, y, _ = preprocess(image, loaded.image.spacing, settings, loaded.label.array)
        xs.append(x)
        ys.append(y[..., None])
    return xs, ys


def training_data(
    xs: list[np.ndarray], ys: list[np.ndarray], settings: WMHSettings, seed: int
) -> tuple[Any, int]:
    """The training dataset (augmented copies added) and the number of training volumes.

    Whole volumes with ``"resize"``; fresh patches every epoch with ``"patches"``.
    """
    transform = volume_augmentation(
        settings.rotate_degrees, settings.scale, settings.shift_voxels, seed
    )
    pairs = [
        augmented_copies(x[None], y[None], settings.copies, transform)
        for x, y in zip(xs, ys, strict=True)
    ]
    xs = [v for p in pairs for v in p[0]]
    ys = [v for p in pairs for v in p[1]]
    if settings.input == "resize":
        data = slice_dataset(
            np.stack(xs),
            np.stack(ys),
            settings.batch_size,
            shuffle=True,
            flip_axes=settings.flip_axes,
            seed=seed,
        )
    else:
        data = patch_dataset(
            xs,
            ys,
            settings.shape,
            settings.patches_per_volume,
            settings.batch_size,
            settings.foreground,
            seed,
            settings.flip_axes,
        )
    return data, len(xs)


def validation_data(xs: list[np.ndarray], ys: list[np.ndarray], settings: WMHSettings, seed: int):
    """The validation dataset: whole volumes, or a fixed draw of patches from each."""
    if settings.input == "resize":
        return slice_dataset(np.stack(xs), np.stack(ys), settings.batch_size)
    return fixed_patch_dataset(
        xs, ys, settings.shape, settings.patches_per_volume, settings.batch_size, seed
    )


def predict_probability(
    model: keras.Model, image: np.ndarray, spacing: Sequence[float], settings: WMHSettings
) -> np.ndarray:
    """WMH probability ``(x, y, z)`` float32 on the source grid of one FLAIR ``(x, y, z, 1)``.

    The whole resized volume in one pass (``"resize"``), or overlapping patches blended with
    Gaussian weights (``"patches"``); then resized back to the source grid, linearly.
    """
    x, _, records = preprocess(image, spacing, settings)
    if settings.input == "resize":
        prob = keras.ops.convert_to_numpy(model(x[None], training=False))[0]
    else:
        prob = sliding_window(model, x, settings.shape, overlap=0.25, batch_size=4)
    return undo(prob[..., 0], records)


def predict_volume(
    model: keras.Model,
    image: np.ndarray,
    spacing: Sequence[float],
    settings: WMHSettings,
    threshold: float | None = None,
) -> np.ndarray:
    """WMH mask ``(x, y, z)`` uint8 on the source grid of one FLAIR ``(x, y, z, 1)``.

    The probability is resized back to the source grid and thresholded there (at
    ``threshold``, default ``settings.threshold``), so the mask follows the source's voxels rather
    than the coarse input grid's.
    """
    prob = predict_probability(model, image, spacing, settings)
    return (prob >= (settings.threshold if threshold is None else threshold)).astype(np.uint8)
