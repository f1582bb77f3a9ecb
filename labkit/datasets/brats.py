"""Brain-tumour MRI in the two layouts it ships in, its label conventions, and a twin in both.

Two layouts hold the same kind of data (multi-modal MRI, skull-stripped, co-registered, with a
voxel label map of the tumour sub-regions):

- **MSD Task01** (Medical Segmentation Decathlon; Simpson et al. 2019, arXiv:1902.09063):
  ``dataset.json``, ``imagesTr/BRATS_001.nii.gz`` as one 4D file with four channels (FLAIR, T1w,
  t1gd, T2w) and ``labelsTr/BRATS_001.nii.gz`` with **1 edema, 2 non-enhancing tumour,
  3 enhancing tumour**.
- **BraTS folders** (Menze et al. 2015, IEEE TMI 34:1993-2024; Bakas et al. 2018,
  arXiv:1811.02629): one folder per subject, ``<id>/<id>_flair.nii.gz``, ``_t1``, ``_t1ce``,
  ``_t2`` and ``_seg``. BraTS 2018-2021 label **1 necrotic / non-enhancing core, 2 edema,
  4 enhancing tumour** (there is no 3). BraTS 2013 used five classes: **1 necrosis, 2 edema,
  3 non-enhancing tumour, 4 enhancing tumour**.

The same value means different tissue in different releases (2 is edema in BraTS and
non-enhancing tumour in MSD; 3 is enhancing in MSD and non-enhancing in BraTS 2013), so every
cohort carries its ``convention`` and every label map read is checked against it: a value the
convention does not use is an error, never a silently empty class. Names of the conventions are
those of :data:`labkit.labels.REGION_CONVENTIONS`, which turns a label map into the regions
BraTS scores (whole tumour, tumour core, enhancing tumour).

Subjects may lack modalities (the BraTS 2013 cases redistributed with DeepMedic hold FLAIR and
T1Gd only): :func:`load_brats` reads the modalities every subject has, or exactly those asked
for, and refuses a modality that some subjects have and others lack, naming them
(:func:`labkit.datasets.modalities.pick_modalities`).

:func:`write_brats_twin` writes a synthetic cohort in either layout, the subjects of
:func:`labkit.phantoms.tumour.brats_subject` on a 2 mm grid stored the way BraTS stores it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import labkit
from labkit.datasets.base import Case, Cohort, LoadedCase, load_case
from labkit.datasets.layout import Layout
from labkit.datasets.modalities import pick_modalities
from labkit.datasets.msd import LAYOUT as MSD_LAYOUT
from labkit.datasets.msd import load_msd, write_msd
from labkit.datasets.twins import cached_cohort, draw_cases
from labkit.errors import DatasetLayoutError
from labkit.io import save_nifti
from labkit.labels import CONVENTION_LABELS, check_convention, check_labels, convert_labels
from labkit.phantoms.tumour import brats_subject

__all__ = [
    "LAYOUT",
    "MODALITIES",
    "TWIN_LAYOUTS",
    "BraTSCohort",
    "default_convention",
    "load_brats",
    "load_brats_case",
    "load_brats_labels",
    "write_brats_twin",
]

#: Modality names in labkit's channel order (MSD Task01's order).
MODALITIES = ("FLAIR", "T1", "T1Gd", "T2")

#: A brain-tumour folder's two layouts: MSD Task01 (``msd.LAYOUT``) or BraTS folders (LAYOUT).
TWIN_LAYOUTS = ("msd", "brats")

#: File-name suffixes of BraTS folders, and MSD Task01 channel names, to labkit's names.
_SUFFIXES = {"flair": "FLAIR", "t1": "T1", "t1ce": "T1Gd", "t1gd": "T1Gd", "t2": "T2"}
_MSD_NAMES = {"flair": "FLAIR", "t1w": "T1", "t1": "T1", "t1gd": "T1Gd", "t2w": "T2", "t2": "T2"}
_WRITE_SUFFIX = {"FLAIR": "flair", "T1": "t1", "T1Gd": "t1ce", "T2": "t2"}


@dataclass(frozen=True)
class BraTSCohort(Cohort):
    """A brain-tumour dataset folder, read.

    Attributes:
        layout: ``"msd"`` or ``"brats"``.
        convention: Label convention of its label maps (a key of :data:`CONVENTION_LABELS`).
        modalities: The modalities a loaded case holds, in channel order.
    """

    layout: str = "brats"
    convention: str = "brats2018"
    modalities: tuple[str, ...] = MODALITIES

    @property
    def labels(self) -> dict[int, str]:
        """Label value to name in this cohort's convention."""
        return dict(CONVENTION_LABELS[self.convention])


