"""Acquisition artefacts: smooth multiplicative bias fields and noise."""

from __future__ import annotations

import numpy as np

from labkit.phantoms.deform import smooth_noise

__all__ = ["add_noise", "bias_field"]


def bias_field(
    shape: tuple[int, ...], rng: np.random.Generator, strength: float = 0.2
) -> np.ndarray:
    """Draw a smooth multiplicative intensity inhomogeneity, as MRI receive coils cause.

    Args:
        shape: Grid shape ``(x, y, z)``.
        rng: Random generator.
        strength: Largest deviation of the log-field: the field stays within
            ``[exp(-strength), exp(strength)]`` (0.2 gives about -18% to +22%).

    Returns:
        float32 field ``(x, y, z)``, positive, with geometric mean near 1; multiply an image by it.
    """
    field = smooth_noise(shape, rng, control_spacing_vox=max(shape) / 2.0)[0]
    field -= field.mean()
    field /= max(float(np.abs(field).max()), 1e-6)
    return np.exp(strength * field).astype(np.float32)


def add_noise(
    image: np.ndarray, rng: np.random.Generator, sigma: float, kind: str = "rician"
) -> np.ndarray:
    """Add acquisition noise.

    Args:
        image: Image ``(x, y, z)``.
        rng: Random generator.
        sigma: Noise standard deviation, in the image's units.
        kind: ``"rician"`` (magnitude MRI: noise on real and imaginary parts, then the modulus,
            so the background is positive) or ``"gaussian"`` (CT).

    Returns:
        float32 noisy image ``(x, y, z)``.
    """
    image = image.astype(np.float32, copy=False)
    if kind == "gaussian":
        return image + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    if kind == "rician":
        real = image + rng.normal(0.0, sigma, image.shape).astype(np.float32)
        imag = rng.normal(0.0, sigma, image.shape).astype(np.float32)
        return np.sqrt(real**2 + imag**2)
    raise ValueError(f"noise kind must be 'rician' or 'gaussian'; got {kind!r}.")
