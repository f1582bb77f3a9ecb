"""The PHH chapter's comparison repeated over seeds: faithful 2D pipeline vs 2.5D input.

The chapter trains each variant once (seed 0), on two test patients. This script repeats both
with several seeds (each seed also draws its own 7/1/2 split of the ten twin patients) and reports
the per-patient test Dice of every run and the mean and spread of the 2.5D - 2D differences.

Run (about 2 minutes per seed on a 2-core CPU, quick profile)::

    python benchmarks/phh_seeds.py [--seeds 0 1 2] [--profile quick] [--out results.json]
"""

from __future__ import annotations

import sys
import tempfile

from _results import report, seed_arguments

from labkit.experiments import differences, mean_and_sd, paired_difference, pooled, repeat


def main(argv: list[str] | None = None) -> dict:
    args = seed_arguments(__doc__, argv)

    from labkit.config import cache_dir
    from labkit.datasets import write_phh_twin
    from labkit.studies import phh

    data = write_phh_twin(cache_dir("phh_twin"), n_cases=10, seed=0).root
    variants = {"2D": {}, "2.5D": {"context": 1}}
    with tempfile.TemporaryDirectory() as tmp:
        runs = repeat(phh.train, data, tmp, args.profile, args.seeds, variants)
    diffs = differences(runs, "2.5D", "2D", "dice")
    result = {
        "profile": args.profile,
        "seeds": args.seeds,
        "runs": runs,
        "dice_mean_sd": {v: mean_and_sd(pooled(runs, v, "dice")) for v in variants},
        "difference_2.5D_minus_2D": paired_difference(diffs, "n_patient_runs"),
    }
    return report(result, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
