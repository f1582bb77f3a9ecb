"""The chapters' quality floors, kept in one file: ``labkit/records/floors.json``.

A chapter trains once (seed 0) and asserts that its held-out score is not below a floor. CPU
training is deterministic per machine and thread count, not across machines, so each floor is
set below the lowest value of the same training over several seeds and one or two TensorFlow
threads (a stand-in for another CPU), by at least :data:`MARGIN`. ``benchmarks/floor_spread.py
--write`` measures that spread and records it beside each floor; the chapters read the floor and
its spread from there through :func:`check_floor`, so no number is copied into a cell.

Every floor was measured on the ``quick`` profile (:data:`MEASURED_ON`), the one CI and the book
run; a chapter opened on a GPU runs ``full``, where no floor has been measured yet (that needs
several full runs per study on a GPU), so there :func:`check_floor` reports the value and says so
instead of asserting, and :func:`check_loss_fell` asks only for a finite loss that fell.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from labkit.config import recorded_results

__all__ = ["FLOORS_FILE", "MARGIN", "MEASURED_ON", "check_floor", "check_loss_fell", "floors"]

#: The record the floors live in (in :mod:`labkit.records`).
FLOORS_FILE = "floors.json"

#: The least distance between a floor and the lowest value its spread measured.
MARGIN = 0.03

#: The profile every floor's spread was measured on.
MEASURED_ON = "quick"


def floors() -> dict[str, dict[str, Any]]:
    """Every floor: name (``"phh: Dice"``) to ``floor``, ``where`` (the chapter), ``measure``
    (what is floored), and the spread measured (``mean``, ``sd``, ``lowest``, ``runs``,
    ``seeds``, ``threads``, ``date``, ``machine``)."""
    record = recorded_results(FLOORS_FILE)
    if record is None:
        raise FileNotFoundError(
            f"labkit/records/{FLOORS_FILE} is missing from this installation of labkit; "
            "reinstall it, or write the file with `python benchmarks/floor_spread.py --write`."
        )
    return record["floors"]


def check_floor(name: str, value: float, profile: str = MEASURED_ON) -> str:
    """Check a chapter's measured value against its floor.

    Args:
        name: The floor's name in ``floors.json`` (``"phh: Dice"``).
        value: This run's value.
        profile: The profile the run used: a floor is asserted only on the profile it was
            measured on (:data:`MEASURED_ON`); on another, the line says that no floor is set.

    Returns:
        One line: the value, the floor, and the spread the floor was set from.

    Raises:
        KeyError: If there is no such floor.
        AssertionError: If ``value`` is below the floor (or not a number).

    Example:
        >>> check_floor("phh: Dice", 0.86)  # doctest: +SKIP
        'phh: Dice 0.860 >= floor 0.80 (6 runs, seeds 0-2 x 1-2 threads: 0.853 ± 0.010, ...)'
    """
    known = floors()
    if name not in known:
        raise KeyError(f"no floor named {name!r} in {FLOORS_FILE}; the floors are {sorted(known)}.")
    f = known[name]
    if profile != MEASURED_ON:
        return (
            f"{name} {value:.3f}: no floor for the {profile} profile (the floor of "
            f"{f['floor']:.2f} was set from {f['runs']} {MEASURED_ON} runs on a CPU; a "
            f"{profile} floor needs several {profile} runs on a GPU, not made yet)"
        )
    seeds, threads = f["seeds"], f["threads"]
    line = (
        f"{name} {value:.3f} >= floor {f['floor']:.2f} ({f['runs']} runs, seeds "
        f"{min(seeds)}-{max(seeds)} x {min(threads)}-{max(threads)} threads: {f['mean']:.3f} ± "
        f"{f['sd']:.3f}, lowest {f['lowest']:.3f}; {f['machine']}, {f['date']})"
    )
    if not value >= f["floor"]:
        raise AssertionError(
            f"{name}: this run's {value:.3f} is below the floor of {f['floor']:.2f} set in "
            f"labkit/records/{FLOORS_FILE} from {f['runs']} runs (lowest {f['lowest']:.3f}). "
            "If the recipe changed on purpose, measure the spread again with "
            "`python benchmarks/floor_spread.py ... --write`; if not, the recipe broke."
        )
    return line


def check_loss_fell(
    history: Sequence[Mapping[str, Any]], factor: float, profile: str = MEASURED_ON
) -> str:
    """Check that a run learned: its training loss fell below ``factor`` times the first epoch's
    on the profile the chapters measure (:data:`MEASURED_ON`); on another profile, that the loss
    is finite and, over two epochs or more, lower at the end than after the first (a run bounded
    to one epoch of two steps, as ``steps_per_epoch`` allows, proves it runs, not that it learns).

    Args:
        history: ``history.csv`` rows (each with ``loss``), first epoch first.
        factor: The fall asserted on :data:`MEASURED_ON`, e.g. 0.5 for "at least halved".
        profile: The profile the run used.

    Returns:
        One line: the first and last loss, and what was checked.

    Raises:
        AssertionError: If the loss did not fall as required (or is not a number).
    """
    if not history:
        raise AssertionError("the run has no history: no epoch finished.")
    first, last = float(history[0]["loss"]), float(history[-1]["loss"])
    line = f"training loss {first:.4f} -> {last:.4f} over {len(history)} epoch(s)"
    if not (math.isfinite(first) and math.isfinite(last)):
        raise AssertionError(f"{line}: not a number; the training diverged.")
    if profile == MEASURED_ON:
        if not last < factor * first:
            raise AssertionError(f"{line}: did not fall below {factor} x the first epoch's.")
        return f"{line} (below {factor} x the first epoch's)"
    if len(history) > 1 and not last < first:
        raise AssertionError(f"{line}: did not fall.")
    return f"{line} ({profile}: finite" + (", and fell)" if len(history) > 1 else ")")
