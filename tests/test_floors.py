"""The chapters' floors: one file, each floor set from measured spread, read by one check."""

import pytest

from labkit.floors import MARGIN, check_floor, check_loss_fell, floors


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


def test_a_floor_measured_on_quick_is_not_asserted_under_full_and_says_why():
    line = check_floor("phh: Dice", 0.1, "full")
    assert line.startswith("phh: Dice 0.100: no floor for the full profile (the floor of 0.80")
    assert "quick runs on a CPU" in line
    with pytest.raises(AssertionError, match="below the floor"):
        check_floor("phh: Dice", 0.1, "quick")


def test_check_loss_fell_asks_each_profile_what_holds_there():
    fell = [{"loss": 1.0}, {"loss": 0.4}]
    assert check_loss_fell(fell, 0.5).endswith("(below 0.5 x the first epoch's)")
    with pytest.raises(AssertionError, match=r"1.0000 -> 0.6000 over 2 epoch\(s\): did not fall"):
        check_loss_fell([{"loss": 1.0}, {"loss": 0.6}], 0.5)
    # full: one bounded epoch only needs a finite loss; two need a fall, not a halving
    assert check_loss_fell([{"loss": 0.7}], 0.5, "full").endswith("(full: finite)")
    assert check_loss_fell([{"loss": 1.0}, {"loss": 0.9}], 0.5, "full").endswith("and fell)")
    with pytest.raises(AssertionError, match="did not fall"):
        check_loss_fell([{"loss": 1.0}, {"loss": 1.1}], 0.5, "full")
    with pytest.raises(AssertionError, match="not a number; the training diverged"):
        check_loss_fell([{"loss": 1.0}, {"loss": float("nan")}], 0.5, "full")
    with pytest.raises(AssertionError, match="no epoch finished"):
        check_loss_fell([], 0.5)
