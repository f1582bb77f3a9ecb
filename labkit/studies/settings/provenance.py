"""Where each setting comes from: the study's write-up, or a choice of ours.

A profile mixes values the study published ("batch size of 5") with values it left out, which
the course had to choose ("not given; 64 filters as in Ronneberger et al. 2015"). Each study's
settings module says which is which in ``SOURCES`` (one :class:`Source` per field, for every
profile) and ``QUICK_SOURCES`` (the fields whose ``quick`` value differs from the ``full`` one,
chosen for a CPU); the fields every study shares get theirs from :data:`COMMON`.
:func:`provenance` joins them into the table ``labkit settings STUDY`` prints and each chapter
shows. ``tests/test_settings_provenance.py`` fails if a field of any profile has no source.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

__all__ = ["COMMON", "Source", "ours", "provenance", "settings_table", "study"]


@dataclass(frozen=True)
class Source:
    """Where one setting's value comes from.

    Attributes:
        origin: ``"study"`` (the write-up gives it) or ``"ours"`` (the course chose it).
        note: The write-up's phrase, or the reason for our choice.
    """

    origin: str
    note: str


def study(phrase: str) -> Source:
    """A value the write-up gives, with its phrase."""
    return Source("study", phrase)


def ours(reason: str) -> Source:
    """A value the course chose, with the reason."""
    return Source("ours", reason)


#: The fields every study has, and the course's reasons for their values.
COMMON: dict[str, Source] = {
    "devices": ours("one GPU (or the CPU); 'all' trains data-parallel over every visible GPU"),
    "largest_component": ours("off: no post-processing unless asked (nnU-Net's move, opt-in)"),
    "split_seed": ours("-1: the split follows the run's seed"),
    "steps_per_epoch": ours("0: whole epochs (a bound for proving a profile runs)"),
    "max_test_cases": ours("0: every test case (a bound for proving a profile runs)"),
    "flip_axes": ours("none: the study mentions no flips"),
}

#: The ``precision`` of each profile: no write-up names one.
PRECISION = {
    "quick": ours("float32: CPUs emulate float16, which makes it slower there, not faster"),
    "full": ours("mixed float16, for a GPU's tensor cores (Micikevicius et al. 2018)"),
}


def provenance(
    settings: Any,
    profile: str,
    sources: Mapping[str, Source],
    quick_sources: Mapping[str, Source],
) -> list[dict[str, str]]:
    """One row per setting of a profile: ``setting``, ``value``, ``source``, ``note``.

    Args:
        settings: The profile's settings (a study's frozen dataclass, overrides applied).
        profile: ``"quick"`` or ``"full"``: ``quick_sources`` are read first for ``quick``.
        sources: Field name to its :class:`Source` in every profile (the study's ``SOURCES``).
        quick_sources: Field name to its :class:`Source` under ``quick`` where that differs.

    Raises:
        KeyError: If a field has no source (a setting added without saying where it comes from).
    """
    rows = []
    for field in fields(settings):
        name = field.name
        source = (
            (quick_sources.get(name) if profile == "quick" else None)
            or sources.get(name)
            or (PRECISION.get(profile) if name == "precision" else None)
            or COMMON.get(name)
        )
        if source is None:
            raise KeyError(
                f"the setting {name!r} of {type(settings).__name__} says nowhere where its value "
                "comes from; add it to its study's SOURCES (study(...) or ours(...))."
            )
        value = getattr(settings, name)
        if isinstance(value, tuple):
            shown = "x".join(map(str, value)) if value else "none"
        else:
            shown = str(value)
        rows.append({"setting": name, "value": shown, "source": source.origin, "note": source.note})
    return rows


def settings_table(
    study_name: str, profile: str = "full", overrides: Mapping[str, Any] | None = None
) -> list[dict[str, str]]:
    """:func:`provenance` of a built-in study's profile, read from its settings module
    (``labkit.studies.settings.<study>``: ``PROFILES``, ``SOURCES``, ``QUICK_SOURCES``) without
    importing the recipe; an overridden setting's source reads ``"--set"``.

    Example:
        >>> rows = settings_table("phh", "full")
        >>> [(r["value"], r["source"]) for r in rows if r["setting"] == "learning_rate"]
        [('0.0001', 'study')]

    Raises:
        ValueError: For an unknown study, profile or setting (as ``labkit train`` says it).
    """
    from labkit.studies import BUILTIN
    from labkit.studies.settings import profile_settings

    if study_name not in BUILTIN:
        raise ValueError(f"unknown study {study_name!r}; expected one of {', '.join(BUILTIN)}.")
    module = importlib.import_module(f"labkit.studies.settings.{study_name}")
    settings = profile_settings(study_name, module.PROFILES, profile, overrides)
    rows = provenance(settings, profile, module.SOURCES, module.QUICK_SOURCES)
    for row in rows:
        if overrides and row["setting"] in overrides:
            row["source"], row["note"] = "--set", "changed for this run"
    return rows
