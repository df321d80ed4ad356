"""Reductions over one, several or all dimensions (``dim`` int or tuple, ``keepdim``)."""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import expand_reduced, quiet


class Sum(Function):
    """y = sum(x over axes);  dy/dx = 1 (the gradient is broadcast back)"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, np_dtype):
        ctx.meta = (x.shape, axes, keepdim)
        return ctx.xp.sum(x, axis=axes, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdim = ctx.meta
        return ctx.xp.broadcast_to(expand_reduced(g, shape, axes, keepdim), shape), None, None, None


class Mean(Function):
    """y = mean(x over axes);  dy/dx = 1/n"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, np_dtype):
        ctx.meta = (x.shape, axes, keepdim)
        n = 1
        for a in axes:
            n *= x.shape[a]
        ctx.n = n
        out = ctx.xp.mean(x, axis=axes, keepdims=keepdim, dtype=np_dtype or x.dtype)
        return out if out.dtype == (np_dtype or x.dtype) else out.astype(np_dtype or x.dtype)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdim = ctx.meta
        g = expand_reduced(g, shape, axes, keepdim) * (1.0 / ctx.n if ctx.n else float("nan"))
        return ctx.xp.broadcast_to(g.astype(g.dtype, copy=False), shape), None, None, None


def _variance(ctx, x, axes, keepdim, correction):
    """The deviations from the mean, the variance and its divisor ``n - correction``."""
    xp = ctx.xp
    n = 1
    for a in axes:
        n *= x.shape[a]
    d = x - xp.mean(x, axis=axes, keepdims=True)
    denom = max(n - correction, 0)
    with quiet(xp):
        out = xp.sum(d * d, axis=axes, keepdims=keepdim) / denom
    ctx.meta = (x.shape, axes, keepdim, denom)
    return d, out.astype(x.dtype, copy=False)


def _variance_backward(ctx, g, d):
    shape, axes, keepdim, denom = ctx.meta
    with quiet(ctx.xp):
        return expand_reduced(g, shape, axes, keepdim) * d * (2.0 / denom if denom else float("inf"))


class Var(Function):
    """y = sum((x - mean)**2) / (n - correction);  dy/dx = 2 (x - mean) / (n - correction)"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        d, out = _variance(ctx, x, axes, keepdim, correction)
        ctx.save_for_backward(d)
        return out

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return _variance_backward(ctx, g, d), None, None, None


class Std(Function):
    """y = sqrt(var(x));  dy/dx = dvar/dx / (2 y), taken as 0 where y == 0 (as PyTorch)"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, correction):
        d, v = _variance(ctx, x, axes, keepdim, correction)
        with quiet(ctx.xp):
            y = ctx.xp.sqrt(v)
        ctx.save_for_backward(d, y)
        return y

    @staticmethod
    def backward(ctx, g):
        d, y = ctx.saved_tensors
        xp = ctx.xp
        with quiet(xp):
            gv = xp.where(y == 0, 0, g / (2 * y)).astype(g.dtype, copy=False)
        return _variance_backward(ctx, gv, d), None, None, None


class _ExtremeAll(Function):
    """max/min/amax/amin over axes; the gradient is shared evenly among tied extremes (as PyTorch does)."""

    @classmethod
    def forward(cls, ctx, x, axes, keepdim):
        out = cls._reduce(ctx.xp, x, axes)
        ctx.save_for_backward(x, out)
        ctx.meta = (axes, keepdim)
        return out if keepdim else out.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        mask = x == out
        count = mask.sum(axis=axes, keepdims=True)
        g = expand_reduced(g, x.shape, axes, keepdim)
        return mask * (g / count).astype(g.dtype, copy=False), None, None


class Amax(_ExtremeAll):
    @staticmethod
    def _reduce(xp, x, axes):
        return xp.max(x, axis=axes, keepdims=True)


class Amin(_ExtremeAll):
    @staticmethod
    def _reduce(xp, x, axes):
        return xp.min(x, axis=axes, keepdims=True)


