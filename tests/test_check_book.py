"""The browser check's own logic (tools/check_book.py), on a tiny HTML folder: which links are
broken, which console messages are only offline, and the script de-duplication of the book's
Sphinx extension. The browser itself runs in `make book`."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "sphinx_ext"))

import book_fixes  # noqa: E402
import check_book  # noqa: E402


def _site(tmp_path: Path) -> tuple[Path, Path]:
    html = tmp_path / "html"
    (html / "book").mkdir(parents=True)
    (html / "index.html").write_text('<a href="book/a.html">a</a>')
    page = html / "book" / "a.html"
    page.write_text('<h1 id="top">A</h1><section id="data"></section><a name="old"></a>')
    return html, page


def test_links_to_missing_pages_and_anchors_are_broken(tmp_path):
    html, page = _site(tmp_path)
    ok = [page.as_uri(), page.as_uri() + "#data", page.as_uri() + "#old", html.as_uri() + "/"]
    for href in ok:
        assert check_book.link_problem(href, page, html) is None, href
    missing = (html / "book" / "b.html").as_uri()
    assert "link to a missing page" in check_book.link_problem(missing, page, html)
    assert "missing anchor #results in book/a.html" in check_book.link_problem(
        page.as_uri() + "#results", page, html
    )


def test_links_that_leave_the_book_are_not_followed(tmp_path):
    html, page = _site(tmp_path)
    for href in ("https://example.org/x#y", "mailto:a@b.c", (tmp_path / "elsewhere").as_uri()):
        assert check_book.link_problem(href, page, html) is None


def test_only_other_hosts_failing_offline_are_skipped():
    offline = "https://cdn.jsdelivr.net/x.js - Failed to load resource: net::ERR_NAME_NOT_RESOLVED"
    assert check_book.offline_failure(offline)
    assert not check_book.offline_failure("file:///b/x.html 61:12 Uncaught SyntaxError: oops")
    assert not check_book.offline_failure("file:///b/_static/x.js - Failed to load resource")


def test_every_toc_page_is_checked():
    pages = check_book.toc_pages()
    assert pages[0] == "book/intro" and "book/msd" in pages and "book/performance" in pages


def test_repeated_scripts_are_dropped_keeping_the_first():
    def js(filename, **attributes):
        return SimpleNamespace(filename=filename, attributes=attributes)

    first = js(None, body="const A = 1")
    scripts = [first, js("x.js"), js("", body="const A = 1"), js("x.js"), js("x.js", defer="d")]
    context = {"script_files": scripts}
    book_fixes.drop_repeated_scripts(None, "p", "page.html", context, None)
    assert context["script_files"] == [first, scripts[1], scripts[4]]
