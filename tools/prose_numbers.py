"""Find numbers typed into the book's prose that no cell computed.

A figure in a chapter's text must come from that page's run (printed by a cell, or a Markdown
cell output written from the computed values) or from a named record the page reads; a decimal
typed into prose drifts from the code the day the code changes. This scans the prose of every
page under ``book/`` (the Markdown between code cells, admonitions and exercises included) and
reports each decimal number it finds, except:

- code and maths: inline code (a setting, ``threshold=0.5``), ``$...$``, and fenced blocks that
  are not directives (shell commands, file trees) or are code cells;
- figures quoted from a published source, marked ``{reported}`0.711``` (the role in
  ``tools/sphinx_ext/reported.py``);
- names that carry a decimal without being a measurement: "2.5D", Python versions, licence
  versions, arXiv identifiers, and link targets.

Run ``python tools/prose_numbers.py`` to list what it finds; ``tests/test_book_numbers.py`` fails
on any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Inline text removed before looking for numbers: code spans (which also empties the text of a
#: role such as ``{reported}`0.711```), maths, link targets, comments.
STRIP = [
    re.compile(r"``[^`]+``|`[^`]*`"),
    re.compile(r"\$\$.*?\$\$|\$[^$]*\$"),
    re.compile(r"\]\([^)]*\)"),
    re.compile(r"<!--.*?-->"),
]
#: Names with a decimal in them that are not measurements.
NAMES = re.compile(
    r"\b2\.5D\b|Python \d+\.\d+|CC[- ]BY(?:-[A-Z]+)*(?: [A-Z]+)? \d\.\d|arXiv:\d+\.\d+",
)
DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+")
#: Fenced directives whose body is not prose (skipped, as plain code fences are).
CODE_DIRECTIVES = (
    "code-cell",
    "code-block",
    "code",
    "literalinclude",
    "math",
    "raw",
    "include",
    "bibliography",
)


def prose_lines(text: str) -> list[tuple[int, str]]:
    """The prose lines of a MyST page, numbered from 1: front matter and code blocks left out."""
    lines = text.splitlines()
    out: list[tuple[int, str]] = []
    start = 0
    if lines and lines[0].strip() == "---":  # YAML front matter
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), 0)
        start = end + 1
    fence: str | None = None  # the opening fence of a code block being skipped
    prose: list[str] = []  # the opening fences of the prose directives we are inside
    for number, line in enumerate(lines[start:], start + 1):
        stripped = line.strip()
        if fence is not None:
            if stripped == fence:
                fence = None
            continue
        match = re.match(r"^(`{3,}|~{3,}|:{3,})\s*(\{([\w-]+)\})?", stripped)
        if match:
            marks, directive = match.group(1), match.group(3)
            if prose and stripped == prose[-1]:
                prose.pop()  # the end of a prose directive
            elif directive is None or directive in CODE_DIRECTIVES:
                fence = marks
            else:
                prose.append(marks)  # its options follow as ":key: value"
            continue
        if re.match(r"^:[\w-]+:", stripped):
            continue  # a directive option
        out.append((number, line))
    return out


def typed_numbers(line: str) -> list[str]:
    """The decimals in one line of prose, after code, maths, quoted figures and names are
    removed."""
    for pattern in STRIP:
        line = pattern.sub(" ", line)
    line = NAMES.sub(" ", line)
    return DECIMAL.findall(line)


def find(paths: list[Path]) -> list[str]:
    """``"path:line: numbers | text"`` for every prose line of ``paths`` with a typed decimal."""
    found = []
    for path in paths:
        for number, line in prose_lines(path.read_text(encoding="utf-8")):
            if numbers := typed_numbers(line):
                name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                found.append(f"{name}:{number}: {', '.join(numbers)} | {line.strip()[:100]}")
    return found


def main() -> int:
    found = find(sorted((ROOT / "book").glob("*.md")))
    print("\n".join(found) or "no typed-in decimals in the book's prose")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
