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

from labkit.experiments import mean_and_sd, paired_difference


def main(argv: list[str] | None = None) -> dict:
    args = seed_arguments(__doc__, argv, profile=False)

    from labkit.config import cache_dir
    from labkit.datasets import write_msd_twin
    from labkit.evaluation import read_metrics_csv
    from labkit.studies import msd

    ds = write_msd_twin(cache_dir("msd_twins") / "Task03_Liver", "liver", n_cases=20, seed=0)
    losses = ("generalized_dice", "cross_entropy")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for loss in losses:
                out = Path(tmp) / f"{loss}_{seed}"
                overrides = {**msd.TWIN_BUDGET, "loss": loss}
                summary = msd.train(ds.root, out, "quick", seed=seed, overrides=overrides)
                rows = read_metrics_csv(out / "metrics.csv")
                accuracy = {
                    case_id: round(float(np.mean(pred == case.label.array)), 4)
                    for case_id, (case, pred) in msd.held_out_predictions(out, ds.root).items()
                }
                runs.append(
                    {
                        "seed": seed,
                        "loss": loss,
                        **{
                            f"{name}_dice": {
                                r["case"]: round(r["dice"], 4) for r in rows if r["label"] == name
                            }
                            for name in ("liver", "cancer")
                        },
                        "accuracy": accuracy,
                        "train_seconds": summary["train_seconds"],
                    }
                )
                print(json.dumps(runs[-1]), flush=True)

    def pooled(loss: str, key: str) -> list[float]:
        return [v for r in runs if r["loss"] == loss for v in r[key].values()]

    diffs = []
    for seed in args.seeds:
        gdl, ce = (next(r for r in runs if r["seed"] == seed and r["loss"] == x) for x in losses)
        diffs += [gdl["cancer_dice"][k] - ce["cancer_dice"][k] for k in gdl["cancer_dice"]]
    result = {
        "budget": msd.TWIN_BUDGET,
        "seeds": args.seeds,
        "runs": runs,
        "mean_sd": {
            loss: {
                key: mean_and_sd(pooled(loss, key))
                for key in ("liver_dice", "cancer_dice", "accuracy")
            }
            for loss in losses
        },
        "tumour_dice_gdl_minus_ce": paired_difference(diffs, "n_case_runs"),
    }
    return report(result, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
