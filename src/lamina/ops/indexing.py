"""Indexing ops: ``x[key]``, gather/scatter_add, index_select, masked_fill.

Gradients of advanced (integer-array) indexing are scattered with ``add.at``
so repeated indices accumulate, as they must.
"""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import unbroadcast


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
