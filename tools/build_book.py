"""Build the HTML book with Sphinx warnings as errors.

    python tools/build_book.py               # execute every chapter (cached), -> _build/html
    python tools/build_book.py --no-execute  # structure only (toc, references, citations),
                                             # -> _build/structure/_build/html; used by `make test`,
                                             # where nbval has already executed every chapter

After any build, every chapter page must carry a Colab launch link to its paired notebook; after
an executing build, every chapter page must also carry executed figures, so a build that silently
skipped execution fails.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_pages() -> list[str]:
    """Docnames of every page in the table of contents, in order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part.get("chapters", [])]
    return files


def chapters_with_code() -> list[str]:
    """Docnames of the toc's pages that are notebooks (MyST files with code cells)."""
    return [f for f in toc_pages() if "```{code-cell}" in (ROOT / f"{f}.md").read_text()]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--no-execute", action="store_true", help="check structure only")
    args = parser.parse_args()
    cmd = [
        str(Path(sys.executable).with_name("jupyter-book")),
        "build",
        str(ROOT),
        "-W",
        "-n",
        "--keep-going",
    ]
    out = ROOT  # jupyter-book writes to <path-output>/_build
    if args.no_execute:
        config = yaml.safe_load((ROOT / "_config.yml").read_text())
        config["execute"]["execute_notebooks"] = "off"
        extensions = config.get("sphinx", {}).get("local_extensions") or {}
        for name, folder in extensions.items():  # relative to the book, not to this copy
            extensions[name] = str(ROOT / folder)
        out = ROOT / "_build" / "structure"
        out.mkdir(parents=True, exist_ok=True)
        cfg = out / "_config.yml"
        cfg.write_text(yaml.safe_dump(config, sort_keys=False))
        cmd += ["--config", str(cfg), "--path-output", str(out)]
    status = subprocess.call(cmd, cwd=ROOT)
    if status != 0:
        return status
    html = out / "_build" / "html"
    if not (html / "index.html").is_file():
        print(f"build finished but {html / 'index.html'} is missing", file=sys.stderr)
        return 1
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo, branch = config["repository"]["url"], config["repository"]["branch"]
    colab_url = config["launch_buttons"]["colab_url"]
    colab = f"{colab_url}/github/{repo.removeprefix('https://github.com/')}/blob/{branch}"
    unlinked = [
        page
        for page in chapters_with_code()
        if f"{colab}/{page}.ipynb" not in (html / f"{page}.html").read_text()
    ]
    if unlinked:
        print(
            f"these chapters have no Colab launch link to their notebook: {unlinked}",
            file=sys.stderr,
        )
        return 1
    if not args.no_execute:
        missing = [
            page
            for page in chapters_with_code()
            if not re.search(r"<img[^>]+src=\"[^\"]*_images/", (html / f"{page}.html").read_text())
        ]
        if missing:
            print(f"these chapters have no executed figures: {missing}", file=sys.stderr)
            return 1
    print(f"book built: {html / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
