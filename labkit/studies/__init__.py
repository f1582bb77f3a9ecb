"""Study recipes: each registers itself under a name the command line uses (``labkit train NAME``).

A recipe bundles what a study needs end to end: its profiles (``quick`` for a CPU, ``full`` for the
published settings), how to write a synthetic twin in the real layout, how to train and evaluate
on a dataset in that layout, and how to predict a folder of new images with a trained run. The
five built-in recipes are :class:`labkit.studies.recipe.Recipe` subclasses: one skeleton of
``train`` and the same hook names in every study. Anything with ``name``, ``description``,
``synth``, ``train`` and ``predict`` (a :class:`Study`, for instance) can be registered.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["BUILTIN", "Study", "get", "names", "register"]


@dataclass(frozen=True)
class Study:
    """A registered study recipe.

    Attributes:
        name: Command-line name.
        description: One line for ``--help``.
        synth: ``synth(out_dir, cases=..., seed=..., **options)`` writes a twin cohort in the real
            layout (``cases`` defaults to the study's own cohort size).
        train: ``train(data_dir, run_dir, profile, seed, overrides=None)`` trains, evaluates the
            held-out cases and returns the summary it writes to ``run_dir/summary.json``;
            ``overrides`` changes settings of the profile (``{"epochs": 4}``).
        predict: ``predict(run_dir, input_dir, output_dir)`` writes ``<case id>.nii.gz`` label maps
            and returns their paths.
    """

    name: str
    description: str
    synth: Callable[..., Any]
    train: Callable[..., dict[str, Any]]
    predict: Callable[[Path, Path, Path], list[Path]]


_REGISTRY: dict[str, Any] = {}

S = TypeVar("S")

#: Recipes that ship with labkit: name -> module that registers it (imported on first use, so
#: that ``labkit --help`` does not pay for importing TensorFlow).
BUILTIN = {
    "brats": "labkit.studies.brats",
    "ich": "labkit.studies.ich",
    "msd": "labkit.studies.msd",
    "phh": "labkit.studies.phh",
    "wmh": "labkit.studies.wmh",
}


def register(study: S) -> S:
    """Add a recipe (a :class:`Study` or a :class:`~labkit.studies.recipe.Recipe`) to the
    registry (a module-level call in each recipe module); returns it."""
    _REGISTRY[study.name] = study
    return study


def get(name: str) -> Any:
    """Return a registered recipe by name, importing a built-in one on first use."""
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in _REGISTRY:
        raise KeyError(f"unknown study {name!r}; registered studies: {', '.join(names())}.")
    return _REGISTRY[name]


def names() -> list[str]:
    """Names of the built-in and registered recipes."""
    return sorted({*BUILTIN, *_REGISTRY})
