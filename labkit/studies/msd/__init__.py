"""The generic Decathlon recipe: one multiclass 2D U-Net on axial slices, generalized Dice.

After the study "Medical Segmentation Decathlon: multiclass segmentation with U-Net and
generalized Dice coefficient" (course write-up 003): every volume of a task is cut into slices
along its third axis, slices wider than 256 pixels are downsampled by 2 (every second pixel, 512 to
256), each volume is min-max normalised, and one softmax U-Net is trained with the generalized
Dice loss (Sudre et al. 2017), reporting the generalized Dice score. The task (labels, modalities)
comes from ``dataset.json``, so the same recipe runs on any MSD folder.

Profiles:

- ``full`` — the study's batch 5, 20 epochs and 20% of the training cases for validation; its
  "very low" learning rate is our guess of 1e-4, and the width and depth are ours (``labkit
  settings msd``).
- ``quick`` — a CPU budget of minutes: fewer filters, larger batches, a higher learning rate that
  decays to zero along a cosine over the run (what the schedule changed on the real hippocampus
  cases is measured by ``benchmarks/msd_hippocampus.py``, results in ``benchmarks/README.md``).

Both hold out 20% of the cases (by patient) as a test set that training never sees.
"""

from __future__ import annotations

from labkit.studies.msd.recipe import (
    RECIPE,
    MSDRecipe,
    case_table,
    held_out_predictions,
    predict,
    run_settings,
    settings,
    synth,
    train,
)
from labkit.studies.msd.steps import (
    HIPPOCAMPUS,
    HIPPOCAMPUS_BUDGET,
    TWIN_BUDGET,
    build_model,
    compiled_model,
    image_cases,
    predict_volume,
    prepare,
    preprocess,
)
from labkit.studies.settings.msd import (
    PROFILES,
    MSDSettings,
)

__all__ = [
    "HIPPOCAMPUS",
    "HIPPOCAMPUS_BUDGET",
    "PROFILES",
    "RECIPE",
    "TWIN_BUDGET",
    "MSDRecipe",
    "MSDSettings",
    "build_model",
    "case_table",
    "compiled_model",
    "held_out_predictions",
    "image_cases",
    "predict",
    "predict_volume",
    "prepare",
    "preprocess",
    "run_settings",
    "settings",
    "synth",
    "train",
]
