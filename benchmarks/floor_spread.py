"""The spread behind a chapter's floor: its floored training over seeds and TensorFlow threads.

A chapter asserts a floor on the held-out score of one training (seed 0). CPU training is
deterministic per machine and thread count, not across machines: float rounding differs, and a
training amplifies it. This script reruns a floored training for several seeds, each with one and
with two TensorFlow threads (a cheap stand-in for another machine), on the chapter's data and
test cases (``split_seed`` 0, or the chapter's named test case), and reports every value, the mean
and sample sd, the lowest, and the floor's margin below it. Each run is a fresh Python process,
because TensorFlow's thread counts are fixed when it starts.

The floors themselves live in ``labkit/records/floors.json`` (:mod:`labkit.floors`), which the
chapters read. ``--write`` records the spread measured here beside each floor there (refusing a
floor less than ``labkit.floors.MARGIN`` below the lowest value); ``--from FILE`` does the same
from a result this script wrote before, without training.

Run (quick profile, 2-core CPU: phh about 1 minute a run, the others about 2)::

    python benchmarks/floor_spread.py phh ich liver spleen wmh hippocampus msd_cli brats_twin \\
        brats_real unet \\
        [--seeds 0 1 2] [--threads 1 2] [--jobs 2] [--out floor_spread.json] [--write]
        [--pipeline neutral]  # the PyDataset pipelines on TensorFlow too, to compare
    python benchmarks/floor_spread.py --from benchmarks/results/floor_spread.json --write
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from _results import real_dataset, report

from labkit.experiments import mean_and_sd
from labkit.floors import FLOORS_FILE, MARGIN, floors


@dataclass(frozen=True)
class Floor:
    """One floored training: where it is asserted, on what, and how to run it."""

    where: str
    measure: str
    data: Callable[[], Path]
    run: Callable[[Path, int, Path], dict[str, float]]


def _mean_by_label(run: Path, label: str | None = None) -> float:
    from labkit.evaluation import read_metrics_csv

    rows = read_metrics_csv(run / "metrics.csv")
    values = [r["dice"] for r in rows if label is None or r["label"] == label]
    return float(sum(values) / len(values))


def _phh_data() -> Path:
    from labkit.config import cache_dir
    from labkit.datasets import write_phh_twin

    return write_phh_twin(cache_dir("phh_twin"), n_cases=10, seed=0).root


def _phh(data: Path, seed: int, out: Path) -> dict[str, float]:
    from labkit.studies import phh

    phh.train(data, out, "quick", seed=seed, overrides={"split_seed": 0})
    return {"Dice": _mean_by_label(out)}


def _ich_data() -> Path:
    from labkit.config import cache_dir
    from labkit.datasets import write_ich_twin

    return write_ich_twin(cache_dir("ich_twin"), n_cases=24, seed=0).root


def _ich(data: Path, seed: int, out: Path) -> dict[str, float]:
    from labkit.studies import ich

    ich.train(data, out, "quick", seed=seed, overrides={**ich.ALL_TOGETHER, "split_seed": 0})
    return {"Dice": _mean_by_label(out)}


def _msd_twin_data(task: str, folder: str) -> Callable[[], Path]:
    """A ``Floor.data`` that writes (or reuses) the Decathlon chapter's 20-case twin of ``task``."""

    def data() -> Path:
        from labkit.config import cache_dir
        from labkit.datasets import write_msd_twin

        return write_msd_twin(cache_dir("msd_twins") / folder, task, n_cases=20, seed=0).root

    return data


def _msd_twin(label: str) -> Callable[[Path, int, Path], dict[str, float]]:
    """A ``Floor.run``: the Decathlon chapter's twin run (``TWIN_BUDGET``; split: seed 0's, as
    the chapter's seed 0), scored on ``label``."""

    def run(data: Path, seed: int, out: Path) -> dict[str, float]:
        from labkit.studies import msd

        msd.train(data, out, "quick", seed=seed, overrides={**msd.TWIN_BUDGET, "split_seed": 0})
        return {f"{label} Dice": _mean_by_label(out, label)}

    return run


def _hippocampus(data: Path, seed: int, out: Path) -> dict[str, float]:
    """The Decathlon chapter's real-hippocampus run (its split: seed 0's)."""
    from labkit.studies import msd

    msd.train(data, out, "quick", seed=seed, overrides={**msd.HIPPOCAMPUS_BUDGET, "split_seed": 0})
    return {f"{k} Dice": _mean_by_label(out, k) for k in ("Anterior", "Posterior")}


def _msd_cli(data: Path, seed: int, out: Path) -> dict[str, float]:
    """``tests/test_msd_real.py``'s command-line run: two epochs on the real hippocampus."""
    from labkit_cli import main

    argv = ["train", "msd", "--data", str(data), "--out", str(out), "--set", "epochs=2"]
    if main([*argv, "--seed", str(seed), "--set", "split_seed=0"]) != 0:
        raise SystemExit(f"labkit {' '.join(argv)} failed")
    return {f"{k} Dice": _mean_by_label(out, k) for k in ("Anterior", "Posterior")}


