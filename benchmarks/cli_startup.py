"""How long the command line takes to answer ``--help`` and ``--version``.

Issue 26 asks ``labkit --help`` to answer in under a second on the 2-core machine. Each command
runs as a fresh process, as a user types it, several times in interleaved rounds with a bare
``python -c pass`` as the baseline (the interpreter's own start-up), and the median and quartiles
are reported. ``python -m labkit --help`` is timed too: it imports the package (and so Keras)
before parsing, which is why the ``labkit`` command's parser lives in ``labkit_cli``.

Run (about a minute on a 2-core CPU)::

    python benchmarks/cli_startup.py [--rounds 7] [--out results.json]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _results import report


def commands() -> dict[str, list[str]]:
    """Name to command line; the ``labkit`` script sits beside this interpreter."""
    script = shutil.which("labkit", path=str(Path(sys.executable).parent)) or "labkit"
    return {
        "python -c pass (baseline)": [sys.executable, "-c", "pass"],
        "labkit --help": [script, "--help"],
        "labkit train --help": [script, "train", "--help"],
        "labkit --version": [script, "--version"],
        "python -m labkit --help": [sys.executable, "-m", "labkit", "--help"],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    runs = commands()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, command in runs.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    result = {
        name: {
            "median_s": round(float(np.median(t)), 3),
            "quartiles_s": [round(float(q), 3) for q in np.percentile(t, [25, 75])],
        }
        for name, t in times.items()
    }
    return report({"rounds": args.rounds, "commands": result}, args.out)


if __name__ == "__main__":
    main(sys.argv[1:])
