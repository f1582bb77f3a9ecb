"""The Decathlon recipe's settings."""

import pytest

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
        msd.MSDProfile(epochs=2, batch_size=16, learning_rate=1e-3, filters=4, depth=2),
    )
    data = tmp_path / "Task09_Spleen"
    write_msd_twin(data, "spleen", n_cases=5, seed=0)
    msd.train(data, tmp_path / "run", "quick", overrides={"schedule": "cosine"})
    model = keras.models.load_model(tmp_path / "run" / "last.keras")
    optimizer = model.optimizer
    rate = optimizer.learning_rate  # the schedule evaluated at the current step
    assert int(optimizer.iterations) > 0
    assert float(rate) == pytest.approx(0.0, abs=1e-9)
