"""Study recipes: each registers itself under a name the command line uses (``labkit train NAME``).

A recipe bundles what a study needs end to end: its profiles (``quick`` for a CPU, ``full`` for a
GPU, the study's settings where it gave them), how to write a synthetic twin in the real layout, how
to train and evaluate on a dataset in that layout, and how to predict a folder of new images with a
trained run. The five built-in recipes are :class:`labkit.studies.recipe.Recipe` subclasses: one
skeleton of ``train`` and the same hook names in every study; a new study is a subclass registered
with :func:`register`.

Each built-in study is a package of the same shape: ``steps`` (its preprocessing, model and
prediction), ``scoring`` (how it is judged, where that goes beyond the shared metrics), ``recipe``
(the hooks, calling the steps); its settings live apart, in :mod:`labkit.studies.settings`
(``settings/wmh.py``: the dataclass and the ``quick`` and ``full`` profiles), which import neither
TensorFlow nor a recipe.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the recipe module imports Keras; --help must not
    from labkit.studies.recipe import Recipe

__all__ = ["BUILTIN", "get", "names", "register"]


_REGISTRY: dict[str, Recipe] = {}

#: Recipes that ship with labkit: name -> module that registers it (imported on first use, so
#: that ``labkit --help`` does not pay for importing TensorFlow).
BUILTIN = {
    "brats": "labkit.studies.brats",
    "ich": "labkit.studies.ich",
    "msd": "labkit.studies.msd",
    "phh": "labkit.studies.phh",
    "wmh": "labkit.studies.wmh",
}


def register(recipe: Recipe) -> Recipe:
    """Add a recipe to the registry under its ``name`` (a module-level call in each recipe
    module); returns it."""
    _REGISTRY[recipe.name] = recipe
    return recipe


def get(name: str) -> Recipe:
    """Return a registered recipe by name, importing a built-in one on first use."""
    if name not in _REGISTRY and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in _REGISTRY:
        raise KeyError(f"unknown study {name!r}; registered studies: {', '.join(names())}.")
    return _REGISTRY[name]


def names() -> list[str]:
    """Names of the built-in and registered recipes."""
    return sorted({*BUILTIN, *_REGISTRY})
