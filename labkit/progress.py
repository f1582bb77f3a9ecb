"""Progress bars for the slow loops (drawing twins, loading, predicting, scoring cases), and a
timer for a block of work (:func:`timed`).

One function, :func:`progress`, wraps an iterable in a `tqdm <https://tqdm.github.io>`_ bar: a
widget in Jupyter and Colab (where ``ipywidgets`` is installed), a one-line bar in a terminal,
and nothing at all where standard error is neither (a CI log, a file), so logs do not fill with
carriage returns.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["progress", "shown", "timed"]

T = TypeVar("T")


def shown() -> bool:
    """Whether a bar would be seen: standard error is a terminal, or this runs in a notebook
    kernel (an IPython shell started by ``IPKernelApp``, the test tqdm itself uses)."""
    isatty = getattr(sys.stderr, "isatty", None)
    if isatty and isatty():
        return True
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Yield ``items`` while a progress bar named ``label`` counts them.

    Args:
        items: What to iterate over (a sized sequence gives the bar its total).
        label: What is being done, e.g. ``"predicting"``.
        total: The number of items, for an iterator without a length.
    """
    if not shown():
        yield from items
        return
    import warnings

    with warnings.catch_warnings():  # tqdm.auto warns once where ipywidgets is missing
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    yield from tqdm(items, desc=label, total=total, unit="case", leave=False)


@contextmanager
def timed(what: str) -> Iterator[None]:
    """Time a block and print ``"<what> in <seconds> s"`` when it ends (nothing if it raises).

    ``with timed("trained and evaluated"): ...`` prints ``trained and evaluated in 42 s``.

    Args:
        what: What the block does, the start of the printed line.
    """
    start = time.perf_counter()
    yield
    print(f"{what} in {time.perf_counter() - start:.0f} s")
