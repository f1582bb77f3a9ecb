"""The command line: ``labkit synth | train | predict | evaluate`` (also ``python -m labkit``).

::

    labkit synth STUDY DIR [--cases N] [--seed S] [--task T] [--layout L]
    labkit train STUDY --data DIR --out RUN [--profile auto|quick|full] [--seed S]
                 [--set KEY=VALUE ...] [--folds K]
    labkit predict RUN --input DIR --output DIR [--tta] [--ensemble]
    labkit evaluate --pred DIR --ref DIR --out FILE.csv [--labels L ...] [--lesions]
    labkit download TASK [--root DIR]
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from labkit.errors import TrainingCollapsedError

__all__ = ["main", "parse_setting"]


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


def parse_setting(text: str) -> tuple[str, object]:
    """Parse ``KEY=VALUE`` from ``--set``; the value is read as JSON when it can be (4, 1e-3,
    [0], true), else kept as a string (dice_ce)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            f"--set expects KEY=VALUE (for example epochs=4 or loss=dice_ce); got {text!r}."
        )
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _train(args: argparse.Namespace) -> int:
    from labkit import config, studies

    overrides = dict(args.set or [])
    profile, reason = config.choose_profile(args.profile)
    print(f"profile {profile} ({reason})")
    recipe = studies.get(args.study)
    data, out = Path(args.data), Path(args.out)
    if args.folds is None:
        summary = recipe.train(data, out, profile, args.seed, overrides=overrides)
        print(f"run written to {out}; held-out results:")
    else:
        summary = recipe.train_folds(data, out, args.folds, profile, args.seed, overrides)
        for fold in summary["folds"]:
            dice = ", ".join(f"{r['label']} {r['dice_mean']:.3f}" for r in fold["labels"])
            print(f"  {fold['run']}: held-out Dice {dice}")
        print(f"{args.folds} folds written to {out}; the ensemble's held-out results:")
    for row in summary["labels"]:
        print(
            f"  {row['label']:>14s}: Dice {row['dice_mean']:.3f} ± {row['dice_sd']:.3f}, "
            f"HD95 {row['hd95_mean']:.2f} mm (n={row['n']})"
        )
    return 0


