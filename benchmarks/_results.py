"""What the benchmark scripts share: the summary of paired differences and the JSON report.

The scripts run as ``python benchmarks/NAME.py``, which puts this folder on ``sys.path``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path


def seed_arguments(
    doc: str, argv: list[str] | None, profile: bool = True, settings: bool = False
) -> argparse.Namespace:
    """Parse the options every seed-repeating script takes: ``--seeds``, ``--profile``, ``--out``.

    Args:
        doc: The script's docstring; its first paragraph is the ``--help`` description.
        argv: Command-line arguments (``None``: ``sys.argv[1:]``).
        profile: Offer ``--profile quick|full``.
        settings: Offer ``--set KEY=VALUE`` (repeatable, as ``labkit train`` takes it); the
            parsed settings are in ``args.overrides``.
    """
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    if profile:
        parser.add_argument("--profile", default="quick", choices=("quick", "full"))
    if settings:
        add_settings_option(parser)
    parser.add_argument("--out", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if settings:
        args.overrides = parsed_settings(args.set)
    return args


def add_settings_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--set KEY=VALUE`` (repeatable), read as ``labkit train --set`` reads it."""
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="change one setting"
    )


def parsed_settings(texts: Sequence[str]) -> dict:
    """The settings that ``--set`` options give, as a dict of overrides."""
    from labkit_cli import parse_setting

    return dict(parse_setting(text) for text in texts)


def report(result: dict, out: str | None) -> dict:
    """Print the results as JSON and, when ``out`` is given, write them there too."""
    text = json.dumps(result, indent=1)
    print(text)
    if out:
        Path(out).write_text(text + "\n")
    return result


def real_dataset(name: str, given: str | None = None) -> Path:
    """A real dataset's folder: ``given`` (a script's ``--data``), else the one labkit finds
    (``LABKIT_DATA_ROOT``, ``../shared/data``); stops with a message where there is none."""
    from labkit import config

    data = Path(given) if given else config.find_real_dataset(name)
    if data is None:
        raise SystemExit(
            f"no real {name} found; set LABKIT_DATA_ROOT to the folder that holds it "
            "(or pass --data where the script takes it)."
        )
    return data
