"""A tiny segmentation problem for the training tests, imported by them and by the script they
run in a subprocess (which finds this folder on ``PYTHONPATH``)."""

import numpy as np


def toy_slices(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random 16x16 slices ``(n, 16, 16, 1)`` float32 and their labels, ``x > 0.6``."""
    x = np.random.default_rng(0).random((n, 16, 16, 1)).astype("float32")
    return x, (x > 0.6).astype("uint8")


def build_toy_unet():
    """A compiled two-level U-Net with four filters for :func:`toy_slices`."""
    import keras

    from labkit import losses, metrics
    from labkit.models import unet

    model = unet((16, 16, 1), 2, depth=2, filters=4)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=losses.DiceCELoss(),
        metrics=[metrics.DiceScore(2)],
    )
    return model


def build_toy_unet3d():
    """:func:`build_toy_unet` for ``(16, 16, 1, 1)`` patches: in-plane kernels and poolings."""
    import keras

    from labkit import losses, metrics
    from labkit.models import unet

    model = unet((16, 16, 1, 1), 2, depth=2, filters=4, kernel_size=(3, 3, 1), pool_size=(2, 2, 1))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=losses.DiceCELoss(),
        metrics=[metrics.DiceScore(2)],
    )
    return model
