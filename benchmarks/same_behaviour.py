"""Does a change keep behaviour? The CLI runs and the chapters of two revisions, compared.

A refactor must not change what the course computes. This script exports two git revisions
(``--before`` and ``--after``, default ``HEAD``) into a temporary folder, and for each:

- writes each study's twin once (with the ``--before`` code; both revisions read the same
  folders), then runs ``labkit train`` (quick profile, seed 0, ``--set`` as given) and
  ``labkit predict`` on it;
- with ``--chapters``, executes the named chapters (nbclient) and keeps the text of every code
  cell's output.

It then compares, study by study, ``metrics.csv`` byte for byte, ``config.json`` and
``summary.json`` (less ``train_seconds``) as data, and every predicted label map byte for byte;
and chapter by chapter the cells' text with durations (``12 s``, ``0.3 s``, ``ms/step``) and
HTML animation ids masked.
A run that fails must fail the same way in both (its last line of stderr is compared).

CPU training is deterministic per machine and thread count, so on one machine "the same" means
the same to the last digit. Run (about 8 minutes per revision for the five studies on a 2-core
CPU; the seven chapters add about 25 minutes per revision)::

    python benchmarks/same_behaviour.py --before 63a3d8d [--after HEAD] [--studies phh ich]
        [--set epochs=2] [--chapters phh ich] [--out same_behaviour.json]
        [--work DIR [--only before|after]]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDIES = ("phh", "ich", "msd", "wmh", "brats")
#: Durations in chapter output, and the random ids of HTML animations, masked before comparing.
#: A table column of timings without a unit is not masked: such a cell is listed, and read.
MASKED = re.compile(r"\d+(\.\d+)?\s*(ms/step|s/step|s\b|seconds|min)|[0-9a-f]{32}")


def export(rev: str, into: Path) -> Path:
    """The tracked files of ``rev`` in ``into`` (``git archive``)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True
    ).stdout
    tar_path = into.with_suffix(".tar")
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    tar_path.unlink()
    return into


def _commit(rev: str) -> str:
    """The full commit hash that ``rev`` names."""
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", rev], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _labkit(code: Path, cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(code), "LABKIT_CACHE": str(cache)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    cmd = [sys.executable, "-m", "labkit", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=code)


def run_studies(code: Path, work: Path, data: Path, studies: list[str], sets: list[str]) -> None:
    """Train and predict each study with the code in ``code``; run folders under ``work``."""
    for study in studies:
        if not (data / study).is_dir():
            done = _labkit(code, work / "cache", "synth", study, str(data / study))
            if done.returncode:
                raise RuntimeError(f"synth {study} failed:\n{done.stderr[-2000:]}")
        run = work / f"run_{study}"
        options = [f"--set={s}" for s in sets]
        train = _labkit(
            code, work / "cache", "train", study, "--data", str(data / study), "--out", str(run),
            *options,
        )  # fmt: skip
        (work / f"{study}.train.rc").write_text(f"{train.returncode}\n")
        (work / f"{study}.train.err").write_text(train.stderr)
        if train.returncode == 0:
            _labkit(
                code, work / "cache", "predict", str(run), "--input", str(data / study),
                "--output", str(work / f"pred_{study}"),
            )  # fmt: skip
        print(f"{code.parent.name}: {study} exit {train.returncode}", flush=True)


def run_chapters(code: Path, work: Path, chapters: list[str]) -> None:
    """Execute chapters with the code in ``code``; keep each code cell's output text."""
    import nbformat
    from nbclient import NotebookClient

    env_before = dict(os.environ)
    os.environ.update(PYTHONPATH=str(code), LABKIT_CACHE=str(work / "nbcache"))
    try:
        for name in chapters:
            nb = nbformat.read(code / "book" / f"{name}.ipynb", as_version=4)
            resources = {"metadata": {"path": str(code / "book")}}
            NotebookClient(nb, timeout=1800, kernel_name="python3", resources=resources).execute()
            texts = [_cell_text(cell) for cell in nb.cells if cell.cell_type == "code"]
            (work / f"chapter_{name}.json").write_text(json.dumps(texts, indent=0))
            print(f"{code.parent.name}: chapter {name} executed", flush=True)
    finally:
        os.environ.clear()
        os.environ.update(env_before)


def _cell_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append(out["text"])
        elif out.get("output_type") in ("execute_result", "display_data"):
            data = out.get("data", {})
            parts.append(data.get("text/html") or data.get("text/markdown") or "")
    return "".join(parts)


