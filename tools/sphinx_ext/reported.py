"""A Sphinx extension for this book's prose: the ``{reported}`` role.

A figure quoted from a published source (a study's write-up, a dataset's paper) is not measured
by the page that quotes it. Chapters mark such figures ``{reported}`0.711```: the role renders
the text as it is, in an ``<abbr class="reported">`` whose tooltip says where it comes from, and
``tests/test_book_numbers.py`` lets a decimal in prose through only when it is marked so (or is
code, maths, or printed by a cell). Loaded through ``sphinx.local_extensions`` in
``_config.yml``.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes

TOOLTIP = "as reported by the source cited here, not measured by this page"


def reported_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """Render ``text`` unchanged as ``<abbr class="reported" title="...">``: a tooltip."""
    node = nodes.abbreviation(rawtext, text, explanation=TOOLTIP, classes=["reported"])
    return [node], []


def setup(app) -> dict[str, Any]:
    app.add_role("reported", reported_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
