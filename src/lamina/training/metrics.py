"""Metrics on whole arrays: classification (accuracy, precision/recall/F1, confusion matrix) and regression.

Every function takes ``(y_pred, y_true)`` in that order (as a loss takes ``(input, target)``), accepts lamina
Tensors, NumPy arrays or lists, and returns a Python float (or a NumPy array for ``confusion_matrix`` and
``average=None``). Classification metrics accept class labels, or scores/logits/probabilities with the class
dimension at axis 1 (PyTorch's ``(N, C, ...)`` layout), which they reduce with ``argmax``; a single score per
sample with the shape of the targets is a binary probability, cut at ``threshold``.

The values agree with scikit-learn's functions of the same names (``average="macro"`` is the default here,
since most lamina models are multi-class).
"""

import re

import numpy as np

__all__ = ["accuracy", "top_k_accuracy", "precision", "recall", "f1", "confusion_matrix", "mse", "mae", "rmse",
           "r2", "get_metric", "METRICS"]


def _np(x):
    if hasattr(x, "detach") and hasattr(x, "_data"):
        return np.asarray(x.detach())
    return np.asarray(x)


def _targets(t):
    if t.dtype.kind == "f":
        if not np.all(np.isfinite(t)) or np.any(t != np.round(t)):
            raise ValueError("metrics: classification targets must be integer class labels; got non-integral "
                             "floats (use a regression metric such as mse/r2 for continuous targets)")
        t = t.astype(np.int64)
    elif t.dtype.kind == "b":
        t = t.astype(np.int64)
    return t


def _labels(y_pred, y_true, threshold=0.5, name="metric"):
    """Predicted and true class labels as two int64 arrays of the same shape."""
    p, t = _np(y_pred), _targets(_np(y_true))
    if p.ndim == t.ndim + 1:
        if p.shape[1] == 1:
            p = p[:, 0]
        else:
            if p.shape[:1] + p.shape[2:] != t.shape:
                raise ValueError(f"{name}: scores of shape {p.shape} do not match targets of shape {t.shape} "
                                 f"(expected scores (N, C, ...) for targets (N, ...))")
            return p.argmax(axis=1), t
    if p.shape != t.shape:
        if p.size == t.size:
            p = p.reshape(t.shape)
        else:
            raise ValueError(f"{name}: predictions of shape {p.shape} do not match targets of shape {t.shape}")
    if p.dtype.kind == "f":
        p = (p >= threshold).astype(np.int64)
    return p.astype(np.int64, copy=False), t


def accuracy(y_pred, y_true, threshold=0.5):
    """Fraction of samples whose predicted class equals the target.

    Example:
        >>> accuracy(lamina.tensor([[0.1, 0.9], [0.8, 0.2]]), lamina.tensor([1, 1]))
        0.5
    """
    p, t = _labels(y_pred, y_true, threshold, "accuracy")
    if t.size == 0:
        return float("nan")
    return float(np.count_nonzero(p == t) / t.size)


def top_k_accuracy(y_pred, y_true, k=5):
    """Fraction of samples whose target is among the ``k`` highest scores (scores of shape (N, C))."""
    s, t = _np(y_pred), _targets(_np(y_true)).reshape(-1)
    if s.ndim != 2 or s.shape[0] != t.shape[0]:
        raise ValueError(f"top_k_accuracy: expected scores of shape (N, C) for targets (N,), got {s.shape} and "
                         f"{t.shape}")
    if k >= s.shape[1]:
        return 1.0
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    return float(np.count_nonzero((top == t[:, None]).any(axis=1)) / max(t.size, 1))


def confusion_matrix(y_pred, y_true, num_classes=None, threshold=0.5):
    """Counts ``cm[i, j]`` of samples of true class ``i`` predicted as class ``j`` (scikit-learn's layout)."""
    p, t = _labels(y_pred, y_true, threshold, "confusion_matrix")
    p, t = p.reshape(-1), t.reshape(-1)
    if num_classes is None:
        num_classes = int(max(p.max(initial=-1), t.max(initial=-1))) + 1
    if t.size and (min(p.min(), t.min()) < 0 or max(p.max(), t.max()) >= num_classes):
        raise ValueError(f"confusion_matrix: labels must lie in [0, {num_classes}); got predictions in "
                         f"[{p.min()}, {p.max()}] and targets in [{t.min()}, {t.max()}]")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def _divide(num, den, zero_division):
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, float(zero_division))
    np.divide(num, den, out=out, where=den != 0)
    return out


def _prf(kind, y_pred, y_true, average, num_classes, zero_division, pos_label):
    cm = confusion_matrix(y_pred, y_true, num_classes)
    tp = np.diag(cm).astype(np.float64)
    pred_count = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    if average == "micro":
        tp, pred_count, support = tp.sum(), pred_count.sum(), support.sum()
    if kind == "precision":
        score = _divide(tp, pred_count, zero_division)
    elif kind == "recall":
        score = _divide(tp, support, zero_division)
    else:  # F1 = 2 tp / (2 tp + fp + fn), as scikit-learn computes it
        score = _divide(2 * tp, pred_count + support, zero_division)
    if average == "micro":
        return float(score)
    if average == "binary":
        if pos_label >= len(score):
            return float(zero_division)
        return float(score[pos_label])
    present = (support + pred_count) > 0 if num_classes is None else np.ones(len(score), dtype=bool)
    if average is None or average == "none":
        return score
    if average == "macro":
        return float(score[present].mean()) if present.any() else float(zero_division)
    if average == "weighted":
        total = support.sum()
        return float((score * support).sum() / total) if total else float(zero_division)
    raise ValueError(f"{kind}: average must be 'macro', 'micro', 'weighted', 'binary' or None, got {average!r}")


