"""Tiny quick profiles, one per study: a training of seconds on a few twin cases, for tests of
the recipes' plumbing (never of their quality)."""

from __future__ import annotations

from labkit.studies import brats, ich, msd, phh, wmh

#: Study name to (study module, tiny settings installed as its ``quick`` profile).
TINY = {
    "msd": (
        msd,
        msd.MSDSettings(epochs=1, batch_size=16, learning_rate=1e-3, filters=4, depth=2),
    ),
    "phh": (
        phh,
        phh.PHHSettings(size=32, epochs=1, batch_size=16, learning_rate=1e-3, filters=4, depth=2),
    ),
    "ich": (
        ich,
        ich.ICHSettings(size=32, epochs=1, batch_size=8, learning_rate=1e-3, filters=4, depth=2),
    ),
    "wmh": (
        wmh,
        wmh.WMHSettings(
            shape=(16, 16, 8),
            epochs=1,
            batch_size=2,
            learning_rate=1e-3,
            filters=2,
            depth=1,
            copies=1,
            fractions=(0.34, 0.33, 0.33),  # one subject per site in each subset
        ),
    ),
    "brats": (
        brats,
        brats.BraTSSettings(
            patch=(16, 16, 16),
            epochs=1,
            batch_size=2,
            learning_rate=1e-3,
            filters=2,
            depth=1,
            patches_per_epoch=4,
            overlap=0.25,
        ),
    ),
}


def use_tiny(monkeypatch, study: str) -> None:
    """Install the study's tiny settings as its ``quick`` profile for one test."""
    module, tiny = TINY[study]
    monkeypatch.setitem(module.PROFILES, "quick", tiny)
