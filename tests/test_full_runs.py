"""Records of full-profile runs: written from a real run folder, checked, read into the
chapters' tables and the Performance page (made on a CPU here with a tiny profile; the real
records come from a GPU)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from _tiny import TINY

from labkit import config, full_runs
from labkit.studies import phh

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import full_profile

MACHINE = {
    "date": "2026-12-07",
    "commit": "0123456789abcdef",
    "gpu": "NVIDIA T4",
    "backend": "jax",
    "peak_gpu_mib": 5120.0,
}


def _summary(labels: list[dict]) -> dict:
    return {"profile": "full", "labels": labels}


def _record(**changes) -> dict:
    base = {
        "name": "phh",
        "study": "phh",
        "precision": "mixed_float16",
        "data": "/data/phh",
        "settings": {},
        "seed": 0,
        "command": "python benchmarks/full_profile.py phh --seed 0",
        "wall_seconds": 1500.0,
        "train_seconds": 1400.0,
        "summary": _summary([{"label": "csf", "n": 2, "dice_mean": 0.9, "dice_sd": 0.02}]),
        "cases": [],
        **MACHINE,
    }
    return {**base, **changes}


@pytest.fixture()
def records(tmp_path, monkeypatch):
    """A records folder that load_record reads instead of the package's."""
    folder = tmp_path / "records"
    folder.mkdir()

    def read(name):
        path = folder / name
        return json.loads(path.read_text()) if path.is_file() else None

    monkeypatch.setattr(full_runs, "recorded_results", read)
    return folder


def test_a_tiny_full_run_becomes_a_record_the_chapters_read(tmp_path, monkeypatch, records):
    monkeypatch.setitem(phh.PROFILES, "full", TINY["phh"][1])
    monkeypatch.setattr(full_profile, "machine_facts", lambda: dict(MACHINE))
    record = full_profile.run("phh", 0, {"epochs": 1}, tmp_path / "cache", records)
    assert set(full_runs.FIELDS) <= set(record)
    assert record["study"] == "phh" and record["summary"]["profile"] == "full"
    assert record["settings"]["epochs"] == 1 and "--set epochs=1" in record["command"]
    assert record["peak_gpu_mib"] is None  # no GPU here: no peak is made up
    assert {row["label"] for row in record["cases"]} == {"csf"}
    assert len(record["cases"]) == record["summary"]["labels"][0]["n"]
    assert record["wall_seconds"] >= record["train_seconds"] > 0
    assert full_runs.load_record("phh") == record
    assert full_runs.load_record("wmh") is None


def test_a_run_that_has_not_finished_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no summary.json: the run has not finished"):
        full_runs.build_record(tmp_path / "run", "phh", MACHINE, 1.0, "cmd")


def test_a_record_missing_fields_is_refused_naming_the_file(records):
    (records / "full_phh.json").write_text(json.dumps({"name": "phh"}))
    with pytest.raises(ValueError, match=r"labkit/records/full_phh.json is not a full-profile"):
        full_runs.load_record("phh")
    bad = _record(summary={"labels": []})
    with pytest.raises(ValueError, match=r"summary\.labels must be a list of per-label rows"):
        full_runs.check_record(bad, "x.json")


def test_cells_show_mean_and_sd_per_label_or_say_not_run():
    assert full_runs.result_cell(None) == "not run"
    assert full_runs.result_cell(_record()) == "0.900 ± 0.020"
    two = _record(
        summary=_summary(
            [
                {"label": "Anterior", "dice_mean": 0.8912, "dice_sd": 0.0301, "hd95_mean": 1.5},
                {"label": "Posterior", "dice_mean": 0.875, "dice_sd": float("nan")},
            ]
        )
    )
    assert full_runs.result_cell(two) == "Anterior 0.891 ± 0.030, Posterior 0.875"
    assert full_runs.result_cell(two, labels=["Posterior"]) == "0.875"
    assert full_runs.result_cell(two, "hd95", ["Anterior"], digits=1) == "1.5"
    assert full_runs.result_cell(two, "hd95", ["Posterior"]) == "n/a"
    with pytest.raises(KeyError, match=r"has no label\(s\) \['Tail'\]"):
        full_runs.result_cell(two, labels=["Tail"])


def test_the_column_joins_the_named_rows_only():
    table = [{"": "data", "study": "x"}, {"": "test Dice", "study": "y"}]
    out = full_runs.with_column(table, {"test Dice": "0.900 ± 0.020"})
    assert [row[full_runs.COLUMN] for row in out] == ["", "0.900 ± 0.020"]
    with pytest.raises(KeyError, match=r"no row\(s\) \['Dice'\] in the table"):
        full_runs.with_column(table, {"Dice": "1"})


def test_captions_say_where_a_record_was_made_or_how_to_make_one():
    text = full_runs.caption(_record(), "phh")
    assert "NVIDIA T4, Keras on jax, mixed_float16, 2026-12-07 (commit 0123456)" in text
    assert "25 min, peak GPU memory 5.0 GiB (labkit/records/full_phh.json)" in text
    assert "python benchmarks/full_profile.py wmh" in full_runs.caption(None, "wmh")


def test_the_appendix_says_whether_each_run_fits_a_t4(records):
    (records / "full_phh.json").write_text(json.dumps(_record()))
    big = _record(name="ich", study="ich", peak_gpu_mib=full_runs.T4_MIB + 1.0)
    (records / "full_ich.json").write_text(json.dumps(big))
    rows = {r["run"]: r for r in full_runs.appendix_rows(["phh", "ich", "wmh"])}
    assert rows["phh"]["fits a 16 GB T4"] == "yes" and rows["phh"]["minutes"] == "25.0"
    assert rows["ich"]["fits a 16 GB T4"] == "no"
    assert rows["wmh"]["GPU"] == "not run"


def test_every_record_name_is_a_study_and_the_table_lists_them(tmp_path):
    from labkit.studies import BUILTIN

    assert {study for study, _ in full_profile.RUNS.values()} == set(BUILTIN)
    text = full_profile.write_table(tmp_path / "t.md")
    assert all(f"| {name} |" in text for name in full_profile.RUNS)
    shipped = Path(full_profile.TABLE).read_text()
    assert shipped == text, "benchmarks/results/full_profiles.md is stale: run --table"


def test_real_records_find_their_data_or_say_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "find_real_dataset", lambda name: None)
    with pytest.raises(SystemExit, match="no real BraTS2013 found; set LABKIT_DATA_ROOT"):
        full_profile.data_for("brats", tmp_path)


def test_the_chapters_table_shows_the_column_and_a_caption_per_record(records, capsys):
    (records / "full_phh.json").write_text(json.dumps(_record()))
    table = [{"": "data", "study": "x"}, {"": "test Dice", "study": "y"}, {"": "z", "study": "w"}]
    full_runs.show_with_records(table, {"test Dice": ("phh", None), "z": ("wmh", None)})
    out = capsys.readouterr().out
    assert "| data | x |  |\n| test Dice | y | 0.900 ± 0.020 |\n| z | w | not run |" in out
    assert "NVIDIA T4, Keras on jax" in out and "python benchmarks/full_profile.py wmh" in out
