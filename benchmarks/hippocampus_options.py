"""nnU-Net's three moves on the real hippocampus: each one's gain on the same test cases.

Trains the Decathlon chapter's hippocampus run (``msd.HIPPOCAMPUS_BUDGET``, the quick profile
cut to the chapter's budget) for several seeds on one split (``split_seed=0``: the seeds change
the weights, the shuffling and the flips, never the cases), twice: as the chapter trains it, and
with random left-right flips (``flip_axes=[0]``), which test-time mirroring needs. Each training
is its own process (``msd_hippocampus.py --keep``), so seed 0 "as the chapter" is the chapter's
own run. Then it scores the same 40 test cases with:

- ``single``: each run alone, as predicted (no post-processing);
- ``+ largest component``: each label's largest component kept where that raised the label's
  mean Dice on the 32 validation cases (chosen here, on validation cases only, as
  ``--set largest_component=auto`` chooses);
- ``TTA``: each run averaged over its mirrored inputs (the flipped runs only);
- ``ensemble``: the seeds' probabilities averaged (nnU-Net ensembles five folds; here the
  members differ in seed only, since every run trained on the same cases);
- the combinations.

Every configuration is timed (predicting and scoring the test cases, plus choosing the
post-processing on the validation cases where it applies), so the table says what each move
costs in minutes against what it gains. The Decathlon chapter shows the record this writes
(``labkit/records/hippocampus_options_quick.json``).

Run (about 25 minutes on a 2-core CPU for three seeds; runs already in ``--runs`` are reused)::

    python benchmarks/hippocampus_options.py [--seeds 0 1 2] [--runs DIR]
        [--out labkit/records/hippocampus_options_quick.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from _results import real_dataset


def _segmented(recipe, cohort, model, settings, config, cases):
    """``(predicted label map, reference)`` of each case, predicted by ``model`` as it is."""
    from labkit.datasets.base import load_case

    by_id = {c.case_id: c for c in cohort.cases}
    for case_id in cases:
        loaded = load_case(by_id[case_id])
        yield recipe.segment(model, loaded.image, settings, config), loaded.label.array


def _scores(recipe, cohort, model, settings, config, cases, choice) -> dict[str, list[float]]:
    """Per-label Dice of ``cases``, each predicted by ``model``, with ``choice`` applied."""
    from labkit.measures import dice
    from labkit.postprocessing import apply_choice

    labels = {int(k): v for k, v in config["labels"].items() if int(k) != 0}
    out: dict[str, list[float]] = {name: [] for name in labels.values()}
    for pred, ref in _segmented(recipe, cohort, model, settings, config, cases):
        pred = apply_choice(pred, {"largest_component": choice})
        for value, name in labels.items():
            out[name].append(dice(pred == value, ref == value))
    return out


def _choose(recipe, cohort, model, settings, config, cases) -> dict:
    """The largest-component choice made on validation cases with ``model``."""
    from labkit.postprocessing import choose_largest_component

    preds, refs = zip(*_segmented(recipe, cohort, model, settings, config, cases), strict=True)
    labels = [int(k) for k in config["labels"] if int(k) != 0]
    return choose_largest_component(list(preds), list(refs), labels, list(cases))


def measure(runs: list[Path], data: Path) -> dict:
    """Every configuration's per-label test Dice (mean over cases) and wall time."""
    from labkit.ensemble import Averaged
    from labkit.runfolder import RunFolder
    from labkit.studies import msd

    recipe = msd.RECIPE
    folders = [RunFolder(r) for r in runs]
    splits = [f.split() for f in folders]
    if any(s["test"] != splits[0]["test"] or s["val"] != splits[0]["val"] for s in splits):
        raise SystemExit("the runs do not share their split; train them with split_seed fixed.")
    config = folders[0].config()
    config.pop("largest_component", None)
    settings = recipe.run_settings(runs[0], config)
    axes = tuple(settings.flip_axes)
    cohort = recipe.load(data, settings)
    models = [f.model() for f in folders]
    test, val = splits[0]["test"], splits[0]["val"]

    members: dict[str, list[tuple[str, object]]] = {
        "single": [(r.name, m) for r, m in zip(runs, models, strict=True)],
    }
    if axes:
        members["TTA"] = [(r.name, Averaged([m], axes)) for r, m in zip(runs, models, strict=True)]
    if len(models) > 1:
        members["ensemble"] = [("ensemble", Averaged(models))]
        if axes:
            members["ensemble + TTA"] = [("ensemble", Averaged(models, axes))]
    rows = []
    for name, pairs in members.items():
        for post in (False, True):
            for member, model in pairs:
                start = time.perf_counter()
                choice = _choose(recipe, cohort, model, settings, config, val) if post else None
                dice = _scores(recipe, cohort, model, settings, config, test, choice)
                rows.append(
                    {
                        "configuration": name + (" + largest component" if post else ""),
                        "member": member,
                        "kept": (choice or {}).get("labels", []),
                        "dice": {k: float(np.mean(v)) for k, v in dice.items()},
                        "per_case": {k: [round(x, 4) for x in v] for k, v in dice.items()},
                        "seconds": round(time.perf_counter() - start, 1),
                    }
                )
                print(json.dumps({k: rows[-1][k] for k in ("configuration", "member", "dice")}))
    return {
        "date": date.today().isoformat(),
        "runs": [str(r) for r in runs],
        "test_cases": len(test),
        "validation_cases": len(val),
        "mirror_axes": list(axes),
        "train_seconds": [f.summary()["train_seconds"] for f in folders],
        "rows": rows,
    }


