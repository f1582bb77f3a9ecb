"""Model files: plain Keras loads them without labkit; labkit loads them with the fused layers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import keras
import numpy as np
import pytest
from _backend import BACKEND

from labkit.layers import FusedBatchNormalization
from labkit.losses import SoftDiceLoss
from labkit.metrics import DiceScore
from labkit.models import unet
from labkit.saving import FUSED_KEY, load_model, save_model

pytestmark = pytest.mark.backends


def _model(fused: bool = True) -> tuple[keras.Model, np.ndarray]:
    keras.utils.set_random_seed(0)
    model = unet((16, 16, 1), 2, depth=2, filters=4, fused_batch_norm=fused)
    model.compile(optimizer="adam", loss=SoftDiceLoss(), metrics=[DiceScore(2)])
    rng = np.random.default_rng(0)
    # weights and batch-norm statistics off their starting values (positive shifts keep the
    # variances positive), and an optimizer with state, as a trained model has
    model.set_weights([w + 0.1 * rng.random(w.shape, dtype="float32") for w in model.get_weights()])
    model.optimizer.build(model.trainable_variables)
    x = rng.random((4, 16, 16, 1), dtype=np.float32)
    return model, x


def test_save_writes_keras_batch_norm_and_load_restores_the_fused_layer(tmp_path):
    model, x = _model()
    path = tmp_path / "m.keras"
    save_model(model, path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
        fused = json.loads(archive.read("metadata.json"))[FUSED_KEY]
    # the architecture holds Keras' layers only; the compile settings still name labkit's loss
    assert "labkit" not in json.dumps(config["config"]["layers"])
    assert config["compile_config"]["loss"]["registered_name"] == "labkit>SoftDiceLoss"
    n_fused = sum(isinstance(layer, FusedBatchNormalization) for layer in model.layers)
    assert len(fused) == n_fused > 0

    again = load_model(path)
    assert sorted(
        layer.name for layer in again.layers if isinstance(layer, FusedBatchNormalization)
    ) == sorted(fused)
    assert isinstance(again.loss, SoftDiceLoss)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(again(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        atol=1e-6,
    )
    assert len(again.optimizer.variables) == len(model.optimizer.variables)


def test_a_model_without_labkit_layers_is_saved_as_keras_saves_it(tmp_path):
    model, _ = _model(fused=False)
    save_model(model, tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        assert FUSED_KEY not in json.loads(archive.read("metadata.json"))
    again = load_model(tmp_path / "m.keras")
    assert not any(isinstance(layer, FusedBatchNormalization) for layer in again.layers)


def test_plain_keras_in_a_process_without_labkit_predicts_with_the_file(tmp_path):
    model, x = _model()
    save_model(model, tmp_path / "m.keras")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "p.npy", keras.ops.convert_to_numpy(model(x, training=False)))
    script = textwrap.dedent(
        """
        import sys
        import keras, numpy as np
        x, p = np.load("x.npy"), np.load("p.npy")
        model = keras.models.load_model("m.keras", compile=False)
        print(np.abs(keras.ops.convert_to_numpy(model(x, training=False)) - p).max())
        try:
            keras.models.load_model("m.keras")
        except Exception as err:
            print("compiled:", str(err)[:400])
        assert "labkit" not in sys.modules
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "KERAS_BACKEND": BACKEND},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    difference, compiled = done.stdout.strip().splitlines()[-2:]
    assert float(difference) < 1e-5
    # the loss is labkit's: Keras says which module to import to compile the model
    assert "SoftDiceLoss" in compiled and "labkit.losses" in compiled and "imported" in compiled
