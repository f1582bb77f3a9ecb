"""Download a real Medical Segmentation Decathlon task (for machines with internet, e.g. Colab).

The archives are the ones MONAI's ``DecathlonDataset`` uses, with its MD5 checksums; the download
and extraction are MONAI's (``monai.apps.download_and_extract``): a download goes to a temporary
file first and is checked before it is kept, so an interrupted or corrupted download never
leaves a half archive behind, and running the function again is safe. A task already extracted
is not downloaded again. Without network the error says how to bring the data in by hand.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from monai.apps import DecathlonDataset, download_and_extract

from labkit.config import download_root
from labkit.datasets.msd import load_msd

__all__ = ["MSD_TASKS", "DownloadError", "download_msd", "msd_task_name"]

#: Task folder name -> (archive URL, MD5 of the archive), as published with MONAI.
MSD_TASKS: dict[str, tuple[str, str]] = {
    task: (url, DecathlonDataset.md5[task]) for task, url in DecathlonDataset.resource.items()
}


class DownloadError(OSError):
    """A dataset could not be downloaded, verified or extracted."""


def msd_task_name(task: str | int) -> str:
    """The MSD folder name of a task given as ``"Task04_Hippocampus"``, ``"hippocampus"`` or 4.

    Raises:
        ValueError: If no MSD task matches.
    """
    text = str(task).strip()
    number = re.fullmatch(r"(?:task)?0?(\d{1,2})", text, flags=re.IGNORECASE)
    for name in MSD_TASKS:
        if text.lower() in (name.lower(), name.split("_", 1)[1].lower()):
            return name
        if number and int(number.group(1)) == int(name[4:6]):
            return name
    raise ValueError(
        f"unknown MSD task {task!r}; expected one of {sorted(MSD_TASKS)} (or its organ name, or "
        "its number)."
    )


def download_msd(
    task: str | int,
    root: str | Path | None = None,
    url: str | None = None,
    md5: str | None = None,
) -> Path:
    """Download, verify and extract one MSD task; return its folder.

    Args:
        task: Task, e.g. ``"Task04_Hippocampus"``, ``"hippocampus"`` or ``4``.
        root: Folder to extract into (default: :func:`labkit.config.download_root`:
            ``LABKIT_DATA_ROOT`` when set, else ``<labkit cache>/data``, where
            :func:`labkit.config.find_real_dataset` looks too). The task lands in ``root/<task>/``.
        url: Archive URL (default: the published one), e.g. a mirror.
        md5: Expected MD5 of the archive (default: the published one; with a custom ``url`` and
            no ``md5``, the archive is not verified).

    Returns:
        The task folder, readable by :func:`labkit.datasets.load_msd`.

    Raises:
        DownloadError: Offline, a failed checksum, or an archive without the task folder.
    """
    name = msd_task_name(task)
    root = Path(download_root() if root is None else root)
    folder = root / name
    if (folder / "dataset.json").is_file():
        load_msd(folder)  # already there: check it reads, do not download again
        return folder
    published_url, published_md5 = MSD_TASKS[name]
    if url is None:
        url, md5 = published_url, md5 or published_md5
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"{name}.tar"
    existed = folder.exists()

    def discard() -> None:
        """A failed call leaves nothing a rerun could take for the task: no archive (MONAI
        would reuse it) and no half-extracted folder (its dataset.json would read as done)."""
        archive.unlink(missing_ok=True)
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)

    try:
        download_and_extract(
            url, filepath=archive, output_dir=root, hash_val=md5, hash_type="md5", progress=True
        )
    except Exception as exc:  # urllib, MONAI's hash check and tarfile raise a variety
        discard()
        if "unsafe path" in str(exc).lower():  # MONAI refused a member outside the folder
            raise DownloadError(
                f"refused the archive from {url}: {exc}. It would write files outside {root} "
                "(a corrupt or tampered archive); it was deleted and nothing was extracted. "
                f"Do not use it: download the task from its published address ({published_url}) "
                "and check its MD5."
            ) from exc
        raise DownloadError(
            f"could not download and extract {name} from {url} into {root}: "
            f"{type(exc).__name__}: {exc}. Without internet, download {published_url} on another "
            f"machine, extract it so that {folder}/dataset.json exists, and run again."
        ) from exc
    if not (folder / "dataset.json").is_file():
        discard()
        raise DownloadError(
            f"the archive from {url} did not contain {name}/dataset.json (extracted into {root}). "
            "Is it an MSD task archive?"
        )
    load_msd(folder)
    archive.unlink(missing_ok=True)  # the extracted folder is what the loaders read
    return folder
