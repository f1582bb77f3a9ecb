"""``split_seed``: runs with other seeds can test the same cases (the floors' seed spreads).

Every recipe writes ``split.json`` before it trains (the skeleton's order,
:meth:`labkit.studies.recipe.Recipe.train`), so each run here stops at the call to ``fit`` and
compares the splits it wrote.
"""

import importlib
import json

import pytest

from labkit.studies import recipe as skeleton
from labkit_cli import main


class _Stop(Exception):
    """Raised in place of training."""


def _no_training(*args, **kwargs):
    raise _Stop


@pytest.mark.parametrize(
    ("study", "cases"), [("phh", 10), ("ich", 10), ("msd", 10), ("brats", 10), ("wmh", 6)]
)
def test_split_seed_keeps_the_test_cases(study, cases, tmp_path, monkeypatch):
    data = tmp_path / "data"
    assert main(["synth", study, str(data), "--cases", str(cases), "--seed", "0"]) == 0
    recipe = importlib.import_module(f"labkit.studies.{study}")
    monkeypatch.setattr(skeleton, "fit", _no_training)

    def split(seed: int, **overrides) -> dict:
        out = tmp_path / f"seed{seed}-{sorted(overrides.items())}"
        with pytest.raises(_Stop):
            recipe.train(data, out, "quick", seed=seed, overrides=overrides)
        return json.loads((out / "split.json").read_text())

    assert split(1, split_seed=0) == split(0)
    assert split(1)["test"] != split(0)["test"]  # without it the seed draws the split
    assert split(0, split_seed=1) == split(1)
