"""What the study recipes share besides the skeleton: the frame a run predicts in, the images of
a one-modality folder, and the 2D slice network of the slice-wise studies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import nibabel as nib
import numpy as np

from labkit import losses
from labkit import metrics as keras_metrics
from labkit.checks import check_image
from labkit.datasets.base import Case
from labkit.datasets.layout import Layout
from labkit.errors import ShapeError
from labkit.inference import save_prediction
from labkit.io import load_nifti, nifti_files
from labkit.models import unet
from labkit.progress import progress
from labkit.spatial import reorient
from labkit.volume import Volume, orientation

__all__ = [
    "binary_slice_model",
    "case_orientation",
    "in_frame",
    "save_in_source",
    "single_channel_volumes",
]


def binary_slice_model(settings: Any) -> keras.Model:
    """A compiled 2D U-Net with one sigmoid output, for ``(size, size, 1 + 2 * context)`` slices.

    Args:
        settings: A study profile with ``size``, ``context``, ``depth``, ``filters``,
            ``batch_norm_momentum``, ``learning_rate`` and ``loss``.

    Returns:
        The model, compiled with Adam, the profile's loss, pixel accuracy and Dice.
    """
    model = unet(
        (settings.size, settings.size, 2 * settings.context + 1),
        1,
        depth=settings.depth,
        filters=settings.filters,
        batch_norm_momentum=settings.batch_norm_momentum,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss=losses.get(settings.loss),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras_metrics.DiceScore(1)],
    )
    return model


def case_orientation(case: Case) -> str:
    """The axis codes (``"RAS"``, ``"LPS"``, ...) of a case's first image, from its header."""
    return orientation(nib.load(case.images[0]).affine)


def in_frame(volume: Volume, frame: str | None) -> Volume:
    """``volume`` with its axes flipped and permuted into ``frame``, the orientation the run was
    trained in (``config.json``'s ``orientation``); unchanged when it is already so or when
    ``frame`` is ``None`` (a run from before labkit recorded it).

    A network learns anatomy in the array's axes: the same head stored LPS instead of RAS
    reaches it mirrored front to back and left to right, and is segmented wrongly. Predict in
    the training frame, then write the labels back with :func:`save_in_source`.
    """
    if not frame or orientation(volume.affine) == frame:
        return volume
    return reorient(volume, frame)


def save_in_source(labels: np.ndarray, framed: Volume, source: Volume, path: Path) -> Path:
    """Write labels ``(x, y, z)`` predicted on ``framed`` (``source`` put :func:`in_frame`) on
    ``source``'s own grid, affine and header."""
    back = reorient(framed.with_array(np.asarray(labels, np.uint8)), orientation(source.affine))
    return save_prediction(back.array, source, path)


def single_channel_volumes(
    input_dir: Path, layout: Layout, modality: str
) -> Iterator[tuple[str, Volume]]:
    """The images to predict for a one-modality study, read one at a time with a progress bar.

    Args:
        input_dir: A dataset folder in ``layout`` (its images' sub-folder is read, labels or
            not) or a plain folder of ``.nii.gz`` volumes, one per case.
        layout: The study's dataset layout (e.g. :data:`labkit.datasets.phh.LAYOUT`).
        modality: The modality's name, for the messages (``"T2"``, ``"CT"``).

    Yields:
        ``(case id, volume as loaded)``, the volume ``(x, y, z)`` or ``(x, y, z, 1)``.

    Raises:
        FileNotFoundError: If there are no images.
        ShapeError: If an image has more than one channel.
    """
    folder = Path(input_dir)
    sub = folder / layout.image_dir
    folder = sub if layout.image_dir and sub.is_dir() else folder
    files = nifti_files(folder)
    if not files:
        raise FileNotFoundError(
            f"no .nii.gz images in {folder}; expected {layout.describe()} or a folder of "
            f"{modality} volumes, one per patient."
        )
    for case_id, path in progress(list(files.items()), "predicting"):
        volume = check_image(load_nifti(path))
        image = volume.array if volume.array.ndim == 4 else volume.array[..., None]
        if image.shape[-1] != 1:
            raise ShapeError(
                f"{path} has {image.shape[-1]} channels (shape {image.shape}); the model reads "
                f"one {modality} volume (x, y, z) per patient. Pass the {modality} image alone."
            )
        yield case_id, volume
