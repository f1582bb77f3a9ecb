"""The MSD downloader, against archives served from a local HTTP server (no network here)."""

import hashlib
import tarfile

import pytest

from labkit.datasets import load_msd, write_msd_twin
from labkit.datasets.download import MSD_TASKS, DownloadError, download_msd, msd_task_name
from labkit_cli import main


@pytest.fixture
def spleen_archive(tmp_path):
    source = tmp_path / "src" / "Task09_Spleen"
    write_msd_twin(source, "spleen", n_cases=2, seed=0)
    archive = tmp_path / "Task09_Spleen.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname="Task09_Spleen")
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_task_names():
    assert msd_task_name("hippocampus") == "Task04_Hippocampus"
    assert msd_task_name(4) == msd_task_name("Task04") == msd_task_name("task04_hippocampus")
    assert msd_task_name("Spleen") == "Task09_Spleen"
    assert MSD_TASKS["Task09_Spleen"][0].endswith("/Task09_Spleen.tar")
    assert len(MSD_TASKS["Task09_Spleen"][1]) == 32  # an MD5
    with pytest.raises(ValueError, match=r"unknown MSD task 'kidney'.*Task01_BrainTumour"):
        msd_task_name("kidney")


def test_download_verify_extract_and_rerun(tmp_path, spleen_archive, serve):
    archive, md5 = spleen_archive
    root = tmp_path / "data"
    folder = download_msd("spleen", root, url=serve(archive.name), md5=md5)
    assert folder == root / "Task09_Spleen"
    assert load_msd(folder).case_ids == ["spleen_000", "spleen_001"]
    assert not (root / "Task09_Spleen.tar").exists()  # only the extracted task is kept
    # a second call finds the task and does not touch the network (this URL cannot answer)
    assert download_msd(9, root, url="http://127.0.0.1:9/Task09_Spleen.tar") == folder


def test_bad_checksum_keeps_nothing(tmp_path, spleen_archive, serve):
    archive, _ = spleen_archive
    root = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"Task09_Spleen from .*HashCheckError"):
        download_msd("spleen", root, url=serve(archive.name), md5="0" * 32)
    assert not (root / "Task09_Spleen").exists()
    assert not (root / "Task09_Spleen.tar").exists()


def test_offline_says_how_to_bring_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_DATA_ROOT", str(tmp_path))
    with pytest.raises(
        DownloadError, match=r"Without internet, download https://.*Task04_Hippocampus\.tar"
    ):
        download_msd("hippocampus", url="http://127.0.0.1:9/Task04_Hippocampus.tar")


def test_archive_without_the_task_folder(tmp_path, serve):
    stray = tmp_path / "notes.txt"
    stray.write_text("not a dataset")
    archive = tmp_path / "Task09_Spleen.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(stray, arcname="notes.txt")
    with pytest.raises(DownloadError, match=r"did not contain Task09_Spleen/dataset\.json"):
        download_msd("spleen", tmp_path / "data", url=serve(archive.name))


def test_command_line_download(tmp_path, spleen_archive, serve, monkeypatch, capsys):
    archive, md5 = spleen_archive
    monkeypatch.setitem(MSD_TASKS, "Task09_Spleen", (serve(archive.name), md5))
    assert main(["download", "spleen", "--root", str(tmp_path / "data")]) == 0
    assert "Task09_Spleen: ready in" in capsys.readouterr().out
    assert main(["download", "kidney"]) == 1
    assert "unknown MSD task 'kidney'" in capsys.readouterr().err


def test_an_unsafe_archive_is_refused_and_a_rerun_does_not_take_it_for_the_task(tmp_path, serve):
    source = tmp_path / "src" / "Task09_Spleen"
    write_msd_twin(source, "spleen", n_cases=2, seed=0)
    archive = tmp_path / "Task09_Spleen.tar"
    (tmp_path / "evil.txt").write_text("outside the data folder")
    with tarfile.open(archive, "w") as tar:
        tar.add(source, arcname="Task09_Spleen")  # the task first, the escape after it
        tar.add(tmp_path / "evil.txt", arcname="../evil.txt")
    root = tmp_path / "data"
    url = serve(archive.name)
    for _ in range(2):  # the rerun must fail the same way, not answer "ready"
        with pytest.raises(
            DownloadError, match=r"refused the archive .*Unsafe path.*outside .*deleted"
        ):
            download_msd("spleen", root, url=url)
        assert not (root / "Task09_Spleen").exists() and not (root / "Task09_Spleen.tar").exists()