def _wmh_data() -> Path:
    from labkit.config import cache_dir
    from labkit.datasets.wmh import write_wmh_twin

    return write_wmh_twin(cache_dir("wmh_twin"), n_per_site=8, seed=0).root


def _wmh(data: Path, seed: int, out: Path) -> dict[str, float]:
    """The WMH chapter's patch run (its split: seed 0's)."""
    from labkit.studies import wmh

    wmh.train(data, out, "quick", seed=seed, overrides={**wmh.PATCHES, "split_seed": 0})
    return {"Dice": _mean_by_label(out)}


def _brats_twin_data() -> Path:
    from labkit.config import cache_dir
    from labkit.datasets.brats import write_brats_twin

    return write_brats_twin(cache_dir("brats_twin"), 12, seed=0, layout="msd").root


def _brats(data: Path, seed: int, out: Path, overrides: dict) -> dict[str, float]:
    from labkit.studies import brats

    brats.train(data, out, "quick", seed=seed, overrides=overrides)
    return {"WT Dice": _mean_by_label(out, "WT")}


def _brats_twin(data: Path, seed: int, out: Path) -> dict[str, float]:
    return _brats(data, seed, out, {"split_seed": 0})


def _real(name: str) -> Callable[[], Path]:
    """A ``Floor.data`` that finds the real dataset ``name`` (:func:`_results.real_dataset`)."""
    return lambda: real_dataset(name)


def _brats_real(data: Path, seed: int, out: Path) -> dict[str, float]:
    return _brats(data, seed, out, {"test_cases": ["BraTS2013_pat0001"]})


def _unet_data() -> Path:
    from labkit.config import cache_dir
    from labkit.datasets import write_msd_twin

    twins = cache_dir("twins", "Task03_Liver")
    return write_msd_twin(twins, "liver", n_cases=16, seed=0).root


#: The U-Net chapter's floors, in the cell after its three trainings (one per loss).
UNET_FLOORED = "check_floor("


def _unet(data: Path, seed: int, out: Path) -> dict[str, float]:
    """The U-Net chapter's own cells up to its floors, with ``seed_everything(seed)``.

    The chapter's three trainings are notebook code, not a recipe, so they are run from the
    chapter's text (``data`` is its twin, written beforehand), not copied here.
    """
    import jupytext
    import matplotlib

    matplotlib.use("Agg")
    book = Path(__file__).resolve().parents[1] / "book" / "unet.md"
    namespace: dict = {}
    for cell in jupytext.read(book).cells:
        if cell.cell_type != "code" or "%pip" in cell.source:
            continue  # the Colab install cell
        if UNET_FLOORED in cell.source:
            break
        source = cell.source.replace("seed_everything(0)", f"seed_everything({seed})")
        exec(compile(source, str(book), "exec"), namespace)
    rows = namespace["results"]
    return {
        "lowest liver Dice of the three losses": min(r["liver Dice"] for r in rows),
        "lowest accuracy of the three losses": min(r["accuracy"] for r in rows),
    }


FLOORS = {
    "phh": Floor("book/phh.md", "held-out mean Dice, ten-patient twin", _phh_data, _phh),
    "ich": Floor("book/ich.md", "per-patient mean Dice, all fixes", _ich_data, _ich),
    "liver": Floor(
        "book/msd.md",
        "liver Dice, liver twin",
        _msd_twin_data("liver", "Task03_Liver"),
        _msd_twin("liver"),
    ),
    "spleen": Floor(
        "book/msd.md",
        "spleen Dice, spleen twin",
        _msd_twin_data("spleen", "Task09_Spleen"),
        _msd_twin("spleen"),
    ),
    "msd_cli": Floor(
        "tests/test_msd_real.py",
        "held-out Dice per label, real hippocampus, two epochs, labkit train",
        _real("Task04_Hippocampus"),
        _msd_cli,
    ),
    "wmh": Floor(
        "book/wmh.md", "held-out mean Dice, patch pipeline, 8-per-site twin", _wmh_data, _wmh
    ),
    "hippocampus": Floor(
        "book/msd.md",
        "held-out Dice per label, real hippocampus, four epochs",
        _real("Task04_Hippocampus"),
        _hippocampus,
    ),
    "brats_twin": Floor(
        "book/brats.md", "whole-tumour Dice, 12-case twin", _brats_twin_data, _brats_twin
    ),
    "brats_real": Floor(
        "book/brats.md", "whole-tumour Dice, BraTS2013_pat0001", _real("BraTS2013"), _brats_real
    ),
    "unet": Floor("book/unet.md", "the lowest of each loss's run", _unet_data, _unet),
}

#: The floors file this script writes (``--write``) and the chapters read.
FLOORS_PATH = Path(__file__).resolve().parents[1] / "labkit" / "records" / FLOORS_FILE


