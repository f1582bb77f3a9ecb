"""The INSTANCE layout and the haemorrhage twin."""

import json

import numpy as np
import pytest

from labkit.ct import intracranial_mask
from labkit.datasets import load_case, load_instance, write_ich_twin
from labkit.errors import DatasetLayoutError
from labkit.io import save_nifti
from labkit.phantoms.haemorrhage import HAEMORRHAGE_KINDS, ich_head, thick_slices


def test_loader_reads_data_and_label_folders(tmp_path):
    for name in ("017", "003"):
        save_nifti(tmp_path / "data" / f"{name}.nii.gz", np.zeros((6, 6, 3), np.float32), np.eye(4))
        save_nifti(tmp_path / "label" / f"{name}.nii.gz", np.zeros((6, 6, 3), np.uint8), np.eye(4))
    cohort = load_instance(tmp_path)
    assert cohort.case_ids == ["003", "017"] and cohort.cases[0].modalities == ("CT",)
    save_nifti(tmp_path / "data" / "020.nii.gz", np.zeros((6, 6, 3), np.float32), np.eye(4))
    with pytest.raises(
        DatasetLayoutError, match=r"images without a mask \['020'\].*data/ and label/"
    ):
        load_instance(tmp_path)
    with pytest.raises(DatasetLayoutError, match=r"needs data/ and label/ .*found 0 image"):
        load_instance(tmp_path / "nothing")


def test_thick_slices_average_a_slab():
    fine = np.zeros((1, 1, 21), np.float32)
    fine[..., 10] = 1.0  # a 2 mm structure in 2 mm slices
    thick = thick_slices(fine, 2.0, 5.0)
    assert thick.shape == (1, 1, 9)  # 40 mm / 5 mm + 1
    # the structure (at 20 mm) falls into the slice at 20 mm, averaged down by the slab
    assert np.argmax(thick[0, 0]) == 4 and 0.2 < thick[0, 0, 4] < 0.6
    with pytest.raises(ValueError, match=r"slice_mm \(1.0\) must be at least the input spacing"):
        thick_slices(fine, 2.0, 1.0)


@pytest.mark.parametrize("kind", list(HAEMORRHAGE_KINDS))
def test_each_kind_of_bleed_is_blood_inside_the_skull(kind):
    ct, mask, affine, drawn = ich_head(np.random.default_rng(4), kind=kind)
    assert drawn == kind and ct.shape == mask.shape == (132, 132, 44)
    np.testing.assert_allclose(np.abs(np.diag(affine)[:3]), (2.0, 2.0, 5.0))
    assert set(np.unique(mask)) == {0, 1}
    # HU: air, bone, and blood brighter than the brain around it
    assert ct.min() < -900 and ct.max() > 1000
    blood = np.median(ct[mask == 1])
    brain = intracranial_mask(ct, (2.0, 2.0, 5.0))
    tissue = np.median(ct[brain & (mask == 0) & (ct > 15) & (ct < 55)])
    assert blood > tissue + 15, (blood, tissue)
    # the bleed is inside the skull mask; a crescent against the bone loses the voxels that thick
    # slices average with bone (above 100 HU), which the skull removal takes out
    assert np.mean(brain[mask == 1]) > (0.7 if kind == "subdural" else 0.95)
    volume_ml = mask.sum() * 2 * 2 * 5 / 1000
    assert (0.05 < volume_ml < 1.5) if kind == "tiny" else (1.0 < volume_ml < 80), volume_ml


def test_twin_writes_the_instance_layout(tmp_path):
    cohort = write_ich_twin(tmp_path / "INSTANCE", n_cases=2, seed=1)
    assert cohort.case_ids == ["001", "002"]
    case = load_case(cohort.cases[0])
    assert case.image.shape == (132, 132, 44, 1) and case.label.array.max() == 1
    kinds = json.loads((tmp_path / "INSTANCE" / "kinds.json").read_text())
    assert set(kinds) == {"001", "002"} and set(kinds.values()) <= set(HAEMORRHAGE_KINDS)
    with pytest.raises(ValueError, match="n_cases must be at least 1"):
        write_ich_twin(tmp_path / "x", n_cases=0)
    with pytest.raises(ValueError, match=r"unknown haemorrhage kind 'epidural'"):
        ich_head(np.random.default_rng(0), kind="epidural")
