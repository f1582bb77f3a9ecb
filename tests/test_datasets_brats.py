"""Brain-tumour layouts and conventions: tiny folders written by hand, the real BraTS 2013
sample when present, and a twin subject in both layouts."""

import json

import numpy as np
import pytest

from labkit.datasets import brats
from labkit.datasets.brats import (
    load_brats,
    load_brats_case,
    write_brats_twin,
)
from labkit.datasets.msd import write_msd
from labkit.errors import DatasetLayoutError, LabelValueError
from labkit.intensity import brain_mask
from labkit.io import load_nifti, save_nifti
from labkit.labels import (
    CONVENTION_LABELS,
    REGION_CONVENTIONS,
    check_labels,
    convert_labels,
    region_masks,
)
from labkit.phantoms.tumour import TWIN_SHAPE
from labkit.spatial import reorient
from labkit.volume import orientation

AFFINE = np.diag([-1.0, -1.0, 1.0, 1.0])


def _subject(folder, cid, modalities, seg):
    """Write one BraTS subject folder; modality ``k`` holds the constant ``k + 1`` in a brain
    of 2x2x2 voxels (background 0)."""
    for k, suffix in enumerate(modalities):
        image = np.zeros((4, 4, 3), np.float32)
        image[1:3, 1:3, 1:] = k + 1
        save_nifti(folder / cid / f"{cid}_{suffix}.nii.gz", image, AFFINE)
    if seg is not None:
        save_nifti(folder / cid / f"{cid}_seg.nii.gz", np.asarray(seg, np.uint8), AFFINE)


def _seg(*values):
    seg = np.zeros((4, 4, 3), np.uint8)
    seg.flat[: len(values)] = values
    return seg


def test_conventions_agree_with_the_region_definitions():
    for name, labels in CONVENTION_LABELS.items():
        assert tuple(sorted(labels)) == REGION_CONVENTIONS[name]["labels"]


def test_convert_labels_by_hand():
    five = np.array([0, 1, 2, 3, 4])
    np.testing.assert_array_equal(convert_labels(five, "brats2013", "brats2018"), [0, 1, 2, 1, 4])
    np.testing.assert_array_equal(convert_labels(five, "brats2013", "msd_task01"), [0, 2, 1, 2, 3])
    bt = np.array([0, 1, 2, 4])
    msd = convert_labels(bt, "brats2018", "msd_task01")
    np.testing.assert_array_equal(msd, [0, 2, 1, 3])
    np.testing.assert_array_equal(convert_labels(msd, "msd_task01", "brats2018"), bt)
    with pytest.raises(ValueError, match="cannot convert brats2018 labels to brats2013"):
        convert_labels(bt, "brats2018", "brats2013")
    with pytest.raises(ValueError, match="unknown label convention 'brats'"):
        convert_labels(bt, "brats", "msd_task01")


def test_check_labels_names_the_conventions_that_fit():
    check_labels(np.array([0, 1, 2, 4]), "brats2018")
    msd = np.array([0, 1, 2, 3])
    with pytest.raises(LabelValueError, match=r"values \[3\] .*brats2018.*fit: \['brats2013', "):
        check_labels(msd, "brats2018", "x.nii.gz")
    with pytest.raises(LabelValueError, match=r"values \[4\] .*fit: \['brats2013', 'brats2018'\]"):
        check_labels(np.array([0, 1, 4]), "msd_task01")


def test_brain_mask_uses_the_corner_value_as_background():
    image = np.full((3, 3, 2, 2), -3.6, np.float32)
    image[1, 1, 0, 0] = 0.5
    image[2, 2, 1, 1] = -1.0
    mask = brain_mask(image)
    assert mask.sum() == 2 and mask[1, 1, 0] and mask[2, 2, 1]


def test_brats_folders_load_the_modalities_asked_for(tmp_path):
    root = tmp_path / "BraTS2013"
    _subject(root, "BraTS2013_pat0001", ("flair", "t1ce"), _seg(1, 2, 3, 4))
    _subject(root, "BraTS2013_pat0002", ("t1ce", "flair", "t2"), _seg(2))
    # T2 is missing from pat0001: refused rather than dropped for both (sweep N28)
    with pytest.raises(
        DatasetLayoutError, match=r"T2 missing in 1 of 2 case\(s\): BraTS2013_pat0001"
    ):
        load_brats(root)
    cohort = load_brats(root, ["FLAIR", "T1Gd"])
    assert cohort.layout == "brats" and cohort.convention == "brats2013"
    assert cohort.modalities == ("FLAIR", "T1Gd")
    image, label = load_brats_case(cohort.cases[1], cohort.convention)
    assert image.shape == (4, 4, 3, 2)
    # pat0002 wrote t1ce first (constant 1) and flair second (constant 2): FLAIR comes first
    assert image.array[1, 1, 1].tolist() == [2.0, 1.0]
    assert sorted(np.unique(label.array)) == [0, 2]
    with pytest.raises(DatasetLayoutError, match=r"1 case\(s\) .*pat0001 has only \['FLAIR', "):
        load_brats(root, ["FLAIR", "T1Gd", "T2"])
    with pytest.raises(DatasetLayoutError, match="unknown modalities"):
        load_brats(root, ["PD"])


def test_a_label_outside_the_convention_is_an_error_not_an_empty_class(tmp_path):
    root = tmp_path / "data"
    _subject(root, "BraTS2021_00000", ("flair", "t1", "t1ce", "t2"), _seg(1, 2, 3))
    cohort = load_brats(root)
    assert cohort.convention == "brats2018" and cohort.modalities == brats.MODALITIES
    with pytest.raises(
        LabelValueError, match=r"BraTS2021_00000_seg.nii.gz holds label values \[3\]"
    ):
        load_brats_case(cohort.cases[0], cohort.convention)
    _image, label = load_brats_case(
        load_brats(root, convention="msd_task01").cases[0], "msd_task01"
    )
    assert label.array.max() == 3


