"""The msd recipe's quick profile on the real MSD hippocampus cases: held-out Dice and time.

Issue 6 asks the quick profile to reach held-out Dice 0.85 for both labels on the 200 real cases
in under 10 minutes of training on a 2-core CPU. This script runs exactly what
``labkit train msd --data DIR --out RUN [--set KEY=VALUE ...]`` runs and prints the numbers.

Run (about 14 minutes on a 2-core CPU)::

    python benchmarks/msd_hippocampus.py [--data ../shared/data/Task04_Hippocampus]
                                         [--set epochs=4 ...] [--out results.json]
                                         [--keep RUN]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _results import add_settings_option, parsed_settings, real_dataset, report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="Task04_Hippocampus folder (default: the real data found)")
    add_settings_option(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the results to this JSON file")
    parser.add_argument("--keep", help="train into this run folder and keep it (default: discard)")
    args = parser.parse_args(argv)

    from labkit.studies import msd

    data = real_dataset("Task04_Hippocampus", args.data)
    overrides = parsed_settings(args.set)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(args.keep) if args.keep else Path(tmp) / "run"
        summary = msd.train(data, run, "quick", args.seed, overrides=overrides)
    result = {
        "data": str(data),
        "overrides": overrides,
        "seed": args.seed,
        "train_seconds": summary["train_seconds"],
        "wall_seconds": round(time.perf_counter() - start, 1),
        "labels": {
            row["label"]: {
                "n": row["n"],
                "dice_mean": round(row["dice_mean"], 4),
                "dice_sd": round(row["dice_sd"], 4),
                "hd95_mean": round(row["hd95_mean"], 3),
            }
            for row in summary["labels"]
        },
    }
    return report(result, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
