"""Regularisation helpers: L1/L2 penalties added to the loss, and the max-norm constraint.

Weight decay inside the optimisers is the other form of L2: coupled (``SGD``/``Adam(weight_decay=wd)`` add
``wd * p`` to the gradient, the gradient of ``l2_penalty(params, wd / 2)``) or decoupled (``AdamW``).
"""

from lamina.autograd.grad_mode import no_grad
from lamina.tensor import Tensor

__all__ = ["l1_penalty", "l2_penalty", "apply_max_norm_"]


def _params(params, name, weights_only=False):
    from lamina.nn.modules.module import Module

    if isinstance(params, Module):
        ps = [p for p in params.parameters() if not weights_only or p.ndim >= 2]
    elif isinstance(params, Tensor):
        ps = [params]
    else:
        ps = list(params)
    for p in ps:
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: expected a Module, a Tensor or an iterable of Tensors, got an element of type "
                            f"{type(p).__name__}")
    return ps


def _penalty(params, weight, name, term):
    ps = _params(params, name)
    if not ps:
        raise ValueError(f"{name}: got no parameters")
    if weight < 0:
        raise ValueError(f"{name}: weight must be non-negative, got {weight}")
    total = None
    for p in ps:
        s = term(p).sum()
        total = s if total is None else total + s
    return total * weight


def l1_penalty(params, weight):
    """``weight * sum(|p|)`` over ``params`` (a Module's parameters, a tensor or an iterable of tensors).

    Returns a differentiable scalar tensor to add to the loss; its gradient is ``weight * sign(p)``.

    Example:
        >>> loss = criterion(model(x), y) + optim.l1_penalty(model, 1e-5)
    """
    from lamina.ops.functions import abs as _abs

    return _penalty(params, weight, "l1_penalty", _abs)


def l2_penalty(params, weight):
    """``weight * sum(p ** 2)`` over ``params`` (a Module's parameters, a tensor or an iterable of tensors).

    Returns a differentiable scalar tensor to add to the loss; its gradient is ``2 * weight * p``, so
    ``l2_penalty(params, wd / 2)`` is the L2 that ``SGD(weight_decay=wd)`` applies.

    Example:
        >>> loss = criterion(model(x), y) + optim.l2_penalty(model, 1e-4)
    """
    return _penalty(params, weight, "l2_penalty", lambda p: p * p)


def apply_max_norm_(params, max_norm, dim=0, norm_type=2.0):
    """Rescale in place every slice ``p.select(dim, i)`` whose ``norm_type``-norm exceeds ``max_norm`` to norm
    ``max_norm`` (the max-norm constraint of Srivastava et al., 2014; ``torch.renorm``'s formula).

    Args:
        params: a Module (its weights of 2 or more dimensions: rows of Linear weights, filters of convolutions),
            a tensor, or an iterable of tensors (all of them).
        max_norm: the largest norm a slice may have.
        dim: the dimension indexing the slices: 0 is one row per output unit / one filter per output channel.
        norm_type: the p of the norm. Default: 2.

    Example:
        >>> opt.step(); optim.apply_max_norm_(model, 3.0)
    """
    if max_norm < 0:
        raise ValueError(f"apply_max_norm_: max_norm must be non-negative, got {max_norm}")
    if norm_type <= 0:
        raise ValueError(f"apply_max_norm_: norm_type must be positive, got {norm_type}")
    with no_grad():
        for p in _params(params, "apply_max_norm_", weights_only=True):
            d = p._data
            if d.ndim == 0:
                raise ValueError("apply_max_norm_: cannot renormalise a 0-d tensor")
            if not -d.ndim <= dim < d.ndim:
                raise IndexError(f"apply_max_norm_: dim {dim} is out of range for a tensor of shape {tuple(d.shape)}")
            xp = p.xp
            axes = tuple(a for a in range(d.ndim) if a != dim % d.ndim)
            a = xp.abs(d)
            if norm_type == 2:
                norms = xp.sqrt(xp.sum(a * a, axis=axes, keepdims=True))
            else:
                norms = xp.sum(a**norm_type, axis=axes, keepdims=True) ** (1.0 / norm_type)
            scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(d.dtype)
            d *= scale
            p._version += 1
