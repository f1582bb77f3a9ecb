"""How a run uses the machine: numeric precision and the devices it trains on.

Two settings of every recipe (``precision`` and ``devices``; the command line's
``--set precision=mixed_bfloat16``):

- ``precision``: ``float32``, or Keras' mixed precision (Micikevicius et al. 2018, ICLR),
  ``mixed_float16`` or ``mixed_bfloat16``: layers compute in 16 bits and keep float32 weights;
  the U-Net's output layer stays float32 (:func:`labkit.models.unet`), and with ``float16``
  Keras scales the loss against underflow (``LossScaleOptimizer``, added by ``compile``).
  What each precision buys on a GPU is measured by ``benchmarks/gpu_profiles.py`` (its table is
  ``benchmarks/results/gpu_profiles.md``).
- ``devices``: ``one``, or ``all`` for data-parallel training over every visible accelerator
  (every CPU device where there is none): each device takes a slice of every batch and the
  gradients are averaged, with TensorFlow's ``MirroredStrategy`` or Keras' ``DataParallel``
  distribution on JAX. Keras 3 has no data-parallel training on PyTorch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras

from labkit.config import accelerators
from labkit.errors import LabkitError

__all__ = ["DEVICES", "PRECISIONS", "placement", "precision", "training_devices"]

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
DEVICES = ("one", "all")


@contextlib.contextmanager
def precision(name: str) -> Iterator[None]:
    """Build models with the dtype policy ``name`` inside the block; the previous one after.

    Raises:
        ValueError: If ``name`` is not one of :data:`PRECISIONS`.
    """
    if name not in PRECISIONS:
        raise ValueError(
            f"precision is {name!r}; expected one of {PRECISIONS} (--set precision=float32)."
        )
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def training_devices() -> list[str]:
    """The devices ``devices="all"`` trains on: every GPU (or TPU) the backend sees
    (:func:`labkit.config.accelerators`), else every CPU device (one, unless split into logical
    devices as the tests do)."""
    if found := accelerators():
        return found
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return [device.name for device in tf.config.list_logical_devices("CPU")]
    if backend == "jax":
        return list(keras.distribution.list_devices())
    return ["cpu"]


@contextlib.contextmanager
def placement(devices: str, batch_size: int) -> Iterator[Any]:
    """Train over ``devices`` inside the block.

    Args:
        devices: ``"one"`` or ``"all"``.
        batch_size: The global batch, split evenly over the devices.

    Yields:
        A ``tf.distribute.MirroredStrategy`` to pass to :func:`labkit.training.fit` on
        TensorFlow with several devices; ``None`` otherwise (on JAX the block sets Keras'
        ``DataParallel`` distribution, and restores the previous one after).

    Raises:
        ValueError: If ``devices`` is not one of :data:`DEVICES`.
        LabkitError: If the batch does not split evenly, or for several devices on PyTorch.
    """
    if devices not in DEVICES:
        raise ValueError(f"devices is {devices!r}; expected one of {DEVICES} (--set devices=one).")
    found = training_devices() if devices == "all" else []
    if len(found) < 2:
        yield None
        return
    if batch_size % len(found):
        raise LabkitError(
            f"devices=all splits each batch over {len(found)} devices, but batch_size is "
            f"{batch_size}; set a multiple of {len(found)} (--set batch_size=...)."
        )
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        yield tf.distribute.MirroredStrategy(devices=found)
    elif backend == "jax":
        previous = keras.distribution.distribution()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=found))
        try:
            yield None
        finally:
            keras.distribution.set_distribution(previous)
    else:
        raise LabkitError(
            f"devices=all found {len(found)} devices, but Keras 3 trains on one device on the "
            f"{backend} backend; use KERAS_BACKEND=jax or tensorflow, or --set devices=one."
        )