def _predict(args: argparse.Namespace) -> int:
    import json

    from labkit import studies
    from labkit.studies.runs import FOLDS_FILE, read_config

    folds = Path(args.run) / FOLDS_FILE
    config = json.loads(folds.read_text()) if folds.is_file() else read_config(Path(args.run))
    source, target = Path(args.input), Path(args.output)
    if not source.is_dir():
        raise FileNotFoundError(
            f"--input {source} is not a folder (it does not exist, or is a file); expected a "
            "dataset folder or a folder of .nii.gz images."
        )
    if target.resolve() == source.resolve():
        raise ValueError(
            f"--output {target} is the --input folder: the predictions would overwrite the "
            "images they were made from. Choose another --output folder."
        )
    written = studies.get(config["study"]).predict(
        Path(args.run), source, target, tta=args.tta, ensemble=args.ensemble
    )
    print(f"wrote {len(written)} label maps to {args.output}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from labkit.evaluate_folder import evaluate_folders

    rows, summary = evaluate_folders(
        Path(args.pred), Path(args.ref), Path(args.out), args.labels, args.lesions
    )
    print(f"wrote {len(rows)} rows to {args.out}")
    shown = {
        "hd95": "HD95 {:.2f} mm",
        "avd_pct": "AVD {:.1f}%",
        "lesion_recall": "lesion recall {:.3f}",
        "lesion_f1": "lesion F1 {:.3f}",
        "fp_components": "false-positive components {:.1f}",
    }
    for row in summary:
        parts = [f"Dice {row['dice_mean']:.3f} ± {row['dice_sd']:.3f}"]
        parts += [fmt.format(row[f"{k}_mean"]) for k, fmt in shown.items() if f"{k}_mean" in row]
        print(f"  {row['label']:>14s}: {', '.join(parts)} (n={row['n']})")
    return 0


def _download(args: argparse.Namespace) -> int:
    from labkit.datasets.download import download_msd

    folder = download_msd(args.task, args.root)
    print(f"{folder.name}: ready in {folder}")
    return 0


def _parser() -> argparse.ArgumentParser:
    from labkit import studies

    names = studies.names()
    parser = argparse.ArgumentParser(prog="labkit", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write a synthetic twin cohort in a study's real layout")
    p.add_argument("study", choices=names)
    p.add_argument("dir", help="output folder (created)")
    p.add_argument(
        "--cases",
        type=int,
        help="number of cases (default: the study's: msd 20, phh 10, brats 16; wmh: subjects per "
        "site, 20)",
    )
    p.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    p.add_argument("--task", help="task of studies with several (msd: hippocampus, liver, spleen)")
    p.add_argument(
        "--layout",
        help="on-disk layout of studies with several (brats: msd, the default, or brats)",
    )
    p.set_defaults(handler=_synth)

    p = sub.add_parser("train", help="train a study's model and evaluate its held-out cases")
    p.add_argument("study", choices=names)
    p.add_argument("--data", required=True, help="dataset folder in the study's layout")
    p.add_argument(
        "--out", required=True, help="run folder to write (model.keras, metrics.csv, ...)"
    )
    p.add_argument(
        "--profile",
        choices=("auto", "quick", "full"),
        default=None,
        help="default: LABKIT_PROFILE, else auto (full where a GPU is visible, else quick)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--set",
        type=parse_setting,
        action="append",
        metavar="KEY=VALUE",
        help="change one setting of the profile, e.g. --set epochs=4 --set loss=dice_ce "
        "(repeatable; the run's config.json records them)",
    )
    p.add_argument(
        "--folds",
        type=int,
        metavar="K",
        help="k-fold cross-validation: the test cases set aside, the others cut by patient into "
        "K folds, one run folder each (RUN/fold_i), then their ensemble scored on the test cases",
    )
    p.set_defaults(handler=_train)

    p = sub.add_parser("predict", help="segment a folder of images with a trained run")
    p.add_argument("run", help="run folder written by `labkit train`")
    p.add_argument("--input", required=True, help="study layout folder or folder of NIfTI images")
    p.add_argument("--output", required=True, help="folder for <case id>.nii.gz label maps")
    p.add_argument(
        "--tta",
        action="store_true",
        help="test-time augmentation: average over every mirrored copy of each input, over the "
        "axes the run's augmentation flipped",
    )
    p.add_argument(
        "--ensemble",
        action="store_true",
        help="RUN is a `train --folds K` folder: average the probabilities of its K fold models",
    )
    p.set_defaults(handler=_predict)

    p = sub.add_parser(
        "evaluate", help="per-case, per-label metrics of predictions against references"
    )
    p.add_argument("--pred", required=True, help="folder of predicted <case id>.nii.gz")
    p.add_argument(
        "--ref",
        required=True,
        help="folder of reference label maps, an MSD task folder, an INSTANCE folder or a WMH "
        "challenge folder (label 2 left out, lesions scored)",
    )
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument(
        "--labels", type=int, nargs="+", help="label values to score (default: all non-zero)"
    )
    p.add_argument(
        "--lesions",
        action="store_true",
        help="add lesion-wise columns: components, false-positive components, lesion F1",
    )
    p.set_defaults(handler=_evaluate)

    p = sub.add_parser("download", help="download a real Decathlon task (needs internet)")
    p.add_argument("task", help="e.g. Task04_Hippocampus, hippocampus or 4")
    p.add_argument("--root", help="folder to extract into (default: LABKIT_DATA_ROOT or the cache)")
    p.set_defaults(handler=_download)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, OSError, KeyError) as exc:
        print(f"labkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except TrainingCollapsedError as exc:
        print(f"labkit {args.command}: training failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
