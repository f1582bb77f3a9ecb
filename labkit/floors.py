"""The chapters' quality floors, kept in one file: ``labkit/records/floors.json``.

A chapter trains once (seed 0) and asserts that its held-out score is not below a floor. CPU
training is deterministic per machine and thread count, not across machines, so each floor is
set below the lowest value of the same training over several seeds and one or two TensorFlow
threads (a stand-in for another CPU), by at least :data:`MARGIN`. ``benchmarks/floor_spread.py
--write`` measures that spread and records it beside each floor; the chapters read the floor and
its spread from there through :func:`check_floor`, so no number is copied into a cell.
"""

from __future__ import annotations

from typing import Any

from labkit.config import recorded_results

__all__ = ["FLOORS_FILE", "MARGIN", "check_floor", "floors"]

#: The record the floors live in (in :mod:`labkit.records`).
FLOORS_FILE = "floors.json"

#: The least distance between a floor and the lowest value its spread measured.
MARGIN = 0.03


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


def check_floor(name: str, value: float) -> str:
    """Check a chapter's measured value against its floor.

    Args:
        name: The floor's name in ``floors.json`` (``"phh: Dice"``).
        value: This run's value.

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
