"""The command line's commands: ``labkit synth | train | predict | evaluate | download``.

::

    labkit synth STUDY DIR [--cases N] [--seed S] [--task T] [--layout L]
    labkit train STUDY --data DIR --out RUN [--profile auto|quick|full] [--seed S]
                 [--set KEY=VALUE ...] [--folds K]
    labkit predict RUN --input DIR --output DIR [--tta] [--ensemble]
    labkit evaluate --pred DIR --ref DIR --out FILE.csv [--labels L ...] [--lesions]
                    [--nsd-tolerance MM]
    labkit download TASK [--root DIR]
    labkit settings STUDY [--profile quick|full] [--set KEY=VALUE ...]

The parser lives in the top-level module :mod:`labkit_cli` (``labkit --help`` answers without
importing Keras; ``labkit_cli.main`` is the entry point); :func:`run` runs a command it parsed,
and nothing here imports the parser back. Exit status: 0, 1 when a command
fails (the message says why), 2 for a command line argparse cannot parse.
"""

from __future__ import annotations

import argparse
import errno
import inspect
import os
import sys
from pathlib import Path

from labkit.errors import TrainingCollapsedError, TrainingInterrupted
from labkit.evaluation import summary_line
from labkit.files import check_output, require_folder

__all__ = ["COMMANDS", "run"]


#: The summary columns ``train`` and ``evaluate`` print, as they are printed.
_SHOWN = {
    "dice": "Dice {:.3f}",
    "hd95": "HD95 {:.2f} mm",
    "avd_pct": "AVD {:.1f}%",
    "lesion_recall": "lesion recall {:.3f}",
    "lesion_f1": "lesion F1 {:.3f}",
    "fp_components": "false-positive components {:.1f}",
}

#: ``labkit synth`` options that only some studies take, and a study that takes each.
_SEVERAL = {"task": "msd", "layout": "brats"}


def _synth(args: argparse.Namespace) -> int:
    from labkit import studies

    study = studies.get(args.study)
    options = {name: getattr(args, name) for name in _SEVERAL if getattr(args, name)}
    for name, value in options.items():
        if name not in inspect.signature(study.synth).parameters:
            raise ValueError(
                f"the {args.study} study has one {name}, but --{name} {value} was given; drop "
                f"--{name} (it is for studies with several, such as {_SEVERAL[name]})."
            )
    if args.cases is not None:
        options["cases"] = args.cases
    study.synth(Path(args.dir), seed=args.seed, **options)
    print(f"wrote a synthetic {args.study} cohort to {args.dir}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from labkit import config, studies
    from labkit.studies.crossval import train_folds

    overrides = dict(args.set or [])
    check_output(Path(args.out), "--out", True, "a run folder (new, or this run's)")
    profile, reason = config.choose_profile(args.profile)
    print(f"profile {profile} ({reason})")
    recipe = studies.get(args.study)
    data, out = Path(args.data), Path(args.out)
    if args.folds is None:
        summary = recipe.train(data, out, profile, args.seed, overrides=overrides)
        print(f"run written to {out}; held-out results:")
    else:
        summary = train_folds(recipe, data, out, args.folds, profile, args.seed, overrides)
        for fold in summary["folds"]:
            dice = ", ".join(f"{r['label']} {r['dice_mean']:.3f}" for r in fold["labels"])
            print(f"  {fold['run']}: held-out Dice {dice}")
        print(f"{args.folds} folds written to {out}; the ensemble's held-out results:")
    for row in summary["labels"]:
        print(f"  {row['label']:>14s}: {summary_line(row, _SHOWN)}")
    return 0


def _predict(args: argparse.Namespace) -> int:

    from labkit import studies
    from labkit.runfolder import RunFolder

    source = require_folder(args.input, "--input", "a dataset folder or a folder of .nii.gz images")
    target = check_output(Path(args.output), "--output", True, "a folder for the label maps")
    if target.resolve() == source.resolve():
        raise ValueError(
            f"--output {target} is the --input folder: the predictions would overwrite the "
            "images they were made from. Choose another --output folder."
        )
    config = RunFolder(args.run).config()
    written = studies.get(config["study"]).predict(
        Path(args.run), source, target, tta=args.tta, ensemble=args.ensemble
    )
    print(f"wrote {len(written)} label maps to {args.output}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from labkit.evaluate_folder import evaluate_folders

    rows, summary = evaluate_folders(
        Path(args.pred),
        Path(args.ref),
        Path(args.out),
        args.labels,
        args.lesions,
        nsd_tolerance_mm=args.nsd_tolerance,
    )
    print(f"wrote {len(rows)} rows to {args.out}")
    for row in summary:
        print(f"  {row['label']:>14s}: {summary_line(row, _SHOWN)}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from labkit.datasets.download import download_msd

    folder = download_msd(args.task, args.root)
    print(f"{folder.name}: ready in {folder}")
    return 0


def _settings(args: argparse.Namespace) -> int:
    from labkit.studies.settings.provenance import settings_table

    rows = settings_table(args.study, args.profile, dict(args.set or []))
    widths = {k: max(len(k), *(len(r[k]) for r in rows)) for k in ("setting", "value", "source")}
    print(f"{args.study} {args.profile}: study = the write-up gives it; ours = the course chose it")
    for row in [{k: k for k in (*widths, "note")}, *rows]:
        print("  ".join(row[k].ljust(w) for k, w in widths.items()) + "  " + row["note"])
    return 0


#: Command name to the function that runs it.
COMMANDS = {
    "synth": _synth,
    "train": _train,
    "predict": _predict,
    "evaluate": _evaluate,
    "download": _download,
    "settings": _settings,
}


#: Each command's option that names what it writes, for the messages of a failed write.
_WRITES = {
    "train": "out",
    "predict": "output",
    "evaluate": "out",
    "synth": "dir",
    "download": "root",
}


def _os_message(args: argparse.Namespace, exc: OSError) -> str:
    """An operating-system error in words: which path, which option, and what to do."""
    option = _WRITES.get(args.command)
    target = getattr(args, option, None) if option else None
    where = f" (--{option} {target})" if target and option != "dir" else ""
    if exc.errno == errno.ENOSPC:
        return (
            f"no space left on the device while writing {exc.filename or target}{where}. "
            "Free some space there, or write to another folder."
        )
    if exc.errno == errno.ENOTDIR:
        return (
            f"{exc.filename or target}: a part of this path is a file, not a folder{where}. "
            "Choose a path whose folders are folders."
        )
    if exc.errno == errno.EISDIR:
        return f"{exc.filename or target} is a folder, not a file{where}."
    return str(exc)


def run(args: argparse.Namespace) -> int:
    """Run a parsed command (:func:`labkit_cli.build_parser`): 0 on success, 1 (with the
    error's message on stderr, no traceback) when it fails, 130 when interrupted (Ctrl-C; a
    training first saves its last finished epoch and says how to resume)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt as exc:
        said = str(exc) if isinstance(exc, TrainingInterrupted) else "interrupted"
        print(f"labkit {args.command}: {said}", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"labkit {args.command}: error: {_os_message(args, exc)}", file=sys.stderr)
        return 1
    except (ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"labkit {args.command}: error: {message}", file=sys.stderr)
        return 1
    except TrainingCollapsedError as exc:
        print(f"labkit {args.command}: training failed: {exc}", file=sys.stderr)
        return 1
