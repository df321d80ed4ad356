"""Functional losses with PyTorch's names, arguments, defaults and reductions ('none', 'mean', 'sum').

cross_entropy, nll_loss and the element-wise losses are single fused ops (``lamina.ops.loss``); the margin
and embedding losses are short compositions of differentiable ops.
"""

import math
import warnings

from lamina.creation import zeros_like
from lamina.ops import elementwise as _E
from lamina.ops import functions as _fn
from lamina.ops import loss as _ops
from lamina.tensor import Tensor

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss", "cross_entropy",
           "gaussian_nll_loss", "hinge_embedding_loss", "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss",
           "mse_loss", "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "nll_loss",
           "poisson_nll_loss", "smooth_l1_loss", "soft_margin_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss"]


def _reduction(size_average, reduce, reduction, op, extra=()):
    """PyTorch's legacy size_average/reduce flags mapped onto ``reduction``, which is then validated."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' "
                      f"instead.", stacklevel=3)
    if reduction not in ("none", "mean", "sum") + tuple(extra):
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; expected one of "
                         f"{', '.join(repr(r) for r in ('none', 'mean', 'sum') + tuple(extra))}")
    return reduction


def _tensor(x, op, name="input"):
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _float_pair(x, y, op):
    """Input and target as float tensors of the dtype PyTorch would compute in."""
    x, y = _tensor(x, op), _tensor(y, op, "target")
    if x._data.dtype.kind != "f":
        x = x.to(_fn._default_float())
    if y._data.dtype.kind != "f":
        y = y.to(x.dtype)
    return _E.coerce(x, y, op)


def _check_broadcast(op, *shapes, names=("input", "target", "weight")):
    n = max(len(s) for s in shapes)
    padded = [(1,) * (n - len(s)) + tuple(s) for s in shapes]
    for dims in zip(*padded):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            desc = ", ".join(f"{nm} shape {tuple(s)}" for nm, s in zip(names, shapes))
            raise ValueError(f"{op}: shapes do not broadcast ({desc})")


def _pointwise(cls, op, input, target, reduction, weight=None, mean_by_weight=False, params=(),
               same_size=False, warn_size=True):
    x, y = _float_pair(input, target, op)
    xs, ys = tuple(x.shape), tuple(y.shape)
    if same_size and xs != ys:
        raise ValueError(f"{op}: expected target of the same size as the input, got target shape {ys} and input "
                         f"shape {xs}")
    shapes = [xs, ys]
    if weight is not None:
        weight = _tensor(weight, op, "weight")
        if weight.dtype != x.dtype:
            weight = weight.to(x.dtype)
        shapes.append(tuple(weight.shape))
    _check_broadcast(op, *shapes)
    if warn_size and xs != ys:
        warnings.warn(f"{op}: using a target size {ys} that is different to the input size {xs}; the two "
                      f"are broadcast, which is likely wrong: make them the same size", stacklevel=3)
    return cls.apply(x, y, weight, reduction, mean_by_weight, *params)


# --------------------------------------------------------------------------- classification

def _class_shapes(op, x, target):
    """Validate (N, C, d1, ...) / (C,) input against class-index target (N, d1, ...) / ()."""
    xs, ts = tuple(x.shape), tuple(target.shape)
    if len(xs) == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension (C,) or (N, C, ...), got a 0-d tensor")
    if len(xs) == 1:
        if ts != ():
            raise ValueError(f"{op}: for an unbatched input of shape {xs} (C,), expected a 0-d target, got shape "
                             f"{ts}")
        return
    if len(ts) == 0 or ts[0] != xs[0]:
        raise ValueError(f"{op}: expected target batch size ({ts[0] if ts else 'none, 0-d target'}) to match input "
                         f"batch size ({xs[0]}); input shape {xs}, target shape {ts}")
    if ts != xs[:1] + xs[2:]:
        raise ValueError(f"{op}: expected target shape {xs[:1] + xs[2:]} (N, d1, ...) for input shape {xs} "
                         f"(N, C, d1, ...), got {ts}")


def _class_weight(op, weight, c, dtype):
    if weight is None:
        return None
    weight = _tensor(weight, op, "weight")
    if tuple(weight.shape) != (c,):
        raise ValueError(f"{op}: weight should be defined for all {c} classes (shape ({c},)) or none, got weight "
                         f"of shape {tuple(weight.shape)}")
    return weight if weight.dtype == dtype else weight.to(dtype)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross-entropy between softmax(input) over dim 1 and the target: one fused op (log-softmax + NLL).

    Args:
        input: logits (N, C), (N, C, d1, ...) or unbatched (C,).
        target: class indices (N,), (N, d1, ...) or () of an integer dtype; or class probabilities of the
            input's shape (float).
        weight: a rescaling weight per class, shape (C,).
        ignore_index: a class-index target value that contributes nothing (nor to the mean's denominator).
        reduction: 'none' | 'mean' | 'sum'. Default: 'mean' (weighted mean over non-ignored targets).
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution. Default: 0.

    Example:
        >>> F.cross_entropy(lamina.randn(3, 5), lamina.tensor([1, 0, 4]))
    """
    op = "cross_entropy"
    reduction = _reduction(size_average, reduce, reduction, op)
    x = _tensor(input, op)
    target = _tensor(target, op, "target")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point (logits), got {x.dtype}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    xs, ts = tuple(x.shape), tuple(target.shape)
    probs = target._data.dtype.kind == "f"
    if probs:
        if ts != xs:
            raise ValueError(f"{op}: a floating-point target holds class probabilities and must have the input's "
                             f"shape {xs}, got {ts}; class indices must be an integer tensor")
        if target.dtype != x.dtype:
            target = target.to(x.dtype)
    else:
        if target._data.dtype.kind not in "iu":
            raise TypeError(f"{op}: target must hold class indices (integer) or probabilities (float), got "
                            f"{target.dtype}")
        _class_shapes(op, x, target)
    c = xs[1] if len(xs) >= 2 else xs[0]
    w = _class_weight(op, weight, c, x.dtype)
    return _ops.CrossEntropy.apply(x, target, w, ignore_index, float(label_smoothing), reduction, probs, op)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...) at class indices ``target`` (N, ...).

    Args as ``cross_entropy`` (class indices only, no label smoothing).
    """
    op = "nll_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    x, target = _tensor(input, op), _tensor(target, op, "target")
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point (log-probabilities), got {x.dtype}")
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold class indices (an integer tensor), got {target.dtype}")
    _class_shapes(op, x, target)
    c = x.shape[1] if x.ndim >= 2 else x.shape[0]
    w = _class_weight(op, weight, c, x.dtype)
    return _ops.NLL.apply(x, target, w, ignore_index, reduction, op)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-w (y log x + (1 - y) log(1 - x)) for probabilities x in [0, 1] (logs clamped at -100, as PyTorch)."""
    op = "binary_cross_entropy"
    reduction = _reduction(size_average, reduce, reduction, op)
    x = _tensor(input, op)
    if x.numel() and (bool((x._data < 0).any()) or bool((x._data > 1).any())):
        raise ValueError(f"{op}: all elements of input should be between 0 and 1 (apply sigmoid first, or use "
                         f"binary_cross_entropy_with_logits)")
    return _pointwise(_ops.BCE, op, x, target, reduction, weight, same_size=True)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """BCE of sigmoid(input), computed stably from the logits in one op.

    Args:
        weight: rescaling weight broadcast to the input.
        pos_weight: weight of the positive term per class (broadcast along the last dim); not trained.
    """
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(size_average, reduce, reduction, op)
    x = _tensor(input, op)
    pw = None
    if pos_weight is not None:
        pos_weight = _tensor(pos_weight, op, "pos_weight")
        _check_broadcast(op, tuple(x.shape), tuple(pos_weight.shape), names=("input", "pos_weight"))
        pw = pos_weight._data.astype(x._data.dtype, copy=False) if x._data.dtype.kind == "f" else pos_weight._data
    return _pointwise(_ops.BCEWithLogits, op, x, target, reduction, weight, params=(pw,), same_size=True)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """(input - target)², reduced; with ``weight``, the mean is sum(w l) / sum(w) (PyTorch's weighted form)."""
    op = "mse_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    _check_weight_size(op, input, weight)
    return _pointwise(_ops.MSE, op, input, target, reduction, weight, mean_by_weight=True)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """|input - target|, reduced; with ``weight``, the mean is sum(w l) / sum(w)."""
    op = "l1_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    _check_weight_size(op, input, weight)
    return _pointwise(_ops.L1, op, input, target, reduction, weight, mean_by_weight=True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    op = "smooth_l1_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    if beta < 0:
        raise ValueError(f"{op}: beta must be non-negative, got {beta}")
    return _pointwise(_ops.SmoothL1, op, input, target, reduction, params=(float(beta),))


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """0.5 d² where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    op = "huber_loss"
    reduction = _reduction(None, None, reduction, op)
    if delta <= 0:
        raise ValueError(f"{op}: delta must be positive, got {delta}")
    _check_weight_size(op, input, weight)
    return _pointwise(_ops.Huber, op, input, target, reduction, weight, params=(float(delta),))


def _check_weight_size(op, input, weight):
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError(f"{op}: weights and input must have the same size, got weight shape {tuple(weight.shape)} "
                         f"and input shape {tuple(input.shape)}")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence of target from input, with input given as log-probabilities:
    target (log target - input), or exp(target) (target - input) with ``log_target``.

    reduction: 'none' | 'batchmean' (sum / batch size: the true KL) | 'sum' | 'mean' (over every element).
    """
    op = "kl_div"
    reduction = _reduction(size_average, reduce, reduction, op, extra=("batchmean",))
    if reduction == "mean":
        warnings.warn("kl_div: reduction 'mean' divides the total loss by both the batch size and the support size; "
                      "'batchmean' divides only by the batch size, which matches the KL divergence's definition",
                      stacklevel=2)
    inner = "sum" if reduction == "batchmean" else reduction
    out = _pointwise(_ops.KLDiv, op, input, target, inner, params=(bool(log_target),), warn_size=False)
    if reduction == "batchmean" and input.ndim != 0:
        out = out / input.shape[0]
    return out


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)) for targets ±1."""
    op = "soft_margin_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    return _pointwise(_ops.SoftMargin, op, input, target, reduction, same_size=True)


# --------------------------------------------------------------------------- compositions

def _same_shape(op, **tensors):
    shapes = {k: tuple(v.shape) for k, v in tensors.items()}
    if len(set(shapes.values())) > 1:
        raise ValueError(f"{op}: expected tensors of one shape, got " +
                         ", ".join(f"{k} {s}" for k, s in shapes.items()))


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target (input1 - input2) + margin) for targets ±1."""
    op = "margin_ranking_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    _same_shape(op, input1=input1, input2=input2, target=target)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """x where target = 1, max(0, margin - x) where target = -1."""
    op = "hinge_embedding_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    _same_shape(op, input=input, target=target)
    zero = zeros_like(input)
    margin_part = _fn.where(target != 1, (margin - input).clamp(min=0), zero)
    self_part = _fn.where(target != -1, input, zero)
    return _reduce(margin_part + self_part, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1 (cosine along the last
    dim of (N, D) or (D,) inputs)."""
    op = "cosine_embedding_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    if tuple(input1.shape) != tuple(input2.shape) or input1.ndim not in (1, 2):
        raise ValueError(f"{op}: expected input1 and input2 of one shape (N, D) or (D,), got {tuple(input1.shape)} "
                         f"and {tuple(input2.shape)}")
    if tuple(target.shape) != tuple(input1.shape[:-1]):
        raise ValueError(f"{op}: expected target of shape {tuple(input1.shape[:-1])} for inputs of shape "
                         f"{tuple(input1.shape)}, got {tuple(target.shape)}")
    eps = 1e-12
    dim = input1.ndim - 1
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    zero = zeros_like(cos)
    out = _fn.where(target == 1, 1 - cos, zero) + _fn.where(target == -1, (cos - margin).clamp(min=0), zero)
    return _reduce(out, reduction)


