import keras
import numpy as np
import pytest
import torch
from monai.losses import DiceLoss
from monai.losses import GeneralizedDiceLoss as MonaiGDL

from labkit import losses

#: Backend-neutral: make test runs this module under JAX and PyTorch too.
pytestmark = pytest.mark.backends


def _gradient(loss_of, p0: np.ndarray) -> tuple[float, np.ndarray]:
    """The loss at ``p0`` and its gradient with respect to ``p0``, on the active Keras backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        p = tf.Variable(p0)
        with tf.GradientTape() as tape:
            loss = loss_of(p)
        return float(loss), tape.gradient(loss, p).numpy()
    if backend == "jax":
        import jax

        loss, grad = jax.value_and_grad(lambda p: loss_of(p))(p0)
        return float(loss), np.asarray(grad)
    p = torch.tensor(p0, requires_grad=True)
    loss = loss_of(p)
    loss.backward()
    return float(loss.detach()), p.grad.numpy()


def _probs(rng, shape, classes):
    logits = rng.normal(size=(*shape, classes)).astype(np.float32)
    if classes == 1:
        return 1 / (1 + np.exp(-logits))
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _torch(x):  # channels-last numpy -> channels-first torch
    return torch.from_numpy(np.moveaxis(np.asarray(x, np.float32), -1, 1).copy())


def test_soft_dice_by_hand():
    # one sample, one channel: p = [1, 0.5, 0, 0], g = [1, 1, 0, 0]
    p = np.array([[[1.0], [0.5], [0.0], [0.0]]], np.float32)
    g = np.array([[[1.0], [1.0], [0.0], [0.0]]], np.float32)
    loss = losses.SoftDiceLoss(smooth_nr=0, smooth_dr=0)(g, p)
    assert float(loss) == pytest.approx(1 - 2 * 1.5 / (1.5 + 2))
    squared = losses.SoftDiceLoss(squared=True, smooth_nr=0, smooth_dr=0)(g, p)
    assert float(squared) == pytest.approx(1 - 2 * 1.5 / (1.25 + 2))


def test_generalized_dice_by_hand():
    # two classes on four pixels; class 1 small (1 pixel), class 0 large (3 pixels)
    g = np.array([[[0], [0], [0], [1]]])
    p = np.array([[[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]]], np.float32)
    w0, w1 = 1 / 9, 1 / 1
    inter = [0.9 + 0.8 + 0.6, 0.7]
    denom = [(0.9 + 0.8 + 0.6 + 0.3) + 3, (0.1 + 0.2 + 0.4 + 0.7) + 1]
    expected = 1 - 2 * (w0 * inter[0] + w1 * inter[1]) / (w0 * denom[0] + w1 * denom[1])
    loss = losses.GeneralizedDiceLoss(smooth_nr=0, smooth_dr=0)(g, p)
    assert float(loss) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("classes", [1, 3])
@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("batch", [False, True])
def test_soft_dice_matches_monai(rng, classes, include_background, batch):
    p = _probs(rng, (4, 12, 10), classes)
    labels = rng.integers(0, max(classes, 2), size=(4, 12, 10, 1))
    labels[0] = 0  # an empty sample
    ours = losses.SoftDiceLoss(include_background=include_background, batch=batch)(labels, p)
    monai = DiceLoss(include_background=include_background, to_onehot_y=classes > 1, batch=batch)
    theirs = monai(_torch(p), _torch(labels))
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("include_background", [True, False])
@pytest.mark.parametrize("batch", [False, True])
def test_generalized_dice_matches_monai(rng, include_background, batch):
    p = _probs(rng, (3, 8, 8, 6), 4)
    labels = rng.choice(4, size=(3, 8, 8, 6, 1), p=[0.85, 0.1, 0.05, 0.0])  # class 3 absent
    ours = losses.GeneralizedDiceLoss(include_background=include_background, batch=batch)(labels, p)
    monai = MonaiGDL(include_background=include_background, to_onehot_y=True, batch=batch)
    theirs = monai(_torch(p), _torch(labels))
    assert float(ours) == pytest.approx(float(theirs), rel=1e-5, abs=1e-6)


def test_dice_ce_is_dice_plus_cross_entropy(rng):
    p = _probs(rng, (2, 6, 6), 3)
    labels = rng.integers(0, 3, size=(2, 6, 6, 1))
    onehot = np.eye(3)[labels[..., 0]]
    ce = -np.mean(np.sum(onehot * np.log(np.clip(p, 1e-7, 1)), -1))
    dice = float(losses.SoftDiceLoss()(labels, p))
    assert float(losses.DiceCELoss(lambda_ce=0.5)(labels, p)) == pytest.approx(
        dice + 0.5 * ce, rel=1e-5
    )


def test_bce_matches_keras(rng):
    p = _probs(rng, (2, 5, 5), 1)
    g = rng.integers(0, 2, size=(2, 5, 5, 1)).astype(np.float32)
    ours = float(losses.BinaryCrossentropy()(g, p))
    theirs = float(keras.losses.BinaryCrossentropy()(g, p))
    assert ours == pytest.approx(theirs, rel=1e-4)
    with pytest.raises(ValueError, match="expects one sigmoid channel; got y_pred with 3 channels"):
        losses.BinaryCrossentropy()(g, _probs(rng, (2, 5, 5), 3))


@pytest.mark.parametrize("name", ["dice", "generalized_dice", "dice_ce", "cross_entropy"])
def test_gradients_are_finite_on_empty_masks(name):
    p = np.full((2, 8, 8, 3), 1 / 3, np.float32)
    empty = np.zeros((2, 8, 8, 1), np.int32)  # background only: classes 1 and 2 are empty
    loss, grad = _gradient(lambda p: losses.get(name)(empty, p), p)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))


def test_perfect_prediction_scores_zero_loss():
    g = np.zeros((1, 6, 6, 1), np.int32)
    g[0, 2:4, 2:4] = 1
    p = np.eye(2, dtype=np.float32)[g[..., 0]]
    for name in ("dice", "generalized_dice"):
        assert float(losses.get(name)(g, p)) == pytest.approx(0.0, abs=1e-5)


def test_get_unknown_loss():
    with pytest.raises(ValueError, match="unknown loss 'focal'"):
        losses.get("focal")


def test_batch_dice_keeps_an_empty_patch_from_driving_the_logits_down():
    # two 1x4 "patches": the first without foreground, predicted almost empty; the second with one
    # foreground voxel, predicted right. Hand-computed for the first patch's voxels (eps = 1e-5):
    # per sample, d/dp of 1 - eps / (sum p + eps) is eps / (sum p + eps)^2 = 1e-5 / (2e-5)^2 =
    # 25000, halved by the mean over the two samples: 12500 on each voxel.
    g = np.array([[0, 0, 0, 0], [1, 0, 0, 0]], np.float32).reshape(2, 4, 1, 1)
    p0 = np.array([[2.5e-6] * 4, [1.0, 0, 0, 0]], np.float32).reshape(2, 4, 1, 1)
    grads = {}
    for name in ("dice", "batch_dice"):
        loss_of = lambda p, name=name: keras.ops.mean(losses.get(name)(g, p))  # noqa: E731
        grads[name] = _gradient(loss_of, p0)[1][0].ravel()
    np.testing.assert_allclose(grads["dice"], 12500, rtol=1e-3)
    # over the batch the denominator holds the other patch's foreground: sum p + sum g ~ 2, and
    # d/dp_i = 2 I / S^2 = 2 * 1 / 2^2 = 0.5 for a background voxel
    np.testing.assert_allclose(grads["batch_dice"], 0.5, rtol=1e-3)
    assert losses.get("batch_dice").get_config()["batch"] is True
