"""Charts of training and results: learning curves, feature maps, one metric per case.

The volume views (planes, overlays, montages) are in :mod:`labkit.viz`, which names these too.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["LABEL_COLOURS", "case_bars", "feature_maps", "learning_curves"]

#: Colours for label values 1, 2, 3, ... in overlays (colour-blind-friendly Okabe-Ito order).
LABEL_COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")


def learning_curves(
    history: dict[str, list[float]] | list[dict[str, float]],
    metrics: tuple[str, ...] = ("loss",),
    title: str | None = None,
) -> plt.Figure:
    """Plot training and validation curves per epoch, one panel per metric.

    Args:
        history: ``keras.callbacks.History.history`` (name -> values) or the rows of a
            ``history.csv`` as returned by :func:`labkit.training.fit`.
        metrics: Metric names; ``val_<name>`` is drawn beside each when present.
        title: Figure title.

    Returns:
        The figure.
    """
    if isinstance(history, list):
        history = {k: [row[k] for row in history] for k in (history[0] if history else {})}
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(4.2 * len(metrics), 3.2), layout="constrained"
    )
    for ax, name in zip(np.atleast_1d(axes), metrics, strict=True):
        if name not in history:
            raise KeyError(f"metric {name!r} is not in the history; it has {sorted(history)}.")
        epochs = np.arange(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], marker="o", ms=3, label="training")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], marker="o", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def feature_maps(
    maps: dict[str, np.ndarray], channels: int = 4, depth_fraction: float = 0.5
) -> plt.Figure:
    """Show a few channels of some layers' activation maps, one row per layer.

    Args:
        maps: Layer name to activation ``(x, y, z, channels)`` (see
            :func:`labkit.models.layer_outputs`) or ``(x, y, channels)``.
        channels: Channels shown per layer (the ones with the largest mean activation).
        depth_fraction: Which axial slice of a 3D map to show, as a fraction of its depth, so
            layers at every resolution show the same level of the volume.

    Returns:
        The figure; every panel has its own colour scale (a layer's maps differ in range).
    """
    fig, axes = plt.subplots(
        len(maps),
        channels,
        figsize=(1.9 * channels, 1.9 * len(maps)),
        layout="constrained",
        squeeze=False,
    )
    for row, (name, act) in zip(axes, maps.items(), strict=True):
        if act.ndim == 4:
            act = act[:, :, min(int(depth_fraction * act.shape[2]), act.shape[2] - 1)]
        strongest = np.argsort(act.mean(axis=(0, 1)))[::-1][:channels]
        for ax, c in zip(row, strongest, strict=False):
            ax.imshow(act[..., c].T, origin="lower", cmap="magma")
            ax.set_xticks([])
            ax.set_yticks([])
        for ax in row[len(strongest) :]:
            ax.axis("off")
        row[0].set_ylabel(f"{name}\n{act.shape[0]}x{act.shape[1]}", fontsize=8)
    return fig


def case_bars(
    rows: list[dict[str, object]],
    metric: str = "dice",
    label: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Bar chart of one metric per case (e.g. per-patient Dice), with the mean as a line.

    Args:
        rows: Per-case rows (``case``, ``label``, metrics), as from
            :func:`labkit.evaluation.evaluate_labels`.
        metric: Column to plot.
        label: Keep only rows of this label (default: all rows).
        ax: Axes to draw on (default: a new figure).

    Returns:
        The axes. NaN values are drawn as empty slots marked "NaN".
    """
    sel = [r for r in rows if label is None or r["label"] == label]
    values = np.array([float(r[metric]) for r in sel])
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4, 0.35 * len(sel)), 3), layout="constrained")
    x = np.arange(len(sel))
    ax.bar(x, np.nan_to_num(values), color=LABEL_COLOURS[4])
    for i in np.flatnonzero(~np.isfinite(values)):
        ax.text(i, 0, "NaN", rotation=90, ha="center", va="bottom", fontsize=7)
    if np.isfinite(values).any():
        ax.axhline(
            np.nanmean(values),
            color=LABEL_COLOURS[5],
            ls="--",
            label=f"mean {np.nanmean(values):.3g}",
        )
        ax.legend(fontsize=8)
    ax.set_xticks(x, [str(r["case"]) for r in sel], rotation=90, fontsize=7)
    ax.set_ylabel(metric + (f" ({label})" if label else ""))
    return ax
