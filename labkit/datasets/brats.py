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
for, and says which are missing where.

:func:`write_brats_twin` writes a synthetic cohort in either layout: MNI anatomy deformed per
subject, a tumour in the white matter with an enhancing rim around a necrotic centre (or a
non-enhancing mass), surrounding edema that spreads through white matter, mass effect pushing the
tissue around it, and the four contrasts skull-stripped on a 2 mm grid stored the way BraTS
stores it (x and y pointing left and posterior).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

import labkit
from labkit.datasets.base import Case, Cohort, cached_cohort, draw_cases, load_case
from labkit.datasets.msd import load_msd, write_msd
from labkit.errors import DatasetLayoutError, ShapeError
from labkit.io import Volume, save_nifti
from labkit.labels import CONVENTION_LABELS, check_convention, check_labels, convert_labels
from labkit.phantoms import (
    BRAIN_CONTRASTS,
    add_noise,
    bias_field,
    irregular_blob,
    overlay,
    smooth_noise,
    synthetic_head,
    tissue_image,
    warp,
)

__all__ = [
    "LAYOUTS",
    "MODALITIES",
    "TWIN_SHAPE",
    "BraTSCohort",
    "brain_mask",
    "brats_subject",
    "load_brats",
    "load_brats_case",
    "write_brats_twin",
]

#: Modality names in labkit's channel order (MSD Task01's order).
MODALITIES = ("FLAIR", "T1", "T1Gd", "T2")

#: The two on-disk layouts.
LAYOUTS = ("msd", "brats")

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


def _guess_convention(root: Path, layout: str) -> str:
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


