"""The Decathlon recipe's settings."""

import json

import keras
import numpy as np
import pytest

from labkit.checkpoints import last_checkpoint, read_history
from labkit.datasets import load_case, load_msd
from labkit.evaluation import read_metrics_csv
from labkit.measures import dice, generalized_dice
from labkit.studies import msd


def test_full_profile_keeps_the_study_settings():
    full = msd.PROFILES["full"]
    assert (full.batch_size, full.epochs, full.learning_rate) == (5, 20, 1e-4)
    assert (full.loss, full.val_fraction, full.schedule) == ("generalized_dice", 0.2, "constant")


def test_settings_overrides_and_errors():
    changed = msd.settings("quick", {"loss": "cross_entropy", "epochs": 3})
    assert (changed.loss, changed.epochs) == ("cross_entropy", 3)
    assert msd.settings("quick").epochs == msd.PROFILES["quick"].epochs
    with pytest.raises(ValueError, match=r"unknown msd setting\(s\) \['lr'\]"):
        msd.settings("quick", {"lr": 1.0})
    with pytest.raises(ValueError, match=r"unknown profile 'huge'"):
        msd.settings("huge")
    with pytest.raises(ValueError, match=r"schedule must be 'constant' or 'cosine'; got 'step'"):
        msd.settings("quick", {"schedule": "step"})


def test_cosine_schedule_decays_to_zero_over_the_run(tmp_path, monkeypatch):
    import keras

    from labkit.datasets import write_msd_twin

    monkeypatch.setitem(
        msd.PROFILES,
        "quick",
        msd.MSDSettings(epochs=2, batch_size=16, learning_rate=1e-3, filters=4, depth=2),
    )
    data = tmp_path / "Task09_Spleen"
    write_msd_twin(data, "spleen", n_cases=5, seed=0)
    msd.train(data, tmp_path / "run", "quick", overrides={"schedule": "cosine"})
    model = keras.models.load_model(last_checkpoint(tmp_path / "run"))
    optimizer = model.optimizer
    rate = optimizer.learning_rate  # the schedule evaluated at the current step
    assert int(optimizer.iterations) > 0
    assert float(rate) == pytest.approx(0.0, abs=1e-9)

    # the run remembers its settings, overrides included, and predicts on the source grid
    settings = msd.run_settings(tmp_path / "run")
    assert settings == msd.settings("quick", {"schedule": "cosine"})
    case = load_msd(data).cases[0]
    image = load_case(case).image.array
    labels = msd.predict_volume(model, image, settings)
    assert labels.shape == image.shape[:3] and labels.dtype == np.uint8
    assert set(np.unique(labels)) <= {0, 1}
    # predicting the test cases again reproduces what train scored in metrics.csv
    again = msd.held_out_predictions(tmp_path / "run", data)
    scored = {r["case"]: r["dice"] for r in read_metrics_csv(tmp_path / "run" / "metrics.csv")}
    assert list(again) == json.loads((tmp_path / "run" / "split.json").read_text())["test"]
    for case_id, (loaded, pred) in again.items():
        assert dice(pred == 1, loaded.label.array == 1) == pytest.approx(scored[case_id])
    history = read_history(tmp_path / "run")
    assert {"accuracy", "val_accuracy", "generalized_dice_score", "dice"} <= set(history[0])
    # the chapter's table: one row per test case, beside metrics.csv's scores
    rows, preds = msd.case_table(tmp_path / "run", data)
    assert [r["case"] for r in rows] == list(again) and list(preds) == list(again)
    for row in rows:
        loaded, pred = preds[row["case"]]
        assert row["spleen Dice"] == pytest.approx(scored[row["case"]])
        assert row["generalized Dice"] == pytest.approx(generalized_dice(pred, loaded.label.array))
        assert set(row) == {"case", "generalized Dice", "spleen Dice", "spleen HD95 (mm)"}


def test_build_model_follows_the_profile():
    settings = msd.settings("quick", {"filters": 4, "depth": 2, "batch_norm_momentum": 0.8})
    model = msd.build_model(settings, n_channels=2, n_classes=3)
    assert model.input_shape == (None, None, None, 2)
    assert model.output_shape == (None, None, None, 3)
    assert {layer.momentum for layer in model.layers if "bn" in layer.name} == {0.8}


def test_run_settings_refuses_other_studies(tmp_path):
    (tmp_path / "config.json").write_text('{"study": "phh", "profile": "quick", "settings": {}}')
    (tmp_path / "model.keras").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"unfinished labkit run \(no summary\.json"):
        msd.run_settings(tmp_path)
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match="a run of the 'phh' study, not of 'msd'"):
        msd.run_settings(tmp_path)


def test_zscore_and_neighbouring_slices_reach_the_model_and_predict(tmp_path, monkeypatch):
    from _tiny import use_tiny

    from labkit.datasets import write_msd_twin

    use_tiny(monkeypatch, "msd")
    data = tmp_path / "Task04_Hippocampus"
    write_msd_twin(data, "hippocampus", n_cases=5, seed=0)
    overrides = {"normalisation": "zscore", "context": 1}
    msd.train(data, tmp_path / "run", "quick", overrides=overrides)
    model = keras.models.load_model(tmp_path / "run" / "model.keras", compile=False)
    assert model.input_shape[-1] == 3  # one modality, a slice and its two neighbours
    image = load_case(load_msd(data).cases[0]).image.array
    pre, _ = msd.preprocess(image, normalisation="zscore")
    assert abs(float(pre.mean())) < 1e-4 and float(pre.std()) == pytest.approx(1.0, abs=1e-3)
    labels = msd.predict_volume(model, image, msd.run_settings(tmp_path / "run"))
    assert labels.shape == image.shape[:3]
    with pytest.raises(ValueError, match="normalisation must be 'minmax' or 'zscore'; got 'z'"):
        msd.settings("quick", {"normalisation": "z"})
    with pytest.raises(ValueError, match=r"normalisation must be one of \('minmax', 'zscore'\)"):
        msd.preprocess(image, normalisation="percentile")
