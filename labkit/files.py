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

__all__ = ["atomic_path", "check_output", "require_folder", "write_text"]

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


def require_folder(path: Path, option: str, expected: str) -> Path:
    """Refuse an input folder that does not exist or is a file, naming the option.

    Args:
        path: The folder given.
        option: The command-line option or argument that gave it (``"--ref"``).
        expected: What it should hold, for the message.

    Raises:
        FileNotFoundError: ``"--ref X is not a folder (it does not exist); expected ..."``.
    """
    path = Path(path)
    if not path.is_dir():
        why = "it is a file" if path.exists() else "it does not exist"
        raise FileNotFoundError(f"{option} {path} is not a folder ({why}); expected {expected}.")
    return path


def check_output(path: Path, option: str, folder: bool, expected: str) -> Path:
    """Refuse a path to write (a folder, or a file with ``folder=False``) that cannot be one:
    a file where a folder is wanted or the reverse, or a path below a file.

    Args:
        path: The path given.
        option: The option that gave it (``"--out"``).
        folder: Whether a folder is to be written there (else a file).
        expected: What the path should be, for the message.

    Raises:
        NotADirectoryError, IsADirectoryError: Naming the option, the path and the culprit.
    """
    path = Path(path)
    if folder and path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{option} {path} is a file; expected {expected}.")
    if not folder and path.is_dir():
        raise IsADirectoryError(f"{option} {path} is a folder; expected {expected}.")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(
                    f"{option} {path} cannot be written: {parent} is a file, not a folder; "
                    f"expected {expected}."
                )
            break
    return path
