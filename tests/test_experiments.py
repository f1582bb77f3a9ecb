"""The experiment runner: seeds x variants, per-case scores, paired summaries."""

import json

import numpy as np
import pytest

from labkit import experiments
from labkit.evaluation import write_metrics_csv


def _fake_train(data, out, profile, seed, overrides):
    """A recipe stand-in: Dice = 0.5 + 0.1 * seed + the variant's "gain", for two cases."""
    out.mkdir(parents=True)
    (out / "overrides.json").write_text(json.dumps(overrides))
    gain = overrides.get("gain", 0.0)
    rows = [
        {"case": "b", "label": "tumour", "dice": 0.5 + 0.1 * seed + gain, "hd95": 1.0},
        {"case": "a", "label": "tumour", "dice": 0.4 + 0.1 * seed + gain, "hd95": 2.0},
    ]
    write_metrics_csv(rows, out / "metrics.csv")
    return {"train_seconds": 1.5}


def test_repeat_trains_every_variant_with_every_seed(tmp_path):
    variants = {"base": {}, "better": {"gain": 0.05}}
    runs = experiments.repeat(
        _fake_train, tmp_path, tmp_path / "runs", "quick", [0, 2], variants, {"split_seed": 0}
    )
    assert [(r["seed"], r["variant"]) for r in runs] == [
        (0, "base"),
        (0, "better"),
        (2, "base"),
        (2, "better"),
    ]
    assert runs[3]["dice"] == {"b": 0.75, "a": 0.65}  # 0.5 + 0.2 + 0.05, 0.4 + 0.2 + 0.05
    assert runs[0]["train_seconds"] == 1.5
    written = json.loads((tmp_path / "runs" / "better-2" / "overrides.json").read_text())
    assert written == {"gain": 0.05, "split_seed": 0}


def test_case_scores_needs_a_label_when_a_case_has_several_rows(tmp_path):
    rows = [
        {"case": "a", "label": "liver", "dice": 0.9, "hd95": 1.0},
        {"case": "a", "label": "cancer", "dice": 0.3, "hd95": 1.0},
    ]
    write_metrics_csv(rows, tmp_path / "metrics.csv")
    assert experiments.case_scores(tmp_path, label="cancer") == {"a": 0.3}
    with pytest.raises(ValueError, match=r"several rows per case \(labels \['cancer', 'liver'\]\)"):
        experiments.case_scores(tmp_path)
    with pytest.raises(ValueError, match="no rows with label 'spleen'"):
        experiments.case_scores(tmp_path, label="spleen")


def test_mean_and_sd_and_paired_difference_by_hand():
    assert experiments.mean_and_sd([1.0, 2.0, 3.0]) == [2.0, 1.0]
    with pytest.raises(ValueError, match="two or more values; got 1"):
        experiments.mean_and_sd([0.5])
    diff = experiments.paired_difference([0.1, -0.1, 0.3], "n_case_runs")
    assert diff == {"mean": 0.1, "sd": 0.2, "n_case_runs": 3, "positive": 2}
    assert experiments.paired_difference([0.2], "n")["sd"] is None
    assert np.isclose(experiments.mean_and_sd([0.25, 0.75])[1], 0.3536)


def test_repeat_with_several_scorers_and_the_paired_helpers(tmp_path):
    variants = {"base": {}, "better": {"gain": 0.05}}
    scores = {
        "dice": lambda run: experiments.case_scores(run),
        "hd95": lambda run: experiments.case_scores(run, "hd95"),
    }
    runs = experiments.repeat(
        _fake_train, tmp_path, tmp_path / "runs", "quick", [0, 1], variants, scores=scores
    )
    assert runs[0]["hd95"] == {"b": 1.0, "a": 2.0}
    assert experiments.run_folder(tmp_path / "runs", "better", 1).is_dir()
    assert experiments.pooled(runs, "base", "dice") == [0.5, 0.4, 0.6, 0.5]
    diffs = experiments.differences(runs, "better", "base", "dice")
    assert np.allclose(diffs, [0.05] * 4)
    assert experiments.differences(runs, "base", "base", "hd95") == [0.0] * 4
    runs[3]["dice"] = {"c": 0.9}  # seed 1 of "better" tested another case
    with pytest.raises(ValueError, match="seed 1 tested different cases"):
        experiments.differences(runs, "better", "base", "dice")


def test_differences_of_shared_cases_only():
    runs = [
        {"seed": 0, "variant": "mixed", "dice": {"a": 0.5, "b": 0.7}},
        {"seed": 0, "variant": "unseen", "dice": {"b": 0.4, "c": 0.1}},
    ]
    assert np.allclose(
        experiments.differences(runs, "unseen", "mixed", "dice", shared=True), [-0.3]
    )
    # the two sides of the pairs, for a verdict or a table: subject b only
    assert experiments.paired_scores(runs, "unseen", "mixed", "dice", shared=True) == ([0.4], [0.7])
