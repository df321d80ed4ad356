"""Indexing ops: ``x[key]``, gather/scatter_add, index_select, masked_fill.

Gradients of advanced (integer-array) indexing are scattered with ``add.at``
so repeated indices accumulate, as they must.
"""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import quiet, unbroadcast


def is_basic(key):
    """True when ``key`` uses only ints, slices, None and Ellipsis (no array indices): a view, no duplicates."""
    if not isinstance(key, tuple):
        key = (key,)
    return all(k is None or k is Ellipsis or isinstance(k, (int, slice)) for k in key)


class GetItem(Function):
    @staticmethod
    def forward(ctx, x, key):
        ctx.meta = (x.shape, x.dtype, key)
        return x[key]

    @staticmethod
    def backward(ctx, g):
        shape, dtype, key = ctx.meta
        xp = ctx.xp
        gx = xp.zeros(shape, dtype=g.dtype)
        if is_basic(key) or _is_bool_key(key):
            gx[key] = g
        else:
            xp.add.at(gx, key, g)
        return gx, None


def _is_bool_key(key):
    if isinstance(key, tuple):
        return len(key) == 1 and getattr(key[0], "dtype", None) is not None and key[0].dtype.kind == "b"
    return getattr(key, "dtype", None) is not None and key.dtype.kind == "b"


def _gather_index(xp, index, dim):
    """The full advanced-index tuple that addresses ``x[..., index, ...]`` element by element."""
    grids = list(xp.ogrid[tuple(slice(0, s) for s in index.shape)]) if index.ndim else []
    grids[dim] = index
    return tuple(grids)


class Gather(Function):
    """out[i][j] = x[index[i][j]][j] (dim = 0), for any dim; backward scatters-adds the gradient."""

    @staticmethod
    def forward(ctx, x, dim, index):
        xp = ctx.xp
        full = _gather_index(xp, index, dim)
        ctx.meta = (x.shape, full)
        return x[full]

    @staticmethod
    def backward(ctx, g):
        shape, full = ctx.meta
        gx = ctx.xp.zeros(shape, dtype=g.dtype)
        ctx.xp.add.at(gx, full, g)
        return gx, None, None


class ScatterAdd(Function):
    """out = x.clone(); out[index[i][j]][j] += src[i][j] (dim = 0)."""

    @staticmethod
    def forward(ctx, x, dim, index, src):
        xp = ctx.xp
        full = _gather_index(xp, index, dim)
        ctx.full = full
        out = x.copy()
        src_part = src[tuple(slice(0, s) for s in index.shape)]
        xp.add.at(out, full, src_part)
        ctx.src_shape = src.shape
        return out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        gsrc = None
        if ctx.needs_input_grad[3]:
            gsrc = xp.zeros(ctx.src_shape, dtype=g.dtype)
            part = g[ctx.full]
            gsrc[tuple(slice(0, s) for s in part.shape)] = part
        return g, None, None, gsrc


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, dim, index):
        ctx.meta = (x.shape, dim, index)
        return ctx.xp.take(x, index, axis=dim)

    @staticmethod
    def backward(ctx, g):
        shape, dim, index = ctx.meta
        xp = ctx.xp
        gx = xp.zeros(shape, dtype=g.dtype)
        xp.add.at(gx, (slice(None),) * dim + (index,), g)
        return gx, None, None


class MaskedFill(Function):
    """y = value where mask else x;  dy/dx = 1 where the mask is False"""

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.save_for_backward(mask)
        ctx.shape = x.shape
        out = ctx.xp.where(mask, ctx.xp.asarray(value, dtype=x.dtype), x)
        return out

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return unbroadcast(ctx.xp.where(mask, 0, g).astype(g.dtype, copy=False), ctx.shape), None, None


# --------------------------------------------------------------------------- diagonals


def _diag_index(xp, n1, n2, offset):
    """Row and column indices of the ``offset`` diagonal of an (n1, n2) matrix."""
    length = max(0, min(n1 + min(offset, 0), n2 - max(offset, 0)))
    k = xp.arange(length)
    return k + max(-offset, 0), k + max(offset, 0)


class Diagonal(Function):
    """y = the ``offset`` diagonal over (dim1, dim2), appended as the last dim; backward writes it back."""

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        xp = ctx.xp
        ctx.meta = (x.shape, offset, dim1, dim2)
        return xp.diagonal(x, offset, dim1, dim2).copy()

    @staticmethod
    def backward(ctx, g):
        shape, offset, dim1, dim2 = ctx.meta
        xp = ctx.xp
        gx = xp.zeros(shape, dtype=g.dtype)
        rows, cols = _diag_index(xp, shape[dim1], shape[dim2], offset)
        xp.moveaxis(gx, (dim1, dim2), (-2, -1))[..., rows, cols] = g
        return gx, None, None, None


class DiagEmbed(Function):
    """y = a square matrix with the vector x on its ``offset`` diagonal (``diag`` of a 1-D input)."""

    @staticmethod
    def forward(ctx, x, offset):
        xp = ctx.xp
        n = x.shape[0] + abs(offset)
        out = xp.zeros((n, n), dtype=x.dtype)
        rows, cols = _diag_index(xp, n, n, offset)
        out[rows, cols] = x
        ctx.idx = (rows, cols)
        return out

    @staticmethod
    def backward(ctx, g):
        return g[ctx.idx], None


# --------------------------------------------------------------------------- scatter family


def _part(index):
    return tuple(slice(0, s) for s in index.shape)


