"""The haemorrhage chapter's fixes repeated over seeds, each against the faithful pipeline.

The chapter trains each variant once (seed 0) and scores five test patients. This script repeats
the faithful pipeline and the study's three trained fixes (lesion-free slices, per-patient
normalisation, 2.5D input) with several seeds (each seed also draws its own split of the 24 twin
patients), scores the post-processing on each seed's faithful predictions, and reports per
variant the per-patient Dice and false-positive regions, and the mean and spread of the paired
per-patient differences against the faithful pipeline.

Run (about 4 minutes per seed on a 2-core CPU, quick profile)::

    python benchmarks/ich_fixes.py [--seeds 0 1 2] [--profile quick] [--set size=64 ...]
                                   [--out results.json]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from _results import report, seed_arguments

from labkit.experiments import (
    case_scores,
    differences,
    mean_and_sd,
    paired_difference,
    pooled,
    repeat,
    run_folder,
)

POST = "post-processing"


def _fp(run: Path) -> dict[str, int]:
    return {case: int(v) for case, v in case_scores(run, "fp_components").items()}


def main(argv: list[str] | None = None) -> dict:
    args = seed_arguments(__doc__, argv, settings=True)

    from labkit.config import cache_dir
    from labkit.datasets import write_ich_twin
    from labkit.studies import ich

    data = write_ich_twin(cache_dir("ich_twin"), n_cases=24, seed=0).root
    variants = {"faithful": {}, **ich.FIXES}
    scores = {"dice": case_scores, "fp": _fp}
    with tempfile.TemporaryDirectory() as tmp:
        runs = repeat(
            ich.train, data, tmp, args.profile, args.seeds, variants, args.overrides, scores=scores
        )
        for seed in args.seeds:  # the chapter's post-processing, on each faithful run
            held_out = ich.held_out_predictions(run_folder(tmp, "faithful", seed), data)
            post = ich.score_postprocessing(held_out, min_component_ml=0.1, opening=True)
            dice = {r["case"]: round(r["dice"], 4) for r in post}
            fp = {r["case"]: int(r["fp_components"]) for r in post}
            runs.append({"seed": seed, "variant": POST, "dice": dice, "fp": fp})
    for run in runs:
        print(json.dumps(run), flush=True)

    names = [*variants, POST]
    result = {
        "profile": args.profile,
        "settings": args.overrides,
        "seeds": args.seeds,
        "runs": runs,
        "dice_mean_sd": {v: mean_and_sd(pooled(runs, v, "dice")) for v in names},
        "fp_mean_sd": {v: mean_and_sd(pooled(runs, v, "fp")) for v in names},
        "dice_minus_faithful": {
            v: paired_difference(differences(runs, v, "faithful", "dice"), "n_patient_runs")
            for v in names[1:]
        },
        "fp_minus_faithful": {
            v: paired_difference(differences(runs, v, "faithful", "fp"), "n_patient_runs")
            for v in names[1:]
        },
    }
    return report(result, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
