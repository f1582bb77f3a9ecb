"""The PHH recipe: CSF in neonatal T2 MRI with a 2D U-Net on axial slices.

After the study "Improving surgical decision support for premature newborns with U-Net" (course
write-up 000): ten T2 volumes of preterm infants with post-hemorrhagic hydrocephalus and manual
CSF masks; heads cropped; volumes resized to 256x256x256 (nearest neighbour for the masks); cut
into axial slices, each normalised; MONAI augmentation (noise, head rotation); a 2D U-Net on
256x256x1 trained with Adam (learning rate 1e-4) and binary cross-entropy for 25 epochs, keeping
the checkpoint with the lowest validation loss; a patient split of 7 train / 1 validation / 2 test.

Profiles:

- ``full`` — the study's settings (256 pixels, 25 epochs, learning rate 1e-4, batch 16; the
  study did not report the batch size or the U-Net's width, so the original U-Net's 64 filters).
- ``quick`` — a CPU budget of about a minute: 64x64 slices, a narrower U-Net, a higher learning
  rate.

Every setting can be overridden per run (``train(..., overrides={"loss": "dice_ce"})``), which is
how the chapter measures one change against the faithful pipeline on the same split.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
from scipy import ndimage

from labkit.augment import augmented_dataset, slice_augmentation
from labkit.datasets.base import Cohort, load_case
from labkit.datasets.phh import load_phh, write_phh_twin
from labkit.evaluation import evaluate_labels
from labkit.inference import predict_slices
from labkit.intensity import minmax_slices
from labkit.io import Volume
from labkit.morphology import keep_largest_component
from labkit.pipeline import neighbour_channels, slice_dataset, stack_slices
from labkit.studies import register
from labkit.studies.common import binary_slice_model, single_channel_volumes
from labkit.studies.recipe import Inputs, Recipe, RunContext
from labkit.studies.runs import progress
from labkit.transforms import Crop, Resize, crop_to_box, foreground_box, resize, undo

__all__ = [
    "PROFILES",
    "RECIPE",
    "PHHProfile",
    "PHHRecipe",
    "build_model",
    "head_box",
    "predict",
    "predict_volume",
    "preprocess",
    "settings",
    "synth",
    "train",
]

#: The label of the CSF masks.
LABELS = {1: "csf"}


@dataclass(frozen=True)
class PHHProfile:
    """Settings of one profile of the PHH recipe.

    Attributes:
        size: Edge of the cube every cropped head is resized to (the study: 256).
        epochs: Training epochs.
        batch_size: Slices per batch.
        learning_rate: Adam's learning rate.
        filters: Filters of the U-Net's first level (doubling at each level down).
        depth: Number of poolings of the U-Net.
        batch_norm_momentum: Momentum of the U-Net's batch-normalisation statistics.
        loss: A :func:`labkit.losses.get` name (the study: ``"bce"``).
        context: Neighbouring slices per side given as extra channels (0: the study's 2D input).
        noise_std: Largest standard deviation of the Gaussian noise augmentation.
        rotate_degrees: Largest in-plane rotation of the augmentation.
        augment_prob: Probability of each augmentation per slice.
        head_margin: Voxels kept around the head when cropping.
        fractions: Patient shares of train, validation and test (the study: 7/1/2 of 10).
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
    context: int = 0
    noise_std: float = 0.05
    rotate_degrees: float = 15.0
    augment_prob: float = 0.5
    head_margin: int = 2
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    split_seed: int = -1


PROFILES = {
    "quick": PHHProfile(
        size=64,
        epochs=10,
        batch_size=16,
        learning_rate=2e-3,
        filters=16,
        depth=3,
        batch_norm_momentum=0.9,  # ~400 steps: Keras' 0.99 leaves stale statistics
    ),
    "full": PHHProfile(size=256, epochs=25, batch_size=16, learning_rate=1e-4, filters=64, depth=4),
}


def settings(profile: str, overrides: Mapping[str, Any] | None = None) -> PHHProfile:
    """The settings of a profile, with some of them replaced.

    Args:
        profile: ``"quick"`` or ``"full"``.
        overrides: Field name to new value (e.g. ``{"loss": "dice_ce"}``).

    Raises:
        ValueError: For an unknown profile or field.
    """
    return RECIPE.settings(profile, overrides)


def head_box(
    image: np.ndarray, margin: int = 2, fraction: float = 0.1
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The bounding box of the head: what the study cropped by hand in 3D Slicer.

    The head is the largest connected region brighter than ``fraction`` of the image's 99th
    percentile, after light smoothing (so background noise does not count; the smoothing also
    widens the region by about one voxel, on top of ``margin``).

    Args:
        image: ``(x, y, z)`` or ``(x, y, z, c)`` volume (the first channel is used).
        margin: Voxels added on every side.
        fraction: Threshold as a share of the 99th percentile.

    Returns:
        ``(start, stop)`` per spatial axis, for :func:`labkit.transforms.crop_to_box`.
    """
    vol = np.asarray(image[..., 0] if image.ndim == 4 else image, dtype=np.float32)
    smooth = ndimage.gaussian_filter(vol, 1.0)
    mask = keep_largest_component(smooth > fraction * np.percentile(vol, 99))
    if not mask.any():
        raise ValueError(
            f"no head found in an image of shape {vol.shape}: nothing is brighter than "
            f"{fraction} of its 99th percentile. Is the image empty?"
        )
    return foreground_box(mask, margin)


def preprocess(
    image: np.ndarray, prof: PHHProfile, label: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, list[Crop | Resize]]:
    """The study's preprocessing of one volume: crop to the head, resize, normalise per slice.

    Args:
        image: T2 volume ``(x, y, z, 1)``.
        prof: Settings (``size``, ``head_margin``, ``context``).
        label: CSF mask ``(x, y, z)`` to crop and resize alongside (nearest neighbour).

    Returns:
        ``(image (s, s, s, 1 + 2 * context), label (s, s, s) or None, records)``; the records
        take a prediction back to the source grid with :func:`labkit.transforms.undo`.
    """
    start, stop = head_box(image, prof.head_margin)
    cropped, crop = crop_to_box(image, start, stop)
    shape = (prof.size,) * 3
    resized, size = resize(cropped, shape, order=1)
    out = neighbour_channels(minmax_slices(resized, axis=2), prof.context, axis=2)
    if label is not None:
        label = resize(crop_to_box(label, start, stop)[0], shape, order=0)[0]
    return out, label, [crop, size]


def _prepare(cases: list, prof: PHHProfile, label: str) -> tuple[np.ndarray, np.ndarray]:
    images, masks = [], []
    for case in progress(cases, label):
        loaded = load_case(case)
        image, mask, _ = preprocess(loaded.image.array, prof, loaded.label.array)
        images.append(image)
        masks.append(mask)
    return stack_slices(images, masks, (prof.size, prof.size), axis=2)


def build_model(prof: PHHProfile) -> keras.Model:
    """A compiled 2D U-Net for ``(size, size, 1 + 2 * context)`` slices with a sigmoid output."""
    return binary_slice_model(prof)


class PHHRecipe(Recipe):
    """The PHH study's hooks of the recipe skeleton (:class:`labkit.studies.recipe.Recipe`)."""

    name = "phh"
    description = "CSF in neonatal T2 MRI (post-hemorrhagic hydrocephalus), 2D U-Net, BCE"
    profiles = PROFILES
    labels = LABELS
    modalities = ("T2",)

    def load(self, data: Path, prof: PHHProfile) -> Cohort:
        return load_phh(data)

    def inputs(self, run: RunContext) -> Inputs:
        prof, seed = run.settings, run.seed
        x_train, y_train = _prepare(run.cases("train"), prof, "training slices")
        x_val, y_val = _prepare(run.cases("val"), prof, "validation slices")
        augment = slice_augmentation(prof.noise_std, prof.rotate_degrees, prof.augment_prob, seed)
        return Inputs(
            augmented_dataset(x_train, y_train, prof.batch_size, augment, seed=seed),
            slice_dataset(x_val, y_val, prof.batch_size),
            {"train_slices": len(x_train), "val_slices": len(x_val)},
        )

    def model(self, run: RunContext) -> keras.Model:
        return build_model(run.settings)

    def score(self, run: RunContext, model: keras.Model, case_id: str) -> list[dict[str, Any]]:
        loaded = self.read(run.cohort, run.case(case_id))
        pred = predict_volume(model, loaded.image.array, run.settings)
        return evaluate_labels(pred, loaded.label.array, LABELS, loaded.image.spacing, case=case_id)

    def report(
        self, run: RunContext, model: keras.Model, rows: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The study's own measure: pixel accuracy over the test patients' preprocessed slices,
        beside the accuracy of a model that predicts no CSF at all."""
        x_test, y_test = _prepare(run.cases("test"), run.settings, "test slices")
        data = slice_dataset(x_test, y_test, run.settings.batch_size)
        scores = model.evaluate(data, verbose=0, return_dict=True)
        return {
            "test_slice_accuracy": float(scores["accuracy"]),
            "test_slice_accuracy_no_csf": float(1.0 - y_test.mean()),
        }

    def images(self, input_dir: Path, config: Mapping[str, Any]) -> Iterator[tuple[str, Volume]]:
        """The T2 volumes of a PHH folder (``images/``) or of a plain folder, one per patient."""
        layout = "a PHH folder (images/ + masks/)"
        return single_channel_volumes(input_dir, "images", "T2", layout)

    def segment(
        self, model: keras.Model, volume: Volume, prof: PHHProfile, config: Mapping[str, Any]
    ) -> np.ndarray:
        return predict_volume(model, volume.array.reshape(*volume.shape[:3], 1), prof)

    def synth(self, out: Path, cases: int = 10, seed: int = 0) -> Path:
        """Write a synthetic PHH cohort (``images/`` + ``masks/``) into ``out``."""
        write_phh_twin(out, n_cases=cases, seed=seed)
        return Path(out)


def predict_volume(
    model: keras.Model, image: np.ndarray, prof: PHHProfile, threshold: float = 0.5
) -> np.ndarray:
    """CSF mask ``(x, y, z)`` uint8 on the source grid of one T2 volume ``(x, y, z, 1)``.

    The CSF probability is resized back to the source grid (linearly) and thresholded there, not
    the other way round: a mask predicted on a coarse grid and resized by nearest neighbour keeps
    the coarse grid's staircase boundaries, which alone cost about 0.2 Dice at 64 pixels.
    """
    pre, _, records = preprocess(image, prof)
    probs = predict_slices(model, pre, axis=2, multiple=2**prof.depth)
    return (undo(probs[..., 0], records) >= threshold).astype(np.uint8)


RECIPE = register(PHHRecipe())
train, predict, synth = RECIPE.train, RECIPE.predict, RECIPE.synth
