"""MONAI augmentation of training slices and volumes, fed to Keras (``tf.data`` or a PyDataset).

MONAI's dictionary transforms work on channel-first arrays one sample at a time; Keras trains on
channels-last batches. :func:`slice_augmentation` builds a seeded MONAI ``Compose`` (Gaussian
noise on the image, an in-plane rotation of image and mask together, as the PHH study used to
mimic scanner noise and head position) and :func:`augmented_dataset` applies it to every slice,
afresh each epoch, inside a ``tf.data`` pipeline. :func:`volume_augmentation` is the in-plane
affine transform of 3D volumes (rotation, scaling, translation), and :func:`augmented_copies`
grows a training set by a fixed number of augmented copies, once, as the WMH study did.

Without TensorFlow (the JAX and PyTorch backends) :func:`augmented_dataset` is a
:class:`labkit.batches.EpochBatches` that augments a whole epoch when it begins.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
from monai.data import get_track_meta, set_track_meta
from monai.transforms import Compose, RandAffined, RandFlipd, RandGaussianNoised, RandRotated

from labkit.batches import EpochBatches, use_tf_data

__all__ = [
    "apply_augmentation",
    "augmented_copies",
    "augmented_dataset",
    "slice_augmentation",
    "volume_augmentation",
]


def slice_augmentation(
    noise_std: float = 0.05,
    rotate_degrees: float = 15.0,
    prob: float = 0.5,
    seed: int = 0,
    flip_axes: Sequence[int] = (),
) -> Compose:
    """A seeded MONAI pipeline for ``{"image": (c, h, w), "label": (1, h, w)}`` samples.

    Args:
        noise_std: Largest standard deviation of the added Gaussian noise (MONAI draws the
            deviation of each sample uniformly from ``[0, noise_std]``); images are assumed scaled
            to about ``[0, 1]``. 0 switches noise off.
        rotate_degrees: In-plane rotations are drawn from ``[-rotate_degrees, rotate_degrees]``;
            the image is interpolated linearly, the mask by nearest neighbour so it stays binary.
            0 switches rotation off.
        prob: Probability with which each of the two transforms is applied to a sample.
        seed: Seed of the pipeline's random state.
        flip_axes: Spatial axes (0: ``h``, 1: ``w``) each flipped with probability 1/2, image
            and label together (after the other transforms, so their draws stay as they were).

    Returns:
        The ``Compose``; call it on one sample dict.
    """
    steps: list[Any] = []
    if noise_std > 0:
        steps.append(RandGaussianNoised(keys="image", prob=prob, std=noise_std, sample_std=True))
    if rotate_degrees > 0:
        steps.append(
            RandRotated(
                keys=("image", "label"),
                range_x=float(np.deg2rad(rotate_degrees)),
                prob=prob,
                mode=("bilinear", "nearest"),
                padding_mode="zeros",
                keep_size=True,
            )
        )
    steps += [RandFlipd(keys=("image", "label"), prob=0.5, spatial_axis=int(a)) for a in flip_axes]
    pipeline = Compose(steps)
    pipeline.set_random_state(seed=seed)
    return pipeline


def volume_augmentation(
    rotate_degrees: float = 10.0, scale: float = 0.1, shift_voxels: float = 4.0, seed: int = 0
) -> Compose:
    """A seeded in-plane affine transform for ``{"image": (c, x, y, z), "label": (1, x, y, z)}``.

    Each sample gets a rotation about the slice axis (``z``), a scaling of ``x`` and ``y`` and a
    shift within the slice, so slices are never mixed: the right augmentation for thick-slice
    volumes (3 mm FLAIR slices) and for kernels that see one slice at a time (3x3x1).

    Args:
        rotate_degrees: Rotations are drawn from ``[-rotate_degrees, rotate_degrees]``.
        scale: Scale factors are drawn from ``[1 - scale, 1 + scale]`` per in-plane axis.
        shift_voxels: Shifts along ``x`` and ``y`` are drawn from ``[-shift_voxels, shift_voxels]``.
        seed: Seed of the transform's random state.

    Returns:
        The ``Compose``: linear interpolation for the image, nearest neighbour for the label,
        zeros outside the field of view.
    """
    steps = [
        RandAffined(
            keys=("image", "label"),
            prob=1.0,
            rotate_range=(0.0, 0.0, float(np.deg2rad(rotate_degrees))),
            scale_range=(scale, scale, 0.0),
            translate_range=(shift_voxels, shift_voxels, 0.0),
            mode=("bilinear", "nearest"),
            padding_mode="zeros",
        )
    ]
    pipeline = Compose(steps)
    pipeline.set_random_state(seed=seed)
    return pipeline


@contextlib.contextmanager
def _plain_tensors() -> Iterator[None]:
    """Switch off MONAI's metadata tracking for a while: the same values, computed faster (on
    small slices the tracking costs more than the transforms themselves)."""
    previous = get_track_meta()
    set_track_meta(False)
    try:
        yield
    finally:
        set_track_meta(previous)


def apply_augmentation(
    transform: Callable[[dict[str, Any]], dict[str, Any]], x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Augment one channels-last slice pair with a MONAI dictionary transform.

    Args:
        transform: E.g. :func:`slice_augmentation` (or :func:`volume_augmentation` for volumes).
        x: Image ``(h, w, c)`` (or a volume ``(x, y, z, c)``).
        y: Mask ``(h, w, 1)`` (or ``(x, y, z, 1)``).

    Returns:
        The augmented float32 image and the mask in ``y``'s dtype, shaped as given.
    """
    with _plain_tensors():
        out = transform(
            {"image": np.moveaxis(x, -1, 0).astype(np.float32), "label": np.moveaxis(y, -1, 0)}
        )
    image = np.moveaxis(np.asarray(out["image"], dtype=np.float32), 0, -1)
    label = np.moveaxis(np.rint(np.asarray(out["label"])), 0, -1).astype(y.dtype)
    return image, label


