"""The haemorrhage study's steps: skull off, window, slices, a 2D U-Net, post-processing."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import keras
import numpy as np
from scipy import ndimage

from labkit.ct import apply_window, brain_median_hu, intracranial_mask
from labkit.datasets.base import Case, load_case
from labkit.inference import predict_slices
from labkit.morphology import remove_small_components
from labkit.progress import progress
from labkit.slices import neighbour_channels
from labkit.studies.common import binary_slice_model
from labkit.studies.settings.ich import ICHSettings
from labkit.transforms import Crop, Resize, crop_to_box, foreground_box, resize, undo

__all__ = [
    "Preprocessed",
    "build_model",
    "postprocess",
    "predict_probabilities",
    "predict_volume",
    "prepare",
    "preprocess",
    "select_slices",
]


@dataclass(frozen=True)
class Preprocessed:
    """One CT volume, ready for the 2D U-Net.

    Attributes:
        image: ``(size, size, z, 1 + 2 * context)`` float32 in ``[0, 1]``, skull removed.
        label: ``(size, size, z)`` uint8 haemorrhage mask, or ``None``.
        brain: ``(x, y, z)`` intracranial mask on the source grid (read-only: later calls on
            the same CT return the same array).
        records: Crop and resize records back to the source grid (:func:`labkit.transforms.undo`).
        shift_hu: How far the window was moved for this patient (0 with ``"fixed"``).
    """

    image: np.ndarray
    label: np.ndarray | None
    brain: np.ndarray
    records: list[Crop | Resize]
    shift_hu: float


_MASKS: OrderedDict[bytes, np.ndarray] = OrderedDict()


_MASK_BYTES = 256 * 2**20


def _intracranial(hu: np.ndarray, spacing: tuple[float, ...]) -> np.ndarray:
    """:func:`labkit.ct.intracranial_mask`, remembered for the CTs this process saw last.

    A chapter trains several runs on the same patients; each run preprocesses every CT again.
    The mask is keyed by a hash of the volume and its spacing, and the oldest masks are
    forgotten beyond 256 MB.
    """
    digest = hashlib.blake2b(hu.tobytes(), digest_size=16)
    digest.update(repr((hu.shape, tuple(float(s) for s in spacing))).encode())
    key = digest.digest()
    if key in _MASKS:
        _MASKS.move_to_end(key)
        return _MASKS[key]
    brain = intracranial_mask(hu, spacing)
    brain.flags.writeable = False  # shared between callers
    _MASKS[key] = brain
    while sum(m.nbytes for m in _MASKS.values()) > _MASK_BYTES and len(_MASKS) > 1:
        _MASKS.popitem(last=False)
    return brain


def preprocess(
    hu: np.ndarray,
    spacing: tuple[float, ...],
    settings: ICHSettings,
    label: np.ndarray | None = None,
) -> Preprocessed:
    """The study's preprocessing, by rule: skull removed, windowed, cropped to the brain, resized.

    Args:
        hu: CT volume ``(x, y, z)`` or ``(x, y, z, 1)`` in Hounsfield units.
        spacing: Voxel size in mm.
        settings: Settings (``window``, ``normalisation``, ``size``, ``context``).
        label: Haemorrhage mask ``(x, y, z)`` to crop and resize alongside (nearest neighbour).

    Returns:
        The :class:`Preprocessed` volume. Slices keep their index: slice ``k`` of the output is
        slice ``k`` of the CT.
    """
    hu = np.asarray(hu[..., 0] if hu.ndim == 4 else hu, dtype=np.float32)
    brain = _intracranial(hu, spacing)
    shift = 0.0
    if settings.normalisation == "patient":
        shift = brain_median_hu(hu, brain) - settings.reference_hu
    low, high = settings.window
    image = apply_window(hu, (shift + (low + high) / 2, high - low)) * brain
    start, stop = foreground_box(brain.any(axis=2), margin=2)  # in-plane; every slice kept
    start, stop = (*start, 0), (*stop, hu.shape[2])
    cropped, crop = crop_to_box(image, start, stop)
    shape = (settings.size, settings.size, hu.shape[2])
    resized, size = resize(cropped, shape, order=1)
    out = neighbour_channels(resized[..., None], settings.context, axis=2)
    if label is not None:
        label = resize(crop_to_box(label, start, stop)[0], shape, order=0)[0].astype(np.uint8)
    return Preprocessed(out, label, brain, [crop, size], shift)


def select_slices(
    label: np.ndarray,
    brain: np.ndarray,
    spacing: tuple[float, ...],
    min_lesion_mm2: float,
    lesion_free: float,
    rng: np.random.Generator,
) -> list[int]:
    """The axial slices a volume gives to training, as the study chose them.

    Args:
        label: Haemorrhage mask ``(x, y, z)`` on the source grid.
        brain: Intracranial mask ``(x, y, z)``.
        spacing: Voxel size in mm.
        min_lesion_mm2: Lesion area a slice needs to be kept.
        lesion_free: Lesion-free slices to add, as a share of the lesion slices kept (drawn from
            the slices with some brain and no lesion at all).
        rng: Generator for drawing the lesion-free slices.

    Returns:
        Sorted slice indices.
    """
    area = label.reshape(-1, label.shape[2]).sum(axis=0) * spacing[0] * spacing[1]
    lesion = np.flatnonzero(area >= min_lesion_mm2)
    brain_area = brain.reshape(-1, brain.shape[2]).sum(axis=0) * spacing[0] * spacing[1]
    empty = np.flatnonzero((area == 0) & (brain_area >= 1000.0))  # at least 10 cm^2 of brain
    n = min(len(empty), round(lesion_free * len(lesion)))
    extra = rng.choice(empty, size=n, replace=False) if n else np.zeros(0, int)
    return sorted(int(k) for k in (*lesion, *extra))


def prepare(
    cases: list[Case], settings: ICHSettings, label: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The training slices of ``cases`` (:func:`select_slices`), preprocessed: images
    ``(n, size, size, 1 + 2 * context)`` and masks ``(n, size, size, 1)``."""
    xs, ys = [], []
    for case in progress(cases, label):
        loaded = load_case(case)
        spacing = loaded.image.spacing
        pre = preprocess(loaded.image.array, spacing, settings, loaded.label.array)
        keep = select_slices(
            loaded.label.array,
            pre.brain,
            spacing,
            settings.min_lesion_mm2,
            settings.lesion_free,
            rng,
        )
        xs.append(np.moveaxis(pre.image[:, :, keep], 2, 0))
        ys.append(np.moveaxis(pre.label[:, :, keep], 2, 0)[..., None])
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.uint8)


