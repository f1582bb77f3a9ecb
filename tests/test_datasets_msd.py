import json
import os
import sys

import numpy as np
import pytest

from labkit.datasets import (
    cached_cohort,
    draw_cases,
    load_case,
    load_msd,
    write_msd,
    write_msd_twin,
)
from labkit.errors import DatasetLayoutError, ShapeError
from labkit.io import save_nifti


def _tiny_cases(rng, n=3, channels=1):
    shape = (6, 5, 4) if channels == 1 else (6, 5, 4, channels)
    affine = np.diag([1.5, 1.5, 2.0, 1.0])
    for i in range(n):
        yield (
            f"case_{i:02d}",
            rng.random(shape).astype(np.float32),
            rng.integers(0, 3, (6, 5, 4)),
            affine,
        )


def test_write_then_load_round_trip(tmp_path, rng):
    ds = write_msd(
        tmp_path / "Task99_Tiny",
        "Tiny",
        ["MRI"],
        {0: "background", 1: "a", 2: "b"},
        _tiny_cases(rng),
    )
    assert ds.name == "Tiny" and ds.modalities == ("MRI",)
    assert ds.labels == {0: "background", 1: "a", 2: "b"}
    assert ds.case_ids == ["case_00", "case_01", "case_02"]
    meta = json.loads((tmp_path / "Task99_Tiny" / "dataset.json").read_text())
    assert meta["numTraining"] == 3 and meta["training"][0]["image"] == "./imagesTr/case_00.nii.gz"
    loaded = load_case(ds.cases[1])
    assert loaded.image.shape == (6, 5, 4, 1) and loaded.image.array.dtype == np.float32
    assert loaded.label.array.dtype == np.uint8 and loaded.image.spacing == (1.5, 1.5, 2.0)


def test_multimodal_4d_and_test_cases(tmp_path, rng):
    cases = list(_tiny_cases(rng, 2, channels=4))
    cases.append(("unlabelled", rng.random((6, 5, 4, 4)).astype(np.float32), None, np.eye(4)))
    ds = write_msd(
        tmp_path / "T",
        "Brain",
        ["FLAIR", "T1w", "t1gd", "T2w"],
        {0: "bg", 1: "edema", 2: "core"},
        cases,
    )
    assert ds.modalities == ("FLAIR", "T1w", "t1gd", "T2w")
    assert load_case(ds.cases[0]).image.shape == (6, 5, 4, 4)
    assert [c.case_id for c in ds.test_cases] == ["unlabelled"]
    test = load_case(ds.test_cases[0])
    assert test.label is None and test.image.shape == (6, 5, 4, 4)


def test_missing_files_listed_in_dataset_json(tmp_path, rng):
    root = tmp_path / "T"
    write_msd(root, "Tiny", ["MRI"], {0: "bg", 1: "x"}, _tiny_cases(rng, 3))
    (root / "labelsTr" / "case_01.nii.gz").unlink()
    (root / "imagesTr" / "case_02.nii.gz").unlink()
    with pytest.raises(
        DatasetLayoutError,
        match=r"lists 2 file\(s\) that are not on disk .*labelsTr/case_01\.nii\.gz",
    ):
        load_msd(root)


def test_missing_or_broken_dataset_json(tmp_path):
    with pytest.raises(DatasetLayoutError, match=r"no dataset\.json in"):
        load_msd(tmp_path)
    (tmp_path / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetLayoutError, match="is not valid JSON"):
        load_msd(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"name": "x", "labels": {}}))
    with pytest.raises(DatasetLayoutError, match=r"lacks the key\(s\) \['modality', 'training'\]"):
        load_msd(tmp_path)


def test_channel_count_must_match_modalities(tmp_path, rng):
    ds = write_msd(
        tmp_path / "T", "Two", ["FLAIR", "T1"], {0: "bg", 1: "x"}, _tiny_cases(rng, 1, channels=3)
    )
    with pytest.raises(
        ShapeError, match=r"has 3 channel\(s\) .* but the dataset lists 2 modalities"
    ):
        load_case(ds.cases[0])


def test_label_on_another_grid_is_rejected(tmp_path, rng):
    ds = write_msd(tmp_path / "T", "Tiny", ["MRI"], {0: "bg", 1: "x"}, _tiny_cases(rng, 1))
    save_nifti(ds.cases[0].label, np.zeros((6, 5, 3), np.uint8), np.diag([1.5, 1.5, 2.0, 1.0]))
    with pytest.raises(
        ShapeError,
        match=r"has spatial shape \(6, 5, 4\) but label .*case_00\.nii\.gz has \(6, 5, 3\)",
    ):
        load_case(ds.cases[0])


@pytest.mark.shared_data
def test_real_hippocampus_task(hippocampus_root):
    ds = load_msd(hippocampus_root)
    assert len(ds.cases) == 200
    assert ds.modalities == ("MRI",)
    assert ds.labels == {0: "background", 1: "Anterior", 2: "Posterior"}
    dtypes = set()
    for rec in ds.cases[::10]:
        case = load_case(rec)
        assert case.image.spacing == pytest.approx((1.0, 1.0, 1.0))
        assert set(np.unique(case.label.array)) <= {0, 1, 2}
        dtypes.add(case.label.array.dtype)
    assert dtypes == {np.dtype(np.uint8)}


