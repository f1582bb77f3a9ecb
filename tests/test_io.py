import gzip
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.affines import apply_affine

from labkit import checks, io, spatial, volume
from labkit.errors import LabelValueError, NiftiReadError, ShapeError

# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_save_load_round_trip_keeps_values_dtype_and_affine(tmp_path, rng, dtype):
    affine = np.array([[0, 0, 2.5, -30], [-1.2, 0, 0, 40], [0, 0.8, 0, 12], [0, 0, 0, 1]])
    array = (rng.random((5, 4, 3)) * 100).astype(dtype)
    path = io.save_nifti(tmp_path / "v.nii.gz", array, affine)
    vol = io.load_nifti(path)
    assert vol.array.dtype == dtype
    np.testing.assert_array_equal(vol.array, array)
    np.testing.assert_allclose(vol.affine, affine, atol=1e-5)
    assert vol.path == path
    assert int(vol.header["sform_code"]) == 1 and int(vol.header["qform_code"]) == 1


def test_round_trip_uncompressed_and_4d(tmp_path, rng):
    array = rng.random((4, 3, 2, 4)).astype(np.float32)
    vol = io.load_nifti(io.save_nifti(tmp_path / "m.nii", array, np.eye(4)), ndim=4)
    assert vol.shape == (4, 3, 2, 4)
    np.testing.assert_array_equal(vol.array, array)


def test_bool_and_int64_are_written_as_nifti_friendly_types(tmp_path):
    mask = np.zeros((3, 3, 3), bool)
    mask[1, 1, 1] = True
    assert (
        io.load_nifti(io.save_nifti(tmp_path / "b.nii.gz", mask, np.eye(4))).array.dtype == np.uint8
    )
    big = np.arange(27, dtype=np.int64).reshape(3, 3, 3)
    back = io.load_nifti(io.save_nifti(tmp_path / "i.nii.gz", big, np.eye(4)))
    assert back.array.dtype == np.int32
    np.testing.assert_array_equal(back.array, big)


def test_header_is_kept_through_save(tmp_path, nifti_pair):
    vol = io.load_nifti(nifti_pair[0])
    vol.header["descrip"] = b"keep me"
    back = io.load_nifti(io.save_nifti(tmp_path / "h.nii.gz", vol.array, vol.affine, vol.header))
    assert back.header["descrip"].tobytes().rstrip(b"\0") == b"keep me"


def test_trailing_singleton_axis_is_dropped_for_3d(tmp_path):
    io.save_nifti(tmp_path / "s.nii.gz", np.ones((3, 4, 5, 1), np.float32), np.eye(4))
    assert io.load_nifti(tmp_path / "s.nii.gz", ndim=3).shape == (3, 4, 5)


# --- spacing and orientation ------------------------------------------------------------------


def test_voxel_spacing_of_rotated_grid_is_column_norms():
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([2.0, 3.0, 4.0])
    assert volume.voxel_spacing(affine) == pytest.approx((2.0, 3.0, 4.0))


def test_voxel_spacing_rejects_non_4x4():
    with pytest.raises(ShapeError, match=r"\(4, 4\) matrix; got shape \(3, 3\)"):
        volume.voxel_spacing(np.eye(3))


