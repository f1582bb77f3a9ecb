from pathlib import Path

import pytest

from labkit import config


def test_auto_profile_is_full_only_where_a_gpu_is_visible(monkeypatch):
    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    monkeypatch.setattr(config, "accelerators", lambda: [])
    assert config.choose_profile() == ("quick", "auto: no GPU visible, so the CPU profile")
    monkeypatch.setattr(config, "accelerators", lambda: ["/physical_device:GPU:0"])
    name, reason = config.choose_profile()
    assert (name, reason) == ("full", "auto: 1 GPU(s) visible (/physical_device:GPU:0)")
    monkeypatch.setenv("LABKIT_PROFILE", "auto")
    assert config.profile() == "full"


def test_profile_reads_environment_or_the_request_before_looking_for_a_gpu(monkeypatch):
    monkeypatch.setattr(config, "accelerators", lambda: ["gpu"])
    monkeypatch.setenv("LABKIT_PROFILE", " Quick ")
    assert config.choose_profile() == ("quick", "LABKIT_PROFILE is quick")
    assert config.choose_profile("full") == ("full", "the requested profile is full")


def test_profile_rejects_unknown_value(monkeypatch):
    monkeypatch.setenv("LABKIT_PROFILE", "fast")
    with pytest.raises(ValueError, match=r"LABKIT_PROFILE is 'fast'; expected one of .*'auto'"):
        config.profile()


def test_cache_dir_uses_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "c"))
    path = config.cache_dir("twins", "x")
    assert path == (tmp_path / "c" / "twins" / "x").resolve()
    assert path.is_dir()


def test_data_root_from_environment(monkeypatch, tmp_path):
    (tmp_path / "Task04_Hippocampus").mkdir()
    monkeypatch.setenv("LABKIT_DATA_ROOT", str(tmp_path))
    assert config.data_root() == tmp_path.resolve()
    assert config.find_real_dataset("Task04_Hippocampus") == tmp_path / "Task04_Hippocampus"
    assert config.find_real_dataset("BraTS2013") is None


def test_a_downloaded_task_is_found(monkeypatch, tmp_path):
    monkeypatch.delenv("LABKIT_DATA_ROOT", raising=False)
    monkeypatch.setenv("LABKIT_CACHE", str(tmp_path / "cache"))
    assert config.find_real_dataset("Task09_Spleen") is None
    assert not (tmp_path / "cache").exists()  # looking creates nothing
    (tmp_path / "cache" / "data" / "Task09_Spleen").mkdir(parents=True)
    assert config.download_root() == (tmp_path / "cache" / "data").resolve()
    found = config.find_real_dataset("Task09_Spleen")
    assert found == (tmp_path / "cache" / "data" / "Task09_Spleen").resolve()
    monkeypatch.setenv("LABKIT_DATA_ROOT", str(tmp_path / "mine"))
    assert config.download_root() == tmp_path / "mine"


def test_data_root_environment_must_exist(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_DATA_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"LABKIT_DATA_ROOT is .* not a folder"):
        config.data_root()


def test_data_root_finds_shared_beside_checkout(monkeypatch, tmp_path):
    repo = tmp_path / "work" / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("")
    shared = tmp_path / "work" / "shared" / "data"
    shared.mkdir(parents=True)
    monkeypatch.delenv("LABKIT_DATA_ROOT", raising=False)
    monkeypatch.chdir(repo / "sub")
    monkeypatch.setattr(config, "__file__", str(tmp_path / "elsewhere" / "config.py"))
    assert config.data_root() == Path(shared).resolve()


def test_recorded_results_ship_in_the_package_and_are_found_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no repository around: a notebook opened alone
    assert "folds" in config.recorded_results("brats_real_quick.json")
    assert "runs" in config.recorded_results("wmh_ablation_quick.json")
    assert config.recorded_results("no_such_file.json") is None


