"""What a run was trained on: a cheap fingerprint of every file of a cohort, and its changes.

A run folder is resumed when the same command runs again. If the dataset folder changed in
between (cases added, removed or edited), the old model would be kept while the split is drawn
again from the new cases, and a case the model trained on could be scored as held-out. So a run
records, per case, each file's size and a checksum of its content (:func:`fingerprint_cases`),
and :func:`describe_changes` names the cases that came, went or changed.

The checksum is cheap: a ``.gz`` file ends with the CRC-32 and the length of its uncompressed
data (RFC 1952), so eight bytes read from its end stand for its whole content, whatever the
compression level or the file's modification time; any other file is hashed whole (BLAKE2b).

Example:
    >>> before = fingerprint_cases(load_phh("data/phh").cases)  # doctest: +SKIP
    >>> describe_changes(before, fingerprint_cases(load_phh("data/phh").cases))  # doctest: +SKIP
    ['1 case(s) whose files changed: phh002']
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["describe_changes", "file_checksum", "fingerprint_cases"]


def file_checksum(path: str | Path) -> str:
    """A checksum of one file's content: ``crc32:<hex>:<length>`` from a gzip file's trailer,
    else ``blake2b:<hex>`` of the whole file."""
    path = Path(path)
    with path.open("rb") as f:
        head = f.read(2)
        if head == b"\x1f\x8b" and path.stat().st_size >= 18:  # gzip magic, header + trailer
            f.seek(-8, 2)
            trailer = f.read(8)
            crc, size = int.from_bytes(trailer[:4], "little"), int.from_bytes(trailer[4:], "little")
            return f"crc32:{crc:08x}:{size}"
        f.seek(0)
        return "blake2b:" + hashlib.file_digest(f, "blake2b").hexdigest()[:32]


def fingerprint_cases(cases: Iterable[Any]) -> dict[str, list[list[Any]]]:
    """Per case id, ``[file name, size in bytes, checksum]`` of each of its files (images, then
    the label map when there is one).

    Args:
        cases: Records with ``case_id``, ``images`` (paths) and ``label`` (a path or ``None``),
            such as :class:`labkit.datasets.base.Case`.

    Returns:
        A JSON-ready mapping, for ``run.json``.
    """
    out: dict[str, list[list[Any]]] = {}
    for case in cases:
        files = [*case.images, *([case.label] if case.label is not None else [])]
        out[case.case_id] = [
            [Path(p).name, Path(p).stat().st_size, file_checksum(p)] for p in files
        ]
    return out


def describe_changes(
    before: Mapping[str, Any], now: Mapping[str, Any], limit: int = 10
) -> list[str]:
    """What differs between two fingerprints: the cases that came, went, or whose files changed.

    Args:
        before: :func:`fingerprint_cases` as recorded.
        now: :func:`fingerprint_cases` of the folder today.
        limit: At most this many case ids named per kind of change.

    Returns:
        One phrase per kind of change (empty when the data are the same).
    """

    def named(ids: list[str]) -> str:
        more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
        return ", ".join(ids[:limit]) + more

    came = sorted(set(now) - set(before))
    went = sorted(set(before) - set(now))
    changed = sorted(
        cid for cid in set(before) & set(now) if [list(f) for f in before[cid]] != now[cid]
    )
    phrases = []
    if came:
        phrases.append(f"{len(came)} case(s) added: {named(came)}")
    if went:
        phrases.append(f"{len(went)} case(s) removed: {named(went)}")
    if changed:
        phrases.append(f"{len(changed)} case(s) whose files changed: {named(changed)}")
    return phrases