def test_orientation_codes():
    assert volume.orientation(np.eye(4)) == "RAS"
    assert volume.orientation(np.diag([-1, -1, 1, 1])) == "LPS"
    assert (
        volume.orientation(np.array([[0, 0, 1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]))
        == "PSR"
    )


def test_reorient_lps_to_ras_by_hand():
    array = np.arange(24).reshape(2, 3, 4)
    affine = np.diag([-1.0, -2.0, 3.0, 1.0])
    affine[:3, 3] = [10, 20, 30]
    ras = spatial.reorient(volume.Volume(array, affine), "RAS")
    np.testing.assert_array_equal(ras.array, array[::-1, ::-1, :])
    assert volume.orientation(ras.affine) == "RAS"
    # voxel (0, 0, 0) of the RAS grid is voxel (1, 2, 0) of the stored grid
    np.testing.assert_allclose(apply_affine(ras.affine, [0, 0, 0]), apply_affine(affine, [1, 2, 0]))


def test_reorient_keeps_world_positions_of_every_voxel(rng):
    affine = np.array([[0, 0, -2.0, 50], [1.5, 0, 0, -20], [0, -1.0, 0, 10], [0, 0, 0, 1]])
    array = rng.random((4, 5, 6, 2))
    vol = volume.Volume(array, affine)
    for target in ("RAS", "LPS", "SAR"):
        out = spatial.reorient(vol, target)
        assert volume.orientation(out.affine) == target
        # the value at a world point is the same before and after
        for ijk in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
            world = apply_affine(affine, ijk)
            new_ijk = np.round(apply_affine(np.linalg.inv(out.affine), world)).astype(int)
            np.testing.assert_array_equal(out.array[tuple(new_ijk)], array[ijk])


def test_reorient_agrees_with_monai_orientation(rng):
    import torch
    from monai.data import MetaTensor
    from monai.transforms import Orientation

    affine = np.diag([-1.0, 1.0, -2.0, 1.0])
    array = rng.random((3, 4, 5)).astype(np.float32)
    ours = spatial.reorient(volume.Volume(array, affine), "RAS")
    theirs = Orientation(axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S")))(
        MetaTensor(torch.from_numpy(array[None]), affine=affine)
    )
    np.testing.assert_array_equal(ours.array, theirs.numpy()[0])
    np.testing.assert_allclose(ours.affine, theirs.affine.numpy(), atol=1e-6)


def test_reorient_rejects_bad_code():
    with pytest.raises(ValueError, match="three of R/L, A/P, S/I"):
        spatial.reorient(volume.Volume(np.zeros((2, 2, 2)), np.eye(4)), "RAX")


@pytest.mark.shared_data
def test_real_brats2013_reorients_from_lps_to_ras(brats2013_root):
    for subject in sorted(p for p in brats2013_root.iterdir() if p.is_dir()):
        label = io.load_label(next(subject.glob("*_seg.nii.gz")))
        assert volume.orientation(label.affine) == "LPS"
        ras = spatial.reorient(label, "RAS")
        assert volume.orientation(ras.affine) == "RAS"
        assert np.all(np.diag(ras.affine)[:3] > 0)
        np.testing.assert_array_equal(
            np.bincount(ras.array.ravel()), np.bincount(label.array.ravel())
        )
        before = apply_affine(label.affine, np.argwhere(label.array == 4).mean(0))
        after = apply_affine(ras.affine, np.argwhere(ras.array == 4).mean(0))
        np.testing.assert_allclose(before, after, atol=1e-6)


# --- resampling -----------------------------------------------------------------------------


def test_resample_to_shape_affine_by_hand():
    vol = volume.Volume(np.zeros((4, 4, 4), np.float32), np.eye(4))
    out = spatial.resample_to_shape(vol, (2, 2, 2))
    # new voxels are 2 mm; the first new voxel centre sits between old voxels 0 and 1
    expected = np.diag([2.0, 2.0, 2.0, 1.0])
    expected[:3, 3] = 0.5
    np.testing.assert_allclose(out.affine, expected)
    assert out.spacing == pytest.approx((2, 2, 2))


def test_resample_keeps_field_of_view(rng):
    affine = np.diag([0.8, 0.8, 3.0, 1])
    affine[:3, 3] = [-12, 7, 40]
    vol = volume.Volume(rng.random((20, 16, 7)).astype(np.float32), affine)
    out = spatial.resample_to_spacing(vol, (1.6, 1.6, 1.5))
    assert out.shape == (10, 8, 14)

    def corner(v, which):  # outer edge of the first/last voxel
        n = np.array(v.shape[:3])
        return apply_affine(v.affine, (-0.5 if which == "lo" else n - 0.5) * np.ones(3))

    for which in ("lo", "hi"):
        np.testing.assert_allclose(corner(out, which), corner(vol, which), atol=1e-6)


def test_linear_resampling_reproduces_a_ramp():
    ramp = np.broadcast_to(np.arange(8, dtype=np.float32)[:, None, None], (8, 3, 3)).copy()
    out = spatial.resample_to_shape(volume.Volume(ramp, np.eye(4)), (16, 3, 3), kind="image")
    # interior new voxel i' sits at old coordinate (i' + 0.5) / 2 - 0.5
    inner = np.arange(1, 15)
    np.testing.assert_allclose(out.array[inner, 1, 1], (inner + 0.5) / 2 - 0.5, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 5, 4), (20, 9, 17), (7, 7, 7)])