def augmented_copies(
    x: np.ndarray,
    y: np.ndarray,
    copies: int,
    transform: Callable[[dict[str, Any]], dict[str, Any]],
) -> tuple[np.ndarray, np.ndarray]:
    """The samples followed by ``copies`` augmented versions of each (offline augmentation).

    Args:
        x: Images ``(n, *spatial, c)``.
        y: Labels ``(n, *spatial, 1)``.
        copies: Augmented copies per sample (0 returns the input).
        transform: A MONAI dictionary transform (see :func:`volume_augmentation`).

    Returns:
        ``((1 + copies) * n, *spatial, c)`` images and the matching labels: the originals first,
        then copy 1 of every sample, then copy 2, ...
    """
    if len(x) != len(y) or x.shape[1:-1] != y.shape[1:-1]:
        raise ValueError(
            f"images {x.shape} and labels {y.shape} do not pair; expected (n, *spatial, c) and "
            "(n, *spatial, 1) with the same n and spatial shape."
        )
    xs, ys = [x], [y]
    for _ in range(copies):
        pairs = [apply_augmentation(transform, a, b) for a, b in zip(x, y, strict=True)]
        xs.append(np.stack([p[0] for p in pairs]))
        ys.append(np.stack([p[1] for p in pairs]))
    return np.concatenate(xs), np.concatenate(ys)


def augmented_dataset(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    transform: Callable[[dict[str, Any]], dict[str, Any]],
    seed: int = 0,
) -> Any:
    """A shuffled, batched training dataset that augments every slice anew each epoch.

    Args:
        x: Images ``(n, h, w, c)``.
        y: Masks ``(n, h, w, 1)``.
        batch_size: Batch size.
        transform: A MONAI dictionary transform (see :func:`slice_augmentation`).
        seed: Seed of the shuffling order (the transform carries its own seed; without
            TensorFlow it is reseeded from ``seed`` and the epoch when each epoch begins).

    Returns:
        A ``tf.data.Dataset`` (TensorFlow backend) or :class:`labkit.batches.EpochBatches` of
        ``(image, mask)`` batches.
    """
    if len(x) != len(y) or x.shape[1:3] != y.shape[1:3]:
        raise ValueError(
            f"images {x.shape} and masks {y.shape} do not pair; expected (n, h, w, c) and "
            "(n, h, w, 1) with the same n, h and w."
        )
    if not use_tf_data():

        def draw(epoch: int) -> tuple[np.ndarray, np.ndarray]:
            rng = np.random.default_rng([seed, epoch])
            order = rng.permutation(len(x))
            if hasattr(transform, "set_random_state"):
                transform.set_random_state(seed=int(rng.integers(2**31)))
            pairs = [apply_augmentation(transform, x[i], y[i]) for i in order]
            return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

        return EpochBatches(draw, len(x), batch_size)
    import tensorflow as tf

    rng = np.random.default_rng(seed)  # outlives the generator: a new order every epoch

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        # whole batches cross into TensorFlow: one hand-over per batch, not per slice
        order = rng.permutation(len(x))
        for start in range(0, len(order), batch_size):
            pairs = [
                apply_augmentation(transform, x[i], y[i]) for i in order[start : start + batch_size]
            ]
            yield np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])

    signature = (
        tf.TensorSpec(shape=(None, *x.shape[1:]), dtype=tf.float32),
        tf.TensorSpec(shape=(None, *y.shape[1:]), dtype=tf.as_dtype(y.dtype)),
    )
    ds = tf.data.Dataset.from_generator(batches, output_signature=signature)
    # a generator has no known length; telling tf.data lets Keras count the steps of an epoch
    ds = ds.apply(tf.data.experimental.assert_cardinality(-(-len(x) // batch_size)))
    return ds.prefetch(tf.data.AUTOTUNE)
