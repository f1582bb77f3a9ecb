"""Head CT by rule: display windows in Hounsfield units, and the skull removed without a person.

A CT voxel holds attenuation in Hounsfield units (HU): air -1000, water 0, brain 20 to 45, fresh
blood 50 to 90, bone several hundred to 2000. A *window* (level L, width W) maps ``[L - W/2,
L + W/2]`` to the display's black-to-white range; radiologists read a head CT in several (the
values below are common choices; sites differ by a few tens of HU):

- ``brain`` (L 40, W 80): grey and white matter apart, blood bright;
- ``subdural`` (L 80, W 200): thin collections of blood against the bone of the skull;
- ``bone`` (L 600, W 2800): fractures;
- ``blood`` (L 50, W 100): a lesion window for haemorrhage (fresh blood towards white).

:func:`intracranial_mask` finds what lies inside the skull with thresholds and morphology only,
so "remove the skull" is a rule that runs the same way on every patient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from labkit.errors import ShapeError
from labkit.intensity import window_scale
from labkit.morphology import fill_holes, keep_largest_component

__all__ = ["CT_WINDOWS", "apply_window", "brain_median_hu", "intracranial_mask"]

#: Name to ``(level, width)`` in HU.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "brain": (40.0, 80.0),
    "subdural": (80.0, 200.0),
    "bone": (600.0, 2800.0),
    "blood": (50.0, 100.0),
}


def apply_window(hu: np.ndarray, window: str | tuple[float, float]) -> np.ndarray:
    """Map Hounsfield units through a display window to ``[0, 1]``.

    Args:
        hu: CT intensities in HU, any shape.
        window: A key of :data:`CT_WINDOWS` or ``(level, width)``.

    Returns:
        float32 array of the same shape: 0 at ``level - width / 2`` and below, 1 at
        ``level + width / 2`` and above.
    """
    if isinstance(window, str):
        if window not in CT_WINDOWS:
            raise ValueError(f"unknown CT window {window!r}; expected one of {sorted(CT_WINDOWS)}.")
        window = CT_WINDOWS[window]
    level, width = (float(v) for v in window)
    if width <= 0:
        raise ValueError(
            f"a CT window's width must be positive; got level {level:g}, width {width:g}. "
            f"Pass (level, width) with width > 0, or one of {sorted(CT_WINDOWS)}."
        )
    return window_scale(hu, level - width / 2, level + width / 2)


def intracranial_mask(
    hu: np.ndarray,
    spacing: Sequence[float],
    soft_range: tuple[float, float] = (-15.0, 100.0),
    bone_hu: float = 300.0,
    neck_mm: float = 4.0,
) -> np.ndarray:
    """What lies inside the skull: brain, CSF and any blood, with skull and scalp removed.

    The rule: soft tissue is ``soft_range`` HU; voxels within ``neck_mm`` of bone are dropped,
    which cuts the thin bridges (foramina, the skull base in thick slices) that join the brain
    to the scalp and the neck; the largest remaining soft-tissue component is the brain; it is
    grown back by ``neck_mm`` within soft tissue (not into bone) and its holes are filled slice
    by slice; finally anything above ``soft_range`` (bone, or bone averaged into a thick slice,
    which a window would show as bright as blood) is taken out again.

    Args:
        hu: CT volume ``(x, y, z)`` in HU (axial slices along the last axis).
        spacing: Voxel size in mm ``(x, y, z)``.
        soft_range: HU range of brain, CSF and blood.
        bone_hu: HU above which a voxel is bone.
        neck_mm: Distance from bone (in mm) cut away before the largest component is taken.

    Returns:
        Bool mask ``(x, y, z)``.

    Raises:
        ShapeError: If ``hu`` is not 3D.
        ValueError: If nothing in the image looks like brain (not a head CT in HU?).
    """
    hu = np.asarray(hu, dtype=np.float32)
    if hu.ndim != 3:
        raise ShapeError(
            f"intracranial_mask expects a CT volume (x, y, z) in HU; got shape {hu.shape}. "
            "Drop the channel axis with image[..., 0]."
        )
    if len(spacing) != 3:
        raise ValueError(f"spacing needs three values (x, y, z) in mm; got {tuple(spacing)}.")
    bone = hu >= bone_hu
    soft = (hu >= soft_range[0]) & (hu <= soft_range[1])
    # distance to bone in the axial plane only: thick slices make through-plane distances coarse
    away = np.stack(
        [
            ndimage.distance_transform_edt(~bone[..., k], sampling=spacing[:2])
            for k in range(hu.shape[2])
        ],
        axis=-1,
    )
    core = keep_largest_component(soft & (away > neck_mm), connectivity=1)
    if core.sum() < 0.01 * hu.size:
        raise ValueError(
            f"no brain found in a CT of shape {hu.shape}: the largest soft-tissue region "
            f"({soft_range[0]:g} to {soft_range[1]:g} HU, {neck_mm:g} mm from bone) holds "
            f"{int(core.sum())} voxels. Is the image in Hounsfield units (air near -1000)?"
        )
    # grow back to the bone within soft tissue and blood, then close holes slice by slice
    inside = (hu > soft_range[0]) & ~bone
    steps = max(1, int(np.ceil(neck_mm / min(spacing[:2]))) + 1)
    in_plane = ndimage.generate_binary_structure(2, 1)[..., None]  # grow within each slice
    grown = ndimage.binary_dilation(core, structure=in_plane, iterations=steps, mask=inside)
    filled = fill_holes(grown, axis=2)
    # filling also swallows bone inside the outline (skull base, calcifications): take it out,
    # with anything above the soft-tissue range (bone mixed into a thick slice), not blood
    return filled & (hu <= soft_range[1])


def brain_median_hu(
    hu: np.ndarray, mask: np.ndarray, soft_range: tuple[float, float] = (15.0, 55.0)
) -> float:
    """Median HU of brain tissue inside ``mask`` (CSF and blood left out by ``soft_range``).

    This is the per-patient reference the haemorrhage study proposed for intensity
    normalisation: a window placed relative to it follows each scanner's calibration.

    Args:
        hu: CT volume ``(x, y, z)`` in HU.
        mask: Intracranial mask ``(x, y, z)``.
        soft_range: HU range counted as brain tissue.

    Returns:
        The median in HU.
    """
    values = hu[mask & (hu > soft_range[0]) & (hu < soft_range[1])]
    if values.size == 0:
        raise ValueError(
            f"no brain tissue ({soft_range[0]:g} to {soft_range[1]:g} HU) inside the mask of "
            f"{int(np.count_nonzero(mask))} voxels; is the image in Hounsfield units?"
        )
    return float(np.median(values))
