"""One U-Net builder for 2D and 3D (Ronneberger et al. 2015, MICCAI; Cicek et al. 2016, MICCAI).

The network is the classic encoder-decoder: at each of ``depth`` levels two convolutions
(optionally batch-normalised) and a max-pooling on the way down, a transposed convolution, a
concatenation with the skip connection and two convolutions on the way up, and a 1x1(x1)
convolution to ``num_classes`` channels with a sigmoid (one class) or softmax (several) output.
Input is channels-last, ``(x, y, c)`` or ``(x, y, z, c)``; filters double at every level.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from labkit.errors import ShapeError
from labkit.layers import FusedBatchNormalization

__all__ = ["layer_outputs", "unet", "unet_levels"]


def _tuple(value: int | Sequence[int], n: int, what: str) -> tuple[int, ...]:
    out = (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)
    if len(out) != n:
        raise ValueError(f"{what} {value!r} must be one int or {n} ints for a {n}D U-Net.")
    return out


def _check_divisible(spatial: Sequence[int | None], pool: tuple[int, ...], depth: int) -> None:
    for axis, (size, p) in enumerate(zip(spatial, pool, strict=True)):
        factor = p**depth
        if size is not None and size % factor:
            raise ShapeError(
                f"input size {size} on axis {axis} is not divisible by {factor} "
                f"(pool size {p} to the power depth {depth}); expected a multiple of {factor}. "
                f"Pad the input to {-(-size // factor) * factor} "
                "(labkit.transforms.pad_to_multiple) or use a smaller depth."
            )


def unet(
    input_shape: Sequence[int | None],
    num_classes: int,
    depth: int = 4,
    filters: int = 32,
    kernel_size: int | Sequence[int] = 3,
    pool_size: int | Sequence[int] = 2,
    batch_norm: bool = True,
    dropout: float = 0.0,
    name: str | None = None,
    batch_norm_momentum: float = 0.99,
    fused_batch_norm: bool = True,
) -> keras.Model:
    """Build a 2D or 3D U-Net.

    Args:
        input_shape: ``(x, y, c)`` for 2D or ``(x, y, z, c)`` for 3D; spatial sizes may be ``None``
            (any size that is a multiple of ``pool_size ** depth``).
        num_classes: Output channels: 1 gives a sigmoid foreground probability, >1 a softmax
            over classes (background included).
        depth: Number of down-sampling steps.
        filters: Filters of the first level; level ``k`` has ``filters * 2**k``.
        kernel_size: Convolution kernel, e.g. 3, or ``(3, 3, 1)`` for in-plane kernels in a 3D net.
        pool_size: Down-sampling factor per axis, e.g. 2 or ``(2, 2, 1)``.
        batch_norm: Batch normalisation after each convolution
            (see ``fused_batch_norm``).
        dropout: Dropout rate at the bottleneck (0 disables it).
        name: Model name (default ``unet2d`` / ``unet3d``).
        batch_norm_momentum: Momentum of the batch-normalisation moving statistics that the
            model uses at inference. Keras' 0.99 suits long runs; a run of a few hundred steps
            with a high learning rate needs a shorter memory (e.g. 0.9), or validation and test
            see stale statistics and score far below training.
        fused_batch_norm: Use :class:`labkit.layers.FusedBatchNormalization` (the same
            normalisation, computed by TensorFlow's fused kernel, faster on a CPU as
            ``benchmarks/train_step.py`` measures) rather than
            ``keras.layers.BatchNormalization``.

    Returns:
        A functional ``keras.Model`` mapping ``(batch, *spatial, c)`` to
        ``(batch, *spatial, num_classes)`` float32 probabilities.

    Raises:
        ShapeError: If a spatial size is not divisible by ``pool_size ** depth``.
    """
    if len(input_shape) not in (3, 4):
        raise ShapeError(
            f"input_shape {tuple(input_shape)} must be (x, y, channels) or (x, y, z, channels)."
        )
    if num_classes < 1 or depth < 1 or filters < 1:
        raise ValueError(
            f"num_classes, depth and filters must be >= 1; got {num_classes}, {depth}, {filters}."
        )
    ndim = len(input_shape) - 1
    kernel = _tuple(kernel_size, ndim, "kernel_size")
    pool = _tuple(pool_size, ndim, "pool_size")
    _check_divisible(input_shape[:-1], pool, depth)
    conv = layers.Conv2D if ndim == 2 else layers.Conv3D
    up = layers.Conv2DTranspose if ndim == 2 else layers.Conv3DTranspose
    down = layers.MaxPooling2D if ndim == 2 else layers.MaxPooling3D
    norm = FusedBatchNormalization if fused_batch_norm else layers.BatchNormalization

    def block(x: keras.KerasTensor, n: int, tag: str) -> keras.KerasTensor:
        for i in (1, 2):
            x = conv(n, kernel, padding="same", use_bias=not batch_norm, name=f"{tag}_conv{i}")(x)
            if batch_norm:
                x = norm(momentum=batch_norm_momentum, name=f"{tag}_bn{i}")(x)
            x = layers.Activation("relu", name=f"{tag}_relu{i}")(x)
        return x

    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = block(x, filters * 2**level, f"enc{level}")
        skips.append(x)
        x = down(pool, name=f"enc{level}_pool")(x)
    x = block(x, filters * 2**depth, "bottleneck")
    if dropout > 0:
        x = layers.Dropout(dropout, name="bottleneck_dropout")(x)
    for level in reversed(range(depth)):
        x = up(filters * 2**level, pool, strides=pool, padding="same", name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level]])
        x = block(x, filters * 2**level, f"dec{level}")
    activation = "sigmoid" if num_classes == 1 else "softmax"
    outputs = conv(num_classes, 1, activation=activation, dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name or f"unet{ndim}d")


def layer_outputs(model: keras.Model, x: np.ndarray, names: Sequence[str]) -> dict[str, np.ndarray]:
    """What some layers of a model output for one input: its activation (feature) maps.

    Args:
        model: A functional Keras model (e.g. from :func:`unet`).
        x: One input ``(*spatial, c)`` (no batch axis).
        names: Layer names, e.g. ``["enc0_relu2", "bottleneck_relu2", "dec0_relu2"]``.

    Returns:
        Layer name to its output ``(*spatial_at_that_level, channels)`` as float32.

    Raises:
        KeyError: If a name is not a layer of the model (the message lists the ReLU layers).
    """
    known = {layer.name for layer in model.layers}
    if missing := [n for n in names if n not in known]:
        relus = [layer.name for layer in model.layers if "relu" in layer.name]
        raise KeyError(f"no layers {missing} in model {model.name!r}; its ReLU layers are {relus}.")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    outs = probe(np.asarray(x, np.float32)[None], training=False)
    outs = outs if isinstance(outs, list | tuple) else [outs]
    return {n: keras.ops.convert_to_numpy(o)[0] for n, o in zip(names, outs, strict=True)}


def unet_levels(model: keras.Model) -> list[dict[str, str]]:
    """The output shape of every level of a :func:`unet`, top to bottom and back up.

    Args:
        model: A model built by :func:`unet` (its blocks end in ``<level>_relu2``).

    Returns:
        One row per level (``enc0`` ... ``bottleneck`` ... ``dec0``) and the output layer:
        ``{"layer": name, "output shape": "(x, y, channels)"}``, without the batch axis.
    """
    rows = []
    for layer in model.layers:
        if layer.name.endswith("_relu2") or layer.name == "probabilities":
            shape = str(layer.output.shape[1:])
            rows.append({"layer": layer.name.removesuffix("_relu2"), "output shape": shape})
    if not rows:
        raise ValueError(
            f"{model.name} has no layer named '<level>_relu2' or 'probabilities'; expected a "
            "model built by labkit.models.unet."
        )
    return rows
