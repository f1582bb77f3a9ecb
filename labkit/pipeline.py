"""Input pipelines: 2D slices or 3D patches cut from volumes, batched, shuffled, prefetched.

Volumes differ in shape; slices are padded (or centre-cropped) to one shape so they batch
(:mod:`labkit.slices`). The
U-Nets are fully convolutional, so a model trained on one slice shape predicts any shape that is a
multiple of ``2**depth`` (see :func:`labkit.inference.predict_slices`). 3D patches are drawn anew
every epoch, a set share of them centred on foreground so that small lesions are seen often
(:func:`sample_patches`, :func:`patch_dataset`); whole volumes are then predicted with a sliding
window (:func:`labkit.inference.sliding_window`).

On the TensorFlow backend the datasets are ``tf.data`` pipelines; on JAX and PyTorch they are
:class:`labkit.batches.EpochBatches` (``keras.utils.PyDataset``), which need no TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from labkit.batches import EpochBatches, array_batches, flip_arrays, use_tf_data
from labkit.errors import ShapeError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "fixed_patch_dataset",
    "patch_dataset",
    "sample_patches",
    "slice_dataset",
]


def _flip(
    x: tf.Tensor, y: tf.Tensor, axes: Sequence[int], key: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    import tensorflow as tf

    for axis in axes:  # stateless: the draw belongs to the element, not to the map's thread
        flip = tf.random.stateless_uniform((), seed=tf.stack([key, axis])) < 0.5
        x = tf.where(flip, tf.reverse(x, [axis]), x)
        y = tf.where(flip, tf.reverse(y, [axis]), y)
    return x, y


def slice_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    shuffle: bool = False,
    flip_axes: Sequence[int] = (),
    seed: int = 0,
) -> Any:
    """A batched, prefetched dataset of ``(image, label)`` slices.

    Args:
        x: ``(n, h, w, c)`` images.
        y: ``(n, h, w, 1)`` integer labels.
        batch_size: Batch size.
        shuffle: Reshuffle every epoch (training data).
        flip_axes: Axes of a slice (0 or 1) to flip at random (augmentation; leave empty where
            left and right carry meaning for the labels).
        seed: Seed of the shuffling and of the flips; the same seed gives the same batches,
            epoch after epoch, in every run.

    Returns:
        A ``tf.data.Dataset`` on the TensorFlow backend, else a
        :class:`labkit.batches.EpochBatches`.
    """
    if not use_tf_data():
        return array_batches(x, y, batch_size, shuffle, flip_axes, seed)
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if flip_axes:
        # one key per element, drawn in order: a parallel map then flips the same slices in
        # the same epochs every run (a stateful draw inside the map would not)
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, keys).map(
            lambda ab, key: _flip(*ab, flip_axes, key), num_parallel_calls=tf.data.AUTOTUNE
        )
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def sample_patches(
    image: np.ndarray,
    label: np.ndarray,
    patch: Sequence[int],
    n: int,
    rng: np.random.Generator,
    foreground: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` patches from one volume, a share of them centred on foreground voxels.

    This is MONAI's ``RandCropByPosNegLabel`` idea in NumPy: with probability ``foreground`` a
    patch is centred on a random labelled voxel (shifted inwards where it would leave the
    volume), otherwise its corner is drawn uniformly. A volume smaller than the patch is
    zero-padded first (at the end of each short axis).

    Args:
        image: ``(x, y, z, c)`` volume.
        label: ``(x, y, z)`` or ``(x, y, z, 1)`` labels on the same grid.
        patch: Patch size ``(px, py, pz)``.
        n: Number of patches.
        rng: Random generator.
        foreground: Share of patches centred on a labelled voxel (a volume without any gets
            uniform patches only).

    Returns:
        ``(n, px, py, pz, c)`` float32 images and ``(n, px, py, pz, 1)`` labels in their dtype.

    Raises:
        ShapeError: If image and label grids differ.
    """
    label = label[..., 0] if label.ndim == image.ndim else label
    if image.shape[:-1] != label.shape:
        raise ShapeError(
            f"image {image.shape} and label {label.shape} are not on one grid; expected "
            "(x, y, z, c) and (x, y, z) with the same x, y, z."
        )
    patch = tuple(int(p) for p in patch)
    short = [max(p - s, 0) for p, s in zip(patch, label.shape, strict=True)]
    if any(short):
        image = np.pad(image, [(0, d) for d in short] + [(0, 0)])
        label = np.pad(label, [(0, d) for d in short])
    high = np.asarray(label.shape) - np.asarray(patch)
    fg = np.argwhere(label > 0)
    xs, ys = [], []
    for _ in range(n):
        if len(fg) and rng.random() < foreground:
            corner = fg[rng.integers(len(fg))] - np.asarray(patch) // 2
            corner = np.clip(corner, 0, high)
        else:
            corner = np.array([rng.integers(h + 1) for h in high])
        box = tuple(slice(c, c + p) for c, p in zip(corner, patch, strict=True))
        xs.append(image[box])
        ys.append(label[box])
    return np.stack(xs).astype(np.float32), np.stack(ys)[..., None]


