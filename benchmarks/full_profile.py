"""Train a study's ``full`` profile end to end on a GPU, and record it.

The run goes through the recipe that ``labkit train STUDY --profile full`` runs, on the data the
issue names for each record: the PHH, WMH and haemorrhage twins and the Decathlon liver and
spleen twins at their CLI default sizes, the 200 real MSD hippocampus cases and the four real
BraTS 2013 patients (both found through ``LABKIT_DATA_ROOT`` or ``../shared/data``). It writes
the record the chapters read (``labkit/records/full_<name>.json``, :mod:`labkit.full_runs`:
commit, GPU, backend, precision, wall time, peak GPU memory, per-case metrics and the summary)
and rewrites the Performance page's table (``benchmarks/results/full_profiles.md``) from every
record present.

Meant for a GPU: on a CPU the full profiles take hours to days (``phh_full_profile.py``). On a
machine without TensorFlow, run Keras on JAX::

    KERAS_BACKEND=jax python benchmarks/full_profile.py phh [--seed 0] [--set epochs=2]
    python benchmarks/full_profile.py --table      # only rewrite the Performance table
    python benchmarks/full_profile.py all          # every record, one after the other

A record made with ``--set`` says so in its ``settings`` and ``command``; the chapters show it
as it is.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _perf import keras_peak_gpu_bytes
from _results import add_settings_option, parsed_settings, real_dataset

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECORDS = ROOT / "labkit" / "records"
TABLE = HERE / "results" / "full_profiles.md"

#: Record name to (study, data): a real dataset's folder name, or the twin's synth options.
RUNS: dict[str, tuple[str, str | dict]] = {
    "phh": ("phh", {}),
    "wmh": ("wmh", {}),
    "ich": ("ich", {}),
    "msd_liver": ("msd", {"task": "liver"}),
    "msd_spleen": ("msd", {"task": "spleen"}),
    "msd_hippocampus": ("msd", "Task04_Hippocampus"),
    "brats": ("brats", "BraTS2013"),
}


def data_for(name: str, cache: Path) -> Path:
    """The dataset folder of a record: the real one, or a twin written once into ``cache``."""
    from labkit.studies import get

    study, source = RUNS[name]
    if isinstance(source, str):
        return real_dataset(source)
    folder = cache / name
    if not (folder / ".complete").is_file():
        get(study).synth(folder, seed=0, **source)
        (folder / ".complete").write_text("")
    return folder


def machine_facts() -> dict:
    """Date, commit, GPU model (``nvidia-smi``; else the backend's first accelerator, else
    "none (CPU)") and Keras backend of this run."""
    import keras

    from labkit import config

    def output(command: list[str]) -> str:
        if shutil.which(command[0]) is None:
            return ""
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    commit = output(["git", "rev-parse", "HEAD"])
    gpu = output(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"]).splitlines()
    found = config.accelerators()
    return {
        "date": date.today().isoformat(),
        "commit": commit or "unknown",
        "gpu": gpu[0] if gpu else (found[0] if found else "none (CPU)"),
        "backend": keras.backend.backend(),
    }


def peak_gpu_mib() -> float | None:
    """The backend's peak GPU memory of this process, MiB; ``None`` without a GPU."""
    from labkit import config

    return round(keras_peak_gpu_bytes() / 2**20, 1) if config.accelerators() else None


def run(name: str, seed: int, overrides: dict, cache: Path, records: Path) -> dict:
    """Train one record's full profile, write its record, return it."""
    import json

    from labkit.full_runs import build_record, record_name
    from labkit.studies import get

    study = RUNS[name][0]
    data = data_for(name, cache)
    sets = " ".join(f"--set {shlex.quote(f'{k}={json.dumps(v)}')}" for k, v in overrides.items())
    command = f"python benchmarks/full_profile.py {name} --seed {seed} {sets}".strip()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        get(study).train(data, out, "full", seed, overrides=overrides)
        wall = time.perf_counter() - start
        machine = {**machine_facts(), "peak_gpu_mib": peak_gpu_mib()}
        record = build_record(out, name, machine, wall, command)
    records.mkdir(parents=True, exist_ok=True)
    (records / record_name(name)).write_text(json.dumps(record, indent=1) + "\n")
    return record


def write_table(path: Path = TABLE) -> str:
    """The Performance page's table of every record name, from the records shipped."""
    from labkit.full_runs import T4_MIB, appendix_rows
    from labkit.tables import markdown_table

    text = markdown_table(appendix_rows(list(RUNS))) + (
        f"\n\nRead from `labkit/records/full_<run>.json`, each written by "
        f"`python benchmarks/full_profile.py <run>`; a T4 offers {T4_MIB:,} MiB. A run marked "
        "'not run' has no record yet.\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", nargs="?", choices=[*RUNS, "all"], help="the record to make")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", action="store_true", help="only rewrite the table")
    parser.add_argument("--records", type=Path, default=RECORDS, help=argparse.SUPPRESS)
    add_settings_option(parser)
    args = parser.parse_args(argv)
    if not args.table:
        if not args.name:
            parser.error("name a record (or 'all'), or pass --table.")
        from labkit import config

        names = list(RUNS) if args.name == "all" else [args.name]
        for name in names:
            record = run(
                name, args.seed, parsed_settings(args.set), config.cache_dir("full"), args.records
            )
            print(f"{name}: {record['wall_seconds'] / 60:.1f} min, {record['summary']['labels']}")
    if args.records == RECORDS:
        print(write_table())


if __name__ == "__main__":
    main(sys.argv[1:])