def precision(y_pred, y_true, average="macro", num_classes=None, zero_division=0.0, pos_label=1):
    """tp / (tp + fp) per class, then averaged.

    ``average``: ``"macro"`` (mean over the classes present in predictions or targets, or over all
    ``num_classes`` when given), ``"weighted"`` (by support), ``"micro"`` (from the pooled counts), ``"binary"``
    (class ``pos_label`` only) or None (an array with one score per class id 0..C-1). ``zero_division`` is the
    score of a class with an empty denominator."""
    return _prf("precision", y_pred, y_true, average, num_classes, zero_division, pos_label)


def recall(y_pred, y_true, average="macro", num_classes=None, zero_division=0.0, pos_label=1):
    """tp / (tp + fn) per class, then averaged as in ``precision``."""
    return _prf("recall", y_pred, y_true, average, num_classes, zero_division, pos_label)


def f1(y_pred, y_true, average="macro", num_classes=None, zero_division=0.0, pos_label=1):
    """The harmonic mean of precision and recall, 2 tp / (2 tp + fp + fn), averaged as in ``precision``."""
    return _prf("f1", y_pred, y_true, average, num_classes, zero_division, pos_label)


def _regression(y_pred, y_true, name):
    p, t = _np(y_pred).astype(np.float64), _np(y_true).astype(np.float64)
    if p.shape != t.shape:
        if p.size != t.size:
            raise ValueError(f"{name}: predictions of shape {p.shape} do not match targets of shape {t.shape}")
        p = p.reshape(t.shape)
    return p, t


def mse(y_pred, y_true):
    """Mean squared error over all elements."""
    p, t = _regression(y_pred, y_true, "mse")
    return float(np.mean(np.square(p - t)))


def mae(y_pred, y_true):
    """Mean absolute error over all elements."""
    p, t = _regression(y_pred, y_true, "mae")
    return float(np.mean(np.abs(p - t)))


def rmse(y_pred, y_true):
    """Square root of the mean squared error over all elements."""
    return float(np.sqrt(mse(y_pred, y_true)))


def r2(y_pred, y_true):
    """Coefficient of determination 1 - SS_res / SS_tot; for 2-D targets, the mean over output columns.

    A constant target gives 1.0 when predicted exactly and 0.0 otherwise (scikit-learn's ``force_finite``).
    """
    p, t = _regression(y_pred, y_true, "r2")
    if t.ndim == 1:
        p, t = p[:, None], t[:, None]
    elif t.ndim > 2:
        p, t = p.reshape(len(p), -1), t.reshape(len(t), -1)
    ss_res = np.square(t - p).sum(axis=0)
    ss_tot = np.square(t - t.mean(axis=0)).sum(axis=0)
    score = np.ones(ss_res.shape)
    ok = ss_tot != 0
    score[ok] = 1 - ss_res[ok] / ss_tot[ok]
    score[~ok & (ss_res != 0)] = 0.0
    return float(score.mean())


METRICS = {
    "accuracy": accuracy,
    "acc": accuracy,
    "top_k_accuracy": top_k_accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "confusion_matrix": confusion_matrix,
    "mse": mse,
    "mae": mae,
    "rmse": rmse,
    "r2": r2,
}


def _partial(fn, name, **kw):
    def metric(y_pred, y_true):
        return fn(y_pred, y_true, **kw)

    metric.__name__ = name
    return metric


def get_metric(spec):
    """``(name, fn)`` for a metric given by name or as a callable ``fn(y_pred, y_true) -> float``.

    Names: those of ``METRICS``; ``precision``/``recall``/``f1`` with an ``_micro``, ``_macro`` or ``_weighted``
    suffix; ``top3_accuracy`` (any k; ``top_k_accuracy`` means k=5).
    """
    if callable(spec):
        name = getattr(spec, "__name__", None) or getattr(getattr(spec, "func", None), "__name__", None)
        if not name or name == "<lambda>":
            raise ValueError("Trainer: a metric given as a lambda or partial needs a name; pass metrics as a dict "
                             "{'name': fn}")
        return name, spec
    if not isinstance(spec, str):
        raise TypeError(f"Trainer: a metric must be a name or a callable, got {type(spec).__name__}")
    if spec in METRICS and spec != "confusion_matrix":
        return ("accuracy" if spec == "acc" else spec), METRICS[spec]
    m = re.fullmatch(r"(precision|recall|f1)_(micro|macro|weighted)", spec)
    if m:
        return spec, _partial(METRICS[m.group(1)], spec, average=m.group(2))
    m = re.fullmatch(r"top_?(\d+)_accuracy", spec)
    if m and int(m.group(1)) > 0:
        return spec, _partial(top_k_accuracy, spec, k=int(m.group(1)))
    known = sorted(k for k in METRICS if k != "confusion_matrix")
    raise ValueError(f"Trainer: unknown metric {spec!r}; known: {', '.join(known)} (plus f1_micro, "
                     f"precision_weighted, top3_accuracy ... or any callable fn(y_pred, y_true))")
