"""The BraTS study's settings (tumour sub-regions): a frozen dataclass, one per profile.

Kept apart from the recipe so that the settings can be read (a script listing the ``full``
profiles, the command line's ``--help``) without importing the recipe's steps or building a
model. The recipe (:mod:`labkit.studies.brats`) checks a run's changes to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.studies.settings import TrainSettings
from labkit.studies.settings.provenance import ours, study

__all__ = ["PROFILES", "QUICK_SOURCES", "SOURCES", "BraTSSettings"]


@dataclass(frozen=True, kw_only=True)
class BraTSSettings(TrainSettings):
    """Settings of one profile of the BraTS recipe.

    Attributes:
        patch: Training patch ``(px, py, pz)`` in voxels of ``spacing``; also the sliding window.
        spacing: Voxel size in mm the volumes are resampled to.
        patches_per_epoch: New patches drawn every epoch, spread evenly over the training
            volumes (at least one each), so that an epoch is as long for four patients as for
            forty; validation draws half as many, once.
        foreground: Share of patches centred on a tumour voxel (the rest anywhere).
        loss: A :func:`labkit.losses.get` name; ``"dice"`` is the study's soft Dice, over the
            batch and every class, background included (the study's loss covered its three
            tumour classes; left out, the background gets no direct gradient, and a quick run
            on the twin labelled 35,000 voxels of normal brain as enhancing tumour).
        modalities: Modalities to read, in channel order (empty: all the data has).
        overlap: Share of a window its neighbour overlaps in sliding-window inference.
        blend: ``"gaussian"`` (centre-weighted) or ``"constant"`` window blending.
        fractions: Case shares of train, validation and test.
        holdout: Cases to hold out for testing in a cohort too small for ``fractions`` (0: use
            the fractions). The rest train, and validation patches come from them (a fixed
            draw), which the summary records.
        test_cases: Case ids to hold out for testing, named (a fold of a leave-one-out); the
            rest train, as with ``holdout``.
        batch_norm_momentum: Momentum of the batch-norm statistics (short runs need a short
            memory).
        convention: The label convention of the data (a key of
            :data:`labkit.labels.CONVENTION_LABELS`); empty: the layout's own (MSD
            Task01 for an MSD folder, BraTS 2013 for a folder whose path names it, else 2018).
    """

    patch: tuple[int, int, int]
    depth: int = 3
    spacing: tuple[float, float, float] = (2.0, 2.0, 2.0)
    patches_per_epoch: int = 80
    foreground: float = 0.5
    loss: str = "dice"
    modalities: tuple[str, ...] = ()
    overlap: float = 0.5
    blend: str = "gaussian"
    fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)
    holdout: int = 0
    test_cases: tuple[str, ...] = ()
    batch_norm_momentum: float = 0.9
    convention: str = ""

    def __post_init__(self) -> None:
        step = 2**self.depth
        if len(self.patch) != 3 or any(p % step for p in self.patch):
            raise ValueError(
                f"patch must be three sizes divisible by 2**depth = {step}; got {self.patch}."
            )


PROFILES = {
    "quick": BraTSSettings(
        patch=(32, 32, 32), epochs=10, batch_size=4, learning_rate=3e-3, filters=8
    ),
    "full": BraTSSettings(
        precision="mixed_float16",
        patch=(64, 64, 64),
        epochs=120,
        batch_size=8,
        learning_rate=3e-4,
        filters=16,
        depth=4,
        spacing=(1.0, 1.0, 1.0),
        patches_per_epoch=800,
    ),
}

#: Where each value comes from (:mod:`labkit.studies.settings.provenance`), in every profile.
SOURCES = {
    "patch": ours("the study trained on 'randomly extracted sub-volumes'; the size is not given"),
    "epochs": study("trained for over 100 epochs"),
    "batch_size": study("Batch Size: 8"),
    "learning_rate": ours("not given ('Specify your initial learning rate')"),
    "filters": ours("not given"),
    "depth": ours("not given"),
    "loss": study("Soft Dice Loss (ours also counts the background: see the docstring)"),
    "spacing": ours("not given; 1 mm, the Decathlon's own grid"),
    "patches_per_epoch": ours("not given"),
    "foreground": ours("not given; half the patches on tumour, as nnU-Net oversamples"),
    "modalities": study("multi-modal MRI (every modality the data has)"),
    "overlap": ours("not given; half-window overlap"),
    "blend": ours("not given; Gaussian blending as nnU-Net"),
    "fractions": ours("not given"),
    "holdout": ours("0: the fractions split the cohort"),
    "test_cases": ours("none named"),
    "batch_norm_momentum": ours("not given; 0.9 for runs of a few hundred steps"),
    "convention": ours("'': the layout's own label convention"),
}

#: Where the ``quick`` values that differ from ``full``'s come from: a CPU's ten minutes.
QUICK_SOURCES = {
    "patch": ours("32x32x32: an eighth of the voxels, for a CPU"),
    "epochs": ours("10: fits the CPU budget; the chapter checks it learns"),
    "batch_size": ours("4 small patches"),
    "learning_rate": ours("3e-3: a few hundred CPU steps"),
    "filters": ours("8: half the width, for a CPU"),
    "depth": ours("3: a 32-voxel patch pooled three times is 4 voxels across"),
    "spacing": ours("2 mm: an eighth of the voxels"),
    "patches_per_epoch": ours("80: fits the CPU budget"),
}
