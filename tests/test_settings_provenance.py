"""Every setting of every profile says where its value comes from (the study, or ours)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields

import pytest

from labkit.studies import BUILTIN
from labkit.studies.settings import TrainSettings
from labkit.studies.settings.provenance import (
    COMMON,
    Source,
    ours,
    provenance,
    settings_table,
    study,
)


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_setting_of_every_profile_has_a_source(name):
    module = importlib.import_module(f"labkit.studies.settings.{name}")
    names = {f.name for f in fields(module.PROFILES["full"])}
    assert set(module.SOURCES) <= names, set(module.SOURCES) - names  # no stale entries
    for profile, settings in module.PROFILES.items():
        rows = provenance(settings, profile, module.SOURCES, module.QUICK_SOURCES)
        assert [r["setting"] for r in rows] == [f.name for f in fields(settings)]
        assert {r["source"] for r in rows} <= {"study", "ours"}
        assert all(r["note"] for r in rows)
    full, quick = module.PROFILES["full"], module.PROFILES["quick"]
    changed = {f.name for f in fields(full) if getattr(full, f.name) != getattr(quick, f.name)}
    # a quick value that is not the full one is ours and must say why (precision: PRECISION)
    assert changed - {"precision"} <= set(module.QUICK_SOURCES), changed - set(module.QUICK_SOURCES)
    assert all(s.origin == "ours" for s in module.QUICK_SOURCES.values())


def test_a_setting_without_a_source_is_refused_by_name():
    @dataclass(frozen=True, kw_only=True)
    class Toy(TrainSettings):
        window: int = 3

    toy = Toy(epochs=1, batch_size=1, learning_rate=1e-3, filters=4, depth=1, loss="dice")
    sources = {k: ours("x") for k in ("epochs", "batch_size", "learning_rate", "filters")}
    sources |= {"depth": ours("x"), "loss": study("'Dice'")}
    with pytest.raises(KeyError, match="the setting 'window' of Toy says nowhere"):
        provenance(toy, "full", sources, {})
    rows = provenance(toy, "full", {**sources, "window": study("a window of 3")}, {})
    assert rows[-1] == {
        "setting": "window",
        "value": "3",
        "source": "study",
        "note": "a window of 3",
    }
    assert {r["setting"] for r in rows} >= set(COMMON)


def test_the_table_marks_overrides_and_shows_tuples_as_grids():
    rows = {r["setting"]: r for r in settings_table("wmh", "full", {"epochs": 2})}
    assert rows["epochs"]["source"] == "--set" and rows["epochs"]["value"] == "2"
    assert rows["shape"] == {
        "setting": "shape",
        "value": "128x128x16",
        "source": "study",
        "note": "resized to samples of 128x128x16x1",
    }
    assert rows["flip_axes"]["value"] == "none"
    assert rows["precision"]["value"] == "mixed_float16" and rows["precision"]["source"] == "ours"
    assert Source("study", "x") == study("x")
    with pytest.raises(ValueError, match="unknown study 'lung'"):
        settings_table("lung")
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        settings_table("phh", "fast")
