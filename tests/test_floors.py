"""The chapters' floors: one file, each floor set from measured spread, read by one check."""

import pytest

from labkit.floors import MARGIN, check_floor, floors


def test_every_floor_sits_at_least_the_margin_below_the_lowest_value_measured():
    for name, entry in floors().items():
        assert entry["runs"] >= 6 and len(entry["seeds"]) >= 3 and entry["threads"] == [1, 2]
        assert entry["floor"] <= entry["lowest"] - MARGIN + 1e-9, name
        assert entry["lowest"] <= entry["mean"], name


def test_check_floor_passes_states_the_spread_and_fails_loudly():
    line = check_floor("phh: Dice", 0.9)
    assert line.startswith("phh: Dice 0.900 >= floor 0.80 (6 runs, seeds 0-2 x 1-2 threads: ")
    with pytest.raises(AssertionError, match=r"phh: Dice: this run's 0.700 is below the floor"):
        check_floor("phh: Dice", 0.7)
    with pytest.raises(AssertionError, match="below the floor"):
        check_floor("phh: Dice", float("nan"))
    with pytest.raises(KeyError, match=r"no floor named 'phh' in floors.json; the floors are"):
        check_floor("phh", 0.9)