class _ExtremeDim(Function):
    """max/min along one dim, returning (values, indices); the gradient goes to the index taken."""

    @classmethod
    def forward(cls, ctx, x, dim, keepdim):
        xp = ctx.xp
        idx = cls._arg(xp, x, dim)
        vals = xp.take_along_axis(x, idx, axis=dim)
        ctx.save_for_backward(idx)
        ctx.meta = (x.shape, dim, keepdim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        idx = idx.astype(xp.int64, copy=False)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, g, _gi):
        (idx,) = ctx.saved_tensors
        shape, dim, keepdim = ctx.meta
        xp = ctx.xp
        if not keepdim:
            g = xp.expand_dims(g, dim)
        gx = xp.zeros(shape, dtype=g.dtype)
        xp.put_along_axis(gx, idx, g, axis=dim)
        return gx, None, None


class MaxDim(_ExtremeDim):
    @staticmethod
    def _arg(xp, x, dim):
        return xp.expand_dims(xp.argmax(x, axis=dim), dim)


class MinDim(_ExtremeDim):
    @staticmethod
    def _arg(xp, x, dim):
        return xp.expand_dims(xp.argmin(x, axis=dim), dim)


class Prod(Function):
    """y = prod(x over one axis or all);  dy/dx_i = prod of the others (exact with zeros, via cumulative products)"""

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        xp = ctx.xp
        ctx.save_for_backward(x)
        ctx.meta = (dim, keepdim)
        if dim is None:
            return xp.prod(x)
        return xp.prod(x, axis=dim, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        dim, keepdim = ctx.meta
        xp = ctx.xp
        shape = x.shape
        if dim is None:
            flat = x.reshape(-1)
            others = _prod_others(xp, flat, 0).reshape(shape)
            return g * others, None, None
        others = _prod_others(xp, x, dim)
        if not keepdim:
            g = xp.expand_dims(g, dim)
        return g * others, None, None


def _prod_others(xp, x, axis):
    """For each element, the product of all other elements along ``axis`` (no division, so zeros are exact)."""
    n = x.shape[axis]
    if n == 0:
        return x
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    one = xp.ones(ones_shape, dtype=x.dtype)
    left = xp.cumprod(xp.concatenate([one, xp.take(x, range(n - 1), axis=axis)], axis=axis), axis=axis)
    rev = xp.flip(x, axis=axis)
    right = xp.cumprod(xp.concatenate([one, xp.take(rev, range(n - 1), axis=axis)], axis=axis), axis=axis)
    return left * xp.flip(right, axis=axis)


class Norm(Function):
    """The p-norm over axes: (sum |x|**p)**(1/p); p = 2, 1, inf, -inf, 0 or any real."""

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        xp = ctx.xp
        a = xp.abs(x)
        if p == 2:
            out = xp.sqrt(xp.sum(x * x, axis=axes, keepdims=True))
        elif p == 1:
            out = xp.sum(a, axis=axes, keepdims=True)
        elif p in (float("inf"), float("-inf")):
            if a.size == 0:  # only non-reduced dims are empty here (functions.norm rejects the rest)
                out = xp.zeros([1 if i in axes else s for i, s in enumerate(a.shape)], a.dtype)
            else:
                out = (xp.max if p > 0 else xp.min)(a, axis=axes, keepdims=True)
        elif p == 0:
            out = xp.sum(a != 0, axis=axes, keepdims=True).astype(x.dtype)
        else:
            out = xp.power(xp.sum(xp.power(a, p), axis=axes, keepdims=True), 1.0 / p)
        out = out.astype(x.dtype, copy=False)
        ctx.save_for_backward(x, out)
        ctx.meta = (p, axes, keepdim)
        return out if keepdim else out.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        p, axes, keepdim = ctx.meta
        xp = ctx.xp
        g = expand_reduced(g, x.shape, axes, keepdim)
        with quiet(xp):
            if p == 2:
                gx = xp.where(out == 0, 0, x / out) * g
            elif p == 1:
                gx = xp.sign(x) * g
            elif p in (float("inf"), float("-inf")):
                a = xp.abs(x)
                mask = a == out
                gx = xp.sign(x) * mask * (g / mask.sum(axis=axes, keepdims=True))
            elif p == 0:
                gx = x * 0
            else:
                a = xp.abs(x)
                gx = xp.where(out == 0, 0, xp.sign(x) * xp.power(a, p - 1) / xp.power(out, p - 1)) * g
        return gx.astype(x.dtype, copy=False), None, None, None


class Logsumexp(Function):
    """y = log(sum(exp(x)));  dy/dx = softmax(x) (computed stably by subtracting the max)"""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = ctx.xp
        m = xp.max(x, axis=axes, keepdims=True) if x.size else xp.zeros([1] * x.ndim, x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        with quiet(xp):
            out = xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m
        ctx.save_for_backward(x, out)
        ctx.meta = (axes, keepdim)
        return out if keepdim else out.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        axes, keepdim = ctx.meta
        g = expand_reduced(g, x.shape, axes, keepdim)
        with quiet(ctx.xp):  # a slice of all -inf gives nan, as in PyTorch
            return g * ctx.xp.exp(x - out), None, None


# --------------------------------------------------------------------------- scans


def _rev_cumsum(xp, a, axis):
    return xp.flip(xp.cumsum(xp.flip(a, axis=axis), axis=axis), axis=axis)


class Cumprod(Function):
    """y_i = prod_{j<=i} x_j;  dx_k = Σ_{i>=k} g_i prod_{j<=i, j≠k} x_j, exact with zeros:
    before the first zero it is revcumsum(g y)/x; at the first zero, the same sum with that zero set to 1;
    after it, 0."""

    @staticmethod
    def forward(ctx, x, dim):
        y = ctx.xp.cumprod(x, axis=dim)
        ctx.save_for_backward(x, y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        xp, d = ctx.xp, ctx.dim
        n = x.shape[d]
        if n == 0:
            return g, None
        shape = [1] * x.ndim
        shape[d] = n
        pos = xp.arange(n).reshape(shape)
        is_zero = x == 0
        first = xp.where(is_zero.any(axis=d, keepdims=True), xp.argmax(is_zero, axis=d, keepdims=True), n)
        with quiet(xp):
            before = _rev_cumsum(xp, g * y, d) / xp.where(pos < first, x, 1)
        x1 = xp.where(pos == first, 1, x).astype(x.dtype, copy=False)
        at = _rev_cumsum(xp, g * xp.cumprod(x1, axis=d), d)
        gx = xp.where(pos < first, before, xp.where(pos == first, at, 0))
        return gx.astype(g.dtype, copy=False), None


class _CumExtreme(Function):
    """cummax/cummin: (values, indices); ties and NaN take the latest index (as PyTorch); backward routes each
    gradient to the index it came from."""

    @classmethod
    def forward(cls, ctx, x, dim):
        xp = ctx.xp
        vals = cls._acc(xp).accumulate(x, axis=dim)
        shape = [1] * x.ndim
        shape[dim] = x.shape[dim]
        pos = xp.broadcast_to(xp.arange(x.shape[dim]).reshape(shape), x.shape)
        hit = (x == vals) | (xp.isnan(x) if x.dtype.kind == "f" else False)
        idx = xp.maximum.accumulate(xp.where(hit, pos, 0), axis=dim).astype(xp.int64)
        ctx.save_for_backward(idx)
        ctx.meta = (x.shape, dim)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, g, _gi):
        from lamina.ops.indexing import _gather_index

        (idx,) = ctx.saved_tensors
        shape, dim = ctx.meta
        gx = ctx.xp.zeros(shape, dtype=g.dtype)
        ctx.xp.add.at(gx, _gather_index(ctx.xp, idx, dim), g)
        return gx, None


class Cummax(_CumExtreme):
    _acc = staticmethod(lambda xp: xp.maximum)


class Cummin(_CumExtreme):
    _acc = staticmethod(lambda xp: xp.minimum)


def _log_rev_cumsum_exp(xp, a, axis):
    return xp.flip(xp.logaddexp.accumulate(xp.flip(a, axis=axis), axis=axis), axis=axis)


class Logcumsumexp(Function):
    """y_i = log Σ_{j<=i} exp(x_j) (a running logaddexp);  dx_k = Σ_{i>=k} g_i exp(x_k - y_i),
    summed in log space separately for the positive and negative parts of g (no overflow)."""

    @staticmethod
    def forward(ctx, x, dim):
        with quiet(ctx.xp):
            y = ctx.xp.logaddexp.accumulate(x, axis=dim) if x.size else x.copy()
        ctx.save_for_backward(x, y)
        ctx.dim = dim
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        xp, d = ctx.xp, ctx.dim
        if x.size == 0:
            return g, None
        with quiet(xp):
            pos = xp.exp(_log_rev_cumsum_exp(xp, xp.log(xp.where(g > 0, g, 0)) - y, d) + x)
            neg = xp.exp(_log_rev_cumsum_exp(xp, xp.log(xp.where(g < 0, -g, 0)) - y, d) + x)
        return (pos - neg).astype(g.dtype, copy=False), None


# --------------------------------------------------------------------------- median and nan-aware reductions


def _lower_median_index(xp, x, axis):
    """Index (along ``axis``) of the lower median; a slice holding NaN gives its first NaN (NaN propagates)."""
    n = x.shape[axis]
    order = xp.argsort(x, axis=axis, kind="stable")
    k = xp.take(order, [(n - 1) // 2], axis=axis)
    if x.dtype.kind == "f":
        nan = xp.isnan(x)
        has = nan.any(axis=axis, keepdims=True)
        k = xp.where(has, xp.argmax(nan, axis=axis, keepdims=True), k)
    return k


class MedianAll(Function):
    """The lower median of all elements; the gradient is shared evenly among the elements equal to it."""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        flat = x.reshape(-1)
        m = flat[_lower_median_index(xp, flat, 0)[0]]
        ctx.save_for_backward(x, m)
        return xp.asarray(m)

    @staticmethod
    def backward(ctx, g):
        x, m = ctx.saved_tensors
        mask = (x == m) | ((x != x) & (m != m))
        return mask * (g / mask.sum()).astype(g.dtype, copy=False)


class MedianDim(Function):
    """(values, indices) of the lower median along ``dim``; the gradient goes to the index taken."""

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        xp = ctx.xp
        idx = _lower_median_index(xp, x, dim)
        vals = xp.take_along_axis(x, idx, axis=dim)
        ctx.save_for_backward(idx)
        ctx.meta = (x.shape, dim, keepdim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        idx = idx.astype(xp.int64, copy=False)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    backward = _ExtremeDim.backward


class Nansum(Function):
    """y = Σ x over axes, NaN counted as 0;  dy/dx = 1 where x is not NaN"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, np_dtype):
        ctx.save_for_backward(x)
        ctx.meta = (axes, keepdim)
        return ctx.xp.nansum(x, axis=axes, keepdims=keepdim, dtype=np_dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        axes, keepdim = ctx.meta
        g = expand_reduced(g, x.shape, axes, keepdim)
        return (g * ~ctx.xp.isnan(x)).astype(g.dtype, copy=False), None, None, None


class Nanmean(Function):
    """y = mean of the non-NaN x over axes;  dy/dx = 1/count where x is not NaN"""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = ctx.xp
        keep = ~xp.isnan(x)
        count = keep.sum(axis=axes, keepdims=True)
        with quiet(xp):
            out = (xp.nansum(x, axis=axes, keepdims=True) / count).astype(x.dtype, copy=False)
        ctx.save_for_backward(keep, count)
        ctx.meta = (x.shape, axes, keepdim)
        return out if keepdim else out.reshape([s for i, s in enumerate(x.shape) if i not in axes])

    @staticmethod
    def backward(ctx, g):
        keep, count = ctx.saved_tensors
        shape, axes, keepdim = ctx.meta
        g = expand_reduced(g, shape, axes, keepdim)
        with quiet(ctx.xp):
            return (keep * (g / count)).astype(g.dtype, copy=False), None, None