def test_data_or_twin_takes_the_variable_or_writes_the_twin(tmp_path, monkeypatch):
    written = []

    def twin():
        written.append(1)
        return tmp_path / "twin"

    monkeypatch.delenv("LABKIT_XYZ_DATA", raising=False)
    assert config.data_or_twin("LABKIT_XYZ_DATA", twin) == (
        tmp_path / "twin",
        "the synthetic twin cohort",
    )
    assert written == [1]
    monkeypatch.setenv("LABKIT_XYZ_DATA", str(tmp_path))
    assert config.data_or_twin("LABKIT_XYZ_DATA", twin, "a twin") == (
        tmp_path,
        f"the folder {tmp_path}",
    )
    assert written == [1]  # the twin is not written when a folder is given
    monkeypatch.setenv("LABKIT_XYZ_DATA", str(tmp_path / "missing"))
    with pytest.raises(
        FileNotFoundError, match=r"LABKIT_XYZ_DATA is .*missing', which is not a folder"
    ):
        config.data_or_twin("LABKIT_XYZ_DATA", twin)


def test_labkit_set_gives_every_training_its_settings_but_changes_no_finished_run(monkeypatch):
    from labkit.studies import get

    phh = get("phh")
    monkeypatch.setenv("LABKIT_SET", '{"steps_per_epoch": 2, "epochs": 1}')
    assert config.env_settings() == {"steps_per_epoch": 2, "epochs": 1}
    chosen = phh.settings("full", {"epochs": 6, "batch_size": 4})  # the variable wins over a cell
    assert (chosen.steps_per_epoch, chosen.epochs, chosen.batch_size) == (2, 1, 4)
    recorded = {"study": "phh", "profile": "full", "settings": {"epochs": 25}}
    assert phh.run_settings(Path("run"), recorded).steps_per_epoch == 0
    monkeypatch.setenv("LABKIT_SET", '{"steps_per_epoch": -1}')
    with pytest.raises(ValueError, match="steps_per_epoch must be 0 \\(no bound\\) or more"):
        phh.settings("full")
    monkeypatch.setenv("LABKIT_SET", "steps_per_epoch=2")
    with pytest.raises(ValueError, match="LABKIT_SET is not JSON"):
        config.env_settings()
    monkeypatch.setenv("LABKIT_SET", "[2]")
    with pytest.raises(ValueError, match="LABKIT_SET must be a JSON object"):
        config.env_settings()
    monkeypatch.delenv("LABKIT_SET")
    assert config.env_settings() == {}


def test_auto_picks_full_only_where_the_studys_estimate_fits_the_gpu(monkeypatch):
    from labkit import gpu_estimates

    monkeypatch.delenv("LABKIT_PROFILE", raising=False)
    monkeypatch.setattr(config, "accelerators", lambda: ["gpu:0"])
    monkeypatch.setattr(gpu_estimates, "needed_mib", lambda study: 6144.0)
    monkeypatch.setattr(gpu_estimates, "gpu_memory_mib", lambda: 15360.0)
    name, why = config.choose_profile(study="ich")
    assert name == "full" and why.endswith(
        "~6.0 GiB estimated for ich's full profile, 15.0 GiB on the GPU: it fits"
    )
    monkeypatch.setattr(gpu_estimates, "gpu_memory_mib", lambda: 4096.0)
    name, why = config.choose_profile(study="ich")
    assert name == "quick" and why.endswith("4.0 GiB on the GPU: quick")
    monkeypatch.setattr(gpu_estimates, "gpu_memory_mib", lambda: None)
    assert config.choose_profile(study="ich") == (
        "full",
        "auto: 1 GPU(s) visible (gpu:0); the GPU's memory unknown, so full",
    )
    assert config.choose_profile("full", study="ich").name == "full"  # asked for: no second guess


def test_the_estimates_record_has_every_studys_full_profile_and_a_line_for_it(monkeypatch):
    from labkit import gpu_estimates

    for study in ("phh", "wmh", "ich", "msd", "brats"):
        found = gpu_estimates.estimate(study)
        assert found is not None and found["t4_mib"] > 0 and found["t4_step_s"] > 0, study
        line = gpu_estimates.t4_line(study)
        assert line.startswith("full profile: ~") and "on a T4 (estimated 20" in line, line
    assert gpu_estimates.estimate("lung") is None
    assert gpu_estimates.t4_line("lung") == "full profile: no estimate of its GPU cost for lung yet"
    monkeypatch.setattr(gpu_estimates.subprocess, "run", _no_nvidia_smi)
    assert gpu_estimates.gpu_memory_mib() is None


def _no_nvidia_smi(*args, **kwargs):
    raise FileNotFoundError("nvidia-smi")
