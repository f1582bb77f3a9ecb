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
