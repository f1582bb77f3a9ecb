"""Animations through a volume: label maps over the image, one frame per slice.

:func:`slice_animation` builds a matplotlib animation (save it as a GIF, or embed it);
:func:`slice_viewer` renders one as a slider that keeps working in the static HTML book. The
views follow :mod:`labkit.viz` (RAS+, radiological convention, aspect from the voxel spacing).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.colors import ListedColormap

from labkit.charts import LABEL_COLOURS
from labkit.checks import check_same_grid
from labkit.spatial import reorient
from labkit.viz import axis_of, plane
from labkit.volume import Volume

__all__ = ["slice_animation", "slice_viewer"]


def slice_animation(
    image: Volume,
    labels: dict[str, Volume],
    view: str = "axial",
    display: tuple[float, float] | None = None,
    step: int = 1,
    interval_ms: int = 150,
) -> FuncAnimation:
    """Animate label maps through a volume, one panel per label map, one frame per slice.

    Save the result as a GIF with ``anim.save("x.gif", writer="pillow")`` or embed it in a
    notebook with ``IPython.display.HTML(anim.to_jshtml())``.

    Args:
        image: Image volume ``(x, y, z)``.
        labels: Panel title to label volume ``(x, y, z)`` on the image's grid (e.g. reference
            and prediction); values 1, 2, ... are drawn in :data:`LABEL_COLOURS`.
        view: ``"axial"``, ``"coronal"`` or ``"sagittal"``: the axis the frames walk along.
        display: ``(low, high)`` intensity range shown (default: the 1st and 99th percentiles).
        step: Show every ``step``-th slice.
        interval_ms: Delay between frames.

    Returns:
        The animation, one frame per shown slice; its figure is closed so that a notebook does
        not also show a still copy.

    Raises:
        ShapeError: If a label volume is not on the image's grid (shape and affine).
    """
    axis = axis_of(view)
    if step < 1:
        raise ValueError(f"step must be >= 1; got {step}.")
    for vol in labels.values():
        check_same_grid(image, vol)
    ras = reorient(image, "RAS")
    lo, hi = display or np.percentile(ras.array, (1, 99))
    n = ras.shape[axis]
    frames = list(range(0, n, step))
    fig, axes = plt.subplots(
        1, len(labels), figsize=(3.2 * len(labels), 3.4), layout="constrained", squeeze=False
    )
    cmap = ListedColormap(["none", *LABEL_COLOURS])
    artists = []
    for ax, (name, vol) in zip(axes[0], labels.items(), strict=True):
        cut, aspect = plane(ras, view, 0)
        img = ax.imshow(cut, cmap="gray", vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
        lab = ax.imshow(
            plane(vol, view, 0)[0],
            cmap=cmap,
            vmin=0,
            vmax=len(LABEL_COLOURS),
            alpha=0.55,
            aspect=aspect,
            interpolation="nearest",
        )
        ax.set_title(name, fontsize=9)
        ax.axis("off")
        artists.append((img, lab, reorient(vol, "RAS")))  # once, not at every frame
    caption = fig.suptitle("", fontsize=9)

    def draw(index: int) -> list:
        for img, lab, vol in artists:
            img.set_data(plane(ras, view, index)[0])
            lab.set_data(plane(vol, view, index)[0])
        caption.set_text(f"{view} slice {index + 1} of {n}")
        return [a for img, lab, _ in artists for a in (img, lab)] + [caption]

    anim = FuncAnimation(fig, draw, frames=frames, interval=interval_ms, blit=False)
    plt.close(fig)
    return anim


def slice_viewer(
    image: Volume,
    labels: dict[str, Volume],
    view: str = "axial",
    display: tuple[float, float] | None = None,
    max_frames: int = 40,
) -> Any:
    """A slider through the volume for a notebook, which keeps working in the static HTML book.

    :func:`slice_animation` rendered as JavaScript and HTML (matplotlib's ``to_jshtml``): a
    slider, play buttons and one frame per shown slice, every frame embedded, so the rendered
    page needs no running kernel.

    Args:
        image, labels, view, display: As :func:`slice_animation`.
        max_frames: Most frames to embed (every ``ceil(n / max_frames)``-th slice), which bounds
            the page's size.

    Returns:
        An ``IPython.display.HTML`` object (the last expression of a cell shows it).
    """
    from IPython.display import HTML

    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1; got {max_frames}.")
    n = reorient(image, "RAS").shape[axis_of(view)]
    step = max(1, -(-n // max_frames))
    anim = slice_animation(image, labels, view=view, display=display, step=step)
    return HTML(anim.to_jshtml(default_mode="once"))
