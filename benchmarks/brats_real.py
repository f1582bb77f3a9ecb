"""Leave-one-patient-out on the four real BraTS 2013 patients, with the BraTS recipe unchanged.

Trains the recipe (two modalities, FLAIR and T1Gd, as the data have) on three patients and tests
the fourth, for each patient and seed; reports each fold's region Dice and HD95 (whole tumour,
tumour core, enhancing tumour) and the training time. The BraTS chapter trains one of these folds
itself (the first patient held out, seed 0) and shows this script's recorded table beside it.

Needs the real cases (``../shared/data/BraTS2013`` or ``LABKIT_DATA_ROOT``). Run (about two
minutes a fold on a 2-core CPU, quick profile)::

    python benchmarks/brats_real.py [--seeds 0] [--profile quick] [--set epochs=20 ...]
                                    [--out labkit/records/brats_real_quick.json]
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

from _results import real_dataset, report, seed_arguments

from labkit.experiments import mean_and_sd


def main(argv: list[str] | None = None) -> dict:
    args = seed_arguments(__doc__, argv, settings=True)

    import labkit
    from labkit.datasets.brats import load_brats
    from labkit.evaluation import read_metrics_csv
    from labkit.studies import brats

    root = real_dataset("BraTS2013")
    cases = load_brats(root).case_ids
    folds = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for held_out in cases:
                run = Path(tmp) / f"{held_out}-{seed}"
                overrides = {**args.overrides, "test_cases": [held_out]}
                summary = brats.train(root, run, args.profile, seed, overrides)
                rows = {r["label"]: r for r in read_metrics_csv(run / "metrics.csv")}
                folds.append(
                    {
                        "held out": held_out,
                        "seed": seed,
                        **{f"{n} Dice": round(rows[n]["dice"], 4) for n in brats.REGIONS},
                        **{f"{n} HD95 (mm)": round(rows[n]["hd95"], 2) for n in brats.REGIONS},
                        "train seconds": summary["train_seconds"],
                    }
                )
                print(folds[-1], flush=True)
    result = {
        "measured": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs",
        "labkit": labkit.__version__,
        "command": "python benchmarks/brats_real.py " + " ".join(argv or sys.argv[1:]),
        "profile": args.profile,
        "settings": args.overrides,
        "seeds": args.seeds,
        "folds": folds,
        "dice_mean_sd": {n: mean_and_sd([f[f"{n} Dice"] for f in folds]) for n in brats.REGIONS},
    }
    return report(result, args.out)


if __name__ == "__main__":
    main()
