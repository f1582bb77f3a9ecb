"""One module per study dataset: a loader for the real on-disk layout, and a twin writer.

Each loader returns :class:`~labkit.datasets.base.Case` records; :func:`load_case` reads one into
channels-last arrays. Each twin writer produces a small seeded cohort in exactly the real layout,
so the real loading code is what runs on synthetic data too.
"""

from labkit.datasets.base import Case, Cohort, LoadedCase, load_case
from labkit.datasets.ich import load_instance, write_ich_twin
from labkit.datasets.msd import MSDDataset, load_msd, write_msd, write_msd_twin
from labkit.datasets.phh import PHHCohort, load_phh, write_phh_twin
from labkit.datasets.twins import cached_cohort, draw_cases
from labkit.datasets.wmh import load_wmh, write_wmh_twin

__all__ = [
    "Case",
    "Cohort",
    "LoadedCase",
    "MSDDataset",
    "PHHCohort",
    "cached_cohort",
    "draw_cases",
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
