"""Pictures: attributions over their input images, first-layer filters, feature maps, and the per-layer training
curves of ``Diagnostics``.

Plots use matplotlib's object API with the Agg canvas (no pyplot, no global backend change), as
``lamina.training.history`` does; every function returns the ``Figure`` and saves it when given a path.
"""

import math

import numpy as np

from lamina.training.history import _require_matplotlib, _save

__all__ = ["plot_attributions", "plot_filters", "plot_feature_maps", "plot_diagnostics", "overlay"]


def _array(x):
    return np.asarray(x._data if hasattr(x, "_data") else x, dtype=np.float64)


def _picture(x):
    """One input (C, H, W) or (H, W) as something ``imshow`` shows: grey (H, W) or RGB (H, W, 3) in [0, 1]."""
    x = _array(x)
    if x.ndim == 3:
        x = np.moveaxis(x, 0, -1) if x.shape[0] == 3 else x.mean(axis=0)
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _heat(a):
    """One attribution (C, H, W) or (H, W) as (H, W), channels summed."""
    a = _array(a)
    return a.sum(axis=0) if a.ndim == 3 else a


def overlay(ax, image, attribution, alpha=0.8, cmap=None, signed=None):
    """Draw ``attribution`` as a heat map over ``image`` (grey) on the matplotlib axes ``ax``.

    Each pixel's opacity grows with |attribution| (up to ``alpha``), so the image shows through where the
    attribution is weak. Signed attributions (integrated gradients, gradient x input, occlusion) use a
    blue (negative) / red (positive) scale centred on zero; non-negative ones (saliency, SmoothGrad, Grad-CAM)
    a dark-to-yellow scale. Returns the heat map's image artist.
    """
    pic = _picture(image)
    heat = _heat(attribution)
    if heat.shape != pic.shape[:2]:
        raise ValueError(f"overlay: attribution of spatial shape {heat.shape} does not match the image's "
                         f"{pic.shape[:2]}")
    signed = bool((heat < 0).any()) if signed is None else signed
    ax.imshow(pic.mean(axis=-1) if pic.ndim == 3 else pic, cmap="gray", interpolation="nearest")
    top = float(np.abs(heat).max()) or 1.0
    strength = np.clip(np.abs(heat) / top, 0, 1) ** 0.7
    if signed:
        art = ax.imshow(heat, cmap=cmap or "bwr", vmin=-top, vmax=top, alpha=alpha * strength,
                        interpolation="nearest")
    else:
        art = ax.imshow(heat, cmap=cmap or "inferno", vmin=0, vmax=top, alpha=alpha * (0.25 + 0.75 * strength),
                        interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    return art


_TITLES = {"saliency": "saliency", "smoothgrad": "SmoothGrad", "gradient_x_input": "gradient × input",
           "integrated_gradients": "integrated gradients", "grad_cam": "Grad-CAM", "occlusion": "occlusion"}


def plot_attributions(inputs, attributions, path=None, labels=None, title=None, max_images=8, alpha=0.8):
    """A grid: one row per input, its picture, then each method's attributions over it.

    Args:
        inputs: images (N, C, H, W) (or (N, H, W)).
        attributions: a Tensor/array like ``inputs`` (Grad-CAM's (N, 1, H, W) too), or a dict
            ``{method name: attributions}`` for several columns.
        path: where to save the PNG.
        labels: one caption per input (e.g. "7 (p=0.98)").
        title: the figure's title.
        max_images: rows at most. Default: 8.
        alpha: the heat map's largest opacity. Default: 0.8.
    """
    Figure, FigureCanvasAgg = _require_matplotlib()
    x = _array(inputs)
    if x.ndim == 3:
        x = x[:, None]
    maps = attributions if isinstance(attributions, dict) else {"attribution": attributions}
    maps = {k: _array(v) for k, v in maps.items()}
    for name, a in maps.items():
        if a.shape[0] != x.shape[0] or a.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"plot_attributions: {name} has shape {a.shape}, which does not match the inputs' "
                             f"{x.shape}")
    rows, cols = min(len(x), max_images), 1 + len(maps)
    fig = Figure(figsize=(2.1 * cols, 2.1 * rows + (0.4 if title else 0)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.array(fig.subplots(rows, cols, squeeze=False))
    for i in range(rows):
        ax = axes[i, 0]
        pic = _picture(x[i])
        ax.imshow(pic, cmap="gray" if pic.ndim == 2 else None, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if labels is not None:
            ax.set_ylabel(str(labels[i]), fontsize=9)
        for j, (name, a) in enumerate(maps.items(), 1):
            overlay(axes[i, j], x[i], a[i], alpha=alpha)
            if i == 0:
                axes[i, j].set_title(_TITLES.get(name, name.replace("_", " ")), fontsize=9)
    if rows:
        axes[0, 0].set_title("input", fontsize=9)
    if title:
        fig.suptitle(title)
    if path is not None:
        _save(fig, path)
    return fig


def _grid(n):
    cols = int(math.ceil(math.sqrt(n)))
    return int(math.ceil(n / cols)), cols


def _tiles(fig, pictures, captions=None, cmap="gray"):
    rows, cols = _grid(len(pictures))
    axes = np.array(fig.subplots(rows, cols, squeeze=False)).reshape(-1)
    for k, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if k >= len(pictures):
            ax.set_axis_off()
            continue
        pic = pictures[k]
        ax.imshow(pic, cmap=cmap if pic.ndim == 2 else None, interpolation="nearest")
        if captions is not None:
            ax.set_title(captions[k], fontsize=7)


def plot_filters(layer, path=None, title=None):
    """The filters of a convolutional layer (``Conv2d``, or a model: its first ``Conv2d``) as small pictures: RGB
    for 3 input channels, otherwise the mean over input channels, each scaled to its own range."""
    from lamina.nn.modules.conv import Conv2d

    if not isinstance(layer, Conv2d):
        convs = [m for m in layer.modules() if isinstance(m, Conv2d)] if hasattr(layer, "modules") else []
        if not convs:
            raise ValueError("plot_filters: expected a Conv2d layer or a model with one")
        layer = convs[0]
    w = _array(layer.weight)
    Figure, FigureCanvasAgg = _require_matplotlib()
    rows, cols = _grid(w.shape[0])
    fig = Figure(figsize=(1.1 * cols + 0.4, 1.1 * rows + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    _tiles(fig, [_picture(f) for f in w], [str(i) for i in range(w.shape[0])], cmap="gray")
    fig.suptitle(title or f"{w.shape[0]} filters of {type(layer).__name__}({w.shape[1]}, {w.shape[0]}, "
                          f"kernel_size={tuple(w.shape[2:])})", fontsize=9)
    if path is not None:
        _save(fig, path)
    return fig


def plot_feature_maps(maps, path=None, title=None, max_maps=64):
    """Feature maps of one input, (C, H, W) or (1, C, H, W) (see ``lamina.explain.feature_maps``), one picture
    per channel on a shared colour scale (dark: zero)."""
    m = _array(maps)
    if m.ndim == 4:
        m = m[0]
    if m.ndim != 3:
        raise ValueError(f"plot_feature_maps: expected feature maps (C, H, W) or (1, C, H, W), got {m.shape}")
    m = m[:max_maps]
    top = float(np.abs(m).max()) or 1.0
    Figure, FigureCanvasAgg = _require_matplotlib()
    rows, cols = _grid(m.shape[0])
    fig = Figure(figsize=(1.1 * cols + 0.4, 1.1 * rows + 0.5), layout="constrained")
    FigureCanvasAgg(fig)
    _tiles(fig, list(np.clip(m / top, 0, 1)), [str(i) for i in range(m.shape[0])], cmap="viridis")
    fig.suptitle(title or f"{m.shape[0]} feature maps", fontsize=9)
    if path is not None:
        _save(fig, path)
    return fig


def _layer_lines(ax, xs, series, log=True):
    labels = list(series)
    try:
        from matplotlib import colormaps

        colors = colormaps["viridis"](np.linspace(0, 0.9, max(len(labels), 1)))
    except ImportError:  # pragma: no cover - matplotlib < 3.5
        colors = [None] * len(labels)
    for k, label in enumerate(labels):
        ys = np.asarray(series[label], dtype=np.float64)
        if len(ys) == 0:
            continue
        ys = np.where(np.isfinite(ys) & (ys > 0 if log else True), ys, np.nan)
        ax.plot(xs[:len(ys)], ys, color=colors[k], lw=1.2, label=label, marker="o" if len(ys) <= 30 else None,
                ms=3)
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    if 0 < len(labels) <= 10:
        ax.legend(fontsize=6)
    elif labels:
        ax.text(0.01, 0.01, f"dark: {labels[0]} ... yellow: {labels[-1]}", transform=ax.transAxes, fontsize=6)


def plot_diagnostics(diag, path=None):
    """The curves a ``Diagnostics`` callback recorded: per-layer gradient norm, weight norm and update/weight ratio
    per measured step; dead and saturated fractions per epoch; training and validation loss."""
    Figure, FigureCanvasAgg = _require_matplotlib()
    fig = Figure(figsize=(13, 7), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.array(fig.subplots(2, 3)).reshape(-1)
    steps = np.asarray(diag.steps, dtype=np.float64)
    for ax, key, name in zip(axes[:3], ("grad_norm", "weight_norm", "update_ratio"),
                             ("gradient norm", "weight norm", "update / weight")):
        _layer_lines(ax, steps, diag.step_stats[key])
        ax.set_title(f"{name} per layer")
        ax.set_xlabel("step")
    epochs = np.asarray(diag.epochs, dtype=np.float64)
    for ax, key, name in ((axes[3], "dead", "dead ReLU units"), (axes[4], "saturated", "saturated outputs")):
        series = {label: st[key] for label, st in diag.activation_stats.items() if key in st}
        if series:
            _layer_lines(ax, epochs, {k: [100 * v for v in vals] for k, vals in series.items()}, log=False)
            ax.set_ylim(-2, 102)
        else:
            ax.text(0.5, 0.5, "no such activation modules", ha="center", va="center", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(f"{name} (%)")
        ax.set_xlabel("epoch")
    ax = axes[5]
    for key in ("loss", "val_loss"):
        ys = np.asarray(diag.losses[key], dtype=np.float64)
        if np.isfinite(ys).any():
            ax.plot(epochs[:len(ys)], ys, marker="o", ms=3, label=key)
    ax.set_title("loss")
    ax.set_xlabel("epoch")
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)
    kinds = sorted({f.kind for f in diag.findings})
    fig.suptitle("Training diagnostics: " + (", ".join(kinds) if kinds else "no problems found"))
    if path is not None:
        _save(fig, path)
    return fig
