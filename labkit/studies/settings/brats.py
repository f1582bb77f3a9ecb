"""The BraTS study's settings (tumour sub-regions): a frozen dataclass, one per profile.

Kept apart from the recipe so that the settings can be read (a script listing the ``full``
profiles, the command line's ``--help``) without importing the recipe's steps or building a
model. The recipe (:mod:`labkit.studies.brats`) checks a run's changes to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.studies.settings import TrainSettings

__all__ = ["PROFILES", "BraTSSettings"]


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
