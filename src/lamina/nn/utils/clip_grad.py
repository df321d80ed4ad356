"""Gradient clipping: ``clip_grad_norm_`` (with ``get_total_norm`` and ``clip_grads_with_norm_``) and
``clip_grad_value_``, PyTorch's names and semantics; one whole-array pass per gradient."""

import math

from lamina.ops._util import quiet
from lamina.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters):
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def _vector_norm(xp, a, p):
    """The p-norm of an array seen as one vector, in its dtype (p = inf, -inf, 0 included)."""
    if a.size == 0:
        return xp.zeros((), a.dtype) if p != -math.inf else xp.asarray(math.inf, a.dtype)
    flat = a.reshape(-1)
    if p == 2:
        return xp.sqrt(xp.dot(flat, flat))
    if p == math.inf:
        return xp.abs(flat).max()
    if p == -math.inf:
        return xp.abs(flat).min()
    if p == 0:
        return xp.asarray(xp.count_nonzero(flat), a.dtype)
    if p == 1:
        return xp.abs(flat).sum()
    return (xp.abs(flat) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` viewed as one vector (the norm of their norms), as a Tensor.

    Raises RuntimeError when the norm is nan or inf and ``error_if_nonfinite`` is set.
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        from lamina.creation import tensor

        return tensor(0.0)
    first = tensors[0]
    xp = first.xp
    norms = xp.stack([_vector_norm(xp, t._data, norm_type).astype(first._data.dtype, copy=False) for t in tensors])
    total = _vector_norm(xp, norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            f"clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            f"`error_if_nonfinite=False`")
    return Tensor._make(xp.asarray(total, dtype=first._data.dtype), False, None, 0)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient in place by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    total = float(total_norm._data) if isinstance(total_norm, Tensor) else float(total_norm)
    coef = min(max_norm / (total + 1e-6), 1.0) if not math.isnan(total) else math.nan
    for g in grads:
        with quiet(g.xp):  # a non-finite norm gives nan gradients silently, as in PyTorch
            g._data *= coef  # a Python float keeps the gradient's dtype
        g._version += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so that their total norm is at most ``max_norm``.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is clipped.
        max_norm: the largest total norm allowed.
        norm_type: the p of the p-norm; ``float('inf')`` for the largest absolute value. Default: 2.
        error_if_nonfinite: raise when the total norm is nan or inf. Default: False.

    Returns:
        The total norm of the gradients before clipping, as a 0-d Tensor.

    Example:
        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    parameters = _as_list(parameters)
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, float(max_norm), total, foreach)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient of ``parameters`` in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        g.xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version += 1
