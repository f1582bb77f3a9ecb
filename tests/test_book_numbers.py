"""No number typed into the book's prose (tools/prose_numbers.py): figures come from the page's
run, a named record, or are marked as a study's published figure with the {reported} role."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tools" / "sphinx_ext"))

import prose_numbers  # noqa: E402
import reported  # noqa: E402

PAGE = """---
jupytext:
  version: 1.2
---
# Title

The study reported {reported}`0.711 ± 0.02` and we got 0.83.

```{code-cell} ipython3
dice = 0.95
```

A setting `threshold=0.5`, maths $p = 0.25$, and [a link](https://arxiv.org/abs/1811.02629).

````{admonition} Solutions
:class: dropdown

1. In an exercise, 12.5 mL.

```bash
python run.py --lr 0.001
```
````

After the admonition: 2.5D input, Python 3.11, CC-BY-SA 4.0 and arXiv:1902.09063, and 1.16x.
"""


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("Dice 0.83 and 12.5 ± 7.35", ["0.83", "12.5", "7.35"]),
        ("{reported}`0.548 ± 0.274` per patient", []),
        ("`threshold=0.5` and ``0.25``", []),
        ("$\\frac{1}{0.5}$ or $$0.5$$", []),
        ("2.5D input on Python 3.11, CC BY-NC-SA 3.0 data", []),
        ("a speed-up of 1.74x", ["1.74"]),
        ("version v1.2.3 of 12 cases", []),
    ],
)
def test_typed_numbers_finds_decimals_outside_code_maths_and_quotes(line, found):
    assert prose_numbers.typed_numbers(line) == found


def test_prose_lines_skip_front_matter_and_code_but_keep_admonitions():
    lines = dict(prose_numbers.prose_lines(PAGE))
    found = {n: prose_numbers.typed_numbers(text) for n, text in lines.items()}
    assert {n: v for n, v in found.items() if v} == {7: ["0.83"], 18: ["12.5"], 25: ["1.16"]}
    assert not any("0.95" in text or "0.001" in text for text in lines.values())
    assert not any(text.startswith(":class:") for text in lines.values())


def test_find_names_the_file_and_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(PAGE)
    found = prose_numbers.find([page])
    assert len(found) == 3
    assert found[0].startswith(f"{page}:7: 0.83 | The study reported")


def test_the_book_has_no_typed_in_decimals_in_its_prose():
    found = prose_numbers.find(sorted((ROOT / "book").glob("*.md")))
    assert not found, (
        "decimals typed into the book's prose (print them from a cell, read them from a named "
        "record, write a setting as code, or mark a published figure {reported}`...`):\n"
        + "\n".join(found)
    )


def test_the_reported_role_renders_the_text_with_a_tooltip():
    nodes, messages = reported.reported_role("reported", "{reported}`0.711`", "0.711", 1, None)
    assert messages == []
    (node,) = nodes
    assert node.astext() == "0.711"
    assert node["explanation"] == reported.TOOLTIP
    assert "reported" in node["classes"]
