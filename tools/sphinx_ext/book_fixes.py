"""A Sphinx extension for this book's HTML: each page's scripts included once.

Jupyter Book 1.x sets up sphinx-thebe twice, so every page declared
``const THEBE_JS_URL`` in two inline scripts, and the second threw "Identifier
'THEBE_JS_URL' has already been declared" in every reader's browser console (found by
``tools/check_book.py``). This drops a page's repeated scripts (same source or same inline body,
same attributes), keeping the first. Loaded through ``sphinx.local_extensions`` in
``_config.yml``.
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", str(script)) or ""  # inline: None or ""
    return (str(filename), tuple(sorted(attributes.items())))


def drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` handler: keep the first of identical script entries."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
