"""FusedBatchNormalization against keras.layers.BatchNormalization: same outputs, gradients and
moving statistics, in training and inference, for 2D and 3D feature maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from labkit.layers import FusedBatchNormalization

tf = pytest.importorskip("tensorflow", reason="the fused kernel is TensorFlow's")


def _pair(shape: tuple[int, ...], momentum: float = 0.9) -> tuple:
    rng = np.random.default_rng(0)
    ref = keras.layers.BatchNormalization(momentum=momentum)
    fused = FusedBatchNormalization(momentum=momentum)
    ref.build(shape)
    fused.build(shape)
    for name in ("gamma", "beta", "moving_mean"):
        value = rng.normal(size=shape[-1:]).astype(np.float32)
        getattr(ref, name).assign(value)
        getattr(fused, name).assign(value)
    variance = rng.uniform(0.5, 2.0, size=shape[-1:]).astype(np.float32)
    ref.moving_variance.assign(variance)
    fused.moving_variance.assign(variance)
    x = rng.normal(2.0, 3.0, size=shape).astype(np.float32)
    return ref, fused, tf.constant(x)


@pytest.mark.parametrize("shape", [(2, 6, 5, 3), (2, 4, 5, 3, 4)])
def test_training_step_matches_keras(shape: tuple[int, ...]) -> None:
    ref, fused, x = _pair(shape)
    w = tf.constant(np.random.default_rng(1).normal(size=shape).astype(np.float32))
    results = []
    for layer in (ref, fused):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y * w)
        grads = tape.gradient(loss, [x, layer.gamma.value, layer.beta.value])
        results.append((y, *grads, layer.moving_mean.value, layer.moving_variance.value))
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-4)
    # the statistics really moved towards the batch's (mean about 2, variance about 9)
    assert not np.allclose(np.asarray(fused.moving_variance.value), 1.0)


@pytest.mark.parametrize("shape", [(2, 6, 5, 3), (2, 4, 5, 3, 4)])
def test_inference_matches_keras(shape: tuple[int, ...]) -> None:
    ref, fused, x = _pair(shape)
    np.testing.assert_allclose(
        np.asarray(fused(x, training=False)), np.asarray(ref(x, training=False)), atol=1e-5
    )
    before = np.asarray(fused.moving_mean.value).copy()
    fused(x, training=False)
    np.testing.assert_array_equal(np.asarray(fused.moving_mean.value), before)


def test_other_ranks_fall_back_to_keras() -> None:
    ref, fused, _ = _pair((4, 3))
    x = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3))
    np.testing.assert_allclose(
        np.asarray(fused(x, training=True)), np.asarray(ref(x, training=True)), atol=1e-5
    )


def test_frozen_layer_uses_moving_statistics() -> None:
    ref, fused, x = _pair((2, 6, 5, 3))
    ref.trainable = fused.trainable = False
    np.testing.assert_allclose(
        np.asarray(fused(x, training=True)), np.asarray(ref(x, training=True)), atol=1e-5
    )


def test_saved_model_reloads(tmp_path) -> None:
    import labkit  # noqa: F401  (registers the layer)

    inputs = keras.Input((6, 5, 3))
    model = keras.Model(inputs, FusedBatchNormalization(name="bn")(inputs))
    model.save(tmp_path / "m.keras")
    again = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(again.get_layer("bn"), FusedBatchNormalization)