def write_floors(result: dict, path: Path = FLOORS_PATH) -> dict:
    """Record the spread of ``result`` (what :func:`main` returns) beside each floor in
    ``path``, keeping the floors; refuse a floor that is not at least ``MARGIN`` below the
    lowest value measured (lower it in the file first, saying why in the commit)."""
    record = json.loads(path.read_text()) if path.is_file() else {"floors": {}}
    for key, spread in result["summary"].items():
        name = key.split(":")[0]
        entry = record["floors"].get(key, {})
        if "floor" not in entry:
            raise SystemExit(f"{key} has no floor in {path}: add one there, then --write again.")
        if entry["floor"] > spread["lowest"] - MARGIN:
            raise SystemExit(
                f"{key}: the floor {entry['floor']} is less than {MARGIN} below the lowest value "
                f"measured, {spread['lowest']}; lower the floor in {path} or fix the recipe."
            )
        runs = [r for r in result["runs"] if r["floor"] == name]
        entry.update(
            where=spread["where"],
            measure=spread["measure"],
            mean=spread["mean_sd"][0],
            sd=spread["mean_sd"][1],
            lowest=spread["lowest"],
            runs=len(runs),
            seeds=sorted({r["seed"] for r in runs}),
            threads=sorted({r["threads"] for r in runs}),
            date=spread.get("date", result["date"]),
            machine=spread.get("machine", result["machine"]),
            command=f"python benchmarks/floor_spread.py {name}",
        )
        record["floors"][key] = dict(sorted(entry.items()))
    record["floors"] = dict(sorted(record["floors"].items()))
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {len(result['summary'])} floors' spread to {path}")
    return record


def _one(name: str, seed: int, threads: int, pipeline: str) -> None:
    """Child process: set the thread counts (and, with ``pipeline="neutral"``, the
    backend-neutral ``PyDataset`` pipelines on TensorFlow too), run one training, print its
    values as JSON."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    if pipeline == "neutral":  # every module that asks which pipeline to build
        from labkit import augment, batches
        from labkit import pipeline as pipelines

        for module in (augment, batches, pipelines):
            module.use_tf_data = lambda: False
    floor = FLOORS[name]
    with tempfile.TemporaryDirectory() as tmp:
        values = floor.run(floor.data(), seed, Path(tmp) / "run")
    print("RESULT " + json.dumps(values), flush=True)


def _spawn(name: str, seed: int, threads: int, pipeline: str) -> dict:
    command = [sys.executable, __file__, "--one", name, "--seed", str(seed)]
    command += ["--threads", str(threads), "--pipeline", pipeline]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{name} seed {seed} threads {threads} failed:\n{done.stderr[-3000:]}")
    values = {k: round(v, 4) for k, v in json.loads(lines[-1][7:]).items()}
    row = {"floor": name, "seed": seed, "threads": threads, **values}
    print(json.dumps(row), flush=True)
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("floors", nargs="*", metavar="FLOOR", help=", ".join(FLOORS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="trainings run at once")
    parser.add_argument("--out", help="also write the results to this JSON file")
    parser.add_argument("--write", action="store_true", help=f"record the spread in {FLOORS_FILE}")
    parser.add_argument("--from", dest="source", help="a result written before, instead of runs")
    parser.add_argument(
        "--pipeline",
        choices=("default", "neutral"),
        default="default",
        help="neutral: the PyDataset pipelines on TensorFlow too (a comparison; never --write)",
    )
    parser.add_argument("--one", choices=sorted(FLOORS), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        _one(args.one, args.seed, args.threads[0], args.pipeline)
        return {}
    if args.write and args.pipeline != "default":
        parser.error("--write records the chapters' own pipeline; drop --pipeline neutral")
    if args.source:
        result = json.loads(Path(args.source).read_text())
        if args.write:
            write_floors(result)
        return result
    if not args.floors or set(args.floors) - set(FLOORS):
        parser.error(f"name one or more floors of {', '.join(FLOORS)}; got {args.floors}")
    for name in args.floors:  # written once here, not by parallel children
        FLOORS[name].data()
    jobs = [(f, s, t) for f in args.floors for s in args.seeds for t in args.threads]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda job: _spawn(*job, args.pipeline), jobs))
    summary = {}
    bounds = floors()
    for name in args.floors:
        floor = FLOORS[name]
        mine = [r for r in rows if r["floor"] == name]
        for key in (k for k in mine[0] if k not in ("floor", "seed", "threads")):
            values = [r[key] for r in mine]
            bound = bounds.get(f"{name}: {key}", {}).get("floor")
            summary[f"{name}: {key}"] = {
                "where": floor.where,
                "measure": floor.measure,
                "mean_sd": mean_and_sd(values),
                "lowest": min(values),
                "floor": bound,
                "margin": None if bound is None else round(min(values) - bound, 4),
            }
    import labkit

    result = {
        "date": datetime.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "labkit": labkit.__version__,
        "seeds": args.seeds,
        "threads": args.threads,
        "pipeline": args.pipeline,
        "runs": rows,
        "summary": summary,
    }
    report(result, args.out)
    if args.write:
        write_floors(result)
    return result


if __name__ == "__main__":
    main()