class Scatter(Function):
    """out = x.clone(); out[index[i][j]][j] = src[i][j] (dim = 0), or the scalar ``value``.

    dx = g with the written positions zeroed; dsrc = g gathered at the index.
    """

    @staticmethod
    def forward(ctx, x, dim, index, src, value):
        xp = ctx.xp
        full = _gather_index(xp, index, dim)
        out = x.copy()
        out[full] = value if src is None else src[_part(index)]
        ctx.meta = (full, getattr(src, "shape", None), index.shape)
        return out

    @staticmethod
    def backward(ctx, g):
        full, src_shape, index_shape = ctx.meta
        xp = ctx.xp
        gx = gsrc = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[full] = 0
        if src_shape is not None and ctx.needs_input_grad[3]:
            gsrc = xp.zeros(src_shape, dtype=g.dtype)
            gsrc[tuple(slice(0, s) for s in index_shape)] = g[full]
        return gx, None, None, gsrc, None


def _identity(xp, dtype, reduce):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -xp.inf if reduce == "amax" else xp.inf
    info = xp.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


_UFUNC = {"sum": "add", "mean": "add", "prod": "multiply", "amax": "maximum", "amin": "minimum"}


class ScatterReduce(Function):
    """out = x with src reduced into it at ``index`` along ``dim`` (sum, prod, mean, amax, amin).

    ``include_self=False`` starts each written position from the reduction's identity instead of x. Gradients
    follow PyTorch: mean divides by the count, prod uses the product of the other factors (exact with zeros),
    amax/amin share the gradient evenly among every element equal to the result.
    """

    @staticmethod
    def forward(ctx, x, dim, index, src, reduce, include_self):
        xp = ctx.xp
        full = _gather_index(xp, index, dim)
        s = src[_part(index)]
        out = x.copy()
        if not include_self:
            out[full] = _identity(xp, x.dtype, reduce)
        getattr(xp, _UFUNC[reduce]).at(out, full, s)
        count = None
        if reduce == "mean":
            count = xp.ones(x.shape, dtype=x.dtype) if include_self else xp.zeros(x.shape, dtype=x.dtype)
            xp.add.at(count, full, 1)
            count = xp.maximum(count, 1)
            out = out / count if x.dtype.kind == "f" else out // count.astype(x.dtype)
        ctx.save_for_backward(x, s, out, count)
        ctx.meta = (full, src.shape, reduce, include_self)
        return out

    @staticmethod
    def backward(ctx, g):
        x, s, out, count = ctx.saved_tensors
        full, src_shape, reduce, include_self = ctx.meta
        xp = ctx.xp
        with quiet(xp):
            if reduce == "sum":
                gx, gs = g, g[full]
            elif reduce == "mean":
                gx = g / count
                gs = gx[full]
            elif reduce == "prod":
                gx, gs = _prod_grads(xp, x, s, g, full, include_self)
            else:
                x_is = (x == out).astype(g.dtype)
                s_is = (s == out[full]).astype(g.dtype)
                n = x_is.copy()  # PyTorch counts x even when include_self=False (its gradient is zeroed below)
                xp.add.at(n, full, s_is)
                share = g / n
                gx = x_is * share
                gs = s_is * share[full]
        gx = gx.copy() if gx is g else gx
        if not include_self:
            gx[full] = 0
        gsrc = None
        if ctx.needs_input_grad[3]:
            gsrc = xp.zeros(src_shape, dtype=g.dtype)
            gsrc[tuple(slice(0, k) for k in s.shape)] = gs
        return gx, None, None, gsrc, None, None


def _prod_grads(xp, x, s, g, full, include_self):
    """d out / d factor = the product of the other factors at that position, exact when factors are zero."""
    nz_prod = xp.where(x != 0, x, 1)
    zeros = (x == 0).astype(xp.int64)
    if not include_self:  # written positions start from the identity 1
        nz_prod[full] = 1
        zeros[full] = 0
    xp.multiply.at(nz_prod, full, xp.where(s != 0, s, 1))
    xp.add.at(zeros, full, (s == 0).astype(xp.int64))

    def others(v, nzp, nzero):
        # v != 0: nonzero product / v if no zero, else 0;  v == 0: nonzero product if it is the only zero, else 0
        return xp.where(v != 0, xp.where(nzero == 0, nzp / xp.where(v != 0, v, 1), 0), xp.where(nzero == 1, nzp, 0))

    gx = g * others(x, nz_prod, zeros)
    gs = g[full] * others(s, nz_prod[full], zeros[full])
    return gx, gs


class IndexAdd(Function):
    """out = x.clone(); out.index_select(dim, index) += alpha * source (repeated indices accumulate)."""

    @staticmethod
    def forward(ctx, x, dim, index, source, alpha):
        xp = ctx.xp
        out = x.copy()
        key = (slice(None),) * dim + (index,)
        xp.add.at(out, key, source * alpha if alpha != 1 else source)
        ctx.meta = (key, dim, index, alpha)
        return out

    @staticmethod
    def backward(ctx, g):
        key, dim, index, alpha = ctx.meta
        gs = None
        if ctx.needs_input_grad[3]:
            gs = ctx.xp.take(g, index, axis=dim)
            gs = gs * alpha if alpha != 1 else gs
        return g, None, None, gs, None


class IndexCopy(Function):
    """out = x.clone(); out[..., index, ...] = source along dim;  dx = g with those rows zeroed, dsource = g rows."""

    @staticmethod
    def forward(ctx, x, dim, index, source):
        out = x.copy()
        key = (slice(None),) * dim + (index,)
        out[key] = source
        ctx.meta = (key, dim, index)
        return out

    @staticmethod
    def backward(ctx, g):
        key, dim, index = ctx.meta
        gx = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[key] = 0
        gs = ctx.xp.take(g, index, axis=dim) if ctx.needs_input_grad[3] else None
        return gx, None, None, gs
