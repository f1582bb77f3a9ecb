"""What the hooks of one training run share: the run's context, and the inputs ``fit`` reads.

:class:`RunContext` is handed to every hook of :class:`labkit.studies.recipe.Recipe` during a
training (the run folder, profile, settings, seed, cohort, split and ``config.json`` as written so
far); :class:`Inputs` is what a study's ``inputs`` hook returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Inputs", "RunContext", "bounded_split"]


@dataclass
class RunContext:
    """What the hooks of one training run share.

    Attributes:
        out: The run folder.
        profile: The profile's name (``"quick"``, ``"full"``).
        settings: The run's settings (the study's profile dataclass, overrides applied).
        seed: The run's seed (weights, shuffling, augmentation).
        cohort: What :meth:`Recipe.load` returned.
        split: Case ids per subset (``train``, ``val``, ``test``).
        config: ``config.json`` as written so far.
        inputs: What :meth:`Recipe.inputs` returned, once it has run (the ``model`` hook reads
            ``inputs.train_examples`` there, e.g. for a learning-rate schedule's length).
    """

    out: Path
    profile: str
    settings: Any
    seed: int
    cohort: Any
    split: dict[str, list[str]]
    config: dict[str, Any] = field(default_factory=dict)
    inputs: Inputs | None = None

    def cases(self, subset: str) -> list[Any]:
        """The cohort's cases of one subset, in the split's order."""
        by_id = {c.case_id: c for c in self.cohort.cases}
        return [by_id[i] for i in self.split[subset]]

    def case(self, case_id: str) -> Any:
        """The cohort's case with this id."""
        return next(c for c in self.cohort.cases if c.case_id == case_id)


@dataclass
class Inputs:
    """What :meth:`Recipe.inputs` returns.

    Attributes:
        train: Training data for :func:`labkit.training.fit` (a ``tf.data.Dataset`` or any
            iterable of batches Keras takes).
        val: Validation data.
        facts: Entries for ``config.json`` (slice or volume counts), the run's record.
        train_examples: Examples one training epoch draws (slices, patches or volumes), for
            the hooks that size something by it; ``None`` where no hook needs it.
    """

    train: Any
    val: Any
    facts: dict[str, Any] = field(default_factory=dict)
    train_examples: int | None = None


def bounded_split(split: Mapping[str, list[str]], settings: Any) -> dict[str, list[str]]:
    """The split a run's hooks see: the test cases cut to the settings' first
    ``max_test_cases`` (0: all), the other subsets whole (``split.json`` keeps the whole split).

    Example:
        >>> from types import SimpleNamespace
        >>> bounded_split({"train": ["a"], "test": ["b", "c"]}, SimpleNamespace(max_test_cases=1))
        {'train': ['a'], 'test': ['b']}
    """
    n = getattr(settings, "max_test_cases", 0)
    return {k: list(v[:n] if k == "test" and n > 0 else v) for k, v in split.items()}
