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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import keras
import numpy as np

from labkit import losses, metrics
from labkit.datasets.base import Case, LoadedCase, load_case
from labkit.datasets.msd import TWIN_TASKS, MSDDataset, load_msd, write_msd_twin
from labkit.errors import DatasetLayoutError, ShapeError
from labkit.evaluation import evaluate_labels, generalized_dice, read_metrics_csv
from labkit.inference import predict_slices
from labkit.io import Volume, check_image, load_nifti, nifti_files
from labkit.models import unet
from labkit.pipeline import slice_dataset, stack_slices
from labkit.splits import split_ids
from labkit.studies import register
from labkit.studies.common import case_orientation
from labkit.studies.recipe import Inputs, Recipe, RunContext
from labkit.studies.runs import progress
from labkit.transforms import Resize, resize, undo

__all__ = [
    "PROFILES",
    "RECIPE",
    "TWIN_BUDGET",
    "MSDProfile",
    "MSDRecipe",
    "build_model",
    "case_table",
    "compiled_model",
    "held_out_predictions",
    "image_cases",
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
    return RECIPE.settings(profile, overrides)


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
    return RECIPE.run_settings(run)


def compiled_model(
    prof: MSDProfile, n_channels: int, n_classes: int, train_slices: int
) -> keras.Model:
    """:func:`build_model` compiled as the recipe trains it: Adam (a constant rate, or a cosine
    decay to 0 over the run's ``train_slices / batch_size * epochs`` steps), the profile's
    loss, the generalized Dice score, the mean and per-class Dice, and pixel accuracy."""
    steps = int(np.ceil(train_slices / prof.batch_size)) * prof.epochs
    rate = (
        keras.optimizers.schedules.CosineDecay(prof.learning_rate, decay_steps=steps)
        if prof.schedule == "cosine"
        else prof.learning_rate
    )
    model = build_model(prof, n_channels, n_classes)
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


def held_out_predictions(run: Path, data: Path) -> dict[str, tuple[LoadedCase, np.ndarray]]:
    """Predict a finished run's held-out test cases again, as ``train`` scored them.

    Args:
        run: Run folder (``model.keras``, ``config.json``, ``split.json``).
        data: The MSD task folder the run was trained on.

    Returns:
        Case id (in ``split.json`` order) to ``(loaded case, label map (x, y, z) uint8)``, the
        prediction on the case's own grid.
    """
    model, prof, cases = RECIPE.held_out(run, data)
    out = {}
    for case in progress(cases, "predicting"):
        loaded = load_case(case)
        out[case.case_id] = (loaded, predict_volume(model, loaded.image.array, prof))
    return out


def case_table(run: Path, data: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A finished run's held-out cases, one row each: the generalized Dice of the label map
    (:func:`labkit.evaluation.generalized_dice`, over all classes) beside each class's Dice and
    HD95 from ``metrics.csv``.

    Args:
        run: Run folder.
        data: The MSD task folder the run was trained on.

    Returns:
        ``(rows, predictions)``: the rows, and :func:`held_out_predictions`'s case id to
        ``(loaded case, label map)``, for figures.
    """
    preds = held_out_predictions(run, data)
    metrics_rows = read_metrics_csv(Path(run) / "metrics.csv")
    rows = []
    for case_id, (case, pred) in preds.items():
        row = {"case": case_id, "generalized Dice": generalized_dice(pred, case.label.array)}
        for r in (r for r in metrics_rows if r["case"] == case_id):
            row[f"{r['label']} Dice"] = r["dice"]
            row[f"{r['label']} HD95 (mm)"] = r["hd95"]
        rows.append(row)
    return rows, preds


def image_cases(folder: Path, modalities: Sequence[str]) -> list[Case]:
    """The images to predict in ``folder``: an MSD task folder (every image it lists) or a plain
    folder of ``.nii.gz`` files, one per case (3D, or 4D with one channel per modality)."""
    folder = Path(folder)
    if (folder / "dataset.json").is_file():
        ds = load_msd(folder)
        return [Case(c.case_id, c.images, None, c.modalities) for c in (*ds.cases, *ds.test_cases)]
    files = nifti_files(folder)
    if not files:
        raise DatasetLayoutError(
            f"no images in {folder}: expected an MSD task folder (with dataset.json) or .nii.gz "
            "files, one per case."
        )
    return [Case(case_id, (f,), None, tuple(modalities)) for case_id, f in files.items()]


class MSDRecipe(Recipe):
    """The Decathlon study's hooks of the recipe skeleton
    (:class:`labkit.studies.recipe.Recipe`)."""

    name = "msd"
    description = (
        "generic multiclass 2D U-Net with generalized Dice on any Decathlon task "
        f"(twins: {', '.join(TWIN_TASKS)})"
    )
    profiles = PROFILES
    choices: ClassVar[Mapping[str, Sequence[Any]]] = {"schedule": ("constant", "cosine")}

    def load(self, data: Path, prof: MSDProfile) -> MSDDataset:
        return load_msd(data)

    def split(self, cohort: MSDDataset, prof: MSDProfile, seed: int) -> dict[str, list[str]]:
        """``test_fraction`` of the cases for testing, ``val_fraction`` of the rest for
        validation."""
        test_share = prof.test_fraction
        val_share = (1 - test_share) * prof.val_fraction
        shares = {"train": 1 - test_share - val_share, "val": val_share, "test": test_share}
        return split_ids(cohort.case_ids, shares, seed)

    def inputs(self, run: RunContext) -> Inputs:
        """Every axial slice of the training and validation volumes, padded to one shape (a
        multiple of ``2 ** depth``)."""
        prof = run.settings
        train_img, train_lab = _load(run.cases("train"), prof.max_size)
        val_img, val_lab = _load(run.cases("val"), prof.max_size)
        multiple = 2**prof.depth
        size = np.max([img.shape[:2] for img in train_img + val_img], axis=0)
        shape = tuple(int(-(-s // multiple) * multiple) for s in size)
        x_train, y_train = stack_slices(train_img, train_lab, shape)
        x_val, y_val = stack_slices(val_img, val_lab, shape)
        facts = {"slice_shape": list(shape), "train_slices": len(x_train), "val_slices": len(x_val)}
        train = slice_dataset(
            x_train, y_train, prof.batch_size, shuffle=True, flip_axes=prof.flip_axes, seed=run.seed
        )
        return Inputs(train, slice_dataset(x_val, y_val, prof.batch_size), facts)

    def describe(self, run: RunContext) -> dict[str, Any]:
        ds = run.cohort
        return {
            "task": ds.name,
            "labels": {str(k): v for k, v in ds.labels.items()},
            "modalities": list(ds.modalities),
            "orientation": case_orientation(ds.cases[0]),
        }

    def model(self, run: RunContext) -> keras.Model:
        ds = run.cohort
        n_classes = max(ds.labels) + 1
        return compiled_model(
            run.settings, len(ds.modalities), n_classes, run.config["train_slices"]
        )

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        loaded = self.read(run.cohort, run.case(case_id))
        pred = predict_volume(model, loaded.image.array, run.settings)
        labels = {k: v for k, v in run.cohort.labels.items() if k != 0}
        return evaluate_labels(pred, loaded.label.array, labels, loaded.image.spacing, case=case_id)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {"task": run.cohort.name}

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """Every image of an MSD task folder, or of a plain folder, with one channel per
        modality the run was trained on."""
        modalities = config["modalities"]
        for case in progress(image_cases(input_dir, modalities), "predicting"):
            volume = check_image(load_nifti(case.images[0]))
            channels = volume.array.shape[3] if volume.array.ndim == 4 else 1
            if channels != len(modalities):
                raise ShapeError(
                    f"{volume.name} has {channels} channel(s) but the model was trained on "
                    f"{len(modalities)} modalities {modalities}; expected one channel per "
                    "modality, in that order."
                )
            yield case.case_id, volume

    def segment(
        self, model: keras.Model, volume: Volume, prof: MSDProfile, config: Mapping[str, Any]
    ) -> np.ndarray:
        image = volume.array if volume.array.ndim == 4 else volume.array[..., None]
        return predict_volume(model, image, prof)

    def synth(self, out: Path, cases: int = 20, seed: int = 0, task: str = "hippocampus") -> Path:
        """Write a twin of an MSD task (``hippocampus``, ``liver`` or ``spleen``) into ``out``."""
        write_msd_twin(out, task, n_cases=cases, seed=seed)
        return Path(out)


RECIPE = register(MSDRecipe())
train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
