"""Figures for volumes: three-plane views, label overlays and slice montages.

The charts of training and results (learning curves, feature maps, per-case bars) live in
:mod:`labkit.charts`; animations through a volume in :mod:`labkit.animation`.

Views follow the radiological convention used by clinical viewers: the volume is first reoriented
to RAS+, then axial and coronal views put the patient's right on the left of the screen, anterior
(axial) and superior (coronal, sagittal) at the top, and sagittal views put anterior on the left.
Pixel aspect ratios come from the voxel spacing, so anisotropic volumes look like anatomy.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

from labkit.charts import LABEL_COLOURS
from labkit.spatial import reorient
from labkit.volume import Volume

__all__ = ["axis_of", "contours", "montage", "plane", "show_planes"]

_AXES = {"sagittal": 0, "coronal": 1, "axial": 2}


def axis_of(view: str) -> int:
    """The array axis a view walks along (0 sagittal, 1 coronal, 2 axial, after RAS+)."""
    if view not in _AXES:
        raise ValueError(f"view must be one of {sorted(_AXES)}; got {view!r}.")
    return _AXES[view]


def plane(volume: Volume, view: str, index: int | None = None) -> tuple[np.ndarray, float]:
    """Cut one display-ready 2D slice from a volume.

    Args:
        volume: Volume ``(x, y, z)``; reoriented to RAS+ first.
        view: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        index: Slice index along the view's axis in the RAS+ volume (default: the middle).

    Returns:
        ``(slice2d, aspect)``: the slice oriented for ``imshow`` and its pixel aspect ratio.
    """
    axis = axis_of(view)
    ras = reorient(volume, "RAS")
    index = ras.shape[axis] // 2 if index is None else int(index)
    cut = np.take(ras.array, index, axis=axis)
    sp = [s for i, s in enumerate(ras.spacing) if i != axis]
    return cut.T[::-1, ::-1], sp[1] / sp[0]


def _overlay(ax: plt.Axes, label2d: np.ndarray, aspect: float, alpha: float) -> None:
    lab = np.asarray(label2d).astype(int)
    if lab.max() <= 0:
        return
    colours = [
        "none",
        *[LABEL_COLOURS[(k - 1) % len(LABEL_COLOURS)] for k in range(1, lab.max() + 1)],
    ]
    ax.imshow(
        np.ma.masked_equal(lab, 0),
        cmap=ListedColormap(colours[1:]),
        vmin=1,
        vmax=max(lab.max(), 1),
        alpha=alpha,
        aspect=aspect,
        interpolation="nearest",
    )


def show_planes(
    image: Volume,
    label: Volume | None = None,
    point: Sequence[int] | None = None,
    cmap: str = "gray",
    vmin: float | None = None,
    vmax: float | None = None,
    alpha: float = 0.45,
    title: str | None = None,
) -> plt.Figure:
    """Show axial, coronal and sagittal slices through one point, with an optional label overlay.

    Args:
        image: Image volume ``(x, y, z)``.
        label: Label volume on the same grid ``(x, y, z)``, drawn in :data:`LABEL_COLOURS`.
        point: Voxel ``(x, y, z)`` of the RAS+-reoriented volume the three planes pass through
            (default: the label's centre of mass, or the volume centre).
        cmap: Colour map for the image.
        vmin: Lower display limit (default: the 1st percentile).
        vmax: Upper display limit (default: the 99th percentile).
        alpha: Opacity of the label overlay.
        title: Figure title.

    Returns:
        The figure, one row of three panels.
    """
    ras = reorient(image, "RAS")
    lab = reorient(label, "RAS") if label is not None else None
    if point is None:
        if lab is not None and np.any(lab.array > 0):
            point = np.round(np.argwhere(lab.array > 0).mean(0)).astype(int)
        else:
            point = [s // 2 for s in ras.shape[:3]]
    lo = np.percentile(ras.array, 1) if vmin is None else vmin
    hi = np.percentile(ras.array, 99) if vmax is None else vmax
    fig, axes = plt.subplots(1, 3, figsize=(11, 4), layout="constrained")
    for ax, view in zip(axes, ("axial", "coronal", "sagittal"), strict=True):
        idx = point[_AXES[view]]
        cut, aspect = plane(ras, view, idx)
        ax.imshow(cut, cmap=cmap, vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
        if lab is not None:
            _overlay(ax, plane(lab, view, idx)[0], aspect, alpha)
        ax.set_title(f"{view} {idx}")
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig


def montage(
    image: Volume,
    label: Volume | None = None,
    view: str = "axial",
    count: int = 8,
    cmap: str = "gray",
    alpha: float = 0.45,
) -> plt.Figure:
    """Show ``count`` evenly spaced slices of one view side by side, with an optional overlay.

    Args:
        image: Image volume ``(x, y, z)``.
        label: Label volume ``(x, y, z)`` on the same grid, or ``None``.
        view: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        count: Number of slices (spread over the label's extent when a label is given).
        cmap: Colour map for the image.
        alpha: Opacity of the overlay.

    Returns:
        The figure, one row of ``count`` panels.
    """
    ras = reorient(image, "RAS")
    lab = reorient(label, "RAS") if label is not None else None
    axis = _AXES[view]
    first, last = 0, ras.shape[axis] - 1
    if lab is not None and np.any(lab.array > 0):
        where = np.argwhere(lab.array > 0)[:, axis]
        first, last = int(where.min()), int(where.max())
    indices = np.unique(np.linspace(first, last, count).round().astype(int))
    lo, hi = np.percentile(ras.array, [1, 99])
    fig, axes = plt.subplots(
        1, len(indices), figsize=(1.8 * len(indices), 2.4), layout="constrained"
    )
    for ax, idx in zip(np.atleast_1d(axes), indices, strict=True):
        cut, aspect = plane(ras, view, idx)
        ax.imshow(cut, cmap=cmap, vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
        if lab is not None:
            _overlay(ax, plane(lab, view, idx)[0], aspect, alpha)
        ax.set_title(str(idx), fontsize=8)
        ax.axis("off")
    return fig


def contours(
    image: Volume,
    masks: dict[str, Volume],
    view: str = "axial",
    index: int | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Draw the outlines of several masks (e.g. reference vs prediction) on one slice.

    Args:
        image: Image volume ``(x, y, z)``.
        masks: Legend name to bool/label volume ``(x, y, z)`` on the same grid; drawn in
            :data:`LABEL_COLOURS` order.
        view: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        index: Slice index in the RAS+ volume (default: centre of the first mask).
        ax: Axes to draw on (default: a new figure).

    Returns:
        The axes.
    """
    ras_masks = {k: reorient(v, "RAS") for k, v in masks.items()}
    if index is None:
        first = next(iter(ras_masks.values())).array > 0
        axis = _AXES[view]
        index = int(np.argwhere(first)[:, axis].mean()) if first.any() else None
    cut, aspect = plane(image, view, index)
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4), layout="constrained")
    ax.imshow(cut, cmap="gray", aspect=aspect, interpolation="nearest")
    handles = []
    for k, (name, vol) in enumerate(ras_masks.items()):
        colour = LABEL_COLOURS[k % len(LABEL_COLOURS)]
        m = plane(vol, view, index)[0] > 0
        if m.any():
            ax.contour(m.astype(float), levels=[0.5], colors=[colour], linewidths=1.2)
        handles.append(plt.Line2D([], [], color=colour, label=name))
    ax.legend(handles=handles, loc="lower right", fontsize=7, framealpha=0.7)
    ax.axis("off")
    return ax
