"""The benchmark scripts read the study profiles, and their floors are the chapters' own."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import floor_spread
import gpu_profiles
import same_behaviour

from labkit.floors import floors
from labkit.studies import wmh


def test_gpu_profiles_reads_every_studys_full_profile() -> None:
    from labkit.studies import BUILTIN

    assert sorted(gpu_profiles.PROFILES) == sorted(BUILTIN)
    wmh_full = wmh.settings("full")
    net = gpu_profiles.PROFILES["wmh"]
    assert (net.spatial, net.filters, net.kernel) == (
        tuple(wmh_full.shape),
        wmh_full.filters,
        tuple(wmh_full.kernel),
    )


@pytest.mark.parametrize("name", list(floor_spread.FLOORS))
def test_every_floored_training_has_its_floors_in_the_one_file_and_its_chapter_reads_them(
    name: str,
) -> None:
    mine = {k: v for k, v in floors().items() if k.split(":")[0] == name}
    assert mine, f"benchmarks/floor_spread.py measures {name}, but floors.json has no floor of it"
    where = floor_spread.FLOORS[name].where
    text = (Path(__file__).resolve().parents[1] / where).read_text()
    assert "check_floor(" in text and f"{name}: " in text, f"{where} does not check its floor"
    assert "floor_spread.json, 20" not in text, f"{where} copies a measured spread into a cell"
    for key, entry in mine.items():
        assert entry["where"] == where, key


def test_write_floors_keeps_each_floor_and_refuses_one_too_close(tmp_path) -> None:
    path = tmp_path / "floors.json"
    path.write_text(json.dumps({"floors": {"phh: Dice": {"floor": 0.80}}}))
    runs = [{"floor": "phh", "seed": s, "threads": t, "Dice": 0.85} for s in (0, 1) for t in (1, 2)]
    spread = {"where": "book/phh.md", "measure": "m", "mean_sd": [0.85, 0.0], "lowest": 0.85}
    result = {"date": "2026-12-07", "machine": "m", "runs": runs, "summary": {"phh: Dice": spread}}
    entry = floor_spread.write_floors(result, path)["floors"]["phh: Dice"]
    assert (entry["floor"], entry["lowest"], entry["runs"], entry["threads"]) == (
        0.8,
        0.85,
        4,
        [1, 2],
    )
    spread["lowest"] = 0.82  # 0.02 above the floor: less than the margin
    with pytest.raises(SystemExit, match=r"less than 0.03 below the lowest value measured, 0.82"):
        floor_spread.write_floors(result, path)


def _side(folder: Path, dice: str, seconds: float, pred: bytes, chapter: list[str]) -> Path:
    run = folder / "run_phh"
    run.mkdir(parents=True)
    (folder / "phh.train.rc").write_text("0\n")
    (folder / "phh.train.err").write_text("")
    (run / "metrics.csv").write_text(f"case,label,dice\na,csf,{dice}\n")
    (run / "config.json").write_text('{"study": "phh", "seed": 0}')
    (run / "summary.json").write_text(f'{{"labels": [], "train_seconds": {seconds}}}')
    (folder / "pred_phh").mkdir()
    (folder / "pred_phh" / "a.nii.gz").write_bytes(pred)
    (folder / "chapter_phh.json").write_text(json.dumps(chapter))
    return folder


def test_same_behaviour_compares_runs_and_chapters_but_not_durations(tmp_path):
    before = _side(tmp_path / "b", "0.81", 10.0, b"x", ["trained in 12 s", "Dice 0.81"])
    after = _side(tmp_path / "a", "0.81", 11.5, b"x", ["trained in 14.2 s", "Dice 0.81"])
    report = same_behaviour.compare(before, after, ["phh"], ["phh"])
    assert report["studies"]["phh"]["differences"] == []  # train_seconds and durations differ
    assert report["chapters"]["phh"]["differing_cells"] == []
    changed = _side(tmp_path / "c", "0.82", 10.0, b"y", ["trained in 12 s", "Dice 0.82"])
    report = same_behaviour.compare(before, changed, ["phh"], ["phh"])
    assert report["studies"]["phh"]["differences"] == ["metrics.csv", "prediction a.nii.gz"]
    assert report["chapters"]["phh"]["differing_cells"] == [1]
    # a run that fails fails the same way when only its folder's name differs in the message
    for side, epoch in ((before, 3), (after, 3), (changed, 4)):
        (side / "phh.train.rc").write_text("1\n")
        (side / "phh.train.err").write_text(
            f"training in {side}/run_phh collapsed at epoch {epoch}"
        )
    assert same_behaviour.compare(before, after, ["phh"], [])["studies"]["phh"]["differences"] == []
    report = same_behaviour.compare(before, changed, ["phh"], [])
    assert report["studies"]["phh"]["differences"][0].startswith("failed differently")


def test_hippocampus_options_scores_every_move_on_the_same_cases(tmp_path, monkeypatch):
    import hippocampus_options
    from _tiny import use_tiny

    from labkit.datasets import write_msd_twin
    from labkit.studies import msd

    use_tiny(monkeypatch, "msd")
    data = write_msd_twin(tmp_path / "Task04_Hippocampus", "hippocampus", n_cases=6, seed=0).root
    runs = []
    for seed in (0, 1):
        runs.append(tmp_path / f"s{seed}")
        settings = {"split_seed": 0, "flip_axes": [0], "epochs": 1}
        msd.train(data, runs[-1], "quick", seed, overrides=settings)
    result = hippocampus_options.measure(runs, data)
    names = {r["configuration"] for r in result["rows"]}
    assert names == {
        f"{base}{post}"
        for base in ("single", "TTA", "ensemble", "ensemble + TTA")
        for post in ("", " + largest component")
    }
    assert result["mirror_axes"] == [0] and len(result["train_seconds"]) == 2
    singles = [r for r in result["rows"] if r["configuration"] == "single"]
    assert [r["member"] for r in singles] == ["s0", "s1"]
    for row in result["rows"]:  # every configuration scores the same test cases
        assert all(len(v) == result["test_cases"] for v in row["per_case"].values())
    text = hippocampus_options.table(result)
    assert "| ensemble + TTA + largest component | 1 |" in text


def test_t4_estimate_scales_the_h100_step_by_the_ratio_of_the_peaks() -> None:
    import t4_estimates

    compiled = {"study": "phh", "flops": 2e12, "parameters": 1, "batch": 16, "compiled_mib": 1.0}
    row = t4_estimates.estimate(compiled, {"median_step_s": 0.02, "peak_gpu_mib": 3000.0})
    assert row["h100_share_of_peak"] == pytest.approx(2e12 / 0.02 / 989e12)
    # the same share of the T4's peak: the H100's step times the ratio of the peaks
    assert row["t4_step_s"] == pytest.approx(0.02 * 989 / 65)
    assert row["t4_run_minutes"] == pytest.approx(25 * 112 * 0.02 * 989 / 65 / 60)
    assert row["t4_mib"] == 3000.0 and row["fits_t4"]
    assert (
        t4_estimates.estimate(
            {**compiled, "study": "msd"}, {"median_step_s": 0.02, "peak_gpu_mib": 16000.0}
        )["t4_run_minutes"]
        is None
    )
