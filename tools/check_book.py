"""Open every page of the built book in headless Chromium, as a reader would, and check it.

    python tools/check_book.py [--html _build/html] [--screenshots _build/screenshots]

For each page of the table of contents it fails on:

- a chapter page (one with code cells) that shows no executed figure: no image from the
  build's ``_images/`` that the browser actually decoded;
- a broken internal link: a link to a page of the book that does not exist, or to an anchor
  (``page.html#section``) that the target page does not have;
- an error in the browser's console, except a resource that could not be fetched from another
  host (a CDN, the launch buttons' sites) while this machine is offline; those are listed as
  skipped, not hidden.

It saves a screenshot of every page (``<page>.png``, the first 1280 x 1600 pixels) for a
person to look at. Needs Debian's ``chromium`` and ``chromium-driver`` (``make browser``
installs them) and Selenium (the ``book`` extra).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_book import chapters_with_code, toc_pages  # noqa: E402


@dataclass
class PageReport:
    """What one page showed."""

    page: str
    figures: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


_IDS: dict[Path, set[str]] = {}


def anchors(path: Path) -> set[str]:
    """The ``id`` (and legacy ``name``) attributes of an HTML file."""
    if path not in _IDS:
        text = path.read_text(errors="replace")
        _IDS[path] = set(re.findall(r'\s(?:id|name)="([^"]+)"', text))
    return _IDS[path]


def link_problem(href: str, page: Path, html: Path) -> str | None:
    """Why a link found on ``page`` is broken, or ``None`` (external links are not followed).

    Args:
        href: The link as the browser resolved it (``file:///...`` for the book's own pages).
        page: The HTML file the link is on.
        html: The book's HTML folder; links that leave it are not the book's.
    """
    parts = urlsplit(href)
    if parts.scheme not in ("file", ""):
        return None  # http(s), mailto, javascript: not the book's to check offline
    target = Path(unquote(parts.path)) if parts.path else page
    try:
        target.resolve().relative_to(html.resolve())
    except ValueError:
        return None
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return f"link to a missing page: {href}"
    fragment = unquote(parts.fragment)
    if fragment and target.suffix == ".html" and fragment not in anchors(target):
        return f"link to a missing anchor #{fragment} in {target.relative_to(html)}"
    return None


def offline_failure(message: str) -> bool:
    """Whether a console message is only another host's resource failing to load offline."""
    failed = "Failed to load resource" in message or "net::ERR_" in message
    return failed and re.search(r"https?://", message) is not None


def _driver(chromium: str, chromedriver: str):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.add_argument("--allow-file-access-from-files")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(chromedriver))


_FIGURES = """return Array.from(document.images).filter(
    i => i.complete && i.naturalWidth > 0 && i.src.includes('_images/')).length;"""
_LINKS = "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href);"


def check_page(driver, page: str, html: Path, shots: Path, needs_figures: bool) -> PageReport:
    """Load one page, collect its problems, save its screenshot."""
    report = PageReport(page)
    path = html / f"{page}.html"
    if not path.is_file():
        report.problems.append(f"{path} is missing from the build")
        return report
    driver.get(path.resolve().as_uri())
    driver.execute_script("return document.readyState")
    report.figures = int(driver.execute_script(_FIGURES))
    if needs_figures and report.figures == 0:
        report.problems.append("no executed figure shown (no decoded image from _images/)")
    for href in dict.fromkeys(driver.execute_script(_LINKS)):
        problem = link_problem(href, path, html)
        if problem:
            report.problems.append(problem)
    for entry in driver.get_log("browser"):
        if entry.get("level") != "SEVERE":
            continue
        message = entry.get("message", "")
        (report.skipped if offline_failure(message) else report.problems).append(
            f"console: {message}"
        )
    shot = shots / f"{page.replace('/', '_')}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(shot))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, default=ROOT / "_build" / "screenshots")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "chromedriver")
    parser.add_argument(
        "--no-figures", action="store_true", help="a structure-only build: figures not required"
    )
    args = parser.parse_args(argv)
    for program in (args.chromium, args.chromedriver):
        if not Path(program).is_file():
            print(
                f"check_book: {program} not found; install Debian's chromium and "
                "chromium-driver (`make browser`, as root) or pass --chromium/--chromedriver.",
                file=sys.stderr,
            )
            return 1
    code_pages = set(chapters_with_code())
    driver = _driver(args.chromium, args.chromedriver)
    try:
        reports = [
            check_page(
                driver,
                page,
                args.html,
                args.screenshots,
                needs_figures=page in code_pages and not args.no_figures,
            )
            for page in toc_pages()
        ]
    finally:
        driver.quit()
    failed = [r for r in reports if r.problems]
    for r in reports:
        status = "FAIL" if r.problems else "ok"
        print(f"{status:4s} {r.page}: {r.figures} figures, {len(r.skipped)} offline skips")
        for problem in r.problems:
            print(f"       {problem}")
    skipped = sorted({s for r in reports for s in r.skipped})
    if skipped:
        print(f"skipped (other hosts, unreachable offline): {len(skipped)} distinct messages")
        for message in skipped[:5]:
            print(f"       {message[:160]}")
    print(f"screenshots: {args.screenshots}")
    if failed:
        print(f"check_book: {len(failed)} of {len(reports)} pages failed", file=sys.stderr)
        return 1
    print(f"check_book: all {len(reports)} pages passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