def build_model(settings: ICHSettings) -> keras.Model:
    """A compiled 2D U-Net for ``(size, size, 1 + 2 * context)`` slices with a sigmoid output."""
    return binary_slice_model(settings)


def predict_probabilities(
    model: keras.Model, hu: np.ndarray, spacing: tuple[float, ...], settings: ICHSettings
) -> tuple[np.ndarray, np.ndarray]:
    """Haemorrhage probability of every voxel of one CT, on its own grid.

    Every axial slice is predicted (not only those with lesions: a test patient's slices are not
    chosen by their reference), and the slices are stacked back into the volume.

    Args:
        model: A trained model of this recipe.
        hu: CT volume ``(x, y, z)`` or ``(x, y, z, 1)`` in HU.
        spacing: Voxel size in mm.
        settings: The settings the model was trained with.

    Returns:
        ``(probability (x, y, z) float32, intracranial mask (x, y, z) bool)``.
    """
    pre = preprocess(hu, spacing, settings)
    probs = predict_slices(
        model, pre.image, axis=2, batch_size=settings.batch_size, multiple=2**settings.depth
    )[..., 0]
    return undo(probs, pre.records), pre.brain


def postprocess(
    mask: np.ndarray,
    brain: np.ndarray,
    spacing: tuple[float, ...],
    min_component_ml: float,
    opening: bool = False,
) -> np.ndarray:
    """The clean-up the study proposed: morphology and connected components.

    Args:
        mask: Predicted haemorrhage mask ``(x, y, z)``.
        brain: Intracranial mask ``(x, y, z)``: nothing outside it is kept.
        spacing: Voxel size in mm.
        min_component_ml: Components (3D, full connectivity) smaller than this are dropped.
        opening: Open each axial slice with a 3x3 cross first (removes specks and one-pixel
            bridges; also thins a crescent that is one or two pixels thick).

    Returns:
        uint8 mask ``(x, y, z)``.
    """
    out = np.asarray(mask, bool) & brain
    if opening:
        cross = ndimage.generate_binary_structure(2, 1)[..., None]  # 3x3, within each slice
        out = ndimage.binary_opening(out, structure=cross)
    if min_component_ml > 0:
        out = remove_small_components(out, min_component_ml * 1000.0, spacing)
    return out.astype(np.uint8)


def predict_volume(
    model: keras.Model, hu: np.ndarray, spacing: tuple[float, ...], settings: ICHSettings
) -> np.ndarray:
    """Haemorrhage mask ``(x, y, z)`` uint8 on the CT's own grid, post-processed as ``settings``
    says (nothing, in the faithful pipeline)."""
    probs, brain = predict_probabilities(model, hu, spacing, settings)
    mask = probs >= 0.5
    if settings.min_component_ml > 0 or settings.opening:
        return postprocess(mask, brain, spacing, settings.min_component_ml, settings.opening)
    return mask.astype(np.uint8)
