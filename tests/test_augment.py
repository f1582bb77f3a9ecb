"""MONAI slice augmentation behind a tf.data pipeline."""

import numpy as np
import pytest

from labkit.augment import (
    apply_augmentation,
    augmented_copies,
    augmented_dataset,
    slice_augmentation,
    volume_augmentation,
)
from labkit.batches import one_epoch

#: Backend-neutral: make test runs this module under JAX and PyTorch too.
pytestmark = pytest.mark.backends


def _disc(size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:size, :size]
    mask = ((xx - 20) ** 2 + (yy - 12) ** 2 <= 36).astype(
        np.uint8
    )  # off-centre, so rotation moves it
    return mask[..., None].astype(np.float32), mask[..., None]


def test_rotation_moves_image_and_mask_together():
    x, y = _disc()
    rotate = slice_augmentation(noise_std=0, rotate_degrees=40, prob=1.0, seed=3)
    moved = 0
    for _ in range(5):
        xa, ya = apply_augmentation(rotate, x, y)
        assert xa.shape == (32, 32, 1) and xa.dtype == np.float32
        assert ya.shape == (32, 32, 1) and ya.dtype == np.uint8
        assert set(np.unique(ya)) <= {0, 1}  # nearest neighbour keeps the mask binary
        # the image was the mask: after rotation both still cover the same pixels
        assert np.mean((xa > 0.5) != (ya > 0)) < 0.02
        moved += int(np.any(ya != y))
    assert moved >= 4


def test_noise_touches_the_image_only():
    x, y = _disc()
    noise = slice_augmentation(noise_std=0.2, rotate_degrees=0, prob=1.0, seed=0)
    xa, ya = apply_augmentation(noise, x, y)
    assert np.array_equal(ya, y)
    assert 0.0 < np.std(xa - x) < 0.25


def test_same_seed_same_augmentation():
    x, y = _disc()
    a = apply_augmentation(slice_augmentation(seed=7, prob=1.0), x, y)
    b = apply_augmentation(slice_augmentation(seed=7, prob=1.0), x, y)
    c = apply_augmentation(slice_augmentation(seed=8, prob=1.0), x, y)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])


def test_dataset_batches_every_slice_each_epoch():
    x = np.stack([np.full((8, 8, 1), i, np.float32) for i in range(5)])
    y = np.zeros((5, 8, 8, 1), np.uint8)
    ds = augmented_dataset(x, y, 2, slice_augmentation(noise_std=0, rotate_degrees=0), seed=0)
    epochs = []
    for _ in range(2):
        batches = [b for b, _ in one_epoch(ds)]
        assert [len(b) for b in batches] == [2, 2, 1]
        epochs.append([int(s[0, 0, 0]) for b in batches for s in b])
    assert sorted(epochs[0]) == sorted(epochs[1]) == [0, 1, 2, 3, 4]
    assert epochs[0] != epochs[1]  # reshuffled


def test_dataset_refuses_unpaired_arrays():
    with pytest.raises(ValueError, match=r"images \(4, 8, 8, 1\) and masks \(3, 8, 8, 1\)"):
        augmented_dataset(
            np.zeros((4, 8, 8, 1), np.float32), np.zeros((3, 8, 8, 1), np.uint8), 2, lambda d: d
        )


def test_volume_augmentation_stays_in_plane_and_copies_follow_the_originals():
    # slice k holds value k + 1 in a bar: an in-plane transform never mixes slices
    x = np.zeros((2, 24, 24, 6, 1), np.float32)
    for k in range(6):
        x[:, 6:18, 10:14, k] = k + 1
    y = (x > 0).astype(np.uint8)
    out_x, out_y = augmented_copies(x, y, 2, volume_augmentation(20, 0.1, 2, seed=1))
    assert out_x.shape == (6, 24, 24, 6, 1) and out_y.dtype == np.uint8
    np.testing.assert_array_equal(out_x[:2], x)  # the originals come first
    for sample in out_x[2:]:
        assert not np.array_equal(sample, x[0])
        for k in range(6):
            assert sample[..., k, 0].max() == pytest.approx(k + 1, abs=1e-4)
    assert set(np.unique(out_y)) == {0, 1}
    again = augmented_copies(x, y, 2, volume_augmentation(20, 0.1, 2, seed=1))[0]
    np.testing.assert_array_equal(again, out_x)
    same_x, same_y = augmented_copies(x, y, 0, volume_augmentation())
    np.testing.assert_array_equal(same_x, x)  # no copies: the originals alone
    np.testing.assert_array_equal(same_y, y)
    with pytest.raises(ValueError, match=r"do not pair"):
        augmented_copies(x, y[:1], 1, volume_augmentation())
