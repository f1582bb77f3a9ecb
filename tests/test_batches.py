"""The backend-neutral batches: epochs drawn from (seed, epoch), resumable, fed to Keras."""

import keras
import numpy as np
import pytest

from labkit.batches import EpochBatches, array_batches, first_batches, flip_arrays, one_epoch
from labkit.pipeline import slice_dataset

pytestmark = pytest.mark.backends


def test_array_batches_shuffle_by_seed_and_epoch():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    ds = array_batches(x, x.astype(np.uint8), 4, shuffle=True, seed=7)
    assert len(ds) == 3
    first, second = one_epoch(ds), one_epoch(ds)
    assert [len(b[0]) for b in first] == [4, 4, 2]
    order = [int(v) for b in first for v in b[0].ravel()]
    assert sorted(order) == list(range(10))
    # epoch e is numpy's permutation from the generator [seed, e], by hand
    assert order == list(np.random.default_rng([7, 0]).permutation(10))
    assert [int(v) for b in second for v in b[0].ravel()] == list(
        np.random.default_rng([7, 1]).permutation(10)
    )
    for bx, by in first:  # labels travel with their images
        np.testing.assert_array_equal(bx.astype(np.uint8), by)


def test_array_batches_without_shuffle_keep_the_order():
    x = np.arange(5, dtype=np.float32).reshape(5, 1)
    batches = one_epoch(array_batches(x, x, 2))
    assert [b[0].ravel().tolist() for b in batches] == [[0, 1], [2, 3], [4]]


def test_flips_move_image_and_label_together():
    x = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    y = x.astype(np.int32)
    fx, fy = flip_arrays(x, y, (0,), np.random.default_rng(0))
    np.testing.assert_array_equal(fx.astype(np.int32), fy)
    flipped = np.random.default_rng(0).random(2) < 0.5  # the draw flip_arrays makes
    for i in range(2):
        expected = x[i, ::-1] if flipped[i] else x[i]
        np.testing.assert_array_equal(fx[i], expected)
    np.testing.assert_array_equal(x, np.arange(12).reshape(2, 3, 2))  # input untouched


def test_start_at_resumes_with_that_epochs_draw():
    x = np.arange(6, dtype=np.float32).reshape(6, 1)
    uninterrupted = array_batches(x, x, 3, shuffle=True, seed=1)
    epochs = [one_epoch(uninterrupted) for _ in range(3)]
    resumed = array_batches(x, x, 3, shuffle=True, seed=1)
    resumed.start_at(2)
    for a, b in zip(one_epoch(resumed), epochs[2], strict=True):
        np.testing.assert_array_equal(a[0], b[0])


def test_epoch_batches_refuse_bad_sizes_and_indices():
    with pytest.raises(ValueError, match="at least one example and a batch size of at least 1"):
        EpochBatches(lambda e: (np.zeros(1), np.zeros(1)), 0, 4)
    ds = EpochBatches(lambda e: (np.zeros(3), np.zeros(3)), 4, 2)
    with pytest.raises(ValueError, match=r"drew 3 images and 3 labels; expected 4 of each"):
        ds[0]
    with pytest.raises(IndexError, match="batch 5 of an epoch of 2 batches"):
        ds[5]
    with pytest.raises(ValueError, match="5 images but 4 labels"):
        array_batches(np.zeros((5, 1)), np.zeros((4, 1)), 2)


def test_keras_trains_on_epoch_batches_and_asks_one_draw_per_epoch():
    x = np.random.default_rng(0).random((16, 4)).astype(np.float32)
    y = (x.sum(1, keepdims=True) > 2).astype(np.float32)
    asked = []

    def draw(epoch):
        asked.append(epoch)
        order = np.random.default_rng([0, epoch]).permutation(16)
        return x[order], y[order]

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy")
    history = model.fit(EpochBatches(draw, 16, 4), epochs=3, verbose=0, shuffle=False)
    # Keras on JAX and PyTorch begins one epoch more, to build the model from a first batch
    built = 0 if keras.backend.backend() == "tensorflow" else 1
    assert asked == list(range(3 + built))
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.backends
def test_first_batches_hands_out_only_the_first_n_of_every_epoch():
    x, y = np.arange(10, dtype="float32")[:, None], np.arange(10)[:, None]
    batches = array_batches(x, y, batch_size=3, shuffle=True, seed=1)
    two = first_batches(batches, 2)
    assert len(batches) == 4 and len(two) == 2
    assert first_batches(batches, 0) is batches and len(first_batches(batches, 9)) == 4
    for _ in range(2):  # the same draws as the whole epoch's first two batches
        whole, head = one_epoch(batches), one_epoch(two)
        assert len(head) == 2
        for (a, _), (b, _) in zip(whole[:2], head, strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="needs n >= 0 batches"):
        first_batches(batches, -1)


def test_first_batches_takes_from_a_tf_data_dataset():
    x, y = np.zeros((10, 2, 2, 1), "float32"), np.zeros((10, 2, 2, 1), "int32")
    dataset = slice_dataset(x, y, batch_size=4)
    assert len(one_epoch(dataset)) == 3 and len(one_epoch(first_batches(dataset, 2))) == 2