def _pick_modalities(
    available: Mapping[str, Sequence[str]], wanted: Sequence[str] | None, root: Path
) -> tuple[str, ...]:
    """The modalities to load: ``wanted``, checked, or those every case has."""
    if wanted is not None:
        wanted = tuple(wanted)
        if unknown := [m for m in wanted if m not in MODALITIES]:
            raise DatasetLayoutError(
                f"unknown modalities {unknown}; labkit names them {list(MODALITIES)}."
            )
        lacking = {cid: [m for m in wanted if m not in have] for cid, have in available.items()}
        lacking = {cid: miss for cid, miss in lacking.items() if miss}
        if lacking:
            first = next(iter(lacking))
            raise DatasetLayoutError(
                f"{len(lacking)} case(s) in {root} lack modalities asked for {list(wanted)}: "
                f"{first} has only {list(available[first])} (missing {lacking[first]}). A model "
                "reads the modalities it was trained on; train one on the modalities this data "
                'has (e.g. --set \'modalities=["FLAIR", "T1Gd"]\'), or add the missing images.'
            )
        return wanted
    common = [m for m in MODALITIES if all(m in have for have in available.values())]
    if not common:
        raise DatasetLayoutError(
            f"the cases in {root} share no modality (each holds some of {list(MODALITIES)}); "
            "load a subset of cases that have one in common."
        )
    return tuple(common)


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
        DatasetLayoutError: If the folder is neither layout, or cases lack a modality asked for.
    """
    root = Path(root)
    if (root / "dataset.json").is_file():
        layout = "msd"
        msd = load_msd(root)
        names = tuple(_MSD_NAMES.get(m.lower(), m) for m in msd.modalities)
        if unknown := [m for m in names if m not in MODALITIES]:
            raise DatasetLayoutError(
                f"{root / 'dataset.json'} lists modalities {list(msd.modalities)}; {unknown} are "
                f"not brain-tumour MRI modalities ({list(MODALITIES)}). Is this Task01?"
            )
        chosen = _pick_modalities({c.case_id: names for c in msd.cases}, modalities, root)
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
                f"no brain-tumour cases in {root}: expected an MSD Task01 folder (dataset.json, "
                "imagesTr/, labelsTr/) or BraTS subject folders <id>/<id>_flair.nii.gz, _t1, "
                "_t1ce, _t2 and _seg.nii.gz (BraTS 2018-2021 naming)."
            )
        available = {cid: tuple(images) for cid, (images, _) in subjects.items()}
        chosen = _pick_modalities(available, modalities, root)
        cases = tuple(
            Case(cid, tuple(images[m] for m in chosen), label, chosen, {"channels": chosen})
            for cid, (images, label) in subjects.items()
        )
    convention = convention or _guess_convention(root, layout)
    check_convention(convention)
    return BraTSCohort(
        root=root, cases=cases, layout=layout, convention=convention, modalities=chosen
    )


def load_brats_case(case: Case, convention: str) -> tuple[Volume, Volume | None]:
    """Read one case: its image with the chosen modalities, and its checked label map.

    Args:
        case: A case of a :class:`BraTSCohort`.
        convention: The cohort's label convention.

    Returns:
        ``(image (x, y, z, c) float32 in the cohort's modality order, labels (x, y, z) or None)``.

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
    return image, loaded.label


def brain_mask(image: np.ndarray) -> np.ndarray:
    """The brain of a skull-stripped image ``(x, y, z, c)``: voxels where any channel differs
    from its value in the corner voxel (the constant background: 0 in raw BraTS, a negative
    value in z-scored redistributions)."""
    if image.ndim != 4:
        raise ShapeError(f"brain_mask expects (x, y, z, c); got shape {image.shape}.")
    return np.any(image != image[0, 0, 0], axis=-1)


# --- the twin --------------------------------------------------------------------------------

#: Relative signal of the tumour compartments per contrast (white matter 0.4 to 0.95).
_TUMOUR_SIGNAL = {
    "FLAIR": {"edema": 0.82, "nonenh": 0.76, "enhancing": 0.68, "necrosis": 0.40},
    "T1": {"edema": 0.72, "nonenh": 0.52, "enhancing": 0.58, "necrosis": 0.30},
    "T1Gd": {"edema": 0.72, "nonenh": 0.52, "enhancing": 1.45, "necrosis": 0.30},
    "T2": {"edema": 0.85, "nonenh": 0.78, "enhancing": 0.70, "necrosis": 0.98},
}

#: The twin's grid: BraTS's 240x240x155 mm field of view at 2 mm.
TWIN_SHAPE = (120, 120, 78)
_RES = 2.0


def _mass_effect(shape: Sequence[int], centre: np.ndarray, radius_vox: float, push: float):
    """A displacement for :func:`labkit.phantoms.warp` that pushes tissue away from ``centre``:
    the output at ``p`` samples the input closer to the centre, most at one radius away."""
    grid = np.indices(shape, dtype=np.float32)
    offset = grid - centre[:, None, None, None].astype(np.float32)
    dist2 = np.sum(offset**2, axis=0)
    scale = push * np.exp(-dist2 / (2.0 * (1.5 * radius_vox) ** 2))
    return (-offset * scale[None]).astype(np.float32)


def _tumour(
    tissues: Mapping[str, np.ndarray], rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray, float]:
    """Draw a tumour's compartments on a 2 mm grid.

    Returns:
        ``(masks, centre, radius_vox)``: bool masks ``necrosis``, ``nonenh``, ``enhancing`` and
        ``edema`` (disjoint), ``edema_fraction`` (the share of each voxel the edema fills, above
        one half exactly inside ``edema``), the centre and the core's mean radius in voxels.
    """
    brain = (tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5
    depth = ndimage.distance_transform_edt(brain) * _RES
    wm = tissues["wm"] > 0.5
    candidates = np.argwhere(wm & (depth > 20.0))
    centre = candidates[rng.integers(len(candidates))].astype(float)
    radius_mm = float(np.exp(rng.uniform(np.log(9.0), np.log(26.0))))
    radius = radius_mm / _RES
    stretch = np.exp(rng.uniform(-0.25, 0.25, 3))
    shape = brain.shape
    core = irregular_blob(shape, centre, radius * stretch, rng, roughness=0.35) & brain
    high_grade = rng.random() < 0.75
    necrosis = np.zeros(shape, bool)
    if high_grade:
        rim_vox = max(1, round(rng.uniform(2.0, 5.0) / _RES))
        inner = ndimage.binary_erosion(core, iterations=rim_vox)
        patchy = smooth_noise(shape, rng, 6.0)[0] > -0.5  # a rim with gaps
        enhancing = core & ~inner & patchy
        centre_blob = irregular_blob(shape, centre, radius * stretch * 0.6, rng, roughness=0.3)
        necrosis = inner & centre_blob
    else:
        enhancing = np.zeros(shape, bool)
        if rng.random() < 0.4:  # a low-grade mass with a small enhancing focus
            enhancing = core & irregular_blob(shape, centre, (0.35 * radius,) * 3, rng, 0.3)
    nonenh = core & ~enhancing & ~necrosis
    # edema spreads through white matter, farther along some directions than others
    extent = rng.uniform(0.6, 2.0) * radius_mm
    reach = extent * (1.0 + 0.45 * smooth_noise(shape, rng, 8.0)[0])
    distance = ndimage.distance_transform_edt(~core) * _RES
    # infiltration fades over about 6 mm: the label is where more than half the voxel is edema
    fraction = np.clip((reach - distance) / 6.0 + 0.5, 0.0, 1.0)
    fraction *= brain & (tissues["wm"] > 0.35) & ~core
    edema = ndimage.binary_opening(fraction >= 0.5)
    masks = {"necrosis": necrosis, "nonenh": nonenh, "enhancing": enhancing, "edema": edema}
    masks["edema_fraction"] = np.where(
        edema, np.maximum(fraction, 0.5), fraction * (fraction < 0.5)
    )
    return masks, centre, radius


def brats_subject(rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Draw one subject: four skull-stripped contrasts with a tumour, on the twin grid.

    The MNI anatomy is deformed and rotated (:func:`labkit.phantoms.synthetic_head` at 2 mm),
    pushed away from the tumour centre (mass effect: a displacement of up to a third of the
    tumour radius), then the tumour is painted in: an enhancing rim (with gaps) around a necrotic
    centre for three subjects in four, a non-enhancing mass otherwise, and edema reaching 0.6 to
    2 tumour radii into the white matter and fading out over about 6 mm. Each contrast gets
    per-subject intensity variation, a bias field, a smooth texture inside the tumour (about
    12%), Rician noise (5% of white matter) and its own arbitrary scale, and is zero outside the
    brain.

    Args:
        rng: Random generator.

    Returns:
        ``(images, labels, affine)``: ``{"FLAIR", "T1", "T1Gd", "T2"}`` float32 ``(120, 120,
        78)``, uint8 labels in the BraTS 2013 convention (1 necrosis, 2 edema, 3 non-enhancing,
        4 enhancing), and an affine with x and y pointing left and posterior, as BraTS stores it.
    """
    head = synthetic_head(rng, contrasts=(), resolution_mm=2, noise=0.0)
    tissues = {k: head.tissues[k] for k in ("csf", "gm", "wm")}
    masks, centre, radius = _tumour(tissues, rng)
    disp = _mass_effect(head.ventricles.shape, centre, radius, rng.uniform(0.15, 0.35))
    names = list(tissues)
    tissues = dict(zip(names, warp(list(tissues.values()), disp), strict=True))
    brain = ((tissues["csf"] + tissues["gm"] + tissues["wm"]) > 0.5) | masks["edema"]
    brain |= masks["necrosis"] | masks["nonenh"] | masks["enhancing"]
    tissues = overlay(tissues, "edema", masks["edema_fraction"])
    for name in ("nonenh", "enhancing", "necrosis"):
        soft = ndimage.gaussian_filter(masks[name].astype(np.float32), 0.6)
        tissues = overlay(tissues, name, np.maximum(soft, masks[name]))
    labels = np.zeros(brain.shape, np.uint8)
    for name, value in (("edema", 2), ("nonenh", 3), ("necrosis", 1), ("enhancing", 4)):
        labels[masks[name]] = value
    field = bias_field(brain.shape, rng, 0.12)
    tumour = sum(tissues[k] for k in ("edema", "nonenh", "enhancing", "necrosis"))
    images = {}
    for modality in MODALITIES:
        table = {**BRAIN_CONTRASTS[modality], **_TUMOUR_SIGNAL[modality]}
        image = tissue_image(tissues, table, rng, variation=0.05) * field
        texture = 1.0 + 0.12 * tumour * smooth_noise(brain.shape, rng, 3.0)[0]  # heterogeneity
        image = add_noise(image * texture, rng, 0.05 * table["wm"]) * brain
        images[modality] = (image * rng.uniform(300.0, 1500.0)).astype(np.float32)
    # crop (or pad) to the BraTS field of view around the brain, then store x and y reversed
    lo = np.argwhere(brain).min(0)
    hi = np.argwhere(brain).max(0) + 1
    start = ((lo + hi) // 2 - np.asarray(TWIN_SHAPE) // 2).astype(int)

    def place(array: np.ndarray) -> np.ndarray:
        out = np.zeros(TWIN_SHAPE, array.dtype)
        src = [
            slice(max(s, 0), min(s + n, m))
            for s, n, m in zip(start, TWIN_SHAPE, array.shape, strict=True)
        ]
        dst = [slice(a.start - s, a.stop - s) for a, s in zip(src, start, strict=True)]
        out[tuple(dst)] = array[tuple(src)]
        return out[::-1, ::-1]

    affine = head.affine.copy()
    affine[:3, 3] += affine[:3, :3] @ start  # the corner voxel of the placed grid
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = np.asarray(TWIN_SHAPE[:2]) - 1
    affine = affine @ flip  # voxel (0, 0) is now the former (nx-1, ny-1)
    images = {m: place(v) for m, v in images.items()}
    return images, place(labels), affine


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
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}; got {layout!r}.")
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
                save_nifti(folder / cid / f"{cid}_{_WRITE_SUFFIX[modality]}.nii.gz", image, affine)
            seg = convert_labels(labels, "brats2013", "brats2018")
            save_nifti(folder / cid / f"{cid}_seg.nii.gz", seg, affine)
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
