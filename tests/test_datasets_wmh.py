"""The WMH challenge layout and its three-site twin."""

import numpy as np
import pytest

from labkit.datasets import load_case
from labkit.datasets.wmh import IGNORE_LABEL, load_wmh, write_wmh_twin
from labkit.errors import DatasetLayoutError
from labkit.io import save_nifti
from labkit.phantoms.hyperintensities import SITES, wmh_subject


def _subject(root, site, subject, t1=True, label=True):
    folder = root / site / subject
    save_nifti(
        folder / "pre" / "FLAIR.nii.gz", np.arange(32, dtype=np.float32).reshape(4, 4, 2), np.eye(4)
    )
    if t1:
        save_nifti(
            folder / "pre" / "T1.nii.gz",
            np.arange(32, dtype=np.float32).reshape(4, 4, 2),
            np.eye(4),
        )
    if label:
        save_nifti(folder / "wmh.nii.gz", np.zeros((4, 4, 2), np.uint8), np.eye(4))


def test_loader_reads_sites_and_subjects_in_numeric_order(tmp_path):
    for site, subject in (("Utrecht", "11"), ("Utrecht", "2"), ("Singapore", "50")):
        _subject(tmp_path, site, subject)
    _subject(tmp_path, "Amsterdam/GE3T", "100", label=False)  # the later releases' nesting
    cohort = load_wmh(tmp_path)
    assert cohort.case_ids == ["Amsterdam_GE3T_100", "Singapore_50", "Utrecht_2", "Utrecht_11"]
    first = cohort.cases[0]
    assert (first.meta["site"], first.meta["subject"]) == ("Amsterdam/GE3T", "100")
    assert first.meta["labels"] == (1, 2) and first.label is None
    assert cohort.cases[2].images[0].name == "FLAIR.nii.gz"
    both = load_wmh(tmp_path, ("FLAIR", "T1"))
    assert load_case(both.cases[1]).image.shape == (4, 4, 2, 2)
    # one site's folder reads too: the site is the folder's name
    assert load_wmh(tmp_path / "Utrecht").cases[0].meta["site"] == "Utrecht"


def test_loader_errors_name_the_problem(tmp_path):
    with pytest.raises(
        DatasetLayoutError, match=r"no subject folders in .*\{site\}/\{subject\}/pre"
    ):
        load_wmh(tmp_path)
    _subject(tmp_path, "Utrecht", "0", t1=False)
    assert load_wmh(tmp_path).case_ids == ["Utrecht_0"]
    with pytest.raises(DatasetLayoutError, match=r"Utrecht/0 lacks .*T1.nii.gz"):
        load_wmh(tmp_path, ("FLAIR", "T1"))
    with pytest.raises(DatasetLayoutError, match=r"unknown WMH modalities \['T2'\]"):
        load_wmh(tmp_path, ("FLAIR", "T2"))


@pytest.mark.parametrize("site", ["Singapore"])
def test_a_twin_subject_is_imaged_as_its_site_images(site):
    protocol = SITES[site]
    light = wmh_subject(np.random.default_rng(3), site, load=0.2)
    heavy = wmh_subject(np.random.default_rng(3), site, load=0.8)
    for flair, t1, labels, affine in (light, heavy):
        assert flair.shape == t1.shape == labels.shape == protocol.shape
        np.testing.assert_allclose(np.diag(affine)[:3], protocol.spacing)
        assert set(np.unique(labels)) <= {0, 1, IGNORE_LABEL}
        head = flair > 0.1 * np.percentile(flair, 99)
        # WMH: brighter than the head on FLAIR, darker than white matter (T1's brightest) on T1
        assert np.median(flair[labels == 1]) > 1.5 * np.median(flair[head])
        assert np.median(t1[labels == 1]) < 0.85 * np.percentile(t1[head], 90)
        assert 0.2 * protocol.scale < np.percentile(flair, 99) < 2 * protocol.scale
    voxel_ml = np.prod(protocol.spacing) / 1000
    volumes = [np.count_nonzero(s[2] == 1) * voxel_ml for s in (light, heavy)]
    assert 0.5 < volumes[0] < 15 and 30 < volumes[1] < 150, volumes
    with pytest.raises(ValueError, match=r"unknown WMH twin site 'Leiden'"):
        wmh_subject(np.random.default_rng(0), "Leiden")


def test_twin_writes_the_challenge_layout(tmp_path):
    cohort = write_wmh_twin(tmp_path / "WMH", n_per_site=1, seed=2, sites=["Singapore", "GE3T"])
    assert cohort.case_ids == ["GE3T_100", "Singapore_50"]
    for name in ("pre/FLAIR.nii.gz", "pre/T1.nii.gz", "wmh.nii.gz"):
        assert (tmp_path / "WMH" / "Singapore" / "50" / name).is_file()
    case = load_case(cohort.cases[1])
    assert case.image.shape == (*SITES["Singapore"].shape, 1)
    np.testing.assert_allclose(case.image.spacing, SITES["Singapore"].spacing)
    assert case.label.array.max() >= 1
    with pytest.raises(ValueError, match=r"n_per_site must be between 1 and 50; got 0"):
        write_wmh_twin(tmp_path / "x", n_per_site=0)
    with pytest.raises(ValueError, match=r"unknown WMH twin sites \['Leiden'\]"):
        write_wmh_twin(tmp_path / "x", sites=["Leiden"])
