"""The Decathlon study's settings (multiclass U-Net): a frozen dataclass, one per profile.

Kept apart from the recipe so that the settings can be read (a script listing the ``full``
profiles, the command line's ``--help``) without importing the recipe's steps or building a
model. The recipe (:mod:`labkit.studies.msd`) checks a run's changes to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.studies.settings import TrainSettings
from labkit.studies.settings.provenance import ours, study

__all__ = ["PROFILES", "QUICK_SOURCES", "SOURCES", "MSDSettings"]


@dataclass(frozen=True, kw_only=True)
class MSDSettings(TrainSettings):
    """Settings of one profile of the Decathlon recipe."""

    loss: str = "generalized_dice"
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    max_size: int = 256  # slices larger than this are downsampled by 2 (the study's 512 -> 256)
    schedule: str = "constant"  # or "cosine": the learning rate decays to 0 over the run
    batch_norm_momentum: float = 0.99  # 0.9 for runs of a few hundred steps (see models.unet)
    normalisation: str = "minmax"  # per channel: "minmax" to [0, 1] (the study's) or "zscore"
    context: int = 0  # neighbouring slices per side given as extra channels ("2.5D"; 0: none)


PROFILES = {
    "quick": MSDSettings(
        epochs=12,
        batch_size=32,
        learning_rate=2e-3,
        filters=16,
        depth=4,
        schedule="cosine",
        batch_norm_momentum=0.9,  # a 20-case twin gives ~200 steps: 0.99 left val Dice at 0
    ),
    "full": MSDSettings(
        precision="mixed_float16", epochs=20, batch_size=5, learning_rate=1e-4, filters=32, depth=4
    ),
}

#: Where each value comes from (:mod:`labkit.studies.settings.provenance`), in every profile.
SOURCES = {
    "epochs": study("Epochs: 20"),
    "batch_size": study("Batch size: 5 (due to lack of memory)"),
    "learning_rate": ours("'a very low learning rate'; the value is in an image: 1e-4 a guess"),
    "filters": ours("not given in the text; 32"),
    "depth": ours("not given in the text; four poolings"),
    "loss": study("Generalized Dice Loss as Loss Function"),
    "val_fraction": study("Validation split: 20%"),
    "test_fraction": ours("the study tested on the Decathlon's unlabelled test images; 20%"),
    "max_size": ours("256: 512-pixel CT slices halved, to fit a GPU's memory"),
    "schedule": ours("constant: the study names no schedule"),
    "batch_norm_momentum": ours("not given; Keras's default"),
    "normalisation": study("data normalization ... to match the range of values of the masks"),
    "context": study("2D slices (no neighbours)"),
}

#: Where the ``quick`` values that differ from ``full``'s come from: a CPU's ten minutes.
QUICK_SOURCES = {
    "epochs": ours("12 epochs with a cosine decay: fits the CPU budget"),
    "batch_size": ours("32: fewer, larger steps on a CPU"),
    "learning_rate": ours("2e-3: a few hundred CPU steps"),
    "filters": ours("16: half the width, for a CPU"),
    "schedule": ours("cosine: decays to 0 over the short run"),
    "batch_norm_momentum": ours("0.9: a 20-case twin gives ~200 steps; 0.99 left val Dice at 0"),
}
