"""The WMH chapter's ablation and leave-one-site-out runs, over seeds.

Trains, on the twin the chapter uses (8 subjects per site) and on one split (drawn with seed 0,
so that every run tests the same subjects): the faithful pipeline, the study's two choices each
undone (no augmentation, with as many gradient steps; 3x3x3 kernels), and patches at resolution,
for every seed; then the faithful pipeline with each site left out in turn. Reports the
per-subject Dice on the subjects' own grid (label 2 left out), the chapter's tables, and the
paired differences against the faithful pipeline.

The chapter shows the recorded results of this script in the quick profile (its own trainings
would take a CPU about 20 minutes), and checks that its own seed-0 faithful run matches them.

Run (about 6 minutes per seed on a 2-core CPU, quick profile)::

    python benchmarks/wmh_ablation.py [--seeds 0 1 2] [--profile quick] [--set epochs=20 ...]
                                      [--out labkit/records/wmh_ablation_quick.json]
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

from _results import report, seed_arguments

from labkit.experiments import differences, mean_and_sd, paired_difference, pooled
from labkit.studies.settings.wmh import PATCHES  # patches at resolution, as the chapter trains


def main(argv: list[str] | None = None) -> dict:
    args = seed_arguments(__doc__, argv, settings=True)

    import labkit
    from labkit.config import cache_dir
    from labkit.datasets.wmh import load_wmh, write_wmh_twin
    from labkit.studies import wmh

    data = write_wmh_twin(cache_dir("wmh_twin"), n_per_site=8, seed=0).root
    settings = wmh.settings(args.profile, args.overrides)
    variants = {
        name: {**args.overrides, **o} for name, o in wmh.ablation_variants(settings).items()
    }
    variants["patches"] = {**args.overrides, **PATCHES}
    sites = list(wmh.site_groups(load_wmh(data)))
    with tempfile.TemporaryDirectory() as tmp:
        records = wmh.repeat_runs(data, Path(tmp), args.profile, args.seeds, variants, sites)

    names = [*variants, *(f"unseen {s}" for s in sites)]
    result = {
        "measured": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} CPUs",
        "labkit": labkit.__version__,
        "command": "python benchmarks/wmh_ablation.py " + " ".join(argv or sys.argv[1:]),
        "profile": args.profile,
        "settings": args.overrides,
        "seeds": args.seeds,
        "runs": records,
        "dice_mean_sd": {v: mean_and_sd(pooled(records, v, "dice")) for v in names},
        "dice_minus_faithful": {
            v: paired_difference(
                differences(records, v, "faithful", "dice", shared=True), "n_subject_runs"
            )
            for v in names[1:]
        },
    }
    return report(result, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
