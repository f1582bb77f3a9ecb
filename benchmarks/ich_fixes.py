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

from labkit.experiments import mean_and_sd, paired_difference

POST = "post-processing"


def main(argv: list[str] | None = None) -> dict:
    args = seed_arguments(__doc__, argv, settings=True)

    from labkit.config import cache_dir
    from labkit.datasets import write_ich_twin
    from labkit.evaluation import read_metrics_csv
    from labkit.studies import ich

    data = write_ich_twin(cache_dir("ich_twin"), n_cases=24, seed=0).root
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for name, overrides in {"faithful": {}, **ich.FIXES}.items():
                out = Path(tmp) / f"{name}_{seed}".replace(" ", "_")
                changed = {**args.overrides, **overrides}
                summary = ich.train(data, out, args.profile, seed=seed, overrides=changed)
                rows = read_metrics_csv(out / "metrics.csv")
                runs.append(
                    {
                        "seed": seed,
                        "variant": name,
                        "dice": {r["case"]: round(r["dice"], 4) for r in rows},
                        "fp": {r["case"]: int(r["fp_components"]) for r in rows},
                        "train_seconds": summary["train_seconds"],
                    }
                )
                print(json.dumps(runs[-1]), flush=True)
                if name != "faithful":
                    continue
                held_out = ich.held_out_predictions(out, data)  # the chapter's post-processing:
                post = ich.score_postprocessing(held_out, min_component_ml=0.1, opening=True)
                dice = {r["case"]: round(r["dice"], 4) for r in post}
                fp = {r["case"]: int(r["fp_components"]) for r in post}
                runs.append({"seed": seed, "variant": POST, "dice": dice, "fp": fp})
                print(json.dumps(runs[-1]), flush=True)

    def values(variant: str, key: str) -> list[float]:
        return [v for r in runs if r["variant"] == variant for v in r[key].values()]

    def differences(variant: str, key: str) -> list[float]:
        out = []
        for seed in args.seeds:
            base, other = (
                next(r for r in runs if r["seed"] == seed and r["variant"] == v)
                for v in ("faithful", variant)
            )
            out += [other[key][case] - base[key][case] for case in base[key]]
        return out

    names = ["faithful", *ich.FIXES, POST]
    result = {
        "profile": args.profile,
        "settings": args.overrides,
        "seeds": args.seeds,
        "runs": runs,
        "dice_mean_sd": {v: mean_and_sd(values(v, "dice")) for v in names},
        "fp_mean_sd": {v: mean_and_sd(values(v, "fp")) for v in names},
        "dice_minus_faithful": {
            v: paired_difference(differences(v, "dice"), "n_patient_runs") for v in names[1:]
        },
        "fp_minus_faithful": {
            v: paired_difference(differences(v, "fp"), "n_patient_runs") for v in names[1:]
        },
    }
    return report(result, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
