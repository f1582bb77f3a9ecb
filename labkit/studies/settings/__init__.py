"""A study's settings: a profile (``quick``, ``full``) with some fields replaced, checked.

Every recipe keeps its settings in a frozen dataclass, one instance per profile. A run changes
some of them (``train(..., overrides={"epochs": 4})``, ``labkit train ... --set epochs=4``);
:func:`profile_settings` applies and checks those changes before any data are read, so a typo or a
value of the wrong type fails at once, naming the setting and the profile's value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

from labkit.hardware import DEVICES, PRECISIONS

__all__ = [
    "LARGEST_COMPONENT",
    "HardwareSettings",
    "RunSettings",
    "TrainSettings",
    "profile_settings",
    "split_seed",
]

#: Values of the ``largest_component`` setting: never, or chosen per label on validation cases.
LARGEST_COMPONENT = ("off", "auto")


@dataclass(frozen=True, kw_only=True)
class HardwareSettings:
    """The settings every study has for the machine it runs on (:mod:`labkit.hardware`).

    Attributes:
        precision: ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"`` (the ``full``
            profiles: ``mixed_float16``, for a GPU's tensor cores).
        devices: ``"one"``, or ``"all"`` for data-parallel training over every visible GPU.
    """

    precision: str = "float32"
    devices: str = "one"


@dataclass(frozen=True, kw_only=True)
class RunSettings(HardwareSettings):
    """The settings every study has: the machine's (:class:`HardwareSettings`) and the
    post-processing chosen after training.

    Attributes:
        largest_component: ``"off"``, or ``"auto"``: after training, keep each label's largest
            connected component in the run's label maps if that raises the label's mean Dice on
            the validation cases (:func:`labkit.postprocessing.choose_largest_component`); the
            choice is recorded in ``config.json`` and applied by every later prediction.
    """

    largest_component: str = "off"


@dataclass(frozen=True, kw_only=True)
class TrainSettings(RunSettings):
    """The settings every study's training has (the skeleton reads them); a study's dataclass
    derives this one and adds its own fields.

    Attributes:
        epochs: Training epochs.
        batch_size: Samples (slices, volumes or patches, as the study trains) per batch.
        learning_rate: Adam's learning rate.
        filters: Filters of the U-Net's first level (doubling at each level down).
        depth: Poolings of the U-Net.
        loss: A :func:`labkit.losses.get` name (each study sets its default).
        flip_axes: Axes of the network's input flipped at random in training (0 the first after
            the batch axis), the only ones test-time augmentation may mirror (empty: no flips).
        split_seed: Seed of the split (-1: the run's seed), so that runs with other seeds can
            test the same cases.
        steps_per_epoch: Batches of each training (and validation) epoch (0: the whole
            epoch). A bound for proving a profile runs, not for training: ``--profile full --set
            epochs=1 --set steps_per_epoch=2`` builds the full network at its real input size
            and trains two steps.
        max_test_cases: Test cases predicted and scored after training (0: all of the split's,
            in its order); ``split.json`` still lists them all.
    """

    epochs: int
    batch_size: int
    learning_rate: float
    filters: int
    depth: int
    loss: str
    flip_axes: tuple[int, ...] = ()
    split_seed: int = -1
    steps_per_epoch: int = 0
    max_test_cases: int = 0


P = TypeVar("P")


def profile_settings(
    study: str,
    profiles: Mapping[str, P],
    profile: str,
    overrides: Mapping[str, Any] | None,
    choices: Mapping[str, Sequence[str]] | None = None,
) -> P:
    """One profile's settings (a frozen dataclass) with some fields replaced.

    Args:
        study: Study name, for the messages.
        profiles: Profile name to settings.
        profile: The profile to start from.
        overrides: Field name to new value; lists (as JSON gives them) become tuples where the
            field holds a tuple.
        choices: Field name to the values it may take (e.g. ``{"schedule": ("constant",
            "cosine")}``).

    Raises:
        ValueError: For an unknown profile or field, or a value outside its choices.
    """
    if profile not in profiles:
        raise ValueError(
            f"unknown profile {profile!r} for the {study} study; expected one of "
            f"{sorted(profiles)}."
        )
    base = profiles[profile]
    known = {f.name for f in fields(base)}
    overrides = dict(overrides or {})
    if unknown := sorted(set(overrides) - known):
        raise ValueError(f"unknown {study} setting(s) {unknown}; the settings are {sorted(known)}.")
    hints = get_type_hints(type(base))
    for name, value in overrides.items():
        overrides[name] = _checked(study, name, value, hints[name], getattr(base, name))
    settings = replace(base, **overrides)
    choices = {
        "precision": PRECISIONS,
        "devices": DEVICES,
        "largest_component": LARGEST_COMPONENT,
        **(choices or {}),
    }
    for name, allowed in choices.items():
        if name not in known:
            continue
        if getattr(settings, name) not in allowed:
            options = " or ".join(repr(a) for a in allowed)
            raise ValueError(f"{name} must be {options}; got {getattr(settings, name)!r}.")
    return settings


#: Settings that must be at least 1 whichever study has them.
_AT_LEAST_ONE = ("epochs", "batch_size", "filters", "depth", "patches_per_volume")

#: Settings where 0 means "no bound" and a negative value means nothing.
_AT_LEAST_ZERO = ("steps_per_epoch", "max_test_cases")


def _checked(study: str, name: str, value: Any, hint: Any, current: Any) -> Any:
    """``value`` as the setting ``name`` of type ``hint`` holds it, or a clear ValueError.

    ``--set`` reads values as JSON, so ``epochs=abc`` arrives as the string ``"abc"`` and
    ``epochs=1.5`` as a float; both are refused here, before any data are loaded, rather than
    deep inside Keras after minutes of preprocessing.
    """

    example = json.dumps(list(current) if isinstance(current, tuple) else current).replace(" ", "")

    def fail(expected: str) -> ValueError:
        return ValueError(
            f"the {study} setting {name} must be {expected}; got {value!r}. "
            f"The profile's value is --set {name.split('[')[0]}={example}."
        )

    if hint is bool:
        if not isinstance(value, bool):
            raise fail("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail("a whole number")
        if float(value) != int(value):
            raise fail("a whole number")
        value = int(value)
        if name in _AT_LEAST_ONE and value < 1:
            raise fail("at least 1")
        if name in _AT_LEAST_ZERO and value < 0:
            raise fail("0 (no bound) or more")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise fail("a number")
        if name == "learning_rate" and value <= 0:
            raise fail("a number above 0")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise fail("a string")
        return value
    if get_origin(hint) is tuple:
        args = get_args(hint)
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise fail("a list")
        if args and args[-1] is not Ellipsis and len(value) != len(args):
            raise fail(f"a list of {len(args)} values")
        inner = args[0] if args else Any
        if inner in (int, float, str, bool):
            value = [
                _checked(study, f"{name}[{i}]", v, inner, current) for i, v in enumerate(value)
            ]
        return tuple(value)
    return value


def split_seed(settings: Any, seed: int) -> int:
    """The seed that draws a run's split: the profile's ``split_seed``, or -1 for the run's seed.

    A fixed ``split_seed`` lets runs with other seeds (other weights, shuffling and augmentation)
    test the same cases, as a floor's seed spread and a paired comparison need.
    """
    return seed if settings.split_seed < 0 else settings.split_seed
