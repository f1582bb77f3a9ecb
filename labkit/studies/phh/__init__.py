"""The PHH recipe: CSF in neonatal T2 MRI with a 2D U-Net on axial slices.

After the study "Improving surgical decision support for premature newborns with U-Net" (course
write-up 000): ten T2 volumes of preterm infants with post-hemorrhagic hydrocephalus and manual
CSF masks; heads cropped; volumes resized to 256x256x256 (nearest neighbour for the masks); cut
into axial slices, each normalised; MONAI augmentation (noise, head rotation); a 2D U-Net on
256x256x1 trained with Adam (learning rate 1e-4) and binary cross-entropy for 25 epochs, keeping
the checkpoint with the lowest validation loss; a patient split of 7 train / 1 validation / 2 test.

Profiles:

- ``full`` — the study's 256 pixels, 25 epochs and learning rate 1e-4; the batch of 16 and the
  original U-Net's 64 filters and four poolings are ours (the study gives neither; ``labkit
  settings phh`` lists each value's source).
- ``quick`` — a CPU budget of about a minute: 64x64 slices, a narrower U-Net, a higher learning
  rate.

Every setting can be overridden per run (``train(..., overrides={"loss": "dice_ce"})``), which is
how the chapter measures one change against the faithful pipeline on the same split.
"""

from __future__ import annotations

from labkit.studies.phh.recipe import (
    RECIPE,
    PHHRecipe,
    predict,
    run_settings,
    settings,
    synth,
    train,
)
from labkit.studies.phh.steps import (
    build_model,
    head_box,
    predict_volume,
    prepare,
    preprocess,
)
from labkit.studies.settings.phh import (
    PROFILES,
    PHHSettings,
)

__all__ = [
    "PROFILES",
    "RECIPE",
    "PHHRecipe",
    "PHHSettings",
    "build_model",
    "head_box",
    "predict",
    "predict_volume",
    "prepare",
    "preprocess",
    "run_settings",
    "settings",
    "synth",
    "train",
]
