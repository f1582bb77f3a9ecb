"""The Decathlon chapter's loss comparison repeated over seeds: generalized Dice vs cross-entropy.

The chapter trains the liver-and-tumour twin once with each loss (seed 0, four test cases). This
script repeats both with several seeds (a seed also draws its own split of the 20 twin cases),
with the chapter's CPU budget (``msd.TWIN_BUDGET``), and reports per-case liver and tumour Dice
and test pixel accuracy, and the mean and spread of the tumour-Dice difference.

Run (about 3.5 minutes per seed on a 2-core CPU)::

    python benchmarks/msd_losses.py [--seeds 0 1 2] [--out results.json]
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from _results import report, seed_arguments

from labkit.experiments import (
    case_scores,
    differences,
    mean_and_sd,
    paired_difference,
    pooled,
    repeat,
)

LOSSES = ("generalized_dice", "cross_entropy")


def main(argv: list[str] | None = None) -> dict:
    args = seed_arguments(__doc__, argv, profile=False)

    from labkit.config import cache_dir
    from labkit.datasets import write_msd_twin
    from labkit.studies import msd

    ds = write_msd_twin(cache_dir("msd_twins") / "Task03_Liver", "liver", n_cases=20, seed=0)

    def accuracy(run: Path) -> dict[str, float]:
        return {
            case_id: round(float(np.mean(pred == case.label.array)), 4)
            for case_id, (case, pred) in msd.held_out_predictions(run, ds.root).items()
        }

    scores = {
        "liver_dice": lambda run: case_scores(run, label="liver"),
        "cancer_dice": lambda run: case_scores(run, label="cancer"),
        "accuracy": accuracy,
    }
    variants = {loss: {**msd.TWIN_BUDGET, "loss": loss} for loss in LOSSES}
    with tempfile.TemporaryDirectory() as tmp:
        runs = repeat(msd.train, ds.root, tmp, "quick", args.seeds, variants, scores=scores)
    for run in runs:
        print(json.dumps(run), flush=True)
    diffs = differences(runs, "generalized_dice", "cross_entropy", "cancer_dice")
    result = {
        "budget": msd.TWIN_BUDGET,
        "seeds": args.seeds,
        "runs": runs,
        "mean_sd": {
            loss: {
                key: mean_and_sd(pooled(runs, loss, key))
                for key in ("liver_dice", "cancer_dice", "accuracy")
            }
            for loss in LOSSES
        },
        "tumour_dice_gdl_minus_ce": paired_difference(diffs, "n_case_runs"),
    }
    return report(result, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
