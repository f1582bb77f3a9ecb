"""Writing files so that a killed process never leaves a partial one.

Colab disconnects and ``kill -9`` stop a process wherever it is, also half-way through writing a
checkpoint or a prediction. Every file labkit writes (models, run state, JSON, CSV, NIfTI) is
therefore first written to a hidden temporary file in the same folder, flushed to disk, and then
renamed onto its final name with :func:`os.replace`, which POSIX and Windows make atomic within
one file system: a reader sees either the old file or the new one, never a mixture.

Example:
    >>> with atomic_path("run/model.keras") as tmp:  # doctest: +SKIP
    ...     model.save(tmp)
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "write_text"]

#: Prefix of the temporary files; a folder may hold leftovers of a process killed mid-write.
TMP_PREFIX = ".tmp-"


def _suffixes(path: Path) -> str:
    """``.nii.gz`` for ``a.nii.gz``: writers such as nibabel and Keras choose the format by it."""
    return "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write to; renamed onto ``path`` when the block ends without error.

    The temporary file sits in ``path``'s folder (created if needed), is hidden (its name starts
    with ``.tmp-``) and keeps ``path``'s extension, so that writers which pick a format by the
    extension (``.keras``, ``.nii.gz``) behave as for ``path``. If the block raises, the
    temporary file is removed and ``path`` is left as it was.

    Args:
        path: The file to write.

    Yields:
        The temporary path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = _suffixes(path)
    stem = path.name[: len(path.name) - len(suffix)]
    tmp = path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}-{stem}{suffix}")
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"nothing was written to {tmp} (the temporary file of {path})")
        with open(tmp, "rb") as f:  # the data reach the disk before the name does
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`).

    Args:
        path: The file to write.
        text: Its new content.

    Returns:
        ``path``.
    """
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
