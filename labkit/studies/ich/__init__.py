"""The haemorrhage recipe: intracerebral haemorrhage in head CT with a 2D U-Net, per patient.

After the study "Segmentation method for intracerebral hemorrhage" (course write-up 002):
INSTANCE 2022 non-contrast head CT with haemorrhage masks; intensity ranges chosen by eye to remove
the skull, adjust the brain and enhance the lesions; volumes cut into axial slices and only the
slices with sufficiently large lesions kept for training; an 80/20 patient split (78/17) with a
validation set; a 2D U-Net trained with Adam and binary cross-entropy, accuracy and Dice
monitored; test volumes rebuilt from predicted slices and scored per patient (Dice and false
positives).

What the study chose by eye is a rule here: the skull is removed with
:func:`labkit.ct.intracranial_mask` and the brain is shown through a fixed window of 0 to 100 HU
(fresh blood towards white). The study's own proposed fixes are settings, so that each can be
measured against the faithful pipeline on the same split:

- ``lesion_free`` — lesion-free brain slices in training (a share of the lesion slices);
- ``normalisation="patient"`` — the window placed relative to each patient's median brain HU;
- ``context`` — neighbouring slices as extra channels (2.5D input);
- ``min_component_ml`` and ``opening`` — post-processing of the predicted mask (kept inside the
  skull, small components dropped, a slice-wise morphological opening).

Profiles:

- ``full`` — the study's setting as far as it was reported: slices at the CT's 512 pixels, Adam,
  binary cross-entropy; epochs, batch size and learning rate were not reported, so Keras'
  defaults for Adam (1e-3), batch 8 and 50 epochs.
- ``quick`` — a CPU budget of one to two minutes a run: the brain's bounding box resized to
  80x80 pixels, a narrow U-Net, a higher learning rate.
"""

from __future__ import annotations

from labkit.studies.ich.recipe import (
    RECIPE,
    ICHRecipe,
    held_out_predictions,
    predict,
    run_settings,
    settings,
    synth,
    train,
)
from labkit.studies.ich.scoring import (
    patient_rows,
    patient_table,
    score_postprocessing,
    verdict,
)
from labkit.studies.ich.steps import (
    Preprocessed,
    build_model,
    postprocess,
    predict_probabilities,
    predict_volume,
    prepare,
    preprocess,
    select_slices,
)
from labkit.studies.settings.ich import (
    ALL_TOGETHER,
    FIXES,
    PROFILES,
    ICHSettings,
)

__all__ = [
    "ALL_TOGETHER",
    "FIXES",
    "PROFILES",
    "RECIPE",
    "ICHRecipe",
    "ICHSettings",
    "Preprocessed",
    "build_model",
    "held_out_predictions",
    "patient_rows",
    "patient_table",
    "postprocess",
    "predict",
    "predict_probabilities",
    "predict_volume",
    "prepare",
    "preprocess",
    "run_settings",
    "score_postprocessing",
    "select_slices",
    "settings",
    "synth",
    "train",
    "verdict",
]
