"""The WMH recipe: white-matter hyperintensities in FLAIR with a 3D U-Net, scored per subject.

After the study "Segmentation of white matter hyperintensities using modified 3D U-net" (course
write-up 001): the WMH Segmentation Challenge's training set (60 subjects, 20 from each of three
sites), the bias-corrected FLAIR only, every volume resized to 128x128x16, affine augmentation
growing the set to 240 volumes (three copies of each), and a 3D U-Net after Cicek et al. (2016)
with 3x3x1 kernels and no batch normalisation. The study reported a Dice of 0.73 without and 0.77
with augmentation (0.70 ± 0.12 per volume on 54 un-augmented volumes).

What the write-up does not say, this recipe chooses and says so: the loss (soft Dice, as it
reported Dice, summed over the batch: per volume, a volume or patch without WMH drove the
networks, which have no batch norm, into predicting nothing), the optimiser (Adam), the
intensity normalisation (a z-score over the head), the split (stratified by site, so every site
is in training and test), and the prediction on the source grid (the probability is resized
back, then thresholded). Evaluation follows the
challenge: label 2 (other pathology) is left out, and every subject gets Dice, HD95 (mm), the
absolute volume difference (%), lesion recall and lesion F1.

Profiles:

- ``full`` — the study's input (128x128x16), a Cicek-width U-Net (32 filters, three poolings).
- ``quick`` — a CPU budget of seconds per run: 64x64x16 input and 8 filters.

Settings change per run (``train(..., overrides={"copies": 0})``); ``test_site`` turns the split
into leave-one-site-out (train on the other sites, test on every subject of that one).
"""

from __future__ import annotations

from labkit.studies.settings.wmh import (
    PATCHES,
    PROFILES,
    WMHSettings,
)
from labkit.studies.wmh.recipe import (
    RECIPE,
    WMHRecipe,
    ablation_variants,
    predict,
    repeat_runs,
    run_settings,
    settings,
    synth,
    train,
)
from labkit.studies.wmh.scoring import (
    CHALLENGE_METRICS,
    THRESHOLDS,
    challenge_rows,
    choose_threshold,
    resize_ceiling,
    resized_grid_dice,
    run_threshold,
)
from labkit.studies.wmh.steps import (
    INPUTS,
    build_model,
    input_grid,
    normalise,
    predict_probability,
    predict_volume,
    prepare,
    preprocess,
    site_groups,
    split_cohort,
    training_data,
    validation_data,
)

__all__ = [
    "CHALLENGE_METRICS",
    "INPUTS",
    "PATCHES",
    "PROFILES",
    "RECIPE",
    "THRESHOLDS",
    "WMHRecipe",
    "WMHSettings",
    "ablation_variants",
    "build_model",
    "challenge_rows",
    "choose_threshold",
    "input_grid",
    "normalise",
    "predict",
    "predict_probability",
    "predict_volume",
    "prepare",
    "preprocess",
    "repeat_runs",
    "resize_ceiling",
    "resized_grid_dice",
    "run_settings",
    "run_threshold",
    "settings",
    "site_groups",
    "split_cohort",
    "synth",
    "train",
    "training_data",
    "validation_data",
]
