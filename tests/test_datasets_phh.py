import numpy as np
import pytest

from labkit.datasets import load_case
from labkit.datasets.phh import load_phh, write_phh_twin
from labkit.errors import DatasetLayoutError, ShapeError
from labkit.io import save_nifti
from labkit.phantoms.neonatal import phh_head


def _write_pair(root, pid, shape=(6, 6, 4), affine=None, mask_shape=None):
    affine = np.eye(4) if affine is None else affine
    save_nifti(
        root / "images" / f"{pid}.nii.gz",
        np.arange(np.prod(shape), dtype=np.float32).reshape(shape),
        affine,
    )
    save_nifti(root / "masks" / f"{pid}.nii.gz", np.zeros(mask_shape or shape, np.uint8), affine)


def test_loader_pairs_by_patient_id(tmp_path):
    for pid in ("p02", "p01"):
        _write_pair(tmp_path, pid)
    cohort = load_phh(tmp_path)
    assert cohort.case_ids == ["p01", "p02"]
    case = load_case(cohort.cases[0])
    assert case.image.shape == (6, 6, 4, 1) and case.label.shape == (6, 6, 4)
    assert cohort.cases[0].modalities == ("T2",)


def test_unpaired_files_are_named(tmp_path):
    _write_pair(tmp_path, "p01")
    save_nifti(
        tmp_path / "images" / "p07.nii.gz",
        np.arange(8, dtype=np.float32).reshape(2, 2, 2),
        np.eye(4),
    )
    save_nifti(tmp_path / "masks" / "p09.nii.gz", np.zeros((2, 2, 2), np.uint8), np.eye(4))
    with pytest.raises(
        DatasetLayoutError, match=r"without a mask \['p07'\], masks without an image \['p09'\]"
    ):
        load_phh(tmp_path)


def test_missing_folders(tmp_path):
    with pytest.raises(
        DatasetLayoutError, match=r"needs images/ and masks/ .* found 0 image\(s\) and 0 mask"
    ):
        load_phh(tmp_path)


def test_mismatched_grid_is_named_when_loading(tmp_path):
    _write_pair(tmp_path, "p01", mask_shape=(6, 6, 3))
    with pytest.raises(ShapeError, match=r"p01\.nii\.gz has spatial shape \(6, 6, 4\) but label"):
        load_case(load_phh(tmp_path).cases[0])


def test_phh_head_has_neonatal_contrast_and_exact_csf_mask():
    t2, mask, affine = phh_head(np.random.default_rng(0), severity=0.8)
    assert t2.shape == mask.shape and set(np.unique(mask)) == {0, 1}
    assert np.allclose(np.linalg.norm(affine[:3, :3], axis=0), 0.62 * 2)
    csf = np.median(t2[mask == 1])
    tissue = np.median(t2[(mask == 0) & (t2 > 0.3)])
    assert csf > tissue + 0.2  # CSF is the brightest tissue on T2
    share = mask.mean()
    assert 0.02 < share < 0.25


def test_severity_enlarges_the_ventricles():
    mild = phh_head(np.random.default_rng(1), severity=0.0)[1].sum()
    severe = phh_head(np.random.default_rng(1), severity=1.0)[1].sum()
    assert severe > 1.15 * mild


def test_twin_writes_the_loader_layout(tmp_path):
    cohort = write_phh_twin(tmp_path / "PHH", n_cases=3, seed=2)
    assert cohort.case_ids == ["phh000", "phh001", "phh002"]
    case = load_case(cohort.cases[1])
    assert case.label.array.max() == 1 and case.image.array.dtype == np.float32
    with pytest.raises(ValueError, match="n_cases must be at least 1"):
        write_phh_twin(tmp_path / "x", n_cases=0)