def test_msd_layout_picks_channels_by_name(tmp_path):
    image = np.zeros((4, 4, 3, 4), np.float32)
    image[1:3, 1:3, 1:] = [10.0, 20.0, 30.0, 40.0]
    write_msd(
        tmp_path / "Task01_BrainTumour",
        "BRATS",
        ("FLAIR", "T1w", "t1gd", "T2w"),
        {0: "background", 1: "edema", 2: "non-enhancing tumor", 3: "enhancing tumour"},
        [("BRATS_001", image, _seg(1, 2, 3), AFFINE)],
    )
    cohort = load_brats(tmp_path / "Task01_BrainTumour", ["T1Gd", "FLAIR"])
    assert (cohort.layout, cohort.convention) == ("msd", "msd_task01")
    loaded, _label = load_brats_case(cohort.cases[0], cohort.convention)
    assert loaded.array[1, 1, 1].tolist() == [30.0, 10.0]
    assert cohort.labels == {1: "edema", 2: "non-enhancing", 3: "enhancing"}


def test_a_folder_of_neither_layout_says_what_it_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"no brain-tumour cases .*t1ce"):
        load_brats(tmp_path / "empty")


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    """The same two twin subjects written in both layouts."""
    root = tmp_path_factory.mktemp("brats")
    return {
        layout: write_brats_twin(root / layout, n_cases=2, seed=3, layout=layout)
        for layout in brats.TWIN_LAYOUTS
    }


def test_the_twin_is_written_in_both_layouts(twins):
    msd, folders = twins["msd"], twins["brats"]
    meta = json.loads((msd.root / "dataset.json").read_text())
    assert meta["modality"] == {"0": "FLAIR", "1": "T1w", "2": "t1gd", "3": "T2w"}
    assert (msd.convention, folders.convention) == ("msd_task01", "brats2018")
    assert folders.case_ids == ["BraTS2021_00000", "BraTS2021_00001"]
    assert sorted(p.name for p in (folders.root / "BraTS2021_00000").iterdir()) == [
        f"BraTS2021_00000_{s}.nii.gz" for s in ("flair", "seg", "t1", "t1ce", "t2")
    ]
    for a, b in zip(msd.cases, folders.cases, strict=True):
        image_a, label_a = load_brats_case(a, msd.convention)
        image_b, label_b = load_brats_case(b, folders.convention)
        np.testing.assert_array_equal(image_a.array, image_b.array)
        assert set(np.unique(label_b.array)) <= {0, 1, 2, 4}
        regions_a = region_masks(label_a.array, msd.convention)
        regions_b = region_masks(label_b.array, folders.convention)
        for name in ("WT", "TC", "ET"):  # one tumour, whichever numbers name its parts
            np.testing.assert_array_equal(regions_a[name], regions_b[name])


def test_a_twin_subject_looks_like_brats(twins):
    with_rim = 0
    for case in twins["brats"].cases:
        image, label = load_brats_case(case, "brats2018")
        assert image.shape == (*TWIN_SHAPE, 4) and image.spacing == (2.0, 2.0, 2.0)
        assert orientation(image.affine) == "LPS"  # stored as BraTS stores it
        assert orientation(reorient(image).affine) == "RAS"
        brain = brain_mask(image.array)
        assert not image.array[~brain].any()  # skull-stripped: zero outside the brain
        flair, t1gd = image.array[..., 0], image.array[..., 2]
        edema, enhancing = label.array == 2, label.array == 4
        normal = brain & (label.array == 0)
        assert edema.sum() * 8e-3 > 5.0  # millilitres
        assert np.median(flair[edema]) > 1.3 * np.median(flair[normal])
        if enhancing.any():  # a quarter of the tumours do not enhance
            with_rim += 1
            assert np.median(t1gd[enhancing]) > 1.3 * np.median(t1gd[edema])
    assert with_rim >= 1  # so the enhancement was checked at least once


def test_real_brats2013_loads_with_its_two_modalities(brats2013_root):
    cohort = load_brats(brats2013_root)
    assert cohort.modalities == ("FLAIR", "T1Gd") and cohort.convention == "brats2013"
    assert len(cohort.cases) == 4
    image, label = load_brats_case(cohort.cases[0], cohort.convention)
    assert image.shape == (240, 240, 155, 2)
    assert set(np.unique(label.array)) <= {0, 1, 2, 3, 4}
    with pytest.raises(DatasetLayoutError, match=r"4 case\(s\) .*missing \['T1', 'T2'\]"):
        load_brats(brats2013_root, brats.MODALITIES)
    # the brain of the z-scored redistribution is what differs from its constant background
    mask = load_nifti(
        brats2013_root / cohort.case_ids[0] / f"{cohort.case_ids[0]}_brainmask.nii.gz"
    )
    agree = (brain_mask(image.array) == (mask.array > 0)).mean()
    assert agree > 0.99, agree


def test_a_label_outside_the_convention_names_the_option_that_fixes_it():
    labels = np.zeros((4, 4, 4), np.uint8)
    labels[1, 1, 1] = 4  # BraTS 2018's enhancing tumour, read as MSD Task01 (1, 2, 3)
    with pytest.raises(LabelValueError, match=r"seg\.nii\.gz holds label values \[4\].*--set "):
        check_labels(labels, "msd_task01", "case_seg.nii.gz")
    check_labels(labels, "brats2018")