def _pairwise_distance(x1, x2, p, eps):
    """||x1 - x2 + eps||_p along the last dim (PyTorch's pairwise_distance)."""
    return _fn.norm(x1 - x2 + eps, p, dim=-1)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0), d the p-norm distance; ``swap`` uses min(d(a, n), d(p, n))."""
    op = "triplet_margin_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    shapes = {tuple(t.shape) for t in (anchor, positive, negative)}
    if len(shapes) != 1 or anchor.ndim not in (1, 2):
        raise ValueError(f"{op}: expected anchor, positive and negative of one shape (N, D) or (D,), got "
                         f"{tuple(anchor.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}")
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = _fn.minimum(d_neg, _pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(y log σ(x) + (1 - y) log σ(-x)), averaged over the C classes (last dim), then reduced over N."""
    from lamina.nn.functional.activation import logsigmoid

    op = "multilabel_soft_margin_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    _same_shape(op, input=input, target=target)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    c = input.shape[-1]
    return _reduce(loss.sum(input.ndim - 1) / c, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """sum over j != y of max(0, margin - x[y] + x[j])^p / C (times weight[y]), for input (N, C) or (C,)."""
    op = "multi_margin_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    t = target.reshape(-1, 1)
    if input.ndim not in (1, 2) or t.shape[0] != x.shape[0]:
        raise ValueError(f"{op}: expected input (N, C) or (C,) and target (N,) or (), got input "
                         f"{tuple(input.shape)} and target {tuple(target.shape)}")
    c = x.shape[1]
    tv = t._data
    if tv.size and (int(tv.min()) < 0 or int(tv.max()) >= c):
        raise IndexError(f"{op}: target out of bounds for {c} classes (got values {int(tv.min())}..{int(tv.max())})")
    x_y = _fn.gather(x, 1, t)
    z = (margin - x_y + x).clamp(min=0)
    if p == 2:
        z = z * z
    not_target = Tensor._make(x.xp.arange(c)[None, :] != tv, False, None, 0)
    z = z * not_target
    if weight is not None:
        z = z * _fn.index_select(weight, 0, t.reshape(-1)).reshape(-1, 1)
    loss = z.sum(1) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """exp(input) - target * input (log_input), or input - target * log(input + eps); ``full`` adds Stirling's
    approximation of log(target!) where target > 1."""
    op = "poisson_nll_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    if log_input:
        loss = _fn.exp(input) - target * input
    else:
        loss = input - target * _fn.log(input + eps)
    if full:
        t = target.detach()
        safe = _fn.where(t > 1, t, t * 0 + 1)
        stirling = safe * _fn.log(safe) - safe + 0.5 * _fn.log(2 * math.pi * safe)
        loss = loss + _fn.where(t > 1, stirling, stirling * 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log(max(var, eps)) + (input - target)² / max(var, eps)) (+ 0.5 log 2π with ``full``).

    ``var`` has the input's shape, or lacks its last dim, or has 1 there (one variance per sample), or is a
    float. The clamp at eps does not block the gradient (PyTorch's behaviour).
    """
    op = "gaussian_nll_loss"
    reduction = _reduction(None, None, reduction, op)
    if not isinstance(var, Tensor):
        var = input.new_full(tuple(input.shape), float(var))
    vs, xs = tuple(var.shape), tuple(input.shape)
    if vs != xs:
        if xs[:-1] == vs:
            var = var.unsqueeze(-1)
        elif not (xs[:-1] == vs[:-1] and vs[-1:] == (1,)):
            raise ValueError(f"{op}: var is of incorrect size: got {vs} for input of shape {xs}")
    if bool((var._data < 0).any()):
        raise ValueError(f"{op}: var has negative entry/entries")
    var = var.clone()
    from lamina.autograd.grad_mode import no_grad

    with no_grad():
        var.clamp_(min=eps)
    diff = input - target
    loss = 0.5 * (_fn.log(var) + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0) for any distance ``d`` (default ``pairwise_distance``); ``swap`` uses
    min(d(a, n), d(p, n)) as the negative distance."""
    op = "triplet_margin_with_distance_loss"
    reduction = _reduction(None, None, reduction, op)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    dims = [t.ndim for t in (anchor, positive, negative)]
    if len(set(dims)) != 1:
        raise RuntimeError(f"{op}: The anchor, positive, and negative tensors are expected to have the same number "
                           f"of dimensions, but got: anchor {tuple(anchor.shape)}, positive {tuple(positive.shape)}, "
                           f"and negative {tuple(negative.shape)}")
    if distance_function is None:
        from lamina.nn.functional.distance import pairwise_distance as distance_function
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = _fn.minimum(d_neg, distance_function(positive, negative))
    return _reduce(_fn.clamp_min(margin + d_pos - d_neg, 0), reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Σ_j Σ_i max(0, 1 - (x[y_j] - x[i])) / C over the target classes y_j (a row's class indices up to its first
    -1) and the non-target classes i; input (C,) or (N, C), target int64 of the same shape."""
    op = "multilabel_margin_loss"
    reduction = _reduction(size_average, reduce, reduction, op)
    x = _tensor(input, op)
    y = _tensor(target, op, "target")
    if x.ndim not in (1, 2) or tuple(y.shape) != tuple(x.shape):
        raise RuntimeError(f"{op}: expected input of shape (C,) or (N, C) and a target of the same shape, got input "
                           f"{tuple(x.shape)} and target {tuple(y.shape)}")
    if y._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer (int64) target of class indices, got {y.dtype}")
    if x._data.dtype.kind != "f":
        x = x.to(_fn._default_float())
    c = x.shape[-1]
    t = y._data.reshape(-1, c) if c else y._data.reshape(-1, 0)
    if t.size and (t.min() < -1 or t.max() >= c):
        raise RuntimeError(f"{op}: target values must be class indices in [0, {c - 1}] or -1 (the end marker), "
                           f"got values in [{int(t.min())}, {int(t.max())}]")
    x2 = _fn.reshape(x, (-1, c))
    out = _ops.MultiLabelMargin.apply(x2, t.astype("int64", copy=False), reduction)
    return _fn.reshape(out, ()) if reduction == "none" and x.ndim == 1 else out
