"""Precision and devices: mixed precision keeps the output float32 and learns; data-parallel
training runs over two logical CPU devices (a subprocess each: devices are fixed at start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
from _backend import BACKEND, TF_TWO_CPUS
from _toy_fit import build_toy_unet, toy_slices

from labkit.config import accelerators
from labkit.hardware import placement, precision, training_devices
from labkit.pipeline import slice_dataset
from labkit.studies.settings import profile_settings
from labkit.studies.settings.phh import PROFILES
from labkit.training import fit

pytestmark = pytest.mark.backends
TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("name", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_computes_in_16_bits_keeps_the_output_float32_and_learns(name, tmp_path):
    keras.utils.set_random_seed(0)
    x, y = toy_slices(16)
    data = slice_dataset(x, y, 8)
    with precision(name):
        result = fit(build_toy_unet, data, data, 3, tmp_path / "run", verbose=0)
    assert keras.config.dtype_policy().name == "float32"  # restored after the block
    model = result.model
    assert model.get_layer("enc0_conv1").compute_dtype == name.removeprefix("mixed_")
    assert model.get_layer("enc0_conv1").variable_dtype == "float32"
    assert model.get_layer("probabilities").compute_dtype == "float32"
    assert keras.ops.convert_to_numpy(model(x[:2])).dtype == np.float32
    if name == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    losses = [row["loss"] for row in result.history]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_settings_take_precision_and_devices_and_refuse_others():
    full = profile_settings("phh", PROFILES, "full", None)
    assert (full.precision, full.devices) == ("mixed_float16", "one")
    quick = profile_settings("phh", PROFILES, "quick", {"precision": "mixed_bfloat16"})
    assert quick.precision == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision must be 'float32' or 'mixed_float16'"):
        profile_settings("phh", PROFILES, "quick", {"precision": "float16"})
    with pytest.raises(ValueError, match="devices must be 'one' or 'all'; got 'gpu'"):
        profile_settings("phh", PROFILES, "quick", {"devices": "gpu"})
    with pytest.raises(ValueError, match="precision is 'half'; expected one of"):
        with precision("half"):
            pass


def test_all_devices_are_the_accelerators_else_the_cpus():
    found, devices = accelerators(), training_devices()
    assert all(isinstance(name, str) for name in devices)
    if found:
        assert devices == found
    else:
        assert len(devices) == 1 and "cpu" in devices[0].lower(), devices


def test_one_device_or_a_single_visible_device_trains_as_before():
    for devices in ("one", "all"):
        with placement(devices, 7) as strategy:
            assert strategy is None
    with pytest.raises(ValueError, match="devices is 'two'; expected one of"):
        with placement("two", 8):
            pass


TWO_DEVICES = """
import _backend  # as in conftest: on JAX, a machine without TensorFlow
import keras, numpy as np
from _toy_fit import build_toy_unet, toy_slices
from labkit.errors import LabkitError
from labkit.hardware import placement, training_devices
from labkit.pipeline import slice_dataset
from labkit.training import fit

assert len(training_devices()) == 2, training_devices()
keras.utils.set_random_seed(0)
x, y = toy_slices(16)
data = slice_dataset(x, y, 8)
with placement("all", 8) as strategy:
    if keras.backend.backend() == "tensorflow":
        assert strategy.num_replicas_in_sync == 2
    else:
        assert type(keras.distribution.distribution()).__name__ == "DataParallel"
    result = fit(build_toy_unet, data, data, 4, "run", strategy=strategy, verbose=0)
assert keras.distribution.distribution() is None
losses = [row["loss"] for row in result.history]
assert np.all(np.isfinite(losses)) and losses[-1] < losses[0], losses
try:
    with placement("all", 7):
        pass
except LabkitError as err:
    assert "set a multiple of 2" in str(err), err
else:
    raise AssertionError("a batch of 7 over 2 devices was not refused")
print("ok", losses)
"""


@pytest.mark.skipif(BACKEND == "torch", reason="Keras 3 has no data-parallel training on PyTorch")
def test_data_parallel_training_over_two_logical_cpu_devices(tmp_path):
    if BACKEND == "tensorflow":
        start, env = TF_TWO_CPUS, {}
    else:
        start, env = "", {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    done = subprocess.run(
        [sys.executable, "-c", start + textwrap.dedent(TWO_DEVICES)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, **env, "KERAS_BACKEND": BACKEND, "PYTHONPATH": str(TESTS)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok")
