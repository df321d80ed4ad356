"""``lamina.linalg``: norms, determinant, inverse, linear solve and cross product, with PyTorch's names.

Each function validates its input with an error naming it and the shapes, then applies one op of
``lamina.ops.linalg`` (hand-written backward) or a short composition of differentiable ops.
"""

import math

from lamina.ops import functions as _F
from lamina.ops import linalg as _L
from lamina.ops import reduction as _R
from lamina.ops._util import norm_dim, norm_dims

__all__ = ["cross", "det", "inv", "matrix_norm", "norm", "solve", "vector_norm"]


def _float(x, op):
    x = _F._t(x, op)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got {x.dtype}")
    return x


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """(Σ |x|^ord)^(1/ord) over ``dim`` (None: all elements); ord may be inf, -inf or 0."""
    x = _float(x, "vector_norm")
    if dtype is not None:
        x = x.to(dtype)
    p = float(ord)
    axes = norm_dims(dim, x.ndim, "linalg.vector_norm")
    if p < 0 or math.isinf(p):
        if x._data.size == 0 and any(x.shape[a] == 0 for a in axes) or (x._data.size == 0 and not axes):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                               f"operation does not have an identity (shape {tuple(x.shape)})")
    if x.ndim == 0:
        return _F.abs(x) if p != 0 else _F.ne(x, 0).to(x.dtype)
    return _R.Norm.apply(x, p, axes, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002, N803
    """'fro', 1, -1, inf or -inf norm of the matrices over ``dim`` (two dims)."""
    x = _float(A, "matrix_norm")
    if dtype is not None:
        x = x.to(dtype)
    if x.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got shape "
                           f"{tuple(x.shape)}")
    d0, d1 = (norm_dim(d, x.ndim, "linalg.matrix_norm") for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if ord == "fro":
        return _R.Norm.apply(x, 2.0, tuple(sorted((d0, d1))), keepdim)
    if ord in ("nuc", 2, -2):
        raise RuntimeError(f"linalg.matrix_norm: ord={ord!r} needs singular values, which lamina does not "
                           f"differentiate; use ord='fro', 1, -1, inf or -inf")
    if ord not in (1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    # ord ±1: the largest/smallest column sum of |A|; ord ±inf: the same over row sums
    sum_dim, red_dim = (d0, d1) if abs(ord) == 1 else (d1, d0)
    sums = _F.sum(_F.abs(x), sum_dim, keepdim=True)
    red = _F.amax if ord > 0 else _F.amin
    out = red(sums, red_dim, keepdim=True)
    return out if keepdim else _F.squeeze(out, (d0, d1))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002, N803
    """A vector norm (1-D input or an int ``dim``) or a matrix norm (2-D input or two dims); both None:
    the 2-norm of all elements."""
    x = _float(A, "norm")
    if isinstance(dim, int):
        dim = (dim,)
    if dim is None and ord is None:
        return vector_norm(x, 2, None, keepdim, dtype=dtype)
    if dim is None:
        if x.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got "
                               f"{x.ndim}D (shape {tuple(x.shape)})")
        dim = tuple(range(x.ndim))
    if len(dim) == 1:
        return vector_norm(x, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if len(dim) == 2:
        return matrix_norm(x, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")


def _square(x, op):
    x = _float(x, op)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                           f"{x.shape[-2] if x.ndim >= 2 else '?'} by {x.shape[-1] if x.ndim else '?'} matrices "
                           f"(shape {tuple(x.shape)})")
    return x


def det(A):  # noqa: N803
    """The determinant of each square matrix; backward g det(A) A⁻ᵀ (the adjugate when A is singular)."""
    return _L.Det.apply(_square(A, "det"))


def inv(A):  # noqa: N803
    """The inverse of each square matrix; an error names a singular one."""
    x = _square(A, "inv")
    try:
        return _L.Inv.apply(x)
    except x.xp.linalg.LinAlgError:
        raise RuntimeError(f"linalg.inv: The diagonal element is zero, the inversion could not be completed "
                           f"because the input matrix is singular (shape {tuple(x.shape)}).") from None


def solve(A, B, *, left=True):  # noqa: N803
    """X with A X = B (left=True) or X A = B; B of shape (*, n, k) or (*, n) (a batch of vectors)."""
    a = _square(A, "solve")
    b = _float(B, "solve")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type {a.dtype} "
                           f"and B of type {b.dtype} instead")
    if not left:  # X A = B  <=>  Aᵀ Xᵀ = Bᵀ
        return _F.transpose(solve(_F.transpose(a, -1, -2), _F.transpose(b, -1, -2)), -1, -2)
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and tuple(b.shape) == tuple(a.shape[:-1]))
    if vector:
        b = _F.unsqueeze(b, -1)
    if b.shape[-2] != a.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({tuple(a.shape)} and {tuple(B.shape)})")
    try:
        x = _L.Solve.apply(a, b)
    except a.xp.linalg.LinAlgError:
        raise RuntimeError(f"linalg.solve: The solver failed because the input matrix is singular (shape "
                           f"{tuple(a.shape)}).") from None
    except ValueError:
        raise RuntimeError(f"linalg.solve: batch dimensions of A {tuple(a.shape)} and B {tuple(B.shape)} cannot "
                           f"be broadcast") from None
    return _F.squeeze(x, -1) if vector else x


def cross(input, other, *, dim=-1):  # noqa: A002
    """The 3-vector cross product along ``dim`` (default the last)."""
    return _F.cross(input, other, dim=dim)
