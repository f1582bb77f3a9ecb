"""Atomic writes: a file is either the old one or the new one, never a partial one."""

import pytest

from labkit.errors import DatasetLayoutError
from labkit.files import atomic_path, write_text
from labkit.io import nifti_files


def test_write_text_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "state.json"
    write_text(path, "old")
    write_text(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "model.keras"
    path.write_text("old")
    with pytest.raises(RuntimeError, match="killed"), atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".tmp-")
        assert tmp.name.endswith("-model.keras")  # writers choose the format by the extension
        tmp.write_text("half a mod")
        raise RuntimeError("killed half-way")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]


def test_the_temporary_file_keeps_a_double_extension(tmp_path):
    with atomic_path(tmp_path / "case_001.nii.gz") as tmp:
        assert tmp.name.endswith("-case_001.nii.gz")
        tmp.write_bytes(b"x")
    assert (tmp_path / "case_001.nii.gz").read_bytes() == b"x"


def test_a_block_that_writes_nothing_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing was written .*out\.csv"):
        with atomic_path(tmp_path / "out.csv"):
            pass
    assert not (tmp_path / "out.csv").exists()


def test_nifti_files_skips_hidden_files_and_refuses_two_files_for_one_case(tmp_path):
    for name in ("a.nii.gz", ".tmp-123-b.nii.gz", "._a.nii.gz", "c.nii"):
        (tmp_path / name).write_bytes(b"")
    assert sorted(nifti_files(tmp_path)) == ["a", "c"]
    (tmp_path / "a.nii").write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match=r"both a\.nii and a\.nii\.gz for case 'a'"):
        nifti_files(tmp_path)
