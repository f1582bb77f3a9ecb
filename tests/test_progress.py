"""Progress bars: tqdm where someone sees them, nothing in a log."""

import pytest

from labkit import progress as progress_module
from labkit.progress import progress


@pytest.mark.backends
def test_no_bar_where_stderr_is_a_log(capsys):
    assert not progress_module.shown()  # pytest captures stderr: not a terminal, no kernel
    assert list(progress(iter(range(3)), "counting", total=3)) == [0, 1, 2]
    assert capsys.readouterr().err == ""


@pytest.mark.backends
def test_a_bar_names_what_it_counts_where_it_is_seen(capsys, monkeypatch):
    monkeypatch.setattr(progress_module, "shown", lambda: True)
    assert list(progress(["a", "b"], "predicting")) == ["a", "b"]
    err = capsys.readouterr().err
    assert "predicting" in err and "/2 " in err  # the bar knows the total


def test_timed_prints_the_seconds(monkeypatch, capsys):
    clock = iter([10.0, 52.4])
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    with progress_module.timed("trained and evaluated"):
        pass
    assert capsys.readouterr().out == "trained and evaluated in 42 s\n"


def test_timed_lets_a_failure_through_and_prints_nothing(monkeypatch, capsys):
    clock = iter([0.0, 3.0])
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    with pytest.raises(ValueError, match="bad"):
        with progress_module.timed("training"):
            raise ValueError("bad")
    assert capsys.readouterr().out == ""
