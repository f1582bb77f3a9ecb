"""The PHH study's settings (CSF in neonatal T2 MRI): a frozen dataclass, one instance a profile.

Kept apart from the recipe so that the settings can be read (a script listing the ``full``
profiles, the command line's ``--help``) without importing the recipe's steps or building a
model. The recipe (:mod:`labkit.studies.phh`) checks a run's changes to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.studies.settings import TrainSettings
from labkit.studies.settings.provenance import ours, study

__all__ = ["PROFILES", "QUICK_SOURCES", "SOURCES", "PHHSettings"]


@dataclass(frozen=True, kw_only=True)
class PHHSettings(TrainSettings):
    """Settings of one profile of the PHH recipe.

    Attributes:
        size: Edge of the cube every cropped head is resized to (the study: 256).
        batch_norm_momentum: Momentum of the U-Net's batch-normalisation statistics.
        loss: A :func:`labkit.losses.get` name (the study: ``"bce"``).
        context: Neighbouring slices per side given as extra channels (0: the study's 2D input).
        noise_std: Largest standard deviation of the Gaussian noise augmentation.
        rotate_degrees: Largest in-plane rotation of the augmentation.
        augment_prob: Probability of each augmentation per slice.
        head_margin: Voxels kept around the head when cropping.
        fractions: Patient shares of train, validation and test (the study: 7/1/2 of 10).
    """

    size: int
    batch_norm_momentum: float = 0.99
    loss: str = "bce"
    context: int = 0
    noise_std: float = 0.05
    rotate_degrees: float = 15.0
    augment_prob: float = 0.5
    head_margin: int = 2
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)


PROFILES = {
    "quick": PHHSettings(
        size=64,
        epochs=10,
        batch_size=16,
        learning_rate=2e-3,
        filters=16,
        depth=3,
        batch_norm_momentum=0.9,  # ~400 steps: Keras' 0.99 leaves stale statistics
    ),
    "full": PHHSettings(
        precision="mixed_float16",
        size=256,
        epochs=25,
        batch_size=16,
        learning_rate=1e-4,
        filters=64,
        depth=4,
    ),
}

#: Where each value comes from (:mod:`labkit.studies.settings.provenance`), in every profile.
SOURCES = {
    "size": study("resize the images and masks ... (256, 256, 256)"),
    "epochs": study("the training process commenced, involving 25 epochs"),
    "batch_size": ours("not given"),
    "learning_rate": study("Adam optimizer with a learning rate of 0.0001"),
    "filters": ours("not given; 64 as in the original U-Net (Ronneberger et al. 2015)"),
    "depth": ours("not given; four poolings as in the original U-Net"),
    "loss": study("binary cross-entropy as the loss function"),
    "batch_norm_momentum": ours("not given (nor is batch normalisation); Keras's default"),
    "context": study("cutting the images and masks along the axial slice (2D input)"),
    "noise_std": ours("the study adds noise ('variations such as noise'); the range is ours"),
    "rotate_degrees": ours("the study rotates ('head rotation'); the range is ours"),
    "augment_prob": ours("not given"),
    "head_margin": ours("the study cropped each head by hand in 3D Slicer; ours is automatic"),
    "fractions": study("7 photos for training, 1 photo for validation, and 2 photos for testing"),
}

#: Where the ``quick`` values that differ from ``full``'s come from: a CPU's ten minutes.
QUICK_SOURCES = {
    "size": ours("64: a CPU trains 16 times fewer pixels in minutes"),
    "epochs": ours("10: fits the CPU budget; the chapter checks it learns"),
    "learning_rate": ours("2e-3: a few hundred CPU steps need a larger step than 1e-4"),
    "filters": ours("16: a quarter of the width, for a CPU"),
    "depth": ours("3: a 64-pixel slice pooled three times is 8 pixels across"),
    "batch_norm_momentum": ours("0.9: ~400 steps leave 0.99's statistics stale"),
}
