import numpy as np
import pytest

from labkit import metrics

#: Backend-neutral: make test runs this module under JAX and PyTorch too.
pytestmark = pytest.mark.backends


def test_dice_score_accumulates_over_batches_by_hand():
    m = metrics.DiceScore(3)
    m1 = metrics.DiceScore(3, class_id=1)
    g1 = np.array([[[0], [1], [1], [2]]])
    p1 = np.eye(3, dtype=np.float32)[[[0, 1, 0, 2]]]  # class 1: 1 of 2 hit; class 2: hit
    g2 = np.array([[[1], [1], [0], [0]]])
    p2 = np.eye(3, dtype=np.float32)[[[1, 1, 2, 0]]]  # class 1: both hit; class 2: 1 false positive
    for metric in (m, m1):
        metric.update_state(g1, p1)
        metric.update_state(g2, p2)
    dice1 = 2 * 3 / (4 + 3)  # totals: 3 hits, 4 reference, 3 predicted
    dice2 = 2 * 1 / (1 + 2)
    assert float(m1.result()) == pytest.approx(dice1)
    assert float(m.result()) == pytest.approx((dice1 + dice2) / 2)
    m.reset_state()
    m.update_state(g1, np.eye(3, dtype=np.float32)[[[0, 1, 1, 2]]])
    assert float(m.result()) == pytest.approx(1.0)


def test_dice_score_binary_thresholds_at_half():
    m = metrics.DiceScore(1)
    m.update_state(np.array([[[1.0], [1.0], [0.0]]]), np.array([[[0.9], [0.4], [0.6]]], np.float32))
    assert float(m.result()) == pytest.approx(2 * 1 / (2 + 2))


def test_dice_score_rejects_unknown_class():
    with pytest.raises(ValueError, match="class_id 3 is not a channel of a 3-class output"):
        metrics.DiceScore(3, class_id=3)


def test_generalized_dice_score_is_one_minus_the_loss(rng):
    from labkit.losses import GeneralizedDiceLoss

    g = rng.integers(0, 3, size=(2, 5, 5, 1))
    p = rng.dirichlet(np.ones(3), size=(2, 5, 5)).astype(np.float32)
    m = metrics.GeneralizedDiceScore()
    m.update_state(g, p)
    assert float(m.result()) == pytest.approx(1 - float(GeneralizedDiceLoss()(g, p)), rel=1e-5)