def _json_without(path: Path, *keys: str) -> object:
    data = json.loads(path.read_text())
    for key in keys:
        data.pop(key, None)
    return data


def compare(before: Path, after: Path, studies: list[str], chapters: list[str]) -> dict:
    """What differs between the two revisions' runs (empty lists: nothing)."""
    report: dict = {"studies": {}, "chapters": {}}
    for study in studies:
        diffs = []
        rc = [(w / f"{study}.train.rc").read_text().strip() for w in (before, after)]
        if rc[0] != rc[1]:
            diffs.append(f"train exit {rc[0]} before, {rc[1]} after")
        elif rc[0] != "0":
            # the message names the side's own folder: compare it without that
            errs = [
                (w / f"{study}.train.err").read_text().strip().replace(str(w), "<side>")
                for w in (before, after)
            ]
            last = [e.splitlines()[-1:] for e in errs]
            if last[0] != last[1]:
                diffs.append(f"failed differently: {last[0]} / {last[1]}")
        else:
            run_b, run_a = before / f"run_{study}", after / f"run_{study}"
            if (run_b / "metrics.csv").read_bytes() != (run_a / "metrics.csv").read_bytes():
                diffs.append("metrics.csv")
            if _json_without(run_b / "config.json", "versions") != _json_without(
                run_a / "config.json", "versions"
            ):
                diffs.append("config.json")
            summary = [_json_without(r / "summary.json", "train_seconds") for r in (run_b, run_a)]
            if summary[0] != summary[1]:
                diffs.append("summary.json")
            preds_b = sorted((before / f"pred_{study}").glob("*.nii.gz"))
            for p in preds_b:
                q = after / f"pred_{study}" / p.name
                if not q.is_file() or q.read_bytes() != p.read_bytes():
                    diffs.append(f"prediction {p.name}")
            if len(list((after / f"pred_{study}").glob("*.nii.gz"))) != len(preds_b):
                diffs.append("number of predictions")
        report["studies"][study] = {"train_exit": rc[0], "differences": diffs}
    for name in chapters:
        texts = [json.loads((w / f"chapter_{name}.json").read_text()) for w in (before, after)]
        masked = [[MASKED.sub("<t>", t) for t in side] for side in texts]
        cells = [i for i, (b, a) in enumerate(zip(*masked, strict=False)) if b != a]
        if len(masked[0]) != len(masked[1]):
            cells.append("cell count")
        report["chapters"][name] = {"cells": len(masked[0]), "differing_cells": cells}
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="git revision before the change")
    parser.add_argument("--after", default="HEAD", help="git revision after it (default HEAD)")
    parser.add_argument("--studies", nargs="*", default=list(STUDIES), choices=STUDIES)
    parser.add_argument("--set", action="append", default=[], help="KEY=VALUE for every train")
    parser.add_argument("--chapters", nargs="*", default=[], help="chapters to execute too")
    parser.add_argument("--out", help="JSON file for the report")
    parser.add_argument(
        "--work",
        help="keep the runs in this folder (default: a temporary one); a side already run there "
        "with the same commit, studies, settings and chapters is reused, so '--only before' "
        "can run while the change is being written",
    )
    parser.add_argument("--only", choices=("before", "after"), help="run one side and stop")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="same-behaviour-") as tmp:
        tmp = Path(args.work).resolve() if args.work else Path(tmp)
        data = tmp / "data"
        sides = {}
        for side, rev in (("before", args.before), ("after", args.after)):
            if args.only and side != args.only:
                continue
            work = tmp / side
            stamp = json.dumps([_commit(rev), args.studies, args.set, args.chapters])
            if not (work / "done.json").is_file() or (work / "done.json").read_text() != stamp:
                if work.exists():
                    shutil.rmtree(work)
                code = export(rev, work / "code")
                run_studies(code, work, data, args.studies, args.set)
                run_chapters(code, work, args.chapters)
                (work / "done.json").write_text(stamp)
            sides[side] = work
        if args.only:
            print(f"{args.only} side run in {sides[args.only]}")
            return {"studies": {}, "chapters": {}}
        report = compare(sides["before"], sides["after"], args.studies, args.chapters)
    report = {"before": args.before, "after": args.after, "settings": args.set, **report}
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return report


if __name__ == "__main__":
    result = main(sys.argv[1:])
    same = all(not s["differences"] for s in result["studies"].values()) and all(
        not c["differing_cells"] for c in result["chapters"].values()
    )
    sys.exit(0 if same else 1)
