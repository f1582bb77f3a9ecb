import keras
import numpy as np
import pytest
from _backend import tensorflow_only

from labkit import losses, metrics
from labkit.errors import ShapeError
from labkit.models import unet

#: Backend-neutral: make test runs this module under JAX and PyTorch too.
pytestmark = pytest.mark.backends


def test_2d_binary_output_shape_and_activation():
    model = unet((32, 48, 2), 1, depth=3, filters=4)
    assert model.output_shape == (None, 32, 48, 1)
    out = model.predict(np.zeros((1, 32, 48, 2), np.float32), verbose=0)
    assert np.all((out > 0) & (out < 1))


def test_3d_multiclass_softmax_sums_to_one(rng):
    model = unet((16, 16, 8, 1), 4, depth=2, filters=4, kernel_size=(3, 3, 1))
    out = model.predict(rng.normal(size=(2, 16, 16, 8, 1)).astype(np.float32), verbose=0)
    assert out.shape == (2, 16, 16, 8, 4)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    assert model.get_layer("enc0_conv1").kernel.shape == (3, 3, 1, 1, 4)


def test_parameter_count_by_hand():
    # enc 40 + 148, bottleneck 296 + 584, up-convolution 132, dec 292 + 148, 1x1 output 5
    assert unet((16, 16, 1), 1, depth=1, filters=4, batch_norm=False).count_params() == 1645
    # batch norm: the 6 block convolutions lose their biases (32) and gain 4 numbers per channel
    assert (
        unet((16, 16, 1), 1, depth=1, filters=4, batch_norm=True).count_params() == 1645 - 32 + 128
    )


def test_anisotropic_pooling_allows_thin_volumes():
    model = unet((32, 32, 4, 1), 1, depth=3, filters=2, pool_size=(2, 2, 1))
    assert model.output_shape == (None, 32, 32, 4, 1)


def test_flexible_input_size():
    model = unet((None, None, 1), 2, depth=2, filters=4)
    assert model.predict(np.zeros((1, 12, 20, 1), np.float32), verbose=0).shape == (1, 12, 20, 2)


def test_indivisible_input_is_explained():
    with pytest.raises(
        ShapeError, match=r"input size 35 on axis 0 is not divisible by 16 .* Pad the input to 48"
    ):
        unet((35, 48, 1), 1, depth=4)


def test_bad_arguments():
    with pytest.raises(ShapeError, match="must be \\(x, y, channels\\)"):
        unet((32, 1), 1)
    with pytest.raises(ValueError, match="kernel_size \\(3, 3\\) must be one int or 3 ints"):
        unet((8, 8, 8, 1), 1, depth=1, kernel_size=(3, 3))


def test_save_and_load_round_trip_without_custom_objects(tmp_path, rng):
    model = unet((16, 16, 1), 3, depth=2, filters=4, dropout=0.1)
    model.compile(
        optimizer="adam",
        loss=losses.DiceCELoss(lambda_ce=0.5),
        metrics=[
            metrics.DiceScore(3),
            metrics.DiceScore(3, class_id=2),
            metrics.GeneralizedDiceScore(),
        ],
    )
    x = rng.normal(size=(4, 16, 16, 1)).astype(np.float32)
    y = rng.integers(0, 3, size=(4, 16, 16, 1))
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # no custom_objects
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert isinstance(loaded.loss, losses.DiceCELoss) and loaded.loss.lambda_ce == 0.5
    loaded.evaluate(x, y, verbose=0)  # compiled metrics come back too


def test_layer_outputs_give_each_levels_activation_maps():
    from labkit.models import layer_outputs

    model = unet((16, 16, 8, 1), 1, depth=2, filters=2, kernel_size=(3, 3, 1), batch_norm=False)
    x = np.random.default_rng(0).random((16, 16, 8, 1)).astype(np.float32)
    maps = layer_outputs(model, x, ["enc0_relu2", "bottleneck_relu2", "dec0_relu2"])
    assert {k: v.shape for k, v in maps.items()} == {
        "enc0_relu2": (16, 16, 8, 2),
        "bottleneck_relu2": (4, 4, 2, 8),
        "dec0_relu2": (16, 16, 8, 2),
    }
    assert (maps["enc0_relu2"] >= 0).all()  # after a ReLU
    with pytest.raises(KeyError, match=r"no layers \['enc9_relu2'\] in model .*ReLU layers are"):
        layer_outputs(model, x, ["enc9_relu2"])


def test_unet_levels_lists_every_level_with_its_shape():
    from labkit.models import unet_levels

    model = unet((16, 16, 1), 2, depth=2, filters=4)
    rows = unet_levels(model)
    assert [r["layer"] for r in rows] == [
        "enc0",
        "enc1",
        "bottleneck",
        "dec1",
        "dec0",
        "probabilities",
    ]
    assert rows[0]["output shape"] == "(16, 16, 4)"
    assert rows[2]["output shape"] == "(4, 4, 16)"  # two poolings, filters doubled twice
    assert rows[-1]["output shape"] == "(16, 16, 2)"
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="plain has no layer named '<level>_relu2'"):
        unet_levels(plain)


PREDICT_ELSEWHERE = """
import sys

import numpy as np

sys.modules["tensorflow"] = None  # as on a machine without it
import keras

import labkit  # noqa: F401  (registers the course's layers, losses and metrics)

model = keras.models.load_model(sys.argv[1])
np.save(sys.argv[3], model.predict(np.load(sys.argv[2]), verbose=0))
"""


@tensorflow_only  # saved on the course's backend, loaded on the others
@pytest.mark.parametrize("other", ["jax", "torch"])
def test_a_model_saved_on_tensorflow_predicts_the_same_on_another_backend(tmp_path, rng, other):
    import os
    import subprocess
    import sys

    model = unet((16, 16, 1), 3, depth=2, filters=4)
    model.compile(optimizer="adam", loss=losses.DiceCELoss())
    x = rng.normal(size=(4, 16, 16, 1)).astype(np.float32)
    model.fit(x, rng.integers(0, 3, size=(4, 16, 16, 1)), epochs=2, verbose=0)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "predict.py").write_text(PREDICT_ELSEWHERE)
    args = [str(tmp_path / n) for n in ("predict.py", "model.keras", "x.npy", "p.npy")]
    env = {**os.environ, "KERAS_BACKEND": other, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    here, there = model.predict(x, verbose=0), np.load(tmp_path / "p.npy")
    np.testing.assert_allclose(there, here, atol=1e-5)
    np.testing.assert_array_equal(there.argmax(-1), here.argmax(-1))
