"""Functional distances: ``cosine_similarity`` (one fused op) and ``pairwise_distance`` (PyTorch's names)."""

from lamina.ops import elementwise as _E
from lamina.ops import functions as _fn
from lamina.ops import linalg as _L
from lamina.ops._util import norm_dim

__all__ = ["cosine_similarity", "pairwise_distance"]


def _pair(x1, x2, op):
    x1, x2 = _fn._float_input(x1, op), _fn._float_input(x2, op)
    if x1._data.dtype != x2._data.dtype:
        x1, x2 = _E.coerce(x1, x2, op)
    import numpy as np  # shape arithmetic only

    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(f"{op}: shapes {tuple(x1.shape)} (x1) and {tuple(x2.shape)} (x2) cannot be "
                           f"broadcast") from None
    return x1, x2, shape


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Σ x1 x2 / (max(|x1|, eps) max(|x2|, eps)) along ``dim`` (x1 and x2 broadcast).

    Example:
        >>> F.cosine_similarity(lamina.tensor([[1.0, 0.0]]), lamina.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    x1, x2, shape = _pair(x1, x2, "cosine_similarity")
    d = norm_dim(dim, len(shape), "cosine_similarity")
    nd = len(shape)
    if x1.ndim < nd:
        x1 = _fn.reshape(x1, (1,) * (nd - x1.ndim) + tuple(x1.shape))
    if x2.ndim < nd:
        x2 = _fn.reshape(x2, (1,) * (nd - x2.ndim) + tuple(x2.shape))
    return _L.CosineSimilarity.apply(x1, x2, d, float(eps))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim of the broadcast shape.

    Example:
        >>> F.pairwise_distance(lamina.tensor([[0.0, 0.0]]), lamina.tensor([[3.0, 4.0]]), eps=0)
        tensor([5.])
    """
    x1, x2, shape = _pair(x1, x2, "pairwise_distance")
    if not shape:
        return _fn.norm(_fn.reshape(x1 - x2 + eps, (1,)), p, dim=0, keepdim=False)
    return _fn.norm(x1 - x2 + eps, p, dim=len(shape) - 1, keepdim=keepdim)