def default_convention(root: Path, layout: str) -> str:
    """The label convention a folder is read with unless one is given: ``msd_task01`` for the
    MSD layout, ``brats2013`` for BraTS folders whose path names BraTS 2013, else ``brats2018``."""
    if layout == "msd":
        return "msd_task01"
    return "brats2013" if "brats2013" in str(root).lower() else "brats2018"


def _subject_files(folder: Path) -> tuple[dict[str, Path], Path | None]:
    """Modality -> file and the label file of one BraTS subject folder."""
    images, label = {}, None
    prefix = folder.name + "_"
    for path in sorted(folder.glob(f"{prefix}*.nii*")):
        suffix = path.name[len(prefix) :].split(".")[0].lower()
        if suffix == "seg":
            label = path
        elif suffix in _SUFFIXES:
            images[_SUFFIXES[suffix]] = path
    return images, label


def load_brats(
    root: str | Path,
    modalities: Sequence[str] | None = None,
    convention: str | None = None,
) -> BraTSCohort:
    """Read a brain-tumour dataset in the MSD Task01 layout or the BraTS folder layout.

    Args:
        root: An MSD task folder (with ``dataset.json``) or a folder of BraTS subject folders.
        modalities: Modalities to load, in channel order (names of :data:`MODALITIES`); default:
            every modality all cases have.
        convention: Label convention of the label maps; default: ``msd_task01`` for the MSD
            layout, ``brats2013`` for BraTS folders whose path names BraTS 2013, else
            ``brats2018``. Label maps are checked against it when read
            (:func:`load_brats_case`).

    Returns:
        The cohort, cases sorted by id (MSD: in ``dataset.json`` order). A BraTS folder's case
        ``images`` are the files of the chosen modalities; an MSD case keeps its one 4D file, and
        :func:`load_brats_case` picks the channels.

    Raises:
        DatasetLayoutError: If the folder is neither layout, cases lack a modality asked for,
            or (none asked for) some cases have a modality that others lack.
    """
    root = Path(root)
    if MSD_LAYOUT.matches(root):
        layout = "msd"
        msd = load_msd(root)
        names = tuple(_MSD_NAMES.get(m.lower(), m) for m in msd.modalities)
        if unknown := [m for m in names if m not in MODALITIES]:
            raise DatasetLayoutError(
                f"{root / 'dataset.json'} lists modalities {list(msd.modalities)}; {unknown} are "
                f"not brain-tumour MRI modalities ({list(MODALITIES)}). Is this Task01?"
            )
        chosen = pick_modalities(
            {c.case_id: names for c in msd.cases}, modalities, root, MODALITIES
        )
        cases = tuple(
            Case(c.case_id, c.images, c.label, names, {"channels": chosen}) for c in msd.cases
        )
    else:
        layout = "brats"
        subjects = {}
        for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
            images, label = _subject_files(folder)
            if images:
                subjects[folder.name] = (images, label)
        if not subjects:
            raise DatasetLayoutError(
                f"no brain-tumour cases in {root}: expected {MSD_LAYOUT.describe()} or "
                f"{LAYOUT.describe()}, {{modality}} one of flair, t1, t1ce and t2 (BraTS "
                "2018-2021 naming)."
            )
        available = {cid: tuple(images) for cid, (images, _) in subjects.items()}
        chosen = pick_modalities(available, modalities, root, MODALITIES)
        cases = tuple(
            Case(cid, tuple(images[m] for m in chosen), label, chosen, {"channels": chosen})
            for cid, (images, label) in subjects.items()
        )
    convention = convention or default_convention(root, layout)
    check_convention(convention)
    return BraTSCohort(
        root=root, cases=cases, layout=layout, convention=convention, modalities=chosen
    )


def load_brats_labels(root: str | Path) -> BraTSCohort:
    """The label maps of BraTS subject folders alone, images or not (``labkit evaluate --ref``):
    one case per ``<id>/<id>_seg.nii.gz``, sorted, in :func:`default_convention`'s convention.

    Raises:
        DatasetLayoutError: If no subject folder holds a label map.
    """
    root = Path(root)
    segs = sorted(p for p in root.glob("*/*_seg.nii*") if p.name.startswith(p.parent.name + "_"))
    if not segs:
        raise DatasetLayoutError(
            f"no label maps in {root}: expected BraTS subject folders with {LAYOUT.label} files."
        )
    cases = tuple(Case(p.parent.name, (), p, ()) for p in segs)
    convention = default_convention(root, "brats")
    return BraTSCohort(root=root, cases=cases, layout="brats", convention=convention, modalities=())


