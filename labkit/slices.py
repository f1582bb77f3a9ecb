"""Volumes cut into 2D slices of one shape, and neighbouring slices as extra channels (2.5D).

The 2D studies train on slices of volumes whose shapes differ: :func:`stack_slices` pads (or
centre-crops) every slice to one shape so they batch, :func:`fit_to_shape` is that step for one
array, and :func:`neighbour_channels` gives each slice its neighbours as channels. The datasets
that batch them are in :mod:`labkit.pipeline`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["fit_to_shape", "neighbour_channels", "stack_slices"]


def fit_to_shape(array: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Zero-pad or centre-crop the leading ``len(shape)`` axes of ``array`` to ``shape``."""
    out = array
    for axis, size in enumerate(shape):
        n = out.shape[axis]
        if n < size:
            before = (size - n) // 2
            widths = [(0, 0)] * out.ndim
            widths[axis] = (before, size - n - before)
            out = np.pad(out, widths)
        elif n > size:
            start = (n - size) // 2
            out = np.take(out, np.arange(start, start + size), axis=axis)
    return out


def neighbour_channels(image: np.ndarray, context: int, axis: int = 2) -> np.ndarray:
    """Give every slice its ``context`` neighbours on each side as extra channels ("2.5D" input).

    A 2D U-Net sees one slice; with neighbours it sees a thin slab, which tells it whether a dark
    spot continues above and below. Slices at the ends of the volume repeat the edge slice.

    Args:
        image: ``(x, y, z, c)`` volume.
        context: Neighbours per side (0 returns ``image`` unchanged).
        axis: Slicing axis.

    Returns:
        ``(x, y, z, c * (2 * context + 1))``: the channels of slice ``s - context`` first, those
        of slice ``s`` in the middle, ``s + context`` last.
    """
    if image.ndim != 4:
        raise ValueError(f"neighbour_channels expects (x, y, z, c); got shape {image.shape}.")
    if context < 0:
        raise ValueError(f"context must be >= 0 slices; got {context}.")
    if context == 0:
        return image
    n = image.shape[axis]
    shifted = [
        np.take(image, np.clip(np.arange(n) + k, 0, n - 1), axis=axis)
        for k in range(-context, context + 1)
    ]
    return np.concatenate(shifted, axis=-1)


def stack_slices(
    images: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    shape: Sequence[int],
    axis: int = 2,
    background_fraction: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut volumes into 2D slices of one shape.

    Args:
        images: Volumes ``(x, y, z, c)``.
        labels: Label maps ``(x, y, z)``, one per image.
        shape: Slice shape ``(h, w)`` after padding/cropping.
        axis: Slicing axis.
        background_fraction: Share of the slices without any label to keep (1 keeps all; the
            haemorrhage study kept none).
        seed: Seed for choosing the background slices.

    Returns:
        ``x`` float32 ``(n, h, w, c)`` and ``y`` uint8 ``(n, h, w, 1)``.
    """
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for image, label in zip(images, labels, strict=True):
        img = np.moveaxis(image, axis, 0)
        lab = np.moveaxis(label, axis, 0)
        for s in range(img.shape[0]):
            if not lab[s].any() and rng.random() >= background_fraction:
                continue
            xs.append(fit_to_shape(img[s], shape))
            ys.append(fit_to_shape(lab[s], shape))
    if not xs:
        raise ValueError(
            "no slices selected: every slice was background and background_fraction is 0."
        )
    return np.stack(xs).astype(np.float32), np.stack(ys)[..., None].astype(np.uint8)
