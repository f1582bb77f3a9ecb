import numpy as np
import pytest

from labkit import tables


def test_mean_sd_by_hand():
    # mean 2, sample sd 1
    assert tables.format_mean_sd([1.0, 2.0, 3.0]) == "2 ± 1 (n=3)"
    assert tables.format_mean_sd([0.5, np.nan, 0.7], digits=2) == "0.6 ± 0.14 (n=2, 1 NaN)"
    assert tables.format_mean_sd([0.25]) == "0.25 ± 0 (n=1)"
    assert tables.format_mean_sd([np.nan]) == "–"
    assert tables.format_mean_sd([64000, 66000]) == "65,000 ± 1,414 (n=2)"


def test_markdown_table_by_hand():
    text = tables.markdown_table([{"case": "a", "dice": 0.81234}, {"case": "b|c", "dice": 1}])
    assert text == "| case | dice |\n|---|---|\n| a | 0.812 |\n| b\\|c | 1 |"
    with pytest.raises(ValueError, match="at least one row"):
        tables.markdown_table([])


def test_show_table_prints_outside_ipython(capsys):
    out = tables.show_table([{"x": 1.5}], floatfmt=".2f")
    assert out == "| x |\n|---|\n| 1.50 |"
    assert "| 1.50 |" in capsys.readouterr().out


def test_paired_verdict_needs_every_case_to_move_one_way():
    assert (
        tables.paired_verdict([0.8, 0.9], [0.7, 0.85]) == "better on every case (+0.050 to +0.100)"
    )
    assert (
        tables.paired_verdict([0.6, 0.7], [0.7, 0.75]) == "worse on every case (-0.100 to -0.050)"
    )
    # one case moved by less than the margin: no claim
    assert tables.paired_verdict([0.8, 0.905], [0.7, 0.9]) == (
        "no consistent change (+0.005 to +0.100)"
    )
    assert tables.paired_verdict([0.8, 0.905], [0.7, 0.9], margin=0.001).startswith("better")
    with pytest.raises(ValueError, match=r"same cases in both lists; got 2 and 1"):
        tables.paired_verdict([0.8, 0.9], [0.7])


def test_mean_sd_by_groups_rows_in_order():
    rows = [
        {"label": "b", "dice": 0.5, "hd95": 2.0},
        {"label": "a", "dice": 1.0, "hd95": float("nan")},
        {"label": "b", "dice": 0.7, "hd95": 4.0},
    ]
    out = tables.format_mean_sd_by(rows, ("dice", "hd95"))
    assert out == [
        {"label": "b", "dice": "0.6 ± 0.141 (n=2)", "hd95": "3 ± 1.41 (n=2)"},
        {"label": "a", "dice": "1 ± 0 (n=1)", "hd95": "–"},
    ]
    only = tables.format_mean_sd_by(rows, ("dice",), groups=["a"], digits=2)
    assert only == [{"label": "a", "dice": "1 ± 0 (n=1)"}]


def test_ablation_and_unseen_site_tables_pair_subjects_by_seed():
    records = [
        {"seed": 0, "variant": "faithful", "dice": {"a": 0.5, "b": 0.7}},
        {"seed": 0, "variant": "no augmentation", "dice": {"a": 0.4, "b": 0.5}},
        {"seed": 1, "variant": "faithful", "dice": {"a": 0.6, "b": 0.8}},
        {"seed": 1, "variant": "no augmentation", "dice": {"a": 0.5, "b": 0.6}},
        {"seed": 0, "variant": "unseen S", "dice": {"a": 0.2, "c": 0.1}},
        {"seed": 1, "variant": "unseen S", "dice": {"a": 0.3, "c": 0.3}},
    ]
    rows = {r["variant"]: r for r in tables.ablation_table(records)}
    assert list(rows) == ["faithful", "no augmentation"]
    assert rows["faithful"]["mean Dice per seed"] == "0.600, 0.700"
    assert rows["no augmentation"]["against faithful, paired"].startswith("worse on every case")
    (site,) = tables.unseen_site_table(records)
    assert site["left-out site"] == "S" and site["subject-runs also in the mixed test"] == 2
    assert site["paired"] == "worse on every case (-0.300 to -0.300)"


def test_by_variant_summarises_seeds_per_label():
    def run(variant, seed, a, p, seconds):
        labels = {"Anterior": {"dice_mean": a}, "Posterior": {"dice_mean": p}}
        return {"variant": variant, "seed": seed, "train_seconds": seconds, "labels": labels}

    records = [run("x", 0, 0.80, 0.70, 60), run("y", 0, 0.9, 0.5, 30), run("x", 1, 0.84, 0.74, 120)]
    rows = tables.by_variant(records, ["Anterior", "Posterior"])
    assert [r["variant"] for r in rows] == ["x", "y"]
    assert rows[0]["seeds"] == 2 and rows[0]["training minutes"] == "1.5"
    assert rows[0]["Anterior Dice"] == "0.82 ± 0.0283 (n=2)"  # sd of 0.80, 0.84: 0.04 / sqrt(2)
    assert rows[1]["Posterior Dice"] == "0.500"


def test_by_configuration_gives_gains_over_the_baseline_and_minutes():
    def row(name, member, dice, seconds):
        return {"configuration": name, "member": member, "dice": {"A": dice}, "seconds": seconds}

    rows = tables.by_configuration(
        [
            row("single", "s0", 0.80, 30),
            row("single", "s1", 0.82, 30),
            row("ensemble", "e", 0.85, 90),
        ]
    )
    assert rows[0] == {
        "configuration": "single",
        "members": 2,
        "A Dice": "0.81 ± 0.0141 (n=2), +0.000",
        "minutes": "0.5",
    }
    assert rows[1]["A Dice"] == "0.850, +0.040" and rows[1]["minutes"] == "1.5"
