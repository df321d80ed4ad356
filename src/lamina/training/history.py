"""``History``: every epoch's logs side by side, and plots of learning curves and confusion matrices.

Plots use matplotlib's object API with the Agg canvas (no pyplot, no global backend change), so they work in
scripts, on servers without a display and in notebooks alike.
"""

import math
import os

import numpy as np

from lamina.training.callbacks import Callback

__all__ = ["History", "plot_history", "plot_confusion_matrix"]


def _require_matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'lamina[train]' (or pip install matplotlib)") from None
    return Figure, FigureCanvasAgg


class History(Callback):
    """Records the logs of every epoch (Keras' layout).

    ``history.history`` maps each name (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``...) to a
    list with one value per epoch (NaN where an epoch lacked that value); ``history.epoch`` lists the epoch
    numbers (from 1).

    Example:
        >>> history = trainer.fit(train_loader, val_loader, epochs=10)
        >>> history.history["val_accuracy"][-1]
        >>> history.plot("curves.png")
    """

    order = -100

    def __init__(self):
        self.history = {}
        self.epoch = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.record(epoch, logs)

    def record(self, epoch, logs):
        n = len(self.epoch)
        self.epoch.append(int(epoch))
        for k, v in logs.items():
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            if k not in self.history:
                self.history[k] = [math.nan] * n
            self.history[k].append(v)
        for vals in self.history.values():
            if len(vals) < n + 1:
                vals.append(math.nan)

    def __getitem__(self, key):
        return self.history[key]

    def __len__(self):
        return len(self.epoch)

    def __repr__(self):
        last = {k: v[-1] for k, v in self.history.items()} if self.epoch else {}
        return f"History(epochs={len(self.epoch)}, last={last})"

    def state_dict(self):
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state):
        self.epoch = [int(e) for e in state["epoch"]]
        self.history = {k: [float(x) for x in v] for k, v in state["history"].items()}

    def plot(self, path=None, metrics=None, title=None):
        """Draw the learning curves; see ``plot_history``."""
        return plot_history(self, path, metrics, title)


def _curve_names(history, metrics):
    names = []
    for k in history.history:
        base = k[4:] if k.startswith("val_") else k
        if base not in names and base != "lr":
            names.append(base)
    if metrics is not None:
        unknown = [m for m in metrics if m not in names]
        if unknown:
            raise ValueError(f"History.plot: no values for {unknown}; recorded: {names}")
        names = list(metrics)
    lr = history.history.get("lr")
    if metrics is None and lr and len({x for x in lr if not math.isnan(x)}) > 1:
        names.append("lr")  # only worth a panel when it changes
    return names


def plot_history(history, path=None, metrics=None, title=None):
    """Learning curves: one panel per quantity (loss, each metric; lr when it changes), train vs validation.

    Args:
        history: a ``History`` (or anything with ``.history`` and ``.epoch``).
        path: where to save the figure (PNG, SVG, PDF by extension); None only returns it.
        metrics: the quantities to draw (default: all recorded).
        title: a title over the panels.

    Returns:
        the matplotlib ``Figure``.
    """
    Figure, FigureCanvasAgg = _require_matplotlib()
    names = _curve_names(history, metrics)
    if not names:
        raise ValueError("History.plot: nothing recorded yet")
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.3 * rows), layout="constrained")
    FigureCanvasAgg(fig)
    epochs = history.epoch
    for i, name in enumerate(names):
        ax = fig.add_subplot(rows, cols, i + 1)
        train = history.history.get(name)
        val = history.history.get(f"val_{name}")
        if train is not None:
            ax.plot(epochs, train, "o-" if len(epochs) < 30 else "-", ms=3, label="train" if name != "lr" else "lr")
        if val is not None:
            ax.plot(epochs, val, "s--" if len(epochs) < 30 else "--", ms=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        if name == "lr":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend()
        if len(epochs) <= 20:
            ax.set_xticks(epochs)
    if title:
        fig.suptitle(title)
    if path is not None:
        _save(fig, path)
    return fig


def plot_confusion_matrix(cm, path=None, class_names=None, normalize=False, title="Confusion matrix"):
    """Draw a confusion matrix (rows: true class, columns: predicted class) with counts in the cells.

    Args:
        cm: a square array, e.g. from ``lamina.training.metrics.confusion_matrix``.
        path: where to save the figure; None only returns it.
        class_names: tick labels (default: 0..C-1).
        normalize: show each row as fractions of its true class.
        title: the figure title.

    Returns:
        the matplotlib ``Figure``.
    """
    Figure, FigureCanvasAgg = _require_matplotlib()
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square matrix, got shape {cm.shape}")
    c = cm.shape[0]
    shown = cm.astype(np.float64)
    if normalize:
        rows = shown.sum(axis=1, keepdims=True)
        shown = np.divide(shown, rows, out=np.zeros_like(shown), where=rows != 0)
    names = [str(i) for i in range(c)] if class_names is None else [str(n) for n in class_names]
    size = min(max(4.0, 0.5 * c + 2), 16.0)
    fig = Figure(figsize=(size + 1, size), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_xticks(range(c), names, rotation=45 if max(map(len, names)) > 3 else 0)
    ax.set_yticks(range(c), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if c <= 30:
        top = shown.max() if shown.size else 0
        for i in range(c):
            for j in range(c):
                text = f"{shown[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if top and shown[i, j] > top / 2 else "black")
    if path is not None:
        _save(fig, path)
    return fig


def _save(fig, path):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=110)