def _patch_epoch(
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    patch: Sequence[int],
    per_volume: int,
    foreground: float,
    rng: np.random.Generator,
    flip_axes: Sequence[int] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of patches from every volume, shuffled across volumes (and flipped)."""
    pairs = [
        sample_patches(x, y, patch, per_volume, rng, foreground)
        for x, y in zip(images, labels, strict=True)
    ]
    x = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    order = rng.permutation(len(x))
    if flip_axes:
        return flip_arrays(x[order], y[order], flip_axes, rng)
    return x[order], y[order]


def patch_dataset(
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    patch: Sequence[int],
    per_volume: int,
    batch_size: int,
    foreground: float = 0.5,
    seed: int = 0,
    flip_axes: Sequence[int] = (),
) -> Any:
    """A training dataset of 3D patches, drawn anew every epoch and shuffled across volumes.

    Args:
        images: Volumes ``(x, y, z, c)``, shapes may differ.
        labels: Labels ``(x, y, z)`` or ``(x, y, z, 1)``, one per image.
        patch: Patch size ``(px, py, pz)``.
        per_volume: Patches per volume per epoch.
        batch_size: Patches per batch.
        foreground: Share of patches centred on a labelled voxel (see :func:`sample_patches`).
        seed: Seed of the draws; the same seed gives the same epochs in every run.
        flip_axes: Spatial axes of a patch (0: x) each flipped with probability 1/2 per patch,
            image and label together (augmentation; empty: none).

    Returns:
        A ``tf.data.Dataset`` (TensorFlow backend) or :class:`labkit.batches.EpochBatches` of
        ``(image, label)`` batches, ``ceil(n * per_volume / batch_size)`` of them an epoch.
    """
    if len(images) != len(labels) or not images:
        raise ValueError(
            f"patch_dataset needs one label per image and at least one image; got "
            f"{len(images)} images and {len(labels)} labels."
        )
    if not use_tf_data():  # each epoch from its own generator, so a resumed run needs no replay

        def draw(epoch: int) -> tuple[np.ndarray, np.ndarray]:
            rng = np.random.default_rng([seed, epoch])
            return _patch_epoch(images, labels, patch, per_volume, foreground, rng, flip_axes)

        return EpochBatches(draw, len(images) * per_volume, batch_size)
    import tensorflow as tf

    rng = np.random.default_rng(seed)  # outlives the generator: new patches every epoch
    channels = images[0].shape[-1]
    dtype = np.asarray(labels[0]).dtype

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        x, y = _patch_epoch(images, labels, patch, per_volume, foreground, rng, flip_axes)
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], y[start : start + batch_size]

    signature = (
        tf.TensorSpec(shape=(None, *patch, channels), dtype=tf.float32),
        tf.TensorSpec(shape=(None, *patch, 1), dtype=tf.as_dtype(dtype)),
    )
    ds = tf.data.Dataset.from_generator(batches, output_signature=signature)
    steps = -(-len(images) * per_volume // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(steps))
    return ds.prefetch(tf.data.AUTOTUNE)


def fixed_patch_dataset(
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    patch: Sequence[int],
    per_volume: int,
    batch_size: int,
    seed: int = 0,
) -> Any:
    """A validation dataset of 3D patches drawn once, the same every epoch and every run.

    Each volume gives ``per_volume`` patches, half of them centred on a labelled voxel
    (:func:`sample_patches`), from a generator seeded with ``[seed, 1]`` (apart from the
    training draws of :func:`patch_dataset`, which use ``seed``).

    Args:
        images: Volumes ``(x, y, z, c)``.
        labels: Labels ``(x, y, z)`` or ``(x, y, z, 1)``, one per image.
        patch: Patch size ``(px, py, pz)``.
        per_volume: Patches per volume.
        batch_size: Patches per batch.
        seed: Seed of the draw.

    Returns:
        A dataset of ``(image, label)`` batches, in volume order (see :func:`slice_dataset`).
    """
    rng = np.random.default_rng([seed, 1])
    pairs = [
        sample_patches(x, y, patch, per_volume, rng) for x, y in zip(images, labels, strict=True)
    ]
    x = np.concatenate([p[0] for p in pairs])
    y = np.concatenate([p[1] for p in pairs])
    return slice_dataset(x, y, batch_size)
