"""Tumour label conventions: what each label value means in each release, and the regions.

The same value means different tissue in different releases of brain-tumour data (2 is edema in
BraTS and non-enhancing tumour in MSD Task01; 3 is enhancing in MSD and non-enhancing in BraTS
2013; BraTS 2018-2021 have no 3 and label enhancing tumour 4), so every label map is read with
its convention, checked against it (:func:`check_labels`), translated between conventions
(:func:`convert_labels`), and turned into the regions BraTS scores (:func:`region_masks`: whole
tumour, tumour core, enhancing tumour).

- BraTS 2013 (Menze et al. 2015, IEEE TMI 34:1993-2024): 1 necrosis, 2 edema, 3 non-enhancing
  tumour, 4 enhancing tumour.
- BraTS 2018-2021 (Bakas et al. 2018, arXiv:1811.02629): 1 necrotic / non-enhancing core,
  2 edema, 4 enhancing tumour.
- BraTS 2023: 1 necrotic core, 2 edema, 3 enhancing tumour (regions only).
- MSD Task01 (Simpson et al. 2019, arXiv:1902.09063): 1 edema, 2 non-enhancing tumour,
  3 enhancing tumour.
"""

from __future__ import annotations

import numpy as np

from labkit.errors import LabelValueError

__all__ = [
    "CONVENTION_LABELS",
    "REGION_CONVENTIONS",
    "check_convention",
    "check_labels",
    "convert_labels",
    "region_masks",
    "stray_labels",
]

#: What each label value means, per convention (0 is background in all of them).
CONVENTION_LABELS: dict[str, dict[int, str]] = {
    "brats2013": {1: "necrosis", 2: "edema", 3: "non-enhancing", 4: "enhancing"},
    "brats2018": {1: "necrotic/non-enhancing", 2: "edema", 4: "enhancing"},
    "msd_task01": {1: "edema", 2: "non-enhancing", 3: "enhancing"},
}

#: The value each convention gives the four tumour tissues (necrosis, edema, non-enhancing,
#: enhancing): the table :func:`convert_labels` translates through.
_TISSUE_VALUES: dict[str, tuple[int, int, int, int]] = {
    "brats2013": (1, 2, 3, 4),
    "brats2018": (1, 2, 1, 4),
    "msd_task01": (2, 1, 2, 3),
}


#: Label values of tumour regions per convention: whole tumour (WT), tumour core (TC), enhancing
#: tumour (ET). ``labels`` lists every tumour label value the convention uses.
REGION_CONVENTIONS: dict[str, dict[str, tuple[int, ...]]] = {
    # BraTS 2013: 1 necrosis, 2 edema, 3 non-enhancing tumour, 4 enhancing tumour
    "brats2013": {"labels": (1, 2, 3, 4), "WT": (1, 2, 3, 4), "TC": (1, 3, 4), "ET": (4,)},
    # BraTS 2018-2021: 1 necrotic/non-enhancing core, 2 edema, 4 enhancing tumour
    "brats2018": {"labels": (1, 2, 4), "WT": (1, 2, 4), "TC": (1, 4), "ET": (4,)},
    # BraTS 2023: 1 necrotic core, 2 edema, 3 enhancing tumour
    "brats2023": {"labels": (1, 2, 3), "WT": (1, 2, 3), "TC": (1, 3), "ET": (3,)},
    # MSD Task01: 1 edema, 2 non-enhancing tumour, 3 enhancing tumour
    "msd_task01": {"labels": (1, 2, 3), "WT": (1, 2, 3), "TC": (2, 3), "ET": (3,)},
}


def check_convention(convention: str) -> None:
    """Refuse a convention name that is not a key of :data:`CONVENTION_LABELS`."""
    if convention not in CONVENTION_LABELS:
        raise ValueError(
            f"unknown label convention {convention!r}; expected one of {sorted(CONVENTION_LABELS)}."
        )