#: Where BraTS subject folders keep their files (``{modality}``: flair, t1, t1ce or t2); an
#: MSD Task01 folder has :data:`labkit.datasets.msd.LAYOUT`.
LAYOUT = Layout(
    name="BraTS subject folders",
    image="{case}/{case}_{modality}.nii.gz",
    label="{case}/{case}_seg.nii.gz",
    markers=("*/*_seg.nii*",),
    load=load_brats,
    references=load_brats_labels,
)


def load_brats_case(case: Case, convention: str) -> LoadedCase:
    """Read one case: its image with the chosen modalities, and its checked label map.

    Args:
        case: A case of a :class:`BraTSCohort`.
        convention: The cohort's label convention.

    Returns:
        The case: image ``(x, y, z, c)`` float32 in the cohort's modality order, labels
        ``(x, y, z)`` or ``None`` (it unpacks as ``image, label``).

    Raises:
        ShapeError: If the files' grids differ or an MSD image lacks a channel.
        LabelValueError: If the label map holds values the convention does not use.
    """
    loaded = load_case(case)
    wanted = tuple(case.meta.get("channels", case.modalities))
    index = [case.modalities.index(m) for m in wanted]
    image = loaded.image
    if index != list(range(len(case.modalities))):
        image = image.with_array(np.ascontiguousarray(image.array[..., index]))
    if loaded.label is not None:
        check_labels(loaded.label.array, convention, str(case.label))
    return LoadedCase(case, image, loaded.label)


def write_brats_twin(
    root: str | Path, n_cases: int = 16, seed: int = 0, layout: str = "msd"
) -> BraTSCohort:
    """Write (or reuse) a synthetic brain-tumour cohort in the MSD Task01 or BraTS layout.

    Args:
        root: Destination folder.
        n_cases: Number of subjects (each drawn from a generator seeded with ``(seed, i)``).
        seed: Cohort seed.
        layout: ``"msd"`` (4D images, 1 edema / 2 non-enhancing / 3 enhancing) or ``"brats"``
            (one file per modality, BraTS 2018-2021 labels 1 / 2 / 4).

    Returns:
        The cohort, read back with :func:`load_brats`.
    """
    if layout not in TWIN_LAYOUTS:
        raise ValueError(f"layout must be one of {TWIN_LAYOUTS}; got {layout!r}.")
    if n_cases < 1:
        raise ValueError(f"n_cases must be at least 1; got {n_cases}.")

    def subjects() -> Iterator[tuple[int, dict[str, np.ndarray], np.ndarray, np.ndarray]]:
        for i, (images, labels, affine) in enumerate(draw_cases(brats_subject, n_cases, seed)):
            yield i, images, labels, affine

    def write_msd_layout(folder: Path) -> None:
        cases = (
            (
                f"BRATS_{i + 1:03d}",
                np.stack([images[m] for m in MODALITIES], -1),
                convert_labels(labels, "brats2013", "msd_task01"),
                affine,
            )
            for i, images, labels, affine in subjects()
        )
        names = {0: "background", **CONVENTION_LABELS["msd_task01"]}
        write_msd(folder, "BRATS", ("FLAIR", "T1w", "t1gd", "T2w"), names, cases, _DESCRIPTION)

    def write_brats_layout(folder: Path) -> None:
        for i, images, labels, affine in subjects():
            cid = f"BraTS2021_{i:05d}"
            for modality, image in images.items():
                suffix = _WRITE_SUFFIX[modality]
                save_nifti(LAYOUT.image_file(folder, case=cid, modality=suffix), image, affine)
            seg = convert_labels(labels, "brats2013", "brats2018")
            save_nifti(LAYOUT.label_file(folder, case=cid), seg, affine)
        (folder / "README.txt").write_text(_DESCRIPTION + " Labels: 1 NCR/NET, 2 ED, 4 ET.\n")

    spec = {
        "generator": f"brats-{layout}",
        "n_cases": n_cases,
        "seed": seed,
        "version": labkit.__version__,
    }
    cached_cohort(root, spec, write_msd_layout if layout == "msd" else write_brats_layout)
    return load_brats(root)


_DESCRIPTION = (
    "Synthetic twin of brain-tumour MRI (labkit): MNI anatomy, four skull-stripped contrasts at "
    "2 mm, an enhancing rim around necrosis or a non-enhancing mass, edema and mass effect."
)
