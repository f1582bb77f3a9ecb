"""The PHH study's steps: crop the head, resize, predict slice by slice, back to the source grid."""

from __future__ import annotations

import keras
import numpy as np
from scipy import ndimage

from labkit.datasets.base import load_case
from labkit.inference import predict_slices
from labkit.intensity import minmax_slices
from labkit.morphology import keep_largest_component
from labkit.progress import progress
from labkit.slices import neighbour_channels, stack_slices
from labkit.studies.common import binary_slice_model
from labkit.studies.settings.phh import PHHSettings
from labkit.transforms import Crop, Resize, crop_to_box, foreground_box, resize, undo

__all__ = [
    "LABELS",
    "build_model",
    "csf_probability",
    "head_box",
    "predict_volume",
    "prepare",
    "preprocess",
    "to_source",
]


#: The label of the CSF masks.
LABELS = {1: "csf"}


def head_box(
    image: np.ndarray, margin: int = 2, fraction: float = 0.1
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The bounding box of the head: what the study cropped by hand in 3D Slicer.

    The head is the largest connected region brighter than ``fraction`` of the image's 99th
    percentile, after light smoothing (so background noise does not count; the smoothing also
    widens the region by about one voxel, on top of ``margin``).

    Args:
        image: ``(x, y, z)`` or ``(x, y, z, c)`` volume (the first channel is used).
        margin: Voxels added on every side.
        fraction: Threshold as a share of the 99th percentile.

    Returns:
        ``(start, stop)`` per spatial axis, for :func:`labkit.transforms.crop_to_box`.
    """
    vol = np.asarray(image[..., 0] if image.ndim == 4 else image, dtype=np.float32)
    smooth = ndimage.gaussian_filter(vol, 1.0)
    mask = keep_largest_component(smooth > fraction * np.percentile(vol, 99))
    if not mask.any():
        raise ValueError(
            f"no head found in an image of shape {vol.shape}: nothing is brighter than "
            f"{fraction} of its 99th percentile. Is the image empty?"
        )
    return foreground_box(mask, margin)


def preprocess(
    image: np.ndarray, settings: PHHSettings, label: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, list[Crop | Resize]]:
    """The study's preprocessing of one volume: crop to the head, resize, normalise per slice.

    Args:
        image: T2 volume ``(x, y, z, 1)``.
        settings: Settings (``size``, ``head_margin``, ``context``).
        label: CSF mask ``(x, y, z)`` to crop and resize alongside (nearest neighbour).

    Returns:
        ``(image (s, s, s, 1 + 2 * context), label (s, s, s) or None, records)``; the records
        take a prediction back to the source grid with :func:`labkit.transforms.undo`.
    """
    start, stop = head_box(image, settings.head_margin)
    cropped, crop = crop_to_box(image, start, stop)
    shape = (settings.size,) * 3
    resized, size = resize(cropped, shape, order=1)
    out = neighbour_channels(minmax_slices(resized, axis=2), settings.context, axis=2)
    if label is not None:
        label = resize(crop_to_box(label, start, stop)[0], shape, order=0)[0]
    return out, label, [crop, size]


def prepare(cases: list, settings: PHHSettings, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Every axial slice of ``cases``, preprocessed: images ``(n, size, size, 1)`` and masks
    ``(n, size, size, 1)`` (``label`` names the progress bar)."""
    images, masks = [], []
    for case in progress(cases, label):
        loaded = load_case(case)
        image, mask, _ = preprocess(loaded.image.array, settings, loaded.label.array)
        images.append(image)
        masks.append(mask)
    return stack_slices(images, masks, (settings.size, settings.size), axis=2)


def build_model(settings: PHHSettings) -> keras.Model:
    """A compiled 2D U-Net for ``(size, size, 1 + 2 * context)`` slices with a sigmoid output."""
    return binary_slice_model(settings)


def csf_probability(model: keras.Model, pre: np.ndarray, settings: PHHSettings) -> np.ndarray:
    """CSF probability ``(s, s, s)`` of a volume as :func:`preprocess` made it ``(s, s, s, c)``,
    predicted axial slice by axial slice."""
    return predict_slices(
        model, pre, axis=2, batch_size=settings.batch_size, multiple=2**settings.depth
    )[..., 0]


def to_source(
    probs: np.ndarray, records: list[Crop | Resize], threshold: float = 0.5
) -> np.ndarray:
    """CSF mask ``(x, y, z)`` uint8 on the source grid from the probability ``(s, s, s)``.

    The probability is resized back to the source grid (linearly) and thresholded there, not
    the other way round: a mask predicted on a coarse grid and resized by nearest neighbour keeps
    the coarse grid's staircase boundaries, which alone cost about 0.2 Dice at 64 pixels.
    """
    return (undo(probs, records) >= threshold).astype(np.uint8)


def predict_volume(
    model: keras.Model, image: np.ndarray, settings: PHHSettings, threshold: float = 0.5
) -> np.ndarray:
    """CSF mask ``(x, y, z)`` uint8 on the source grid of one T2 volume ``(x, y, z, 1)``
    (:func:`preprocess`, :func:`csf_probability`, :func:`to_source`)."""
    pre, _, records = preprocess(image, settings)
    return to_source(csf_probability(model, pre, settings), records, threshold)
