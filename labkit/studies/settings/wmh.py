"""The WMH study's settings (FLAIR hyperintensities): a frozen dataclass, one per profile.

Kept apart from the recipe so that the settings can be read (a script listing the ``full``
profiles, the command line's ``--help``) without importing the recipe's steps or building a
model. The recipe (:mod:`labkit.studies.wmh`) checks a run's changes to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.studies.settings import TrainSettings
from labkit.studies.settings.provenance import ours, study

__all__ = ["PROFILES", "QUICK_SOURCES", "SOURCES", "WMHSettings"]


@dataclass(frozen=True, kw_only=True)
class WMHSettings(TrainSettings):
    """Settings of one profile of the WMH recipe.

    Attributes:
        shape: Input grid every FLAIR is resized to (the study: 128x128x16).
        kernel: Convolution kernel (the study: 3x3x1, in-plane only).
        loss: A :func:`labkit.losses.get` name.
        copies: Augmented copies of each training volume (the study: 3, 60 -> 240 volumes).
        rotate_degrees: Largest in-plane rotation of the augmentation.
        scale: Largest in-plane scaling of the augmentation (a fraction).
        shift_voxels: Largest in-plane shift of the augmentation, in input voxels.
        fractions: Subject shares of train, validation and test, within every site.
        test_site: Leave this site out: test on all its subjects, train on the others.
        threshold: Probability above which a voxel is WMH.
        input: ``"resize"`` (the study: every volume resized to ``shape``) or ``"patches"``
            (volumes resampled to ``spacing``, keeping their resolution; the network trains on
            ``shape``-sized patches and predicts with a sliding window).
        spacing: Voxel size in mm of the ``"patches"`` input.
        patches_per_volume: Patches drawn from each training volume per epoch.
        foreground: Share of the patches centred on a WMH voxel.
        tune_threshold: Choose ``threshold`` after training: the candidate of
            :data:`THRESHOLDS` with the best mean Dice on the validation subjects.
    """

    shape: tuple[int, int, int]
    depth: int = 3
    kernel: tuple[int, int, int] = (3, 3, 1)
    loss: str = "batch_dice"
    copies: int = 3
    rotate_degrees: float = 10.0
    scale: float = 0.1
    shift_voxels: float = 4.0
    fractions: tuple[float, float, float] = (0.6, 0.1, 0.3)
    test_site: str = ""
    threshold: float = 0.5
    input: str = "resize"
    spacing: tuple[float, float, float] = (2.0, 2.0, 3.0)
    patches_per_volume: int = 4
    foreground: float = 0.5
    tune_threshold: bool = False

    def __post_init__(self) -> None:
        if len(self.kernel) != 3 or any(k < 1 or k % 2 == 0 for k in self.kernel):
            raise ValueError(
                f"kernel must be three odd sizes such as (3, 3, 1); got {self.kernel}."
            )


#: The chapter's patch pipeline, the change the study itself pointed to: one random patch of
#: the profile's shape a volume each epoch instead of the resized volume, a threshold tuned on
#: the validation subjects, and the epochs that many patches need (the chapter's floored run).
PATCHES: dict[str, Any] = {
    "input": "patches",
    "patches_per_volume": 1,
    "tune_threshold": True,
    "epochs": 16,
}

PROFILES = {
    # Adam at 1e-3 (was 3e-3) and batch Dice (was per-volume soft Dice): with either old
    # choice, runs fell to predicting nothing and never left it (benchmarks/README.md, "WMH
    # collapse")
    "quick": WMHSettings(
        shape=(64, 64, 16), epochs=12, batch_size=4, learning_rate=1e-3, filters=8
    ),
    "full": WMHSettings(
        precision="mixed_float16",
        shape=(128, 128, 16),
        epochs=60,
        batch_size=4,
        learning_rate=1e-4,
        filters=32,
    ),
}

#: Where each value comes from (:mod:`labkit.studies.settings.provenance`), in every profile.
SOURCES = {
    "shape": study("resized to samples of 128x128x16x1"),
    "epochs": ours("not given; 60 epochs of 240 augmented volumes"),
    "batch_size": ours("not given"),
    "learning_rate": ours("not given (nor the optimiser); Adam at 1e-4"),
    "filters": ours("not given"),
    "depth": ours("not given; three poolings halve 16 slices to 2"),
    "loss": ours("not given; batch Dice (per-volume soft Dice collapsed: benchmarks/README.md)"),
    "kernel": study("2D kernels (3x3x1)"),
    "copies": study("image augmentation by affine transformation ... 240 (60 x 4) volumes"),
    "rotate_degrees": ours("the study's affine augmentation gives no ranges"),
    "scale": ours("the study's affine augmentation gives no ranges"),
    "shift_voxels": ours("the study's affine augmentation gives no ranges"),
    "fractions": ours("the study's counts do not add up (164 + 54 vs 240); 60/10/30 per site"),
    "test_site": ours("'': test within every site (the challenge's own test set is hidden)"),
    "threshold": ours("0.5: not given"),
    "input": study("the input ... is resized (the 'patches' input is the chapter's)"),
    "spacing": ours("only for the chapter's 'patches' input"),
    "patches_per_volume": ours("only for the chapter's 'patches' input"),
    "foreground": ours("only for the chapter's 'patches' input"),
    "tune_threshold": ours("off: the study used a fixed threshold"),
}

#: Where the ``quick`` values that differ from ``full``'s come from: a CPU's ten minutes.
QUICK_SOURCES = {
    "shape": ours("64x64x16: a quarter of the pixels, for a CPU"),
    "epochs": ours("12: fits the CPU budget; the chapter checks it learns"),
    "learning_rate": ours("1e-3: 3e-3 collapsed to empty predictions (benchmarks/README.md)"),
    "filters": ours("8: a quarter of the width, for a CPU"),
}
