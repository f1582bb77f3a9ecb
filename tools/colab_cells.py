"""Write each chapter's Colab install cell from ``_config.yml``.

    python tools/colab_cells.py          # rewrite book/*.md where they differ (``make sync``)
    python tools/colab_cells.py --check  # list what differs and exit 1 (a test runs this)

One setting drives what a chapter opened on Colab installs: ``labkit_release`` in ``_config.yml``,
installed from ``repository.url`` at the tag ``v<labkit_release>``. It must equal the package's
version, so that a chapter installs the labkit the book was built from.

The cell is written whole (:data:`CELL`): ``%pip`` reports a failure and carries on, so the next
cell would die with ``ModuleNotFoundError``; the cell runs pip itself and raises with pip's own
message, the requirement, and what to do.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
#: The install cell's first line; the cell runs from it to the end of its code block.
FIRST_LINE = (
    "# On Colab, install labkit from the course repository; anywhere else this cell does nothing."
)
CELL_RE = re.compile(re.escape(FIRST_LINE) + r"\n.*?(?=\n```)", re.DOTALL)

#: The install cell, ``{requirement}`` filled in by :func:`cell`.
CELL = """{first}
import subprocess
import sys

LABKIT = "{requirement}"
if "google.colab" in sys.modules:
    pip = [sys.executable, "-m", "pip", "install", "-q", LABKIT]
    done = subprocess.run(pip, capture_output=True, text=True)
    if done.returncode != 0:
        newest = LABKIT.rsplit("@", 1)[0]
        raise RuntimeError(
            f"pip could not install {{LABKIT}}:\\n{{done.stderr[-2000:]}}\\n"
            "Rerun this cell once the runtime is connected. If that release is missing, "
            f"install the newest code instead: !pip install '{{newest}}'"
        )"""


def distribution() -> str:
    """The name pip knows labkit by (``project.name`` in pyproject.toml)."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"]


def package_version() -> str:
    """``labkit.__version__``, read from labkit/__init__.py without importing labkit."""
    found = re.search(
        r'^__version__ = "([^"]+)"$', (ROOT / "labkit" / "__init__.py").read_text(), re.M
    )
    if found is None:
        raise ValueError('found no `__version__ = "..."` line in labkit/__init__.py')
    return found.group(1)


def install_requirement(config: dict | None = None) -> str:
    """The requirement each install cell passes to pip, e.g.
    ``unet-course-labkit @ git+https://github.com/o/r@v0.1.0``."""
    config = config or yaml.safe_load((ROOT / "_config.yml").read_text())
    url, release = config["repository"]["url"], config["labkit_release"]
    return f"{distribution()} @ git+{url}@v{release}"


def chapters() -> list[Path]:
    """The book's MyST chapters that hold code cells (each paired with a Colab notebook)."""
    return sorted(p for p in (ROOT / "book").glob("*.md") if "```{code-cell}" in p.read_text())


def cell(requirement: str) -> str:
    """The install cell's code for ``requirement`` (``name @ git+URL@TAG``)."""
    return CELL.format(first=FIRST_LINE, requirement=requirement)


def rewritten(text: str, requirement: str) -> str:
    """A chapter's text with its install cell written for ``requirement``.

    Raises:
        ValueError: If the chapter has no install cell (no line ``FIRST_LINE``).
    """
    if not CELL_RE.search(text):
        raise ValueError(
            f"found no install cell (a code cell starting {FIRST_LINE!r}); expected it as the "
            "chapter's first code cell (copy it from book/phh.md)"
        )
    return CELL_RE.sub(lambda m: cell(requirement), text, count=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 on a difference"
    )
    args = parser.parse_args(argv)
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    version = package_version()
    if str(config["labkit_release"]) != version:
        print(
            f"_config.yml's labkit_release is {config['labkit_release']!r} but labkit.__version__ "
            f"is {version!r}; set them equal (labkit/__init__.py holds the version)."
        )
        return 1
    requirement, stale = install_requirement(config), []
    for path in chapters():
        text = path.read_text()
        wanted = rewritten(text, requirement)
        if wanted != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(wanted)
    verb = "differ from _config.yml (run `make sync`)" if args.check else "rewritten"
    for path in stale:
        print(f"{path}: {verb}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