@pytest.mark.shared_data
def test_real_hippocampus_float_labels_are_read_as_integers(hippocampus_root):
    import nibabel as nib

    ds = load_msd(hippocampus_root)
    floats = [c for c in ds.cases if nib.load(c.label).get_data_dtype().kind == "f"]
    assert floats, "the README says two label files are float32"
    for rec in floats:
        assert load_case(rec).label.array.dtype == np.uint8


@pytest.mark.parametrize(
    "task,labels", [("hippocampus", {0, 1, 2}), ("liver", {0, 1, 2}), ("spleen", {0, 1})]
)
def test_twins_load_like_real_data(tmp_path, task, labels):
    ds = write_msd_twin(tmp_path / task, task, n_cases=3, seed=7)
    assert len(ds.cases) == 3
    found = set()
    for rec in ds.cases:
        case = load_case(rec)
        found |= set(np.unique(case.label.array).tolist())
    assert found == labels


def test_twin_cohort_is_deterministic_and_reused(tmp_path):
    a = write_msd_twin(tmp_path / "a", "spleen", n_cases=2, seed=3)
    b = write_msd_twin(tmp_path / "b", "spleen", n_cases=3, seed=3)
    for x, y in zip(a.cases, b.cases[:2], strict=True):
        np.testing.assert_array_equal(load_case(x).image.array, load_case(y).image.array)
    stamp = a.cases[0].images[0].stat().st_mtime_ns
    write_msd_twin(tmp_path / "a", "spleen", n_cases=2, seed=3)
    assert a.cases[0].images[0].stat().st_mtime_ns == stamp  # reused, not rewritten
    again = write_msd_twin(tmp_path / "a", "spleen", n_cases=1, seed=4)
    assert len(again.cases) == 1  # a different spec rewrites the folder


def test_twin_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown MSD twin task 'kidney'"):
        write_msd_twin(tmp_path, "kidney")
    with pytest.raises(ValueError, match="n_cases must be at least 1"):
        write_msd_twin(tmp_path, "spleen", n_cases=0)


def test_cached_cohort_never_overwrites_foreign_folders(tmp_path):
    (tmp_path / "mine.txt").write_text("real data")
    with pytest.raises(FileExistsError, match="not empty and was not written by labkit"):
        cached_cohort(tmp_path, {"x": 1}, lambda folder: None)
    assert (tmp_path / "mine.txt").read_text() == "real data"


def _draw(rng):
    return float(rng.random()), os.getpid()


def test_draw_cases_gives_the_same_cohort_in_order_whatever_the_workers():
    serial = list(draw_cases(_draw, 7, seed=3, workers=1))
    parallel = list(draw_cases(_draw, 7, seed=3, workers=2))
    expected = [float(np.random.default_rng([3, i]).random()) for i in range(7)]
    assert [v for v, _ in serial] == expected == [v for v, _ in parallel]
    assert {pid for _, pid in serial} == {os.getpid()}
    assert os.getpid() not in {pid for _, pid in parallel}  # drawn in worker processes


def test_draw_cases_draws_in_this_process_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")  # forking TensorFlow is unsafe on macOS
    drawn = list(draw_cases(_draw, 3, seed=3, workers=2))
    assert {pid for _, pid in drawn} == {os.getpid()}
    expected = [float(np.random.default_rng([3, i]).random()) for i in range(3)]
    assert [v for v, _ in drawn] == expected


def test_draw_cases_takes_a_compound_seed():
    from labkit.datasets import draw_cases

    def first(rng):
        return float(rng.random())

    drawn = list(draw_cases(first, 2, (7, 1), workers=1))
    assert drawn == [np.random.default_rng([7, 1, i]).random() for i in range(2)]
    assert list(draw_cases(first, 2, 7, workers=1)) == list(draw_cases(first, 2, [7], workers=1))


def test_label_values_the_dataset_does_not_declare_are_refused_naming_the_file(tmp_path):
    from labkit.errors import LabelValueError

    root = tmp_path / "Task04_Hippocampus"
    label = np.zeros((8, 8, 4), np.uint8)
    label[2:4, 2:4, 1:3] = 1
    label[5, 5, 2] = 5  # a typo in a hippocampus map: labels are 0, 1, 2
    image = np.random.default_rng(0).random((8, 8, 4)).astype(np.float32)
    labels = {0: "bg", 1: "Anterior", 2: "Posterior"}
    write_msd(root, "Hippocampus", ("MRI",), labels, [("hippocampus_001", image, label, np.eye(4))])
    case = load_msd(root).cases[0]
    with pytest.raises(LabelValueError, match=r"_001\.nii\.gz holds label value\(s\) \[5\]"):
        load_case(case)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"training": ["imagesTr/a.nii.gz"]}, r"'training' must be a list of \{\"image\""),
        ({"labels": {"0": "background", "one": "x"}}, r"must be integers .*found 'one'"),
    ],
)
def test_malformed_dataset_json_is_refused_clearly(tmp_path, change, message):
    root = tmp_path / "Task04_Hippocampus"
    root.mkdir()
    meta = {"modality": {"0": "MRI"}, "labels": {"0": "background"}, "training": [], **change}
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DatasetLayoutError, match=message):
        load_msd(root)
