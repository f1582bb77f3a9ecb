"""Training: seeding, best checkpoint, CSV history, resumption after a killed run, tf.distribute."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _backend import BACKEND, TF_TWO_CPUS, tensorflow_only
from _toy_fit import build_toy_unet, toy_slices

#: On JAX and PyTorch too (make backends): resumption, the collapse guard, seeding, the best model.
#: Kills inside checkpoint writes test file handling, the same on every backend: TensorFlow only.
backends = pytest.mark.backends

SCRIPT = textwrap.dedent(
    """
    import os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import _backend  # as in conftest: on JAX and PyTorch, a machine without TensorFlow
    {devices}
    import keras
    from _toy_fit import build_toy_unet as build, build_toy_unet3d, toy_slices
    from labkit.pipeline import slice_dataset
    from labkit.training import fit, seed_everything

    out, epochs, kill_after = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    save_every_s = float(sys.argv[4])
    if os.environ.get("KILL_AT"):  # "NAME:K": SIGKILL just before the K-th rename onto NAME
        import signal
        name, k = os.environ["KILL_AT"].split(":")
        replace, seen = os.replace, []

        def killing_replace(src, dst):
            seen.append(os.path.basename(dst) == name)
            if sum(seen) == int(k):
                os.kill(os.getpid(), signal.SIGKILL)
            return replace(src, dst)

        os.replace = killing_replace
    seed_everything(0)
    x, y = toy_slices()

    class Kill(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 == kill_after:
                os._exit(3)  # like a Colab disconnect: no clean-up at all

    strategy = {strategy}
    train = slice_dataset(x, y, 8, shuffle=True, flip_axes=(0,))
    val = slice_dataset(x, y, 8)
    if os.environ.get("PATCHES"):  # 16x16x1 patches drawn anew every epoch from 20x20x3 volumes
        import numpy as np
        from labkit.pipeline import patch_dataset
        vols = [np.random.default_rng(i).random((20, 20, 3, 1)).astype("float32") for i in (1, 2)]
        labs = [(v[..., 0] > 0.6).astype("uint8") for v in vols]
        train = patch_dataset(vols, labs, (16, 16, 1), 8, 8, seed=0)
        build, val = build_toy_unet3d, slice_dataset(x[:, :, :, None], y[:, :, :, None], 8)
    result = fit(build, train, val, epochs, out,
                 strategy=strategy, callbacks=[Kill()], verbose=0, save_every_s=save_every_s)
    print("RESUMED_FROM", result.resumed_from, "REPLICAS",
          strategy.num_replicas_in_sync if strategy else 1)
    """
)


def _run(
    tmp_path: Path,
    out: Path,
    epochs: int,
    kill_after: int,
    distributed: bool = False,
    save_every_s: float = 0.0,
    kill_at: str = "",
    patches: bool = False,
):
    devices = strategy = ""
    if distributed:
        devices = TF_TWO_CPUS
        strategy = "tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])"
    script = tmp_path / "train.py"
    script.write_text(SCRIPT.format(devices=devices, strategy=strategy or "None"))
    tests = str(Path(__file__).resolve().parent)  # for _toy_fit
    path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path, "KILL_AT": kill_at}
    env["PATCHES"] = "1" if patches else ""
    return subprocess.run(
        [sys.executable, str(script), str(out), str(epochs), str(kill_after), str(save_every_s)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _history(out: Path) -> list[dict[str, float]]:
    from labkit.checkpoints import read_history

    return read_history(out)


def test_killed_run_resumes_and_finishes_with_all_epochs(tmp_path):
    out = tmp_path / "run"
    first = _run(tmp_path, out, epochs=5, kill_after=2)
    assert first.returncode == 3, first.stderr[-2000:]
    assert json.loads((out / "state.json").read_text())["epochs_done"] == 2
    assert [r["epoch"] for r in _history(out)] == [0, 1]
    second = _run(tmp_path, out, epochs=5, kill_after=-1)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "RESUMED_FROM 2" in second.stdout
    history = _history(out)
    assert [r["epoch"] for r in history] == [0, 1, 2, 3, 4]
    assert history[-1]["loss"] < history[0]["loss"]
    best = min(history, key=lambda r: r["val_loss"])
    assert (out / "model.keras").is_file()
    import keras

    import labkit  # noqa: F401  (registers the losses; no custom_objects needed)

    model = keras.models.load_model(out / "model.keras")
    x, y = toy_slices()
    assert model.evaluate(x, y, verbose=0, return_dict=True)["loss"] == pytest.approx(
        best["val_loss"], rel=1e-4
    )
    third = _run(tmp_path, out, epochs=5, kill_after=-1)  # a finished run is not trained again
    assert "RESUMED_FROM 5" in third.stdout and len(_history(out)) == 5


def test_checkpoints_are_written_at_most_every_save_every_s(tmp_path):
    out = tmp_path / "run"
    first = _run(tmp_path, out, epochs=4, kill_after=2, save_every_s=3600)
    assert first.returncode == 3, first.stderr[-2000:]
    # killed before the first save: nothing to resume from, the history is started again
    assert not (out / "state.json").exists() and not list(out.glob("last*.keras"))
    second = _run(tmp_path, out, epochs=4, kill_after=-1, save_every_s=3600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "RESUMED_FROM 0" in second.stdout
    state = json.loads((out / "state.json").read_text())
    history = _history(out)
    assert state["epochs_done"] == 4 and [r["epoch"] for r in history] == [0, 1, 2, 3]
    assert state["best_val_loss"] == pytest.approx(min(r["val_loss"] for r in history))
    from labkit.checkpoints import last_checkpoint

    assert (out / "model.keras").is_file() and last_checkpoint(out) == out / "last-e0004.keras"
    assert sorted(p.name for p in out.glob("last*.keras")) == ["last-e0004.keras"]


@backends
@pytest.mark.parametrize(
    "patches",
    [
        # a minute each on JAX, where both go through EpochBatches.start_at: the patches alone
        pytest.param(
            False, id="slices", marks=pytest.mark.skipif(BACKEND == "jax", reason="see patches")
        ),
        pytest.param(True, id="patches"),
    ],
)
def test_a_run_killed_at_a_random_epoch_and_resumed_is_the_uninterrupted_run(tmp_path, patches):
    import random

    import keras

    from labkit.checkpoints import read_history

    kill_after = random.randint(1, 4)  # any epoch must do
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert _run(tmp_path, whole, epochs=5, kill_after=-1, patches=patches).returncode == 0
    assert _run(tmp_path, cut, epochs=5, kill_after=kill_after, patches=patches).returncode == 3
    resumed = _run(tmp_path, cut, epochs=5, kill_after=-1, patches=patches)
    assert f"RESUMED_FROM {kill_after}" in resumed.stdout, resumed.stderr[-2000:]
    # the same shuffles and flips after the resumed epoch: the same losses, to the last digit
    assert read_history(cut) == read_history(whole), f"killed after epoch {kill_after}"
    a, b = (keras.models.load_model(run / "model.keras") for run in (whole, cut))
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("name", ["state.json", "last-e0003.keras", "history.csv"])
def test_a_run_killed_inside_a_checkpoint_write_resumes_from_the_save_before(tmp_path, name):
    from labkit.checkpoints import last_checkpoint

    out = tmp_path / "run"
    if name == "history.csv":  # rewritten on resume only: killed there, after two epochs
        assert _run(tmp_path, out, epochs=5, kill_after=2).returncode == 3
        first = _run(tmp_path, out, epochs=5, kill_after=-1, kill_at=f"{name}:1")
    else:  # SIGKILL once epoch 3's save is on disk under a temporary name, before its rename
        k = 3 if name == "state.json" else 1
        first = _run(tmp_path, out, epochs=5, kill_after=-1, kill_at=f"{name}:{k}")
    assert first.returncode == -9, first.stderr[-2000:]
    state = json.loads((out / "state.json").read_text())
    assert state["epochs_done"] == 2 and last_checkpoint(out) == out / "last-e0002.keras"
    second = _run(tmp_path, out, epochs=5, kill_after=-1)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "RESUMED_FROM 2" in second.stdout
    assert [r["epoch"] for r in _history(out)] == [0, 1, 2, 3, 4]
    assert sorted(p.name for p in out.iterdir()) == [
        "history.csv",
        "last-e0004.keras",
        "last-e0005.keras",
        "model.keras",
        "state.json",
    ]


def test_a_checkpoint_that_does_not_load_is_skipped_for_the_one_before(tmp_path):
    out = tmp_path / "run"
    assert _run(tmp_path, out, epochs=3, kill_after=-1).returncode == 0
    (out / "last-e0003.keras").write_bytes(b"")  # e.g. a disk error, or a file copied by hand
    second = _run(tmp_path, out, epochs=4, kill_after=-1)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "last-e0003.keras (epoch 3) could not be loaded" in second.stderr
    assert "RESUMED_FROM 2" in second.stdout
    assert [r["epoch"] for r in _history(out)] == [0, 1, 2, 3]


class _FakeModel:
    stop_training = False


def _guard_run(dices, patience=3):
    from labkit.callbacks import CollapseGuard

    guard = CollapseGuard(patience=patience)
    guard.set_model(_FakeModel())
    for epoch, value in enumerate(dices):
        guard.on_epoch_end(epoch, {"dice": value, "loss": 1 - value})
        if guard.model.stop_training:
            break
    return guard.collapsed_at, epoch


def test_collapse_guard_names_the_first_epoch_at_zero():
    # the WMH patch run of the reliability issue: Dice 0.03, 0.16, then 0 for good
    assert _guard_run([0.03, 0.16, 0.0, 0.0, 0.0, 0.0, 0.0]) == (3, 4)
    # a run that has not started to find foreground yet is not a collapse
    assert _guard_run([0.0, 0.0, 0.0, 0.0, 0.2, 0.4]) == (None, 5)
    # Dice + CE: the untrained output's ~0.01 goes to 0 before lesions are found
    assert _guard_run([0.01, 0.0, 0.0, 0.0, 0.0, 0.3]) == (None, 5)
    # a dip shorter than the patience is not a collapse
    assert _guard_run([0.3, 0.0, 0.0, 0.4, 0.0, 0.5]) == (None, 5)
    assert _guard_run([0.3, 0.0, 0.0], patience=2) == (2, 2)


@backends
def test_collapse_guard_stops_a_dead_network_that_never_learned():
    from labkit.callbacks import CollapseGuard

    def run(val_losses):
        guard = CollapseGuard()
        guard.set_model(_FakeModel())
        for epoch, val in enumerate(val_losses):
            guard.on_epoch_end(epoch, {"dice": 0.0, "val_loss": val})
        return guard.collapsed_at

    # the WMH patch run with Dice + CE, seed 2: the validation loss 1.0171 at every epoch
    assert run([1.0171] * 5) == 2
    assert run([1.0841, 1.0171, 1.0171, 1.0171, 1.0171]) == 3
    assert run([0.99, 0.98, 0.97, 0.96, 0.95, 0.94]) is None  # still moving: still learning


@backends
def test_fit_raises_when_the_training_collapses(tmp_path):
    import keras

    from labkit import losses, metrics
    from labkit.errors import TrainingCollapsedError
    from labkit.models import unet
    from labkit.pipeline import slice_dataset
    from labkit.training import fit, seed_everything

    seed_everything(0)
    x, y = toy_slices()

    class Collapse(keras.layers.Layer):  # foreground in epoch 1, none after
        def __init__(self):
            super().__init__()
            self.on = keras.Variable(1.0, trainable=False)

        def call(self, p):
            return p * self.on

    def build():
        inputs = keras.Input((16, 16, 1))
        switch = Collapse()
        outputs = switch(unet((16, 16, 1), 1, depth=1, filters=2)(inputs))
        model = keras.Model(inputs, outputs)
        model.switch = switch
        model.compile("adam", losses.SoftDiceLoss(), metrics=[metrics.DiceScore(1)])
        return model

    class Off(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.switch.on.assign(0.0)

    data = slice_dataset(x, y, 8)
    with pytest.raises(
        TrainingCollapsedError, match=r"collapsed at epoch 2: from there its Dice was 0"
    ):
        fit(build, data, data, 10, tmp_path / "run", callbacks=[Off()], verbose=0)
    assert len(_history(tmp_path / "run")) == 4  # stopped after three epochs at zero


@tensorflow_only
def test_fit_under_mirrored_strategy_on_two_logical_cpus(tmp_path):
    out = tmp_path / "mirrored"
    first = _run(tmp_path, out, epochs=3, kill_after=1, distributed=True)
    assert first.returncode == 3, first.stderr[-2000:]
    result = _run(tmp_path, out, epochs=3, kill_after=-1, distributed=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "RESUMED_FROM 1 REPLICAS 2" in result.stdout
    assert [r["epoch"] for r in _history(out)] == [0, 1, 2]


@backends
def test_seed_everything_repeats_draws():
    import keras
    import torch
    from monai.transforms import Compose, RandGaussianNoise

    from labkit.training import seed_everything

    def draws():
        noise = Compose([RandGaussianNoise(prob=1.0)])  # built after seeding, as a pipeline does
        return (
            np.random.rand(),  # noqa: NPY002 - the legacy global RNG is what seeding must cover
            float(keras.random.uniform((1,))[0]),
            float(torch.rand(1)[0]),
            float(noise(np.zeros((1, 4, 4), np.float32)).sum()),
        )

    seed_everything(7)
    a = draws()
    seed_everything(7)
    assert draws() == a


@backends
def test_best_model_is_the_saved_best_epoch_without_reading_it(tmp_path):
    import keras

    from labkit.pipeline import slice_dataset
    from labkit.training import fit, seed_everything

    seed_everything(0)
    x, y = toy_slices(16)
    # validated on the opposite labels, the model gets worse with every epoch it learns: the
    # best epoch is the first, so the best weights are not the last epoch's
    train, val = slice_dataset(x, y, 8), slice_dataset(x, 1 - y, 8)
    result = fit(build_toy_unet, train, val, 4, tmp_path / "run", verbose=0)
    assert min(result.history, key=lambda r: r["val_loss"])["epoch"] == 0
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    last_weights = [w.copy() for w in result.model.get_weights()]
    assert result.best_weights is not None
    model = result.best_model()
    saved = keras.models.load_model(result.best_path)
    assert model is result.model  # no file read
    for mine, theirs in zip(model.get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)
    assert any(
        not np.array_equal(a, b) for a, b in zip(last_weights, model.get_weights(), strict=True)
    )
    # a finished run is not trained again: nothing in memory, the best epoch comes from disk
    again = fit(build_toy_unet, train, val, 4, tmp_path / "run", verbose=0)
    assert again.best_weights is None and again.resumed_from == 4
    for mine, theirs in zip(again.best_model().get_weights(), saved.get_weights(), strict=True):
        np.testing.assert_array_equal(mine, theirs)


def test_epoch_line_is_one_short_line_per_epoch():
    import io

    from labkit.callbacks import EpochLine

    out = io.StringIO()
    line = EpochLine(12, stream=out)
    line.on_epoch_begin(2)
    logs = {"loss": 0.1894, "val_loss": 0.2011, "val_dice_1": 0.8217, "dice": 0.9, "val_acc": 1.0}
    line.on_epoch_end(2, logs)
    text = out.getvalue()
    assert text.startswith("epoch 3/12  loss 0.189  val_loss 0.201  val_dice_1 0.822  ")
    assert text.endswith(" s\n") and text.count("\n") == 1 and "val_acc" not in text