def table(result: dict) -> str:
    """One row per configuration: mean ± sd over members (runs) of each label's mean Dice, and
    the minutes it costs on top of training."""
    by: dict[str, list[dict]] = {}
    for row in result["rows"]:
        by.setdefault(row["configuration"], []).append(row)
    labels = list(result["rows"][0]["dice"])
    head = " | ".join(f"{k} Dice" for k in labels)
    lines = [
        f"| configuration | members | {head} | prediction minutes |",
        "|---" * (3 + len(labels)) + "|",
    ]
    for name, rows in by.items():
        cells = []
        for k in labels:
            values = [r["dice"][k] for r in rows]
            sd = f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""
            cells.append(f"{np.mean(values):.3f}{sd}")
        minutes = np.mean([r["seconds"] for r in rows]) / 60
        lines.append(f"| {name} | {len(rows)} | {' | '.join(cells)} | {minutes:.1f} |")
    return "\n".join(lines)


#: Variant name to the settings it adds to the chapter's budget.
VARIANTS = {"as the chapter": {}, "with flips": {"flip_axes": [0]}}


def train_runs(seeds: list[int], runs: Path, data: Path) -> dict[str, list[Path]]:
    """Train (or reuse) every variant's seed runs; variant name to run folders."""
    import subprocess

    from labkit.studies import msd

    out: dict[str, list[Path]] = {}
    for name, extra in VARIANTS.items():
        settings = {**msd.HIPPOCAMPUS_BUDGET, "split_seed": 0, **extra}
        for seed in seeds:
            run = runs / f"{name.replace(' ', '_')}-s{seed}"
            if not (run / "summary.json").is_file():
                sets = [f"--set={k}={json.dumps(v)}" for k, v in settings.items()]
                command = [sys.executable, str(Path(__file__).parent / "msd_hippocampus.py")]
                command += ["--seed", str(seed), "--data", str(data), "--keep", str(run), *sets]
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            out.setdefault(name, []).append(run)
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--runs", help="folder for the run folders (default: a temporary one)")
    parser.add_argument("--data", help="Task04_Hippocampus folder (default: the real data found)")
    parser.add_argument("--out", help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    import platform
    import tempfile

    from labkit.studies import msd

    data = real_dataset("Task04_Hippocampus", args.data)
    with tempfile.TemporaryDirectory() as tmp:
        runs = train_runs(args.seeds, Path(args.runs or tmp), data)
        variants = {name: measure(folders, data) for name, folders in runs.items()}
    result = {
        "date": date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "budget": msd.HIPPOCAMPUS_BUDGET,
        "seeds": args.seeds,
        "variants": variants,
    }
    for name, variant in variants.items():
        print(f"{name}:\n{table(variant)}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
