"""One module per study dataset: a loader for the real on-disk layout, and a twin writer.

Each loader returns :class:`~labkit.datasets.base.Case` records; :func:`load_case` reads one into
channels-last arrays. Each twin writer produces a small seeded cohort in exactly the real layout,
so the real loading code is what runs on synthetic data too. Each also declares its on-disk
layout once (``LAYOUT``, a :class:`~labkit.datasets.layout.Layout`), which the loader, the twin
writer, ``labkit predict --input`` and ``labkit evaluate --ref`` read.
"""

from pathlib import Path

from labkit.datasets import brats, ich, msd, phh, wmh
from labkit.datasets.base import Case, Cohort, LoadedCase, load_case
from labkit.datasets.ich import load_instance, write_ich_twin
from labkit.datasets.layout import Layout
from labkit.datasets.msd import MSDDataset, load_msd, write_msd, write_msd_twin
from labkit.datasets.phh import PHHCohort, load_phh, write_phh_twin
from labkit.datasets.twins import cached_cohort, draw_cases
from labkit.datasets.wmh import load_wmh, write_wmh_twin

#: Every study's published layout, in the order :func:`find_layout` tries them (an MSD task,
#: Task01 included, is known by its ``dataset.json`` before anything else).
DATASET_LAYOUTS: tuple[Layout, ...] = (msd.LAYOUT, ich.LAYOUT, phh.LAYOUT, brats.LAYOUT, wmh.LAYOUT)


def find_layout(root: str | Path) -> Layout | None:
    """The layout of a dataset folder, or ``None`` for a folder in none of
    :data:`DATASET_LAYOUTS` (a plain folder of ``<case id>.nii.gz`` files, say).

    Example:
        >>> find_layout("data/phh").name  # doctest: +SKIP
        'a PHH folder'
    """
    return next((layout for layout in DATASET_LAYOUTS if layout.matches(root)), None)


__all__ = [
    "DATASET_LAYOUTS",
    "Case",
    "Cohort",
    "Layout",
    "LoadedCase",
    "MSDDataset",
    "PHHCohort",
    "cached_cohort",
    "draw_cases",
    "find_layout",
    "load_case",
    "load_instance",
    "load_msd",
    "load_phh",
    "load_wmh",
    "write_ich_twin",
    "write_msd",
    "write_msd_twin",
    "write_phh_twin",
    "write_wmh_twin",
]
