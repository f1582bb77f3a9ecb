import numpy as np
import pytest

from labkit import pipeline, slices
from labkit.batches import one_epoch
from labkit.errors import ShapeError

#: Backend-neutral: make test runs this module under JAX and PyTorch too.
pytestmark = pytest.mark.backends


def test_fit_to_shape_pads_and_crops_centrally():
    a = np.arange(6).reshape(2, 3)
    out = slices.fit_to_shape(a, (4, 1))
    assert out.shape == (4, 1)
    np.testing.assert_array_equal(out[:, 0], [0, 1, 4, 0])


def test_stack_slices_and_background_selection():
    image = np.zeros((4, 5, 6, 1), np.float32)
    label = np.zeros((4, 5, 6), np.uint8)
    label[1, 1, 2] = 1
    label[2, 2, 4] = 2
    x, y = slices.stack_slices([image], [label], (8, 8), axis=2)
    assert x.shape == (6, 8, 8, 1) and y.shape == (6, 8, 8, 1) and y.dtype == np.uint8
    x, y = slices.stack_slices([image], [label], (8, 8), axis=2, background_fraction=0.0)
    assert len(x) == 2 and all(s.any() for s in y)
    with pytest.raises(ValueError, match="no slices selected"):
        slices.stack_slices([image], [np.zeros_like(label)], (8, 8), background_fraction=0.0)


def test_slice_dataset_batches_and_flips_pairs_together(rng):
    x = rng.random((10, 8, 8, 1)).astype(np.float32)
    y = (x > 0.5).astype(np.uint8)
    ds = pipeline.slice_dataset(x, y, batch_size=4, shuffle=True, flip_axes=(0, 1))
    batches = one_epoch(ds)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    for bx, by in batches:  # flips keep image and label aligned
        np.testing.assert_array_equal(by, (bx > 0.5).astype(np.uint8))
    seen = np.concatenate([b[0] for b in batches])
    flipped = [not any(np.array_equal(img, orig) for orig in x) for img in seen]
    assert any(flipped)  # 10 slices x 2 axes at p = 0.5: all unflipped has odds of about 1e-6


def test_slice_dataset_repeats_its_flips_with_its_seed(rng):
    x = rng.random((12, 8, 8, 1)).astype(np.float32)
    y = (x > 0.5).astype(np.uint8)

    def epochs(seed):
        ds = pipeline.slice_dataset(x, y, 4, shuffle=True, flip_axes=(0, 1), seed=seed)
        return [np.concatenate([b[0] for b in one_epoch(ds)]) for _ in range(2)]

    first, again, other = epochs(3), epochs(3), epochs(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)  # same seed: the same batches in each epoch
    assert not np.array_equal(first[0], first[1])  # a new epoch draws new flips and order
    assert not np.array_equal(first[0], other[0])


def test_neighbour_channels_stack_adjacent_slices():
    image = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1) * np.ones((2, 3, 1, 1))
    out = slices.neighbour_channels(image, 1)
    assert out.shape == (2, 3, 4, 3)
    # slice s carries (s-1, s, s+1), the ends repeating the edge slice
    np.testing.assert_array_equal(out[0, 0], [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]])
    assert slices.neighbour_channels(image, 0) is image
    with pytest.raises(ValueError, match="context must be >= 0"):
        slices.neighbour_channels(image, -1)
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 4\)"):
        slices.neighbour_channels(image[..., 0], 1)


def test_sample_patches_centres_on_foreground_and_stays_inside():
    image = np.arange(10 * 12 * 6, dtype=np.float32).reshape(10, 12, 6, 1)
    label = np.zeros((10, 12, 6), np.uint8)
    label[9, 11, 5] = 1  # a corner voxel: patches around it are shifted inwards
    x, y = pipeline.sample_patches(image, label, (4, 4, 2), 6, np.random.default_rng(0), 1.0)
    assert x.shape == (6, 4, 4, 2, 1) and y.shape == (6, 4, 4, 2, 1)
    assert (y.sum(axis=(1, 2, 3, 4)) == 1).all()  # every patch holds the lesion
    np.testing.assert_array_equal(x[0, ..., 0], image[6:10, 8:12, 4:6, 0])
    # no foreground: uniform patches; a short axis is zero-padded
    x, y = pipeline.sample_patches(image[:, :, :1], label[:, :, :1] * 0, (4, 4, 2), 3, rng_(1))
    assert x.shape == (3, 4, 4, 2, 1) and not y.any() and (x[..., 1, :] == 0).all()
    with pytest.raises(ShapeError, match=r"not on one grid"):
        pipeline.sample_patches(image, label[:5], (4, 4, 2), 1, rng_(0))


def rng_(seed):
    return np.random.default_rng(seed)


def test_patch_dataset_draws_new_patches_each_epoch_and_repeats_with_its_seed():
    images = [rng_(i).normal(size=(12, 12, 8, 1)).astype(np.float32) for i in range(3)]
    labels = [(im[..., 0] > 1.5).astype(np.uint8) for im in images]
    ds = pipeline.patch_dataset(images, labels, (8, 8, 4), 3, 4, seed=5)
    first, second = ([b[0] for b in one_epoch(ds)] for _ in range(2))
    # 9 patches in batches of 4
    assert [len(b) for b in first] == [4, 4, 1] and first[0].shape[1:] == (8, 8, 4, 1)
    assert not np.array_equal(first[0], second[0])
    again = [
        b[0] for b in one_epoch(pipeline.patch_dataset(images, labels, (8, 8, 4), 3, 4, seed=5))
    ]
    np.testing.assert_array_equal(again[0], first[0])
    with pytest.raises(ValueError, match=r"one label per image and at least one image"):
        pipeline.patch_dataset(images, labels[:2], (8, 8, 4), 3, 4)


def test_fixed_patch_dataset_is_the_same_every_epoch_and_in_volume_order():
    images = [rng_(i).normal(size=(12, 12, 8, 1)).astype(np.float32) for i in range(2)]
    labels = [(im[..., 0] > 1.5).astype(np.uint8) for im in images]
    ds = pipeline.fixed_patch_dataset(images, labels, (8, 8, 4), 3, 4, seed=5)
    first, second = ([b[0] for b in one_epoch(ds)] for _ in range(2))
    assert [len(b) for b in first] == [4, 2]  # 2 volumes x 3 patches
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    # the draw is sample_patches' with the generator [seed, 1], volume after volume
    rng = np.random.default_rng([5, 1])
    pairs = zip(images, labels, strict=True)
    by_hand = [pipeline.sample_patches(x, y, (8, 8, 4), 3, rng)[0] for x, y in pairs]
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(by_hand))
