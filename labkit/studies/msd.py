"""The generic Decathlon recipe: one multiclass 2D U-Net on axial slices, generalized Dice.

After the study "Medical Segmentation Decathlon: multiclass segmentation with U-Net and
generalized Dice coefficient" (course write-up 003): every volume of a task is cut into slices
along its third axis, slices wider than 256 pixels are downsampled by 2 (every second pixel, 512 to
256), each volume is min-max normalised, and one softmax U-Net is trained with the generalized
Dice loss (Sudre et al. 2017), reporting the generalized Dice score. The task (labels, modalities)
comes from ``dataset.json``, so the same recipe runs on any MSD folder.

Profiles:

- ``full`` — the study's settings: batch 5, 20 epochs, Adam with a low learning rate (1e-4),
  20% of the training cases for validation.
- ``quick`` — a CPU budget of minutes: fewer filters, larger batches, a higher learning rate that
  decays to zero along a cosine over the run (on the real hippocampus cases this raised held-out
  Dice from 0.827 / 0.844 to 0.862 / 0.845 and halved HD95, for the same training time).

Both hold out 20% of the cases (by patient) as a test set that training never sees.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from labkit import losses, metrics
from labkit.datasets.base import Case, LoadedCase, load_case
from labkit.datasets.msd import TWIN_TASKS, load_msd, write_msd_twin
from labkit.errors import ShapeError
from labkit.inference import predict_slices
from labkit.io import check_image, load_nifti
from labkit.models import unet
from labkit.pipeline import slice_dataset, stack_slices
from labkit.splits import split_ids
from labkit.studies import Study, register
from labkit.studies.common import (
    case_orientation,
    check_held_out,
    claim_run,
    finish_run,
    image_cases,
    in_frame,
    load_run_model,
    profile_settings,
    progress,
    read_config,
    run_profile,
    save_in_source,
    split_seed,
    write_json,
)
from labkit.training import fit, seed_everything
from labkit.transforms import Resize, resize, undo

__all__ = [
    "PROFILES",
    "TWIN_BUDGET",
    "MSDProfile",
    "build_model",
    "held_out_predictions",
    "predict",
    "predict_volume",
    "preprocess",
    "run_settings",
    "settings",
    "synth",
    "train",
]


@dataclass(frozen=True)
class MSDProfile:
    """Settings of one profile of the Decathlon recipe."""

    epochs: int
    batch_size: int
    learning_rate: float
    filters: int
    depth: int
    loss: str = "generalized_dice"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    max_size: int = 256  # slices larger than this are downsampled by 2 (the study's 512 -> 256)
    flip_axes: tuple[int, ...] = ()  # slice axes flipped at random (0: left-right of an RAS slice)
    schedule: str = "constant"  # or "cosine": the learning rate decays to 0 over the run
    batch_norm_momentum: float = 0.99  # 0.9 for runs of a few hundred steps (see models.unet)
    split_seed: int = -1  # seed of the split (-1: the run's seed), to test the same cases


PROFILES = {
    "quick": MSDProfile(
        epochs=12,
        batch_size=32,
        learning_rate=2e-3,
        filters=16,
        depth=4,
        schedule="cosine",
        batch_norm_momentum=0.9,  # a 20-case twin gives ~200 steps: 0.99 left val Dice at 0
    ),
    "full": MSDProfile(epochs=20, batch_size=5, learning_rate=1e-4, filters=32, depth=4),
}


#: The budget of the course's CPU runs on a 20-case abdominal twin (Decathlon chapter and
#: ``benchmarks/msd_losses.py``): the twin's 128-pixel slices halved to 64 as the study halved
#: 512 to 256; batch 8, because ~520 training slices give 65 updates an epoch where batch 32
#: gives 17; six epochs. Measured on a 2-core CPU: ~100 s a run, held-out liver Dice ~0.95.
TWIN_BUDGET: dict[str, Any] = {"max_size": 64, "batch_size": 8, "epochs": 6}


def settings(profile: str, overrides: Mapping[str, Any] | None = None) -> MSDProfile:
    """The settings of a profile, with some of them replaced (e.g. ``{"loss": "cross_entropy"}``).

    Raises:
        ValueError: For an unknown profile, field or schedule.
    """
    return profile_settings(
        "msd", PROFILES, profile, overrides, choices={"schedule": ("constant", "cosine")}
    )


def preprocess(image: np.ndarray, max_size: int = 256) -> tuple[np.ndarray, list[Resize]]:
    """Min-max normalise each channel to ``[0, 1]`` and halve slices larger than ``max_size``.

    Args:
        image: ``(x, y, z, c)`` volume.
        max_size: In-plane size above which x and y are downsampled by 2.

    Returns:
        The preprocessed volume and the resize record(s) that :func:`labkit.transforms.undo`
        needs to bring a prediction back to the source grid.
    """
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


def synth(out: Path, cases: int = 20, seed: int = 0, task: str = "hippocampus") -> Path:
    """Write a twin of an MSD task (``hippocampus``, ``liver`` or ``spleen``) into ``out``."""
    write_msd_twin(out, task, n_cases=cases, seed=seed)
    return Path(out)


def _load(cases: list[Case], max_size: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images, labels = [], []
    for case in progress(cases, "loading"):
        loaded = load_case(case)
        image, records = preprocess(loaded.image.array, max_size)
        label = loaded.label.array
        for r in records:
            label = resize(label, r.shape, order=0)[0]
        images.append(image)
        labels.append(label)
    return images, labels


def build_model(prof: MSDProfile, n_channels: int, n_classes: int) -> keras.Model:
    """The recipe's U-Net (not compiled): any slice size that is a multiple of ``2 ** depth``.

    Args:
        prof: Profile settings (filters, depth, batch-norm momentum).
        n_channels: Input channels, one per modality in ``dataset.json``.
        n_classes: Output channels, background included (softmax).

    Returns:
        A 2D U-Net mapping ``(batch, x, y, n_channels)`` to ``(batch, x, y, n_classes)``.
    """
    return unet(
        (None, None, n_channels),
        n_classes,
        depth=prof.depth,
        filters=prof.filters,
        batch_norm_momentum=prof.batch_norm_momentum,
    )


def run_settings(run: Path) -> MSDProfile:
    """The settings a finished run was trained with, overrides included (from ``config.json``)."""
    return run_profile(run, "msd", settings)


def train(
    data: Path,
    out: Path,
    profile: str = "quick",
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on an MSD task folder, evaluate the held-out test cases, and fill the run folder.

    Args:
        data: MSD task folder (``dataset.json``, ``imagesTr/``, ``labelsTr/``).
        out: Run folder.
        profile: ``"quick"`` or ``"full"``.
        seed: Seed of the split, the weights and the shuffling.
        overrides: Settings to change (see :func:`settings`).

    Returns:
        The summary written to ``summary.json``.
    """
    prof = settings(profile, overrides)
    start = time.perf_counter()
    seed_everything(seed)
    ds = load_msd(data)
    out = claim_run(out, "msd", profile, prof, seed, data)
    test_share = prof.test_fraction
    val_share = (1 - test_share) * prof.val_fraction
    split = split_ids(
        ds.case_ids,
        {"train": 1 - test_share - val_share, "val": val_share, "test": test_share},
        split_seed(prof, seed),
    )
    write_json(out / "split.json", split)
    check_held_out(ds.cases, split["test"])
    by_id = {c.case_id: c for c in ds.cases}
    n_classes = max(ds.labels) + 1
    train_img, train_lab = _load([by_id[i] for i in split["train"]], prof.max_size)
    val_img, val_lab = _load([by_id[i] for i in split["val"]], prof.max_size)
    multiple = 2**prof.depth
    size = np.max([img.shape[:2] for img in train_img + val_img], axis=0)
    shape = tuple(int(-(-s // multiple) * multiple) for s in size)
    x_train, y_train = stack_slices(train_img, train_lab, shape)
    x_val, y_val = stack_slices(val_img, val_lab, shape)
    config = {
        "study": "msd",
        "task": ds.name,
        "profile": profile,
        "settings": asdict(prof),
        "labels": {str(k): v for k, v in ds.labels.items()},
        "modalities": list(ds.modalities),
        "orientation": case_orientation(ds.cases[0]),
        "slice_shape": list(shape),
        "seed": seed,
        "train_slices": len(x_train),
        "val_slices": len(x_val),
    }
    write_json(out / "config.json", config)

    steps = int(np.ceil(len(x_train) / prof.batch_size)) * prof.epochs
    rate = (
        keras.optimizers.schedules.CosineDecay(prof.learning_rate, decay_steps=steps)
        if prof.schedule == "cosine"
        else prof.learning_rate
    )

    def build() -> keras.Model:
        model = build_model(prof, len(ds.modalities), n_classes)
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss=losses.get(prof.loss),
            metrics=[
                metrics.GeneralizedDiceScore(),
                metrics.DiceScore(n_classes),
                *(metrics.DiceScore(n_classes, k) for k in range(1, n_classes) if n_classes > 2),
                keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            ],
        )
        return model

    result = fit(
        build,
        slice_dataset(
            x_train, y_train, prof.batch_size, shuffle=True, flip_axes=prof.flip_axes, seed=seed
        ),
        slice_dataset(x_val, y_val, prof.batch_size),
        prof.epochs,
        out,
        verbose=2,
    )
    train_seconds = time.perf_counter() - start
    model = result.best_model()
    labels = {k: v for k, v in ds.labels.items() if k != 0}

    def held_out():
        for loaded, pred in _predict_cases(model, prof, [by_id[i] for i in split["test"]]):
            yield loaded.case.case_id, pred, loaded.label.array, loaded.image.spacing

    summary = finish_run(
        out,
        held_out(),
        labels,
        {
            "study": "msd",
            "task": ds.name,
            "profile": profile,
            "train_seconds": round(train_seconds, 1),
        },
    )
    return summary


def predict_volume(model: keras.Model, image: np.ndarray, prof: MSDProfile) -> np.ndarray:
    """Segment one volume with a trained model: preprocess, predict slice by slice, undo.

    Args:
        model: A trained msd model (softmax output).
        image: Source image ``(x, y, z, c)``.
        prof: The run's settings (:func:`run_settings`): its ``max_size`` says whether slices
            were halved, its ``depth`` the multiple slices are padded to.

    Returns:
        Label map ``(x, y, z)`` uint8 on the source grid.
    """
    pre, records = preprocess(image, prof.max_size)
    probs = predict_slices(model, pre, axis=2, multiple=2**prof.depth)
    return undo(np.argmax(probs, axis=-1).astype(np.uint8), records)


def _predict_cases(
    model: keras.Model, prof: MSDProfile, cases: list[Case]
) -> Iterator[tuple[LoadedCase, np.ndarray]]:
    for case in progress(cases, "predicting"):
        loaded = load_case(case)
        yield loaded, predict_volume(model, loaded.image.array, prof)


def held_out_predictions(run: Path, data: Path) -> dict[str, tuple[LoadedCase, np.ndarray]]:
    """Predict a finished run's held-out test cases again, as ``train`` scored them.

    Args:
        run: Run folder (``model.keras``, ``config.json``, ``split.json``).
        data: The MSD task folder the run was trained on.

    Returns:
        Case id (in ``split.json`` order) to ``(loaded case, label map (x, y, z) uint8)``, the
        prediction on the case's own grid.
    """
    prof = run_settings(run)
    model = load_run_model(Path(run))
    by_id = {c.case_id: c for c in load_msd(data).cases}
    test_ids = json.loads((Path(run) / "split.json").read_text())["test"]
    cases = [by_id[i] for i in test_ids]
    return {lc.case.case_id: (lc, pred) for lc, pred in _predict_cases(model, prof, cases)}


def predict(run: Path, input_dir: Path, output_dir: Path) -> list[Path]:
    """Segment every image of ``input_dir`` with a trained run; write ``<case id>.nii.gz``."""
    config = read_config(run)
    prof = run_settings(run)
    model = load_run_model(Path(run))
    written = []
    for case in progress(image_cases(input_dir, config["modalities"]), "predicting"):
        volume = check_image(load_nifti(case.images[0]))
        framed = in_frame(volume, config.get("orientation"))
        image = framed.array if framed.array.ndim == 4 else framed.array[..., None]
        if image.shape[-1] != len(config["modalities"]):
            raise ShapeError(
                f"{volume.name} has {image.shape[-1]} channel(s) but the model was trained on "
                f"{len(config['modalities'])} modalities {config['modalities']}; expected one "
                "channel per modality, in that order."
            )
        labels = predict_volume(model, image, prof)
        path = Path(output_dir) / f"{case.case_id}.nii.gz"
        written.append(save_in_source(labels, framed, volume, path))
    return written


register(
    Study(
        name="msd",
        description="generic multiclass 2D U-Net with generalized Dice on any Decathlon task "
        f"(twins: {', '.join(TWIN_TASKS)})",
        synth=synth,
        train=train,
        predict=predict,
    )
)