def check_labels(labels: np.ndarray, convention: str, source: str = "<array>") -> None:
    """Check that a label map only holds values of a convention.

    Args:
        labels: Integer label map ``(x, y, z)``.
        convention: A key of :data:`CONVENTION_LABELS`.
        source: The file, for the message.

    Raises:
        LabelValueError: If a value is not 0 or one of the convention's labels; the message says
            which conventions the values found would fit.
    """
    check_convention(convention)
    stray, fits, found = stray_labels(labels, convention)
    if stray:
        raise LabelValueError(
            f"{source} holds label values {stray} that the {convention} convention does not use "
            f"(it uses {sorted(CONVENTION_LABELS[convention])}; found {found}). Conventions these "
            f"values fit: {fits or 'none'}. Give the convention of this data: "
            "`labkit train brats ... --set convention=NAME`, or load_brats(..., convention=NAME)."
        )


def convert_labels(labels: np.ndarray, source: str, target: str) -> np.ndarray:
    """Translate a label map from one convention to another.

    BraTS 2013's five classes map onto the others (necrosis and non-enhancing tumour merge into
    BraTS 2018's label 1 and MSD's label 2); between BraTS 2018 and MSD Task01 every class has a
    counterpart. Nothing maps back to BraTS 2013: its necrosis and non-enhancing classes cannot be
    told apart once merged.

    Args:
        labels: Integer label map in ``source``.
        source: Its convention.
        target: The convention wanted.

    Returns:
        uint8 label map in ``target``.

    Raises:
        LabelValueError: If ``labels`` holds values ``source`` does not use.
        ValueError: For an unknown convention, or a conversion to BraTS 2013 from another.
    """
    check_convention(source)
    check_convention(target)
    check_labels(labels, source)
    if target == "brats2013" and source != "brats2013":
        raise ValueError(
            f"cannot convert {source} labels to brats2013: necrosis and non-enhancing tumour are "
            "one class in the other conventions and cannot be split again."
        )
    table = dict(zip(_TISSUE_VALUES[source], _TISSUE_VALUES[target], strict=True))
    out = np.zeros(np.shape(labels), dtype=np.uint8)
    for value, new in table.items():
        out[labels == value] = new
    return out


def stray_labels(label_map: np.ndarray, convention: str) -> tuple[list[int], list[str], list[int]]:
    """The tumour label values of a map that a convention does not use, and the conventions of
    :data:`REGION_CONVENTIONS` that use every value found.

    Args:
        label_map: Integer labels (any shape).
        convention: A key of :data:`REGION_CONVENTIONS`.

    Returns:
        ``(stray values, sorted; fitting conventions, in table order; every non-zero value
        found, sorted)``; the first two are empty lists when nothing is wrong (or nothing is
        labelled).
    """
    values = {int(v) for v in np.unique(label_map)} - {0}
    stray = sorted(values - set(REGION_CONVENTIONS[convention]["labels"]))
    if not stray:
        return [], [], sorted(values)
    fits = [name for name, c in REGION_CONVENTIONS.items() if values <= set(c["labels"])]
    return stray, fits, sorted(values)


def region_masks(label_map: np.ndarray, convention: str) -> dict[str, np.ndarray]:
    """Whole tumour, tumour core and enhancing tumour masks from a tumour label map.

    Args:
        label_map: Integer labels ``(x, y, z)``.
        convention: A key of :data:`REGION_CONVENTIONS` (``brats2013``, ``brats2018``,
            ``brats2023``, ``msd_task01``).

    Returns:
        ``{"WT", "TC", "ET"}`` bool masks.

    Raises:
        LabelValueError: If the map holds tumour labels the convention does not use, which is
            what happens when 1/2/3 (MSD, BraTS 2023) and 1/2/4 (BraTS 2018-21) maps are mixed up
            and a region would silently come out empty.
    """
    if convention not in REGION_CONVENTIONS:
        raise ValueError(
            f"unknown convention {convention!r}; expected one of {sorted(REGION_CONVENTIONS)}."
        )
    conv = REGION_CONVENTIONS[convention]
    stray, fits, values = stray_labels(label_map, convention)
    if stray:
        raise LabelValueError(
            f"label values {stray} are not tumour labels of the {convention} convention "
            f"{conv['labels']}; found {values}. The regions would come out wrong or empty. "
            f"Conventions these values fit: {fits or 'none'}; pass the convention of the data "
            "(the label map of the dataset the model was trained on)."
        )
    return {region: np.isin(label_map, conv[region]) for region in ("WT", "TC", "ET")}
