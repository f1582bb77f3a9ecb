"""The run folder's owner: claimed once, each file written once per state change, read back
through one API (``labkit.runfolder.RunFolder``)."""

import json
import math

import keras
import pytest
from _tiny import use_tiny

from labkit.errors import LabkitError
from labkit.runfolder import RunFolder
from labkit.studies import msd


def test_a_run_folder_resumes_only_the_run_that_claimed_it(tmp_path):
    run, data = RunFolder(tmp_path / "run"), tmp_path / "Task04_Hippocampus"
    settings = msd.settings("quick")
    run.claim("msd", "quick", settings, 0, data, None, ())
    run.claim("msd", "quick", settings, 0, data, None, ())  # the same run goes on
    assert run.claimed()["seed"] == 0 and run.claimed()["cases"] == {}
    with pytest.raises(ValueError, match=r"holds another run \(seed: 0 there, 1 now\)"):
        run.claim("msd", "quick", settings, 1, data, None, ())
    other = msd.settings("quick", {"epochs": 4, "loss": "dice_ce"})
    with pytest.raises(
        ValueError, match=r"epochs: 12 there, 4 now; loss: 'generalized_dice' there, 'dice_ce' now"
    ):
        run.claim("msd", "quick", other, 0, data, None, ())
    with pytest.raises(ValueError, match=r"data: .*Task04_Hippocampus' there, .*Task09"):
        run.claim("msd", "quick", settings, 0, tmp_path / "Task09_Spleen", None, ())
    with pytest.raises(ValueError, match=r"fold: None there, \[1, 2\] now"):
        run.claim("msd", "quick", settings, 0, data, (1, 2), ())
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "state.json").write_text('{"epochs_done": 3}')
    with pytest.raises(ValueError, match=r"did not record its settings \(no run\.json\)"):
        RunFolder(legacy).claim("msd", "quick", settings, 0, data, None, ())


def test_config_records_the_versions_and_is_read_only_once_finished(tmp_path):
    run = RunFolder(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a finished labkit run"):
        run.config()
    run.write_config({"study": "msd", "threshold": math.nan})
    (tmp_path / "model.keras").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"unfinished labkit run \(no summary\.json"):
        run.config()
    run.write_results([{"case": "a", "label": "x", "dice": 0.5, "hd95": math.inf}], {"n": 1})
    config = run.config()
    assert config["threshold"] is None  # NaN is written as null, not as invalid JSON
    assert config["versions"]["keras"] == keras.__version__
    assert config["versions"]["backend"] == keras.backend.backend()
    assert set(config["versions"]) == {"labkit", "keras", "backend", "python"}
    assert run.summary() == {"n": 1} and run.finished
    assert run.metrics()[0]["dice"] == 0.5
    with pytest.raises(LabkitError, match=r"model\.keras could not be loaded .*0 bytes"):
        run.model()


def test_single_runs_and_cross_validations_are_not_mixed_up(tmp_path):
    single = RunFolder(tmp_path / "single")
    assert single.folds(ensemble=False) is None
    with pytest.raises(ValueError, match=r"not a cross-validation folder \(no folds\.json\)"):
        single.folds(ensemble=True)
    cv = RunFolder(tmp_path / "cv")
    cv.write_folds("msd", "quick", 0, ["fold_0", "fold_1"])
    with pytest.raises(ValueError, match=r"cross-validation folder of 2 fold runs; predict with"):
        cv.folds(ensemble=False)
    with pytest.raises(FileNotFoundError, match=r"fold_0 is not a finished labkit run"):
        cv.folds(ensemble=True)


def test_a_training_writes_each_file_once(tmp_path, monkeypatch):
    """Each JSON file of a run is written once by a whole training: ``config.json`` after the
    choices made on the validation cases, ``summary.json`` last."""
    use_tiny(monkeypatch, "msd")
    data = msd.synth(tmp_path / "data", cases=5, task="spleen")
    written = []
    original = RunFolder._write

    def counted(self, name, payload):
        written.append(name)
        return original(self, name, payload)

    monkeypatch.setattr(RunFolder, "_write", counted)
    msd.train(data, tmp_path / "run", overrides={"largest_component": "auto"})
    assert written == ["run.json", "split.json", "config.json", "summary.json"]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert "largest_component" in config and "versions" in config
