"""The haemorrhage study's settings (ICH in CT): a frozen dataclass, one instance a profile.

Kept apart from the recipe so that the settings can be read (a script listing the ``full``
profiles, the command line's ``--help``) without importing the recipe's steps or building a
model. The recipe (:mod:`labkit.studies.ich`) checks a run's changes to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.studies.settings import TrainSettings
from labkit.studies.settings.provenance import ours, study

__all__ = ["ALL_TOGETHER", "FIXES", "PROFILES", "QUICK_SOURCES", "SOURCES", "ICHSettings"]


@dataclass(frozen=True, kw_only=True)
class ICHSettings(TrainSettings):
    """Settings of one profile of the haemorrhage recipe.

    Attributes:
        size: In-plane edge the brain's bounding box is resized to (the study: the CT's 512).
        batch_norm_momentum: Momentum of the batch-normalisation statistics.
        loss: A :func:`labkit.losses.get` name (the study: ``"bce"``).
        window: ``(low, high)`` HU of the fixed window (skull removed first).
        normalisation: ``"fixed"`` (the window as given) or ``"patient"`` (the window shifted by
            the patient's median brain HU minus ``reference_hu``).
        reference_hu: Median brain HU the fixed window is meant for.
        min_lesion_mm2: A training slice is kept when its lesion covers at least this area.
        lesion_free: Lesion-free brain slices added to training, as a share of the lesion slices
            (0: the study, which kept none).
        context: Neighbouring slices per side as extra channels (0: the study's 2D input).
        min_component_ml: At prediction, drop connected components smaller than this (0: off).
        opening: At prediction, a slice-wise binary opening (3x3 cross) before the components.
        nsd_tolerance_mm: Tolerance of the normalised surface Dice.
        fractions: Patient shares of train, validation and test (the study: 80% / 20%, with a
            validation set out of the training patients).
    """

    size: int
    batch_norm_momentum: float = 0.99
    loss: str = "bce"
    window: tuple[float, float] = (0.0, 100.0)
    normalisation: str = "fixed"
    reference_hu: float = 32.0
    min_lesion_mm2: float = 40.0
    lesion_free: float = 0.0
    context: int = 0
    min_component_ml: float = 0.0
    opening: bool = False
    nsd_tolerance_mm: float = 2.0
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)


#: The study's proposed fixes that need a training of their own, as settings (the chapter and
#: ``benchmarks/ich_fixes.py`` train each once per seed; the post-processing needs none).
FIXES: dict[str, dict[str, Any]] = {
    "lesion-free slices": {"lesion_free": 1.0},
    "per-patient normalisation": {"normalisation": "patient"},
    "2.5D input": {"context": 1},
}

#: Every fix together, with the post-processing and left-right flips: the chapter's last
#: pipeline, whose per-patient mean Dice the chapter floors (``benchmarks/floor_spread.py ich``).
ALL_TOGETHER: dict[str, Any] = {
    "lesion_free": 1.0,
    "normalisation": "patient",
    "context": 1,
    "flip_axes": (0,),
    "min_component_ml": 0.1,
    "opening": True,
}


PROFILES = {
    "quick": ICHSettings(
        size=80,
        epochs=20,
        batch_size=16,
        learning_rate=2e-3,
        filters=16,
        depth=3,
        batch_norm_momentum=0.9,
    ),
    "full": ICHSettings(
        precision="mixed_float16",
        size=512,
        epochs=50,
        batch_size=8,
        learning_rate=1e-3,
        filters=64,
        depth=4,
    ),
}

#: Where each value comes from (:mod:`labkit.studies.settings.provenance`), in every profile.
SOURCES = {
    "size": ours("the study kept the CT's 512x512; we resize the brain's box to 512"),
    "epochs": ours("not given"),
    "batch_size": ours("not given"),
    "learning_rate": ours("not given (the optimiser is: 'Adam')"),
    "filters": ours("not given; 64 as in the original U-Net (Ronneberger et al. 2015)"),
    "depth": ours("not given; four poolings as in the original U-Net"),
    "loss": study("the binary cross-entropy loss function was used"),
    "batch_norm_momentum": ours("not given (nor is batch normalisation); Keras's default"),
    "window": ours("the study adjusted brain intensity after removing the skull; 0-100 HU"),
    "normalisation": ours("'fixed': one window for all (the study's proposal is per patient)"),
    "reference_hu": ours("the median brain HU of the twins and of typical CT"),
    "min_lesion_mm2": ours("the study kept 'images with significant lesions'; 40 mm2"),
    "lesion_free": study("training images with significant lesions only (0 lesion-free)"),
    "context": study("converted into 2D slices for input (2D, no neighbours)"),
    "min_component_ml": ours("off: the study's proposal, tried in the chapter"),
    "opening": ours("off: the study's proposal, tried in the chapter"),
    "nsd_tolerance_mm": ours("2 mm, about one CT slice"),
    "fractions": ours("the study: 78 training and 17 test patients; ours adds validation"),
}

#: Where the ``quick`` values that differ from ``full``'s come from: a CPU's ten minutes.
QUICK_SOURCES = {
    "size": ours("80: a CPU trains 40 times fewer pixels than at 512"),
    "epochs": ours("20: fits the CPU budget; the chapter checks it learns"),
    "batch_size": ours("16 small slices"),
    "learning_rate": ours("2e-3: a few hundred CPU steps"),
    "filters": ours("16: a quarter of the width, for a CPU"),
    "depth": ours("3: an 80-pixel slice pooled three times is 10 pixels across"),
    "batch_norm_momentum": ours("0.9: a few hundred steps leave 0.99's statistics stale"),
}
