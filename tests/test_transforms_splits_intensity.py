import numpy as np
import pytest

from labkit import intensity, splits, transforms


def test_crop_pad_resize_undo_round_trip(rng):
    x = rng.random((10, 12, 4, 2)).astype(np.float32)
    crop_x, crop = transforms.crop_to_box(x, (2, 3, 0), (9, 12, 4))
    padded, pad = transforms.pad_to_multiple(crop_x, 8, ndim=2)
    assert padded.shape == (8, 16, 4, 2) and pad.before == (0, 3) and pad.after == (1, 4)
    back = transforms.undo(padded, [crop, pad])
    np.testing.assert_array_equal(back[2:9, 3:12], x[2:9, 3:12])
    assert np.all(back[:2] == 0) and back.shape == x.shape


def test_foreground_box():
    mask = np.zeros((10, 10))
    mask[3:5, 6] = 1
    assert transforms.foreground_box(mask) == ((3, 6), (5, 7))
    assert transforms.foreground_box(mask, margin=4) == ((0, 2), (9, 10))
    with pytest.raises(ValueError, match="is empty; nothing to crop to"):
        transforms.foreground_box(np.zeros((3, 3)))


def test_resize_records_and_label_undo():
    labels = np.zeros((8, 8), np.uint8)
    labels[2:6, 2:6] = 3
    small, rec = transforms.resize(labels, (4, 4), order=0)
    assert rec == transforms.Resize(original=(8, 8), shape=(4, 4))
    np.testing.assert_array_equal(transforms.undo(small, [rec]), labels)


def test_zscore_and_window():
    img = np.stack([np.arange(8.0).reshape(2, 2, 2), np.full((2, 2, 2), 5.0)], -1)
    z = intensity.zscore(img)
    assert z[..., 0].mean() == pytest.approx(0) and z[..., 0].std() == pytest.approx(1)
    assert np.all(z[..., 1] == 0)
    mask = np.zeros((2, 2, 2), bool)
    mask[0] = True  # values 0..3: mean 1.5
    assert intensity.zscore(img, mask)[0, 0, 0, 0] == pytest.approx(-1.5 / np.std([0, 1, 2, 3]))
    np.testing.assert_allclose(
        intensity.window_scale(np.array([-100, 40, 240, 900]), -160, 240), [0.15, 0.5, 1, 1]
    )
    with pytest.raises(ValueError, match="needs low < high"):
        intensity.window_scale(img, 1, 1)


def test_split_ids_by_patient():
    ids = [f"p{i:02d}" for i in range(10)]
    s = splits.split_ids(ids, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=3)
    assert [len(s[k]) for k in ("train", "val", "test")] == [7, 1, 2]
    assert sorted(s["train"] + s["val"] + s["test"]) == ids
    assert s == splits.split_ids(ids, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=3)
    assert s != splits.split_ids(ids, {"train": 0.7, "val": 0.1, "test": 0.2}, seed=4)


def test_split_errors():
    with pytest.raises(ValueError, match=r"must be unique .* duplicated: \['a'\]"):
        splits.split_ids(["a", "a", "b"], {"train": 0.5, "test": 0.5})
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        splits.split_ids(["a", "b"], {"train": 0.5, "test": 0.6})
    with pytest.raises(ValueError, match=r"3 cases are too few .* \['val'\] would be empty"):
        splits.split_ids(["a", "b", "c"], {"train": 0.8, "val": 0.05, "test": 0.15})
    with pytest.raises(ValueError, match="case 'x' is in both 'train' and 'test': the split leaks"):
        splits.assert_disjoint({"train": ["x", "y"], "test": ["x"]})


def test_kfold_tests_every_case_once():
    ids = [str(i) for i in range(11)]
    folds = splits.kfold(ids, 4, seed=1)
    assert sorted(i for f in folds for i in f["test"]) == sorted(ids)
    for f in folds:
        splits.assert_disjoint(f)
        assert len(f["train"]) + len(f["test"]) == 11
    with pytest.raises(ValueError, match="k must be between 2 and the number of cases"):
        splits.kfold(ids, 1)


def test_minmax_slices_scales_each_axial_slice_alone():
    image = np.zeros((2, 2, 3, 1), np.float32)
    image[..., 0, 0] = [[1, 3], [5, 9]]  # slice 0: min 1, max 9
    image[..., 1, 0] = [[-2, 0], [0, 2]]  # slice 1: min -2, max 2
    image[..., 2, 0] = 4.0  # slice 2: constant
    out = intensity.minmax_slices(image)
    np.testing.assert_allclose(out[..., 0, 0], [[0, 0.25], [0.5, 1]])
    np.testing.assert_allclose(out[..., 1, 0], [[0, 0.5], [0.5, 1]])
    np.testing.assert_array_equal(out[..., 2, 0], 0)
    # along x, the plane x = 0 holds 1, 3 (z = 0), -2, 0 (z = 1) and 4, 4 (z = 2): min -2, max 4
    np.testing.assert_allclose(intensity.minmax_slices(image, axis=0)[0, :, 0, 0], [0.5, 5 / 6])
    with pytest.raises(
        ValueError, match=r"\(x, y, z, c\); got shape \(2, 2, 3\).*image\[\.\.\., None\]"
    ):
        intensity.minmax_slices(image[..., 0])


def test_stratified_split_puts_every_site_in_every_subset():
    groups = {s: [f"{s}_{i}" for i in range(8)] for s in ("A", "B", "C")}
    split = splits.stratified_split_ids(groups, {"train": 0.6, "val": 0.1, "test": 0.3}, seed=4)
    for name, n in (("train", 5), ("val", 1), ("test", 2)):
        for site in groups:
            assert sum(i.startswith(site) for i in split[name]) == n, (name, site)
    assert split == splits.stratified_split_ids(groups, {"train": 0.6, "val": 0.1, "test": 0.3}, 4)


def test_leave_group_out_tests_one_whole_site():
    groups = {s: [f"{s}_{i}" for i in range(8)] for s in ("A", "B", "C")}
    split = splits.leave_group_out(groups, "B", {"train": 0.875, "val": 0.125}, seed=0)
    assert split["test"] == groups["B"]
    assert not any(i.startswith("B") for i in split["train"] + split["val"])
    assert len(split["train"]) == 14 and len(split["val"]) == 2
    with pytest.raises(KeyError, match=r"no group 'D' to leave out; the groups are \['A', 'B'"):
        splits.leave_group_out(groups, "D", {"train": 1.0})
