"""The Decathlon study's steps: slices, a multiclass 2D U-Net, volumes back on their grid."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from labkit import losses, metrics
from labkit.datasets.base import Case, load_case
from labkit.datasets.msd import LAYOUT, load_msd
from labkit.errors import DatasetLayoutError
from labkit.inference import predict_slices
from labkit.intensity import zscore
from labkit.io import nifti_files
from labkit.models import unet
from labkit.progress import progress
from labkit.slices import neighbour_channels
from labkit.studies.settings.msd import MSDSettings
from labkit.transforms import Resize, resize, undo

__all__ = [
    "build_model",
    "compiled_model",
    "image_cases",
    "predict_volume",
    "prepare",
    "preprocess",
]


#: Values of the ``normalisation`` setting.
NORMALISATIONS = ("minmax", "zscore")

#: The budget of the course's CPU runs on a 20-case abdominal twin (Decathlon chapter and
#: ``benchmarks/msd_losses.py``): the twin's 128-pixel slices halved to 64 as the study halved
#: 512 to 256; batch 8, because ~520 training slices give 65 updates an epoch where batch 32
#: gives 17; six epochs: a run of a few CPU-minutes (the Decathlon chapter prints its time).
TWIN_BUDGET: dict[str, Any] = {"max_size": 64, "batch_size": 8, "epochs": 6}

#: Settings for MRI tasks such as the real hippocampus, on top of the study's recipe (which is
#: written for CT): each volume z-scored, as nnU-Net normalises MRI, instead of min-max (whose
#: range one bright voxel sets), and each slice given with its two neighbours as extra channels
#: ("2.5D"), so the 2D network sees the structure's extent across slices. On the 200 real
#: hippocampus cases they raised the quick profile's held-out Dice on the same split for a
#: shorter training (``benchmarks/hippocampus_frontier.py``; table in ``benchmarks/README.md``).
HIPPOCAMPUS: dict[str, Any] = {"normalisation": "zscore", "context": 1}

#: The Decathlon chapter's real-hippocampus run on a CPU: :data:`HIPPOCAMPUS` for four epochs,
#: with the largest component per label kept where the validation cases say it helps.
HIPPOCAMPUS_BUDGET: dict[str, Any] = {**HIPPOCAMPUS, "epochs": 4, "largest_component": "auto"}


def preprocess(
    image: np.ndarray, max_size: int = 256, normalisation: str = "minmax"
) -> tuple[np.ndarray, list[Resize]]:
    """Normalise each channel and halve slices larger than ``max_size``.

    Args:
        image: ``(x, y, z, c)`` volume.
        max_size: In-plane size above which x and y are downsampled by 2.
        normalisation: ``"minmax"`` (the study's: each channel to ``[0, 1]``) or ``"zscore"``
            (each channel to zero mean and unit variance over the volume, as nnU-Net
            normalises MRI; :func:`labkit.intensity.zscore`).

    Returns:
        The preprocessed volume and the resize record(s) that :func:`labkit.transforms.undo`
        needs to bring a prediction back to the source grid.
    """
    if normalisation not in NORMALISATIONS:
        raise ValueError(f"normalisation must be one of {NORMALISATIONS}; got {normalisation!r}.")
    if normalisation == "zscore":
        image = zscore(image)
    else:
        image = image.astype(np.float32)
        lo = image.min(axis=(0, 1, 2), keepdims=True)
        hi = image.max(axis=(0, 1, 2), keepdims=True)
        image = (image - lo) / np.maximum(hi - lo, 1e-6)
    records: list[Resize] = []
    if max(image.shape[:2]) > max_size:
        shape = (image.shape[0] // 2, image.shape[1] // 2, image.shape[2])
        image, record = resize(image, shape, order=1)
        records.append(record)
    return image, records


def prepare(
    cases: list[Case], max_size: int, normalisation: str = "minmax", context: int = 0
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each case preprocessed (:func:`preprocess`): images ``(x, y, z, c * (2 * context + 1))``
    (with ``context`` neighbouring slices per side as channels,
    :func:`labkit.slices.neighbour_channels`) and labels ``(x, y, z)`` on the (possibly
    downsampled) slice grid, in the order of ``cases``."""
    images, labels = [], []
    for case in progress(cases, "loading"):
        loaded = load_case(case)
        image, records = preprocess(loaded.image.array, max_size, normalisation)
        image = neighbour_channels(image, context)
        label = loaded.label.array
        for r in records:
            label = resize(label, r.shape, order=0)[0]
        images.append(image)
        labels.append(label)
    return images, labels


def build_model(settings: MSDSettings, n_channels: int, n_classes: int) -> keras.Model:
    """The recipe's U-Net (not compiled): any slice size that is a multiple of ``2 ** depth``.

    Args:
        settings: Profile settings (filters, depth, batch-norm momentum).
        n_channels: Input channels: one per modality in ``dataset.json``, times
            ``2 * context + 1`` slices.
        n_classes: Output channels, background included (softmax).

    Returns:
        A 2D U-Net mapping ``(batch, x, y, n_channels)`` to ``(batch, x, y, n_classes)``.
    """
    return unet(
        (None, None, n_channels),
        n_classes,
        depth=settings.depth,
        filters=settings.filters,
        batch_norm_momentum=settings.batch_norm_momentum,
    )


def compiled_model(
    settings: MSDSettings, n_channels: int, n_classes: int, train_slices: int
) -> keras.Model:
    """:func:`build_model` compiled as the recipe trains it: Adam (a constant rate, or a cosine
    decay to 0 over the run's ``train_slices / batch_size * epochs`` steps), the profile's
    loss, the generalized Dice score, the mean and per-class Dice, and pixel accuracy."""
    steps = int(np.ceil(train_slices / settings.batch_size)) * settings.epochs
    rate = (
        keras.optimizers.schedules.CosineDecay(settings.learning_rate, decay_steps=steps)
        if settings.schedule == "cosine"
        else settings.learning_rate
    )
    model = build_model(settings, n_channels, n_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=losses.get(settings.loss),
        metrics=[
            metrics.GeneralizedDiceScore(),
            metrics.DiceScore(n_classes),
            *(metrics.DiceScore(n_classes, k) for k in range(1, n_classes) if n_classes > 2),
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
        ],
    )
    return model


def predict_volume(model: keras.Model, image: np.ndarray, settings: MSDSettings) -> np.ndarray:
    """Segment one volume with a trained model: preprocess, predict slice by slice, undo.

    Args:
        model: A trained msd model (softmax output).
        image: Source image ``(x, y, z, c)``.
        settings: The run's settings (:func:`run_settings`): its ``max_size`` says whether slices
            were halved, its ``depth`` the multiple slices are padded to.

    Returns:
        Label map ``(x, y, z)`` uint8 on the source grid.
    """
    pre, records = preprocess(image, settings.max_size, settings.normalisation)
    pre = neighbour_channels(pre, settings.context)
    probs = predict_slices(
        model, pre, axis=2, batch_size=settings.batch_size, multiple=2**settings.depth
    )
    return undo(np.argmax(probs, axis=-1).astype(np.uint8), records)


def image_cases(folder: Path, modalities: Sequence[str]) -> list[Case]:
    """The images to predict in ``folder``: an MSD task folder (every image it lists) or a plain
    folder of ``.nii.gz`` files, one per case (3D, or 4D with one channel per modality)."""
    folder = Path(folder)
    if LAYOUT.matches(folder):
        ds = load_msd(folder)
        return [Case(c.case_id, c.images, None, c.modalities) for c in (*ds.cases, *ds.test_cases)]
    files = nifti_files(folder)
    if not files:
        raise DatasetLayoutError(
            f"no images in {folder}: expected {LAYOUT.describe()}, listed in its dataset.json, "
            "or .nii.gz files, one per case."
        )
    return [Case(case_id, (f,), None, tuple(modalities)) for case_id, f in files.items()]