def test_label_resampling_never_creates_label_values(rng, shape):
    labels = rng.choice(np.array([0, 3, 7], np.uint8), size=(10, 12, 8))
    out = spatial.resample_to_shape(volume.Volume(labels, np.eye(4)), shape, kind="label")
    assert out.array.dtype == np.uint8
    assert set(np.unique(out.array)) <= {0, 3, 7}


def test_integer_upsampling_of_labels_round_trips_exactly(rng):
    labels = rng.integers(0, 3, size=(5, 6, 7)).astype(np.uint8)
    vol = volume.Volume(labels, np.diag([2.0, 2.0, 2.0, 1]))
    up = spatial.resample_to_spacing(vol, 1.0, kind="label")
    back = spatial.resample_to_shape(up, labels.shape, kind="label")
    np.testing.assert_array_equal(back.array, labels)
    np.testing.assert_allclose(back.affine, vol.affine)


def test_resample_multichannel_image(rng):
    vol = volume.Volume(rng.random((6, 6, 6, 3)).astype(np.float32), np.eye(4))
    assert spatial.resample_to_shape(vol, (3, 4, 5)).shape == (3, 4, 5, 3)


@pytest.mark.shared_data
def test_real_hippocampus_resampling_keeps_label_set(hippocampus_root):
    label = io.load_label(hippocampus_root / "labelsTr" / "hippocampus_001.nii.gz")
    for spacing in (0.7, 1.3, 2.0):
        out = spatial.resample_to_spacing(label, spacing, kind="label")
        assert set(np.unique(out.array)) == {0, 1, 2}


def test_resample_argument_errors():
    vol = volume.Volume(np.zeros((4, 4, 4)), np.eye(4))
    with pytest.raises(ValueError, match="kind must be 'image' or 'label'"):
        spatial.resample_to_shape(vol, (2, 2, 2), kind="nearest")
    with pytest.raises(ShapeError, match="three positive sizes"):
        spatial.resample_to_shape(vol, (2, 2))
    with pytest.raises(ValueError, match="spacing must be positive"):
        spatial.resample_to_spacing(vol, 0)


# --- bad input --------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no NIfTI file at .*absent\.nii\.gz"):
        io.load_nifti(tmp_path / "absent.nii.gz")


def test_truncated_gzip(tmp_path, nifti_pair):
    data = nifti_pair[0].read_bytes()
    bad = tmp_path / "truncated.nii.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(NiftiReadError, match=r"truncated\.nii\.gz as a NIfTI volume .*truncated"):
        io.load_nifti(bad)


def test_truncated_uncompressed_file(tmp_path, rng):
    path = io.save_nifti(
        tmp_path / "short.nii", rng.random((8, 8, 8)).astype(np.float32), np.eye(4)
    )
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(NiftiReadError, match=r"short\.nii"):
        io.load_nifti(path)


