"""A dataset's on-disk layout, declared once and read by everything that touches its files.

Each dataset module declares one :class:`Layout` (``labkit.datasets.phh.LAYOUT`` and the
others): where a case's image and label map live, which files mark a folder as that layout,
which label values it holds and how its challenge scores them, and the function that reads it.
The loader, the twin writer, ``labkit predict --input`` (a study's ``images``) and
``labkit evaluate --ref`` (:func:`labkit.datasets.find_layout`) all read that one declaration,
so a layout cannot be known differently in two places.

Example:
    >>> from labkit.datasets.phh import LAYOUT
    >>> LAYOUT.label_file("data/phh", case="phh003").as_posix()
    'data/phh/masks/phh003.nii.gz'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = ["Layout"]


def _shared_folder(template: str) -> str:
    """A path template's first folder when it holds no field (``"images"``), else ``""``."""
    first = PurePosixPath(template).parts[0]
    return "" if "{" in first else first


@dataclass(frozen=True)
class Layout:
    """Where one dataset keeps its files.

    Attributes:
        name: The layout in words, for messages (``"a PHH folder"``).
        image: A case's image, relative to the dataset folder, with ``{case}`` and, where the
            layout has them, ``{modality}``, ``{site}`` and ``{subject}`` fields
            (``"images/{case}.nii.gz"``).
        label: A case's label map, in the same fields (``"masks/{case}.nii.gz"``).
        markers: Globs, relative to the folder, that all match in a folder of this layout and
            not in the other layouts' folders (``("images/*.nii*", "masks/*.nii*")``).
        load: Reads a folder of this layout into a cohort (``.cases``, each with ``case_id``,
            ``images``, ``label`` and ``meta``).
        labels: Label value to name (0 left out) where the layout fixes them; empty where each
            dataset names its own (an MSD task's ``dataset.json``, a BraTS label convention),
            and the loaded cohort's ``labels`` say them.
        ignore: Label values its challenge leaves out of every metric (the WMH challenge's 2).
        lesions: Whether its challenge scores lesions (recall and F1 of connected components).
        references: Reads only the label maps of such a folder (a cohort whose cases may lack
            images), for a folder of references without images; default: ``load``.
    """

    name: str
    image: str
    label: str
    markers: tuple[str, ...]
    load: Callable[[Path], Any]
    labels: Mapping[int, str] = field(default_factory=dict)
    ignore: tuple[int, ...] = ()
    lesions: bool = False
    references: Callable[[Path], Any] | None = None

    def matches(self, root: str | Path) -> bool:
        """Whether ``root`` is a folder of this layout (every marker matches a file in it)."""
        root = Path(root)
        return root.is_dir() and all(next(root.glob(m), None) is not None for m in self.markers)

    def read_references(self, root: str | Path) -> Any:
        """The folder's cases with their label maps, read with ``references`` or ``load``."""
        return (self.references or self.load)(Path(root))

    def image_file(self, root: str | Path, **fields: str) -> Path:
        """Where a case's image lives: ``image`` filled with ``fields`` under ``root``."""
        return Path(root) / self.image.format(**fields)

    def label_file(self, root: str | Path, **fields: str) -> Path:
        """Where a case's label map lives: ``label`` filled with ``fields`` under ``root``."""
        return Path(root) / self.label.format(**fields)

    @property
    def image_dir(self) -> str:
        """The images' sub-folder where all images share one (``"images"``), else ``""``."""
        return _shared_folder(self.image)

    @property
    def label_dir(self) -> str:
        """The label maps' sub-folder where all share one (``"masks"``), else ``""``."""
        return _shared_folder(self.label)

    def describe(self) -> str:
        """The layout in words with its paths, for messages."""
        return f"{self.name} ({self.image} and {self.label})"

    def names(self, cohort: Any) -> dict[int, str]:
        """Label value to name (0 and the ignored values left out): the layout's own, or else
        the loaded cohort's ``labels``."""
        names = dict(self.labels) or dict(getattr(cohort, "labels", {}) or {})
        return {int(v): n for v, n in names.items() if int(v) != 0 and int(v) not in self.ignore}
