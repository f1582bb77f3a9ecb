"""The ``labkit`` command's front door: it parses the command line before labkit is imported.

Importing :mod:`labkit` imports Keras (it registers the course's layers, losses and metrics so
that saved models reload), and Keras imports its backend: seconds, and TensorFlow's start-up
messages. ``labkit --help``, ``labkit train --help`` and ``labkit --version`` need none of it, so
the command's parser lives here, outside the package, and :mod:`labkit.cli` (the commands
themselves) is imported only once the arguments have been read.

Exit status: 0 on success, 1 when a command fails (bad data, a refused setting, a training that
collapsed; the message says what and how to fix it), 2 for a command line that cannot be parsed
(argparse's usage errors).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib import metadata

__all__ = ["KERAS_BACKENDS", "STUDIES", "build_parser", "main", "parse_setting"]

#: The values Keras 3 accepts in ``KERAS_BACKEND`` (checked before Keras is imported, which
#: would otherwise fail with a traceback).
KERAS_BACKENDS = ("tensorflow", "jax", "torch", "numpy", "openvino")

#: The built-in studies, the one list the command line reads without importing labkit: name to
#: what it segments and the number of cases ``labkit synth`` writes by default (a test checks
#: these against ``labkit.studies.BUILTIN`` and each recipe's ``synth``).
STUDIES = {
    "phh": ("CSF, neonatal T2 MRI (2D U-Net)", 10),
    "wmh": ("white-matter hyperintensities, FLAIR (3D, subjects per site)", 20),
    "ich": ("haemorrhage, head CT (2D, per-patient scores)", 24),
    "msd": ("Medical Segmentation Decathlon tasks (generalized Dice)", 20),
    "brats": ("brain-tumour sub-regions, 4-modality MRI (3D patches)", 16),
}

DISTRIBUTION = "unet-course-labkit"

DESCRIPTION = "Synthesise, train, predict and evaluate the course's U-Net studies:\n" + "\n".join(
    f"  {name:6} {what}" for name, (what, _) in STUDIES.items()
)

EXAMPLES = {
    None: """\
examples:
  labkit synth phh data/phh
  labkit train phh --data data/phh --out runs/phh
  labkit predict runs/phh --input data/phh --output pred/phh
  labkit evaluate --pred pred/phh --ref data/phh --out phh.csv

Run `labkit COMMAND --help` for a command's options and examples.""",
    "synth": """\
examples:
  labkit synth phh data/phh                      # 10 neonatal heads, images/ + masks/
  labkit synth msd data/Task03_Liver --task liver --cases 20
  labkit synth wmh data/wmh --cases 8            # 8 subjects per site, 3 sites
  labkit synth brats data/brats --layout brats --cases 8   # BraTS subject folders""",
    "train": """\
examples:
  labkit train phh --data data/phh --out runs/phh
  labkit train msd --data ../shared/data/Task04_Hippocampus --out runs/hip --set epochs=4
  labkit train wmh --data data/wmh --out runs/wmh --set input=patches
  labkit train msd --data data/Task03_Liver --out runs/cv --folds 5 --set flip_axes=[0]

A run interrupted (Colab disconnects) continues when the same command is run again.""",
    "predict": """\
examples:
  labkit predict runs/phh --input data/phh --output pred/phh
  labkit predict runs/cv --input images/ --output pred/ --ensemble --tta""",
    "evaluate": """\
examples:
  labkit evaluate --pred pred/phh --ref data/phh --out phh.csv
  labkit evaluate --pred pred/wmh --ref data/wmh --out wmh.csv      # the challenge's metrics
  labkit evaluate --pred pred/ --ref refs/ --out m.csv --labels 1 2 --nsd-tolerance 2""",
    "download": """\
examples:
  labkit download hippocampus                 # into LABKIT_DATA_ROOT or the cache
  labkit download Task09_Spleen --root data/

Needs internet; every archive is checked against its published MD5.""",
    "settings": """\
examples:
  labkit settings phh                         # the full profile: value, source, note
  labkit settings msd --profile quick --set epochs=4""",
}


def version() -> str:
    """labkit's version, from the installed distribution's metadata (no import of labkit)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        from labkit import __version__

        return __version__


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


def _sub(sub: argparse._SubParsersAction, name: str, text: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=text,
        description=text[0].upper() + text[1:] + ".",
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; building it imports nothing of labkit."""
    parser = argparse.ArgumentParser(
        prog="labkit",
        description=DESCRIPTION,
        epilog=EXAMPLES[None],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"labkit {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _sub(sub, "synth", "write a synthetic twin cohort in a study's real layout")
    p.add_argument("study", choices=list(STUDIES))
    p.add_argument("dir", help="output folder (created)")
    p.add_argument(
        "--cases",
        type=int,
        help="number of cases (default: the study's: "
        + ", ".join(f"{name} {cases}" for name, (_, cases) in STUDIES.items())
        + ")",
    )
    p.add_argument("--seed", type=int, default=0, help="cohort seed (default 0)")
    p.add_argument("--task", help="task of studies with several (msd: hippocampus, liver, spleen)")
    p.add_argument(
        "--layout",
        help="on-disk layout of studies with several (brats: msd, the default, or brats)",
    )

    p = _sub(sub, "train", "train a study's model and evaluate its held-out cases")
    p.add_argument("study", choices=list(STUDIES))
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

    p = _sub(sub, "predict", "segment a folder of images with a trained run")
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

    p = _sub(sub, "evaluate", "score predictions against references, per case and label")
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
    p.add_argument(
        "--nsd-tolerance",
        type=float,
        default=1.0,
        metavar="MM",
        help="tolerance of the normalised surface Dice in mm (default 1.0; choose at least the "
        "voxel size, or NSD only counts surface voxels that match exactly)",
    )

    p = _sub(sub, "download", "download a real Decathlon task (needs internet)")
    p.add_argument("task", help="e.g. Task04_Hippocampus, hippocampus or 4")
    p.add_argument("--root", help="folder to extract into (default: LABKIT_DATA_ROOT or the cache)")

    p = _sub(sub, "settings", "print a study's settings and where each value comes from")
    p.add_argument("study", choices=list(STUDIES))
    p.add_argument("--profile", choices=("quick", "full"), default="full")
    p.add_argument(
        "--set", type=parse_setting, action="append", metavar="KEY=VALUE", help="as for train"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, then run the command (:func:`labkit.cli.run`); the exit status."""
    args = build_parser().parse_args(argv)
    backend = os.environ.get("KERAS_BACKEND")
    if backend is not None and backend not in KERAS_BACKENDS:
        print(
            f"labkit {args.command}: error: KERAS_BACKEND={backend!r} is not a Keras backend; "
            f"expected one of {', '.join(KERAS_BACKENDS)} (or unset it for TensorFlow).",
            file=sys.stderr,
        )
        return 1
    from labkit.cli import run

    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