def test_corrupt_gzip(tmp_path, nifti_pair):
    data = bytearray(nifti_pair[0].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    bad = tmp_path / "corrupt.nii.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(NiftiReadError, match=r"corrupt\.nii\.gz as a NIfTI volume"):
        io.load_nifti(bad)


def test_text_file_is_not_nifti(tmp_path):
    bad = tmp_path / "notes.nii.gz"
    bad.write_text("patient 12, scanned twice")
    with pytest.raises(NiftiReadError, match=r"notes\.nii\.gz as a NIfTI volume"):
        io.load_nifti(bad)


def test_gzipped_garbage_is_not_nifti(tmp_path, rng):
    bad = tmp_path / "garbage.nii.gz"
    bad.write_bytes(gzip.compress(rng.integers(0, 256, 2000, dtype=np.uint8).tobytes()))
    with pytest.raises(NiftiReadError, match=r"garbage\.nii\.gz"):
        io.load_nifti(bad)


def test_other_image_format_is_rejected(tmp_path):
    path = tmp_path / "brain.mgz"
    nib.save(nib.MGHImage(np.zeros((3, 3, 3), np.float32), np.eye(4)), path)
    with pytest.raises(NiftiReadError, match="is a MGHImage, not a NIfTI image"):
        io.load_nifti(path)


def test_4d_where_3d_expected(tmp_path, rng):
    path = io.save_nifti(
        tmp_path / "multi.nii.gz", rng.random((3, 3, 3, 2)).astype(np.float32), np.eye(4)
    )
    with pytest.raises(
        ShapeError, match=r"multi\.nii\.gz has shape \(3, 3, 3, 2\) \(4D\); expected a 3D"
    ):
        io.load_nifti(path, ndim=3)
    with pytest.raises(ShapeError, match="expected a 3D"):
        io.load_label(path)


def test_2d_file_is_rejected(tmp_path):
    path = io.save_nifti(tmp_path / "flat.nii.gz", np.zeros((4, 4), np.float32), np.eye(4))
    with pytest.raises(ShapeError, match=r"flat\.nii\.gz has shape \(4, 4\) \(2D\)"):
        io.load_nifti(path)


def test_image_and_label_with_different_shapes(tmp_path, nifti_pair):
    image = io.load_nifti(nifti_pair[0])
    other = io.load_label(
        io.save_nifti(tmp_path / "small.nii.gz", np.zeros((6, 5, 3), np.uint8), image.affine)
    )
    with pytest.raises(
        ShapeError,
        match=r"img\.nii\.gz has spatial shape \(6, 5, 4\) but label .*small\.nii\.gz has "
        r"\(6, 5, 3\)",
    ):
        checks.check_same_grid(image, other)


def test_image_and_label_with_different_affines(tmp_path, nifti_pair):
    image = io.load_nifti(nifti_pair[0])
    shifted = image.affine.copy()
    shifted[0, 3] += 2.0
    other = io.load_label(
        io.save_nifti(tmp_path / "moved.nii.gz", np.zeros((6, 5, 4), np.uint8), shifted)
    )
    with pytest.raises(
        ShapeError, match=r"moved\.nii\.gz have the same shape \(6, 5, 4\) but different affines"
    ):
        checks.check_same_grid(image, other)


def test_non_integer_label_values(tmp_path):
    labels = np.zeros((3, 3, 3), np.float32)
    labels[0, 0, 0] = 0.5
    labels[1, 1, 1] = 1.0
    path = io.save_nifti(tmp_path / "soft.nii.gz", labels, np.eye(4))
    with pytest.raises(
        LabelValueError,
        match=r"soft\.nii\.gz: the label map holds non-integer values \(e\.g\. 0\.5\)",
    ):
        io.load_label(path)


def test_nan_and_negative_label_values(tmp_path):
    nan = np.zeros((2, 2, 2), np.float32)
    nan[0, 0, 0] = np.nan
    with pytest.raises(LabelValueError, match="NaN or infinite"):
        io.load_label(io.save_nifti(tmp_path / "nan.nii.gz", nan, np.eye(4)))
    neg = np.zeros((2, 2, 2), np.int16)
    neg[0, 0, 0] = -1
    with pytest.raises(LabelValueError, match=r"negative values \(min -1\)"):
        io.load_label(io.save_nifti(tmp_path / "neg.nii.gz", neg, np.eye(4)))


def test_float_labels_with_whole_values_are_accepted(tmp_path):
    labels = np.array([0.0, 1.0, 2.0, 1.0, 0.0, 2.0, 1.0, 0.0]).reshape(2, 2, 2).astype(np.float32)
    vol = io.load_label(io.save_nifti(tmp_path / "f.nii.gz", labels, np.eye(4)))
    assert vol.array.dtype == np.uint8
    np.testing.assert_array_equal(vol.array, labels.astype(np.uint8))


def test_labels_above_255_use_wider_type():
    assert checks.as_label_map(np.array([0, 300])).dtype == np.uint16


def test_volume_name_and_with_array(nifti_pair):
    vol = io.load_nifti(nifti_pair[0])
    assert vol.name.endswith("img.nii.gz")
    assert volume.Volume(np.zeros((1, 1, 1)), np.eye(4)).name == "<array>"
    twice = vol.with_array(vol.array * 2)
    assert twice.path == vol.path and twice.affine is vol.affine


def test_save_creates_parent_folders(tmp_path):
    path = io.save_nifti(
        tmp_path / "a" / "b" / "c.nii.gz", np.zeros((2, 2, 2), np.uint8), np.eye(4)
    )
    assert Path(path).is_file()


def test_nifti_stem_and_files(tmp_path):
    assert io.nifti_stem("a/case_01.nii.gz") == "case_01"
    assert io.nifti_stem("b.nii") == "b"
    assert io.nifti_stem("notes.txt") == "notes.txt"
    for name in ("p2.nii.gz", "p1.nii", "readme.md", "p3.nii.gz.bak"):
        (tmp_path / name).write_text("")
    assert list(io.nifti_files(tmp_path)) == ["p1", "p2"]
    assert io.nifti_files(tmp_path / "absent") == {}


def test_check_image_refuses_nan_infinite_and_constant_images_naming_the_file(tmp_path):
    from labkit.errors import ImageValueError

    image = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert checks.check_image(
        io.load_nifti(io.save_nifti(tmp_path / "ok.nii.gz", image, np.eye(4)))
    )
    image[0, 1, 2], image[1, 1, 1] = np.nan, np.inf
    path = io.save_nifti(tmp_path / "nan.nii.gz", image, np.eye(4))
    with pytest.raises(ImageValueError, match=r"nan\.nii\.gz holds 1 NaN and 1 infinite voxel"):
        checks.check_image(io.load_nifti(path))
    path = io.save_nifti(tmp_path / "zero.nii.gz", np.zeros((1, 1, 1), np.float32), np.eye(4))
    with pytest.raises(
        ImageValueError, match=r"zero\.nii\.gz holds the single value 0\.0 in all 1"
    ):
        checks.check_image(io.load_nifti(path))
    two = np.stack([np.arange(8.0).reshape(2, 2, 2), np.full((2, 2, 2), 3.0)], -1)
    path = io.save_nifti(tmp_path / "two.nii.gz", two.astype(np.float32), np.eye(4))
    with pytest.raises(ImageValueError, match=r"two\.nii\.gz \(channel 1\) holds the single value"):
        checks.check_image(io.load_nifti(path))


def test_check_declared_labels_allows_background_and_names_the_strays():
    checks.check_declared_labels([0, 1, 2], [1, 2], "a.nii.gz", "Fix it.")
    checks.check_declared_labels([0], [], "empty.nii.gz", "Fix it.")
    with pytest.raises(
        LabelValueError,
        match=r"b\.nii\.gz holds label value\(s\) \[2, 300\] .*"
        r"declares \[0, 1\]; found \[0, 1, 2, 300\]\)\. Fix it\.",
    ):
        checks.check_declared_labels([300, 0, 1, 2], [0, 1], "b.nii.gz", "Fix it.")
