"""Each dataset declares its layout once: the twin writer writes it, the loader reads it,
``find_layout`` recognises it, and ``labkit evaluate --ref`` scores against it."""

import re
import shutil

import numpy as np
import pytest

from labkit.datasets import DATASET_LAYOUTS, brats, find_layout, ich, msd, phh, wmh
from labkit.datasets.layout import Layout
from labkit.evaluate_folder import evaluate_folders
from labkit.io import save_nifti

#: Each layout, a tiny twin in it, and the label names its references are scored under.
TWINS = {
    "msd": (
        msd.LAYOUT,
        lambda r: msd.write_msd_twin(r, "hippocampus", n_cases=2),
        {"Anterior", "Posterior"},
    ),
    "instance": (ich.LAYOUT, lambda r: ich.write_ich_twin(r, n_cases=2), {"haemorrhage"}),
    "phh": (phh.LAYOUT, lambda r: phh.write_phh_twin(r, n_cases=2), {"csf"}),
    "brats": (
        brats.LAYOUT,
        lambda r: brats.write_brats_twin(r, n_cases=2, layout="brats"),
        {"necrotic/non-enhancing", "edema", "enhancing"},
    ),
    "wmh": (wmh.LAYOUT, lambda r: wmh.write_wmh_twin(r, n_per_site=1), {"wmh"}),
}


def _pattern(template: str) -> re.Pattern:
    """A declared path as a regular expression: each ``{field}`` one or more path parts."""
    return re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(template)) + "$")


def test_every_layout_has_a_twin_here_and_is_tried_by_find_layout():
    assert {id(t[0]) for t in TWINS.values()} == {id(layout) for layout in DATASET_LAYOUTS}


@pytest.mark.parametrize("name", TWINS)
def test_a_twin_is_written_read_found_and_scored_as_its_layout_declares(tmp_path, name):
    layout, write, names = TWINS[name]
    root = tmp_path / name
    write(root)
    assert find_layout(root) is layout
    cohort = layout.load(root)
    labelled = [c for c in cohort.cases if c.label is not None]
    assert len(labelled) >= 2
    for case in labelled:  # the writer put the files where the declaration says
        assert _pattern(layout.label).match(case.label.relative_to(root).as_posix()), case.label
        for image in case.images:
            assert _pattern(layout.image).match(image.relative_to(root).as_posix()), image
    pred = tmp_path / "pred"
    pred.mkdir()
    for case in labelled:  # a perfect prediction of every case
        shutil.copy(case.label, pred / f"{case.case_id}.nii.gz")
    rows, summary = evaluate_folders(pred, root, tmp_path / "m.csv")
    assert {r["label"] for r in summary} == names
    assert {r["case"] for r in rows} == {c.case_id for c in labelled}
    scored = [r["dice"] for r in rows if not np.isnan(r["dice"])]
    assert scored and all(d == 1.0 for d in scored)
    if layout.lesions:  # the WMH challenge's lesion columns and sites come with its layout
        assert "lesion_f1" in rows[0] and "site" in rows[0]


def test_a_plain_folder_has_no_layout_and_a_layout_fills_its_paths(tmp_path):
    save_nifti(tmp_path / "a.nii.gz", np.zeros((2, 2, 2), np.uint8), np.eye(4))
    assert find_layout(tmp_path) is None
    assert find_layout(tmp_path / "absent") is None
    layout = Layout("a toy folder", "img/{case}.nii.gz", "seg/{case}.nii.gz", ("seg/*",), print)
    assert layout.label_file(tmp_path, case="a") == tmp_path / "seg" / "a.nii.gz"
    assert (layout.image_dir, layout.label_dir) == ("img", "seg")
    assert wmh.LAYOUT.image_dir == "" and brats.LAYOUT.label_dir == ""
    assert layout.describe() == "a toy folder (img/{case}.nii.gz and seg/{case}.nii.gz)"
    with pytest.raises(KeyError, match="case"):
        layout.image_file(tmp_path, subject="a")
