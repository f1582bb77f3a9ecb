"""Refuse a release whose pieces disagree: ``make release-check`` and the release workflow.

    python tools/release_check.py                # before tagging
    python tools/release_check.py --tag v0.2.0   # what .github/workflows/release.yml runs

A release is the tag ``v<version>`` of a commit whose ``labkit.__version__`` is ``<version>`` and
whose ``_config.yml`` says ``labkit_release: "<version>"``: each chapter's Colab cell installs
``repository.url`` at that tag (``tools/colab_cells.py``), so all three must agree, and the URL
must be the project's real home, not the placeholder the book was written with.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from colab_cells import ROOT, package_version

#: ``repository.url`` values that are not a home yet: the one the book was written with.
PLACEHOLDERS = ("https://github.com/labkit-course/unet-course",)


def problems(config: dict, version: str, tag: str | None = None) -> list[str]:
    """What stops a release, in words (empty: nothing).

    Args:
        config: ``_config.yml`` as read.
        version: ``labkit.__version__``.
        tag: The git tag being released (``v0.2.0``), if any.
    """
    found = []
    url = str(config.get("repository", {}).get("url", ""))
    if not url or url.rstrip("/") in PLACEHOLDERS:
        found.append(
            f"_config.yml's repository.url is {url!r}, the placeholder: set it to the "
            "repository the book is published from (the Colab cells install labkit from it)."
        )
    release = str(config.get("labkit_release", ""))
    if release != version:
        found.append(
            f"_config.yml's labkit_release is {release!r} but labkit.__version__ is "
            f"{version!r}: set them equal, then run `make sync`."
        )
    if tag is not None and tag != f"v{version}":
        found.append(
            f"the tag is {tag!r} but labkit.__version__ is {version!r}: tag v{version}, or "
            "raise the version in labkit/__init__.py and _config.yml first."
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tag", help="the tag being released, e.g. v0.2.0")
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    found = problems(config, package_version(), args.tag)
    for problem in found:
        print(f"release-check: {problem}", file=sys.stderr)
    if not found:
        print(f"release-check: v{package_version()} is ready to tag and release.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
