"""One writer per folder: a lock file that names its holder, and stale locks cleared.

Two trainings started into one run folder would each write ``split.json``, ``config.json`` and
the checkpoints under the other. :func:`hold` creates ``.labkit-lock`` in the folder with
``O_EXCL`` (atomic: of two processes, one creates it and the other finds it), writes the holder's
process id, host and start time into it, and removes it when the block ends, however it ends.

A lock whose holder is gone (a process killed with ``kill -9``, a Colab runtime that restarted)
is stale: on the same host, a process id that no longer runs is detected, reported, and the lock
is taken over. A lock held from another host cannot be checked from here, so it is refused with
the path to delete once that training is known to be over.

Example:
    >>> with hold(Path("runs/phh")):  # doctest: +SKIP
    ...     train_into("runs/phh")
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labkit.errors import LabkitError

__all__ = ["LOCK_FILE", "FolderLockedError", "hold"]

#: The lock file's name inside the folder it guards.
LOCK_FILE = ".labkit-lock"


class FolderLockedError(LabkitError):
    """A folder is held by another process (a training already writing into it)."""


def _alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _holder(path: Path) -> dict[str, Any]:
    """The lock file's content (``{}`` when it cannot be read: a holder still writing it)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    since = holder.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since)) if since else "unknown"
    return f"process {holder.get('pid', '?')} on host {holder.get('host', '?')}, since {when}"


@contextlib.contextmanager
def hold(folder: str | Path, what: str = "training") -> Iterator[Path]:
    """Hold ``folder`` (created if needed) for the duration of the block.

    Args:
        folder: The folder to guard.
        what: What holds it, for the messages (``"training"``).

    Yields:
        The folder, as a :class:`~pathlib.Path`.

    Raises:
        FolderLockedError: If a live process on this host, or any process on another host, holds
            it; the message names the holder and what to do.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(), "what": what}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(path)
            same_host = holder.get("host") == me["host"]
            pid = holder.get("pid")
            if same_host and isinstance(pid, int) and pid != me["pid"] and not _alive(pid):
                print(
                    f"labkit: {path} was left by a {holder.get('what', 'run')} that is no longer "
                    f"running ({_describe(holder)}); taking it over.",
                    file=sys.stderr,
                )
                path.unlink(missing_ok=True)
                continue
            if not holder:  # being written this instant by the process that created it
                time.sleep(0.1)
                holder = _holder(path) or {"what": "process"}
            raise FolderLockedError(
                f"{folder} is in use by another {holder.get('what', what)} "
                f"({_describe(holder)}); two runs writing into one folder would overwrite each "
                f"other's files. Wait for it to finish, or choose another folder. If you know it "
                f"is no longer running (e.g. it ran on another machine), delete {path}."
            ) from None
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        break
    else:  # pragma: no cover - three stale locks in a row means another process races us
        raise FolderLockedError(f"could not lock {folder}: {path} keeps reappearing.")
    try:
        yield folder
    finally:
        if _holder(path).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)
