"""Quality per CPU-minute on the real hippocampus: the msd quick profile and variants of it.

Issue 25 asks the Decathlon recipe's quick profile toward held-out Dice 0.88 / 0.87 (anterior /
posterior) on the real MSD hippocampus in at most 10 minutes of training on a 2-core CPU. Each
variant below changes a few settings of the profile; each runs as its own process of
``msd_hippocampus.py`` (what ``labkit train msd`` runs: 128 train / 32 validation / 40 test
cases), one after the other, so no two runs share the CPU. Every seed tests on the split of seed
0 (``split_seed=0``): another seed changes the weights, the shuffling and the flips, never the
cases, so runs of one variant can be compared and ensembled case by case. Results are merged into
one JSON file (by variant and seed: a rerun replaces its row) and printed as a table; ``--keep
DIR`` keeps each run folder as ``DIR/<variant>-s<seed>`` (for ``hippocampus_options.py``).

Run (about 10 minutes a variant on a 2-core CPU)::

    python benchmarks/hippocampus_frontier.py --only profile zscore [--seeds 0 1 2]
        [--out labkit/records/hippocampus_frontier_quick.json] [--keep RUNS]

The Decathlon chapter shows ``labkit/records/hippocampus_frontier_quick.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Variant name to the settings it changes (``--set`` of ``labkit train msd``).
VARIANTS: dict[str, dict[str, object]] = {
    "profile": {},
    "zscore": {"normalisation": "zscore"},
    "context1": {"context": 1},
    "zscore+context1": {"normalisation": "zscore", "context": 1},
    "zscore+context1+flip0": {"normalisation": "zscore", "context": 1, "flip_axes": [0]},
    "zscore+context1+dice_ce": {"normalisation": "zscore", "context": 1, "loss": "dice_ce"},
    "zscore+context1+filters24": {"normalisation": "zscore", "context": 1, "filters": 24},
    "zscore+context1+batch16": {"normalisation": "zscore", "context": 1, "batch_size": 16},
    "zscore+context1+epochs8": {"normalisation": "zscore", "context": 1, "epochs": 8},
}


def run_variant(name: str, seed: int, data: str | None, keep: str | None) -> dict:
    """One training of a variant in its own process; its ``msd_hippocampus.py`` result."""
    settings = {"split_seed": 0, **VARIANTS[name]}
    sets = [f"--set={k}={json.dumps(v)}" for k, v in settings.items()]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, str(HERE / "msd_hippocampus.py"), "--seed", str(seed)]
        command += [*sets, "--out", str(out)] + (["--data", data] if data else [])
        command += ["--keep", str(Path(keep) / f"{name}-s{seed}")] if keep else []
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(out.read_text())
    return {"variant": name, "date": date.today().isoformat(), **result}


def table(rows: list[dict]) -> str:
    """The results as a Markdown table, one row per variant and seed."""
    lines = [
        "| variant | seed | date | anterior Dice | posterior Dice | train + evaluate (s) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        a, p = r["labels"]["Anterior"], r["labels"]["Posterior"]
        lines.append(
            f"| {r['variant']} | {r['seed']} | {r['date']} | {a['dice_mean']:.3f} ± "
            f"{a['dice_sd']:.3f} | {p['dice_mean']:.3f} ± {p['dice_sd']:.3f} | "
            f"{r['train_seconds']:.0f} + {r['wall_seconds'] - r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), default=["profile"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data", help="Task04_Hippocampus folder (default: the real data found)")
    parser.add_argument("--out", help="JSON file to merge the results into")
    parser.add_argument("--keep", help="folder to keep the run folders in")
    args = parser.parse_args(argv)
    rows: list[dict] = []
    if args.out and Path(args.out).is_file():
        old = json.loads(Path(args.out).read_text())
        rows = old["runs"] if isinstance(old, dict) else old
    for name in args.only:
        for seed in args.seeds:
            result = run_variant(name, seed, args.data, args.keep)
            rows = [r for r in rows if (r["variant"], r["seed"]) != (name, seed)] + [result]
            if args.out:
                record = {
                    "date": max(r["date"] for r in rows),
                    "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                    "runs": rows,
                }
                Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
            print(table([result]).splitlines()[-1], flush=True)
    print(table(rows))
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
