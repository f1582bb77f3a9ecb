"""The BraTS recipe: tumour sub-regions in multi-modal MRI with a 3D U-Net trained on patches.

After the study "Brain tumour auto-segmentation for MRI using 3D U-Net" (course write-up 004):
MSD Task01 (FLAIR, T1, T1Gd, T2; 1 edema, 2 non-enhancing, 3 enhancing tumour), a 3D U-Net after
Cicek et al. (2016) trained on randomly sampled sub-volumes, the soft Dice loss, and per-class
Dice, sensitivity and specificity; batch 8, 100+ epochs on a T4; Dice 0.711 (train) and 0.727
(validation).

What the write-up does not give, this recipe chooses and says so: the patch size, the optimiser
(Adam), the intensity normalisation (a z-score per channel inside the brain), the share of
patches centred on tumour (``foreground``), and how a whole volume is predicted (a sliding window
of overlapping patches blended with Gaussian weights). Evaluation adds what BraTS scores: Dice
and HD95 of the whole tumour, tumour core and enhancing tumour, taken from the label map through
the data's own label convention (:data:`labkit.labels.REGION_CONVENTIONS`).

The network predicts one class per label value of the training data's convention (four for BraTS
2013, three for the others), so a run writes label maps in the convention it was trained on and
records it in ``config.json``. A run also records its modalities; ``predict`` reads exactly those
and says so when a folder lacks one.

Profiles:

- ``full`` — 1 mm voxels, 64^3 patches, batch 8, 120 epochs of 800 patches, a 16-filter U-Net
  with four poolings.
- ``quick`` — a CPU budget: volumes resampled to 2 mm and cropped to the brain, 32^3 patches,
  batch 4, 10 epochs of 80 patches, an 8-filter U-Net with three poolings.
"""

from __future__ import annotations

from labkit.studies.brats.recipe import (
    RECIPE,
    BraTSRecipe,
    predict,
    run_settings,
    settings,
    synth,
    train,
)
from labkit.studies.brats.scoring import (
    STUDY_METRICS,
    case_rows,
    region_rows,
)
from labkit.studies.brats.steps import (
    REGIONS,
    build_model,
    class_values,
    predict_labels,
    predict_probability,
    prepare,
    preprocess,
    split_cohort,
    validation_data,
)
from labkit.studies.settings.brats import (
    PROFILES,
    BraTSSettings,
)

__all__ = [
    "PROFILES",
    "RECIPE",
    "REGIONS",
    "STUDY_METRICS",
    "BraTSRecipe",
    "BraTSSettings",
    "build_model",
    "case_rows",
    "class_values",
    "predict",
    "predict_labels",
    "predict_probability",
    "prepare",
    "preprocess",
    "region_rows",
    "run_settings",
    "settings",
    "split_cohort",
    "synth",
    "train",
    "validation_data",
]
