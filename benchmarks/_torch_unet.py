"""labkit's U-Net written again in PyTorch, layer for layer, to time one framework against another.

:class:`TorchUNet` has the layers of :func:`labkit.models.unet` in the same order and sizes:
two (convolution, batch norm, ReLU) blocks per level, max-pooling down, a transposed convolution
up, the skip concatenated after the up-sampled map, and a 1x1(x1) convolution to the classes.
Batch norm uses Keras' epsilon (1e-3) and momentum (0.99, which is PyTorch's 0.01).
:func:`copy_keras_weights` loads a Keras U-Net's weights into it, so a benchmark can show that the
two compute the same function (the largest difference of their outputs) before it times them.

Tensors are channels-first here, ``(n, c, x, y[, z])``, as PyTorch's convolutions expect.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class _Block(nn.Sequential):
    def __init__(self, conv: type, norm: type, cin: int, cout: int, batch_norm: bool) -> None:
        layers: list[nn.Module] = []
        for i in range(2):
            layers.append(conv(cin if i == 0 else cout, cout, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(norm(cout, eps=1e-3, momentum=0.01))
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class TorchUNet(nn.Module):
    """The U-Net of :func:`labkit.models.unet` (kernel 3, pool 2, no dropout) in PyTorch.

    Args:
        ndim: 2 or 3 spatial dimensions.
        in_channels: Input channels.
        num_classes: Output channels; the forward pass returns logits (the softmax or sigmoid is
            left to the loss, as PyTorch code does).
        depth: Down-sampling steps.
        filters: Filters of the first level, doubled at every level.
        batch_norm: Batch normalisation after each convolution.
    """

    def __init__(
        self,
        ndim: int,
        in_channels: int,
        num_classes: int,
        depth: int = 4,
        filters: int = 32,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        conv = {2: nn.Conv2d, 3: nn.Conv3d}[ndim]
        up = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[ndim]
        norm = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[ndim]
        self.pool = {2: nn.MaxPool2d, 3: nn.MaxPool3d}[ndim](2)
        widths = [filters * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.down.append(_Block(conv, norm, cin, w, batch_norm))
            cin = w
        self.bottleneck = _Block(conv, norm, widths[-2], widths[-1], batch_norm)
        self.ups = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for level in reversed(range(depth)):
            self.ups.append(up(widths[level + 1], widths[level], 2, stride=2))
            self.up_blocks.append(_Block(conv, norm, 2 * widths[level], widths[level], batch_norm))
        self.head = conv(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips), strict=True):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def _kernel(w: np.ndarray) -> torch.Tensor:
    """A Keras kernel in PyTorch's layout: ``(*k, in, out)`` becomes ``(out, in, *k)`` and a
    transposed convolution's ``(*k, out, in)`` becomes ``(in, out, *k)``: both move the last
    two axes to the front in reverse order."""
    n = w.ndim - 2
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(w, (n + 1, n), (0, 1))))


def copy_keras_weights(keras_model: object, net: TorchUNet) -> None:
    """Load the weights of a Keras :func:`labkit.models.unet` into a :class:`TorchUNet` of the
    same configuration (convolutions, transposed convolutions, batch-norm statistics)."""
    convs, norms, ups = [], [], []
    for layer in keras_model.layers:
        kind = type(layer).__name__
        if kind.startswith("Conv") and "Transpose" in kind:
            ups.append(layer)
        elif kind.startswith("Conv"):
            convs.append(layer)
        elif kind.endswith("BatchNormalization"):
            norms.append(layer)
    t_convs = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Conv3d)]
    t_norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d | nn.BatchNorm3d)]
    t_ups = list(net.ups)
    # both orders run encoder, bottleneck, decoder (deepest level first), head
    if (len(convs), len(norms), len(ups)) != (len(t_convs), len(t_norms), len(t_ups)):
        raise ValueError(
            f"the Keras model has {len(convs)} convolutions, {len(norms)} batch norms and "
            f"{len(ups)} transposed convolutions; the PyTorch net has {len(t_convs)}, "
            f"{len(t_norms)} and {len(t_ups)}. Build both with the same depth and batch_norm."
        )
    with torch.no_grad():
        for k, t in zip(convs, t_convs, strict=True):
            weights = [np.asarray(v) for v in k.weights]
            t.weight.copy_(_kernel(weights[0]))
            if t.bias is not None:
                t.bias.copy_(torch.from_numpy(weights[1]))
        for k, t in zip(ups, t_ups, strict=True):
            w, b = (np.asarray(v) for v in k.weights)
            t.weight.copy_(_kernel(w))
            t.bias.copy_(torch.from_numpy(b))
        for k, t in zip(norms, t_norms, strict=True):
            gamma, beta, mean, var = (np.asarray(v) for v in k.weights)
            t.weight.copy_(torch.from_numpy(gamma))
            t.bias.copy_(torch.from_numpy(beta))
            t.running_mean.copy_(torch.from_numpy(mean))
            t.running_var.copy_(torch.from_numpy(var))
