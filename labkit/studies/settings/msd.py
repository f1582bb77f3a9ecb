"""The Decathlon study's settings (multiclass U-Net): a frozen dataclass, one per profile.

Kept apart from the recipe so that the settings can be read (a script listing the ``full``
profiles, the command line's ``--help``) without importing the recipe's steps or building a
model. The recipe (:mod:`labkit.studies.msd`) checks a run's changes to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.studies.settings import TrainSettings

__all__ = ["PROFILES", "MSDSettings"]


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
