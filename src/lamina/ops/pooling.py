"""Pooling ops (max, average, adaptive, unpooling) over the last one or two axes, forward and backward.

The ops work on the trailing (H, W) axes of any leading shape and keep the input's memory layout (a
channels-last input gives a channels-last output), so they never force a transposing copy. Max and average
pooling are separable: a pass along W then a pass along H, each a loop over that axis's kernel offsets of
whole-array operations on strided slices (never a loop over pixels, channels or batch items). One-dimensional
pooling runs with H = 1. Geometry tuples are (height, width).
"""

import numpy as np

from lamina.autograd.function import ArrayFunction as Function
from lamina.backend.threads import intraop_threads, parallel_map
from lamina.ops.conv import _scratch

_PARALLEL_MIN = 1 << 18  # elements: below this a thread hand-off costs more than it saves


def _layout(a):
    """The order of ``a``'s axes in memory, outermost first (channels-last: N, H, W, C)."""
    return tuple(sorted(range(a.ndim), key=lambda i: -a.strides[i]))


def _empty_like_layout(xp, like, shape, dtype, fill=None, scratch=False):
    """An array of ``shape`` whose axes are ordered in memory like ``like``'s (an array or a ``_layout``).

    ``scratch=True`` places it in the per-thread workspace: only for intermediates that never leave the op.
    """
    order = like if isinstance(like, tuple) else _layout(like)
    inverse = [order.index(i) for i in range(len(order))]
    permuted = [shape[i] for i in order]
    if scratch:
        size = 1
        for n in permuted:
            size *= n
        buf = _scratch(xp, size, xp.dtype(dtype))[:size].reshape(permuted)
    else:
        buf = xp.empty(permuted, dtype=dtype)
    if fill is not None:
        buf.fill(fill)
    return buf.transpose(inverse)


def _in_layout(xp, a, layout):
    """``a`` stored in ``layout`` (one transposing copy if it is not): element-wise ops on operands of different
    layouts are several times slower than this copy plus same-layout ops."""
    if 0 in a.strides or _layout(a) == layout:
        return a
    out = _empty_like_layout(xp, layout, a.shape, a.dtype)
    out[...] = a
    return out


def _padded(xp, x, geom, pad, fill):
    """The input inside a border of ``fill``: ``pad`` before, and after as far as the last window reaches."""
    kh, kw, sh, sw, dh, dw, oh, ow = geom
    ph, pw = pad
    h, w = x.shape[-2:]
    need_h, need_w = (oh - 1) * sh + dh * (kh - 1) + 1, (ow - 1) * sw + dw * (kw - 1) + 1
    if ph == 0 and pw == 0 and need_h <= h and need_w <= w:
        return x
    buf = _empty_like_layout(xp, x, x.shape[:-2] + (need_h, need_w), x.dtype, fill)
    hh, ww = min(h, need_h - ph), min(w, need_w - pw)
    buf[..., ph:ph + hh, pw:pw + ww] = x[..., :hh, :ww]
    return buf


def _unpad(xp, dbuf, x_shape, pad):
    h, w = x_shape[-2:]
    ph, pw = pad
    if dbuf.shape == tuple(x_shape) and ph == 0 and pw == 0:
        return dbuf
    gx = _empty_like_layout(xp, dbuf, x_shape, dbuf.dtype, 0)
    hh, ww = min(h, dbuf.shape[-2] - ph), min(w, dbuf.shape[-1] - pw)
    gx[..., :hh, :ww] = dbuf[..., ph:ph + hh, pw:pw + ww]
    return gx


def _axis_slices(ndim, axis, k, s, d, out):
    """Index tuples selecting, for each kernel offset j along ``axis``, the elements that offset meets."""
    lead = (slice(None),) * (axis % ndim)
    return [lead + (slice(j * d, j * d + s * (out - 1) + 1, s),) for j in range(k)]


def _stage_out(xp, x, first, scratch):
    view = x[first]
    return _empty_like_layout(xp, _layout(view), view.shape, x.dtype, scratch=scratch)


def _max_stage(xp, x, axis, k, s, d, out, scratch=False):
    """Max over the k offsets along one axis, and the winning offset (PyTorch's: the first maximum; a NaN wins).

    The maximum is a chain of ``maximum`` (NaN propagates); the winner is the first offset equal to it. Only
    when the result holds a NaN (one cheap sum tells) are the winners recomputed by PyTorch's running scan.
    """
    sl = _axis_slices(x.ndim, axis, k, s, d, out)
    best = _stage_out(xp, x, sl[0], scratch)
    if k == 1:
        xp.copyto(best, x[sl[0]])
        return best, None
    xp.maximum(x[sl[0]], x[sl[1]], out=best)
    for j in range(2, k):
        xp.maximum(best, x[sl[j]], out=best)
    # first j with x_j == best, as ne_0 * (1 + ne_1 * (1 + ...)) with ne_j = (x_j != best): cheap integer
    # arithmetic (a masked copyto per offset is an order of magnitude slower in NumPy)
    arg = xp.not_equal(x[sl[k - 2]], best)
    if k > 2:
        dt = xp.uint8 if k < 256 else xp.int32
        arg = arg.astype(dt)
        for j in range(k - 3, -1, -1):
            arg += 1
            arg = xp.multiply(xp.not_equal(x[sl[j]], best), arg, dtype=dt)
    if x.dtype.kind == "f" and xp.isnan(best.sum()):
        arg = _first_max_or_last_nan(xp, x, sl, arg.dtype)
    return best, arg


def _first_max_or_last_nan(xp, x, sl, dtype):
    """PyTorch's scan: take offset j when x_j > the running max or x_j is NaN."""
    run = xp.array(x[sl[0]], copy=True, order="K")
    arg = xp.zeros(run.shape, dtype=dtype)
    for j in range(1, len(sl)):
        v = x[sl[j]]
        take = xp.greater(v, run) | xp.isnan(v)
        xp.copyto(arg, True if arg.dtype.kind == "b" else j, where=take)
        xp.copyto(run, v, where=take)
    return arg


def _route_stage(xp, g, arg, like, axis, k, s, d, length, scratch=False):
    """Backward of ``_max_stage``: each gradient goes to the winning offset (summed where windows overlap)."""
    shape = list(g.shape)
    shape[axis] = length
    disjoint = s >= d * (k - 1) + 1
    covered = disjoint and arg is not None and d == 1 and s == k and k * g.shape[axis] == length
    dx = _empty_like_layout(xp, like, tuple(shape), g.dtype, None if covered else 0, scratch)  # tiled: all written
    sl = _axis_slices(g.ndim, axis, k, s, d, g.shape[axis])
    if arg is None:
        dx[sl[0]] = g
        return dx
    for j in range(k):
        hit = (~arg if j == 0 else arg) if arg.dtype == bool else arg == j
        if disjoint:
            xp.multiply(g, hit, out=dx[sl[j]])
        else:
            dx[sl[j]] += g * hit
    return dx


def _tiled(geom, pad, shape):
    """True when the windows tile the input without overlap or padding (kernel = stride, no dilation): the common
    ``MaxPool2d(k)``.  Rows and columns past the last whole window (floor mode) are simply not covered."""
    kh, kw, sh, sw, dh, dw, oh, ow = geom
    return (pad == (0, 0) and (kh, kw) == (sh, sw) and dh == dw == 1 and oh * kh <= shape[-2]
            and ow * kw <= shape[-1] and kh * kw < 256)


def _tile_slices(ndim, geom):
    """Index tuples of the kernel offsets (i, j) in row-major order: each selects that offset of every window."""
    kh, kw, _, _, _, _, oh, ow = geom
    lead = (slice(None),) * (ndim - 2)
    return [lead + (slice(i, i + kh * (oh - 1) + 1, kh), slice(j, j + kw * (ow - 1) + 1, kw))
            for i in range(kh) for j in range(kw)]


def _parts(xp, x):
    """Ranges of the leading axis to share out over the intra-op threads (one range when not worth it)."""
    n = x.shape[0]
    t = intraop_threads() if xp is np and x.ndim > 2 and x.size >= _PARALLEL_MIN else 1
    t = min(t, n)
    return [(k * n // t, (k + 1) * n // t) for k in range(t)]


def _max_tiled(xp, x, geom):
    """Max over non-overlapping windows straight from the kH * kW strided offsets (no intermediate stage), and the
    winning offset i * kW + j of each window as uint8: PyTorch's first maximum in row-major order, a NaN wins."""
    sl = _tile_slices(x.ndim, geom)
    best = _stage_out(xp, x, sl[0], False)
    arg = _empty_like_layout(xp, best, best.shape, xp.uint8)

    def part(a, b):
        xs, bs, ar = x[a:b], best[a:b], arg[a:b]
        if len(sl) == 1:
            xp.copyto(bs, xs[sl[0]])
            ar.fill(0)
            return
        xp.maximum(xs[sl[0]], xs[sl[1]], out=bs)
        for j in range(2, len(sl)):
            xp.maximum(bs, xs[sl[j]], out=bs)
        # first j with x_j == best, as ne_0 * (1 + ne_1 * (1 + ...)), cheap uint8 arithmetic (see _max_stage)
        ne = _empty_like_layout(xp, bs, bs.shape, bool)  # same layout as the operands: fast loops
        xp.not_equal(xs[sl[-2]], bs, out=ne)
        xp.copyto(ar, ne)
        for j in range(len(sl) - 3, -1, -1):
            ar += 1
            xp.not_equal(xs[sl[j]], bs, out=ne)
            xp.multiply(ne.view(xp.uint8), ar, out=ar)

    parallel_map(part, _parts(xp, x))
    if x.dtype.kind == "f" and len(sl) > 1 and xp.isnan(best.sum()):
        arg = _first_max_or_last_nan(xp, x, sl, xp.uint8)
    return best, arg


def _route_tiled(xp, g, arg, layout, geom, x_shape):
    """Backward of ``_max_tiled``: each window's gradient to its winning offset, zeros elsewhere."""
    kh, kw, _, _, _, _, oh, ow = geom
    whole = oh * kh == x_shape[-2] and ow * kw == x_shape[-1]
    dx = _empty_like_layout(xp, layout, tuple(x_shape), g.dtype, None if whole else 0)
    sl = _tile_slices(len(x_shape), geom)

    def part(a, b):
        gs, ar, dxs = g[a:b], arg[a:b], dx[a:b]
        hit = _empty_like_layout(xp, ar, ar.shape, bool)
        for k, idx in enumerate(sl):
            xp.equal(ar, k, out=hit)
            xp.multiply(gs, hit.view(xp.uint8), out=dxs[idx])  # a uint8 operand: NumPy's bool-to-float cast is slower

    parallel_map(part, _parts(xp, dx))
    return dx


def _tiled_indices(xp, arg, geom, width):
    kh, kw, _, _, _, _, oh, ow = geom
    a = arg.astype(xp.int64)
    rows = (xp.arange(oh) * kh)[:, None] + a // kw
    return rows * width + (xp.arange(ow) * kw)[None, :] + a % kw


class MaxPool2d(Function):
    """y = max over each window (NaN propagates; ties go to the first position, row-major, as in PyTorch).

    Windows that tile the input (kernel = stride, the usual ``MaxPool2d(k)``): one max over the kH * kW strided
    offsets, and dx = dy placed at each window's winning offset.  Otherwise separable: a max over the kW offsets
    along W, then over the kH offsets along H (the first maximum of the first row holding the window's maximum is
    the first in row-major order, so ties resolve as PyTorch's); dx = dy routed back through the two stages'
    winning offsets. With ``return_indices`` also returns the flat h * W + w of each maximum in the unpadded input.
    """

    @staticmethod
    def forward(ctx, x, geom, pad, return_indices):
        xp = ctx.xp
        kh, kw, sh, sw, dh, dw, oh, ow = geom
        if _tiled(geom, pad, x.shape):
            out, arg = _max_tiled(xp, x, geom)
            ctx.save_for_backward(arg)
            ctx.meta = (geom, None, x.shape, None, None, _layout(x))
            return (out, _tiled_indices(xp, arg, geom, x.shape[-1])) if return_indices else out
        buf = _padded(xp, x, geom, pad, -xp.inf)
        rows, arg_w = _max_stage(xp, buf, -1, kw, sw, dw, ow, scratch=True)
        out, arg_h = _max_stage(xp, rows, -2, kh, sh, dh, oh)
        ctx.save_for_backward(arg_w, arg_h)
        ctx.meta = (geom, pad, x.shape, buf.shape, rows.shape, _layout(x))
        if not return_indices:
            return out
        a = xp.zeros(out.shape, dtype=xp.int64) if arg_h is None else arg_h.astype(xp.int64)
        r = (xp.arange(oh) * sh)[:, None] + a * dh  # padded row of each maximum
        if arg_w is None:
            b = xp.zeros(out.shape, dtype=xp.int64)
        else:
            b = xp.take_along_axis(arg_w, xp.broadcast_to(r, out.shape), axis=-2).astype(xp.int64)
        indices = (r - pad[0]) * x.shape[-1] + (xp.arange(ow) * sw - pad[1]) + b * dw
        return out, indices

    @staticmethod
    def backward(ctx, g, _g_indices=None):
        xp = ctx.xp
        geom, pad, x_shape, buf_shape, rows_shape, layout = ctx.meta
        kh, kw, sh, sw, dh, dw, oh, ow = geom
        g = _in_layout(xp, g, layout)
        if pad is None:
            (arg,) = ctx.saved_tensors
            return _route_tiled(xp, g, arg, layout, geom, x_shape), None, None, None
        arg_w, arg_h = ctx.saved_tensors
        drows = _route_stage(xp, g, arg_h, layout, -2, kh, sh, dh, rows_shape[-2], scratch=True)
        dbuf = _route_stage(xp, drows, arg_w, layout, -1, kw, sw, dw, buf_shape[-1])
        return _unpad(xp, dbuf, x_shape, pad), None, None, None


def _sum_stage(xp, x, axis, k, s, d, out, scratch=False):
    sl = _axis_slices(x.ndim, axis, k, s, d, out)
    total = _stage_out(xp, x, sl[0], scratch)
    if k == 1:
        xp.copyto(total, x[sl[0]])
        return total
    xp.add(x[sl[0]], x[sl[1]], out=total)
    for j in range(2, k):
        total += x[sl[j]]
    return total


def _spread_stage(xp, g, like, axis, k, s, length, scratch=False):
    shape = list(g.shape)
    shape[axis] = length
    covered = s == k and k * g.shape[axis] == length
    dx = _empty_like_layout(xp, like, tuple(shape), g.dtype, None if covered else 0, scratch)  # tiled: all written
    for idx in _axis_slices(g.ndim, axis, k, s, 1, g.shape[axis]):
        if s >= k:
            dx[idx] = g
        else:
            dx[idx] += g
    return dx


class AvgPool2d(Function):
    """y = (sum over each window) / divisor, summed separably (along W, then H);  dx = dy / divisor spread back."""

    @staticmethod
    def forward(ctx, x, geom, pad, divisor):
        xp = ctx.xp
        kh, kw, sh, sw, _, _, oh, ow = geom
        buf = _padded(xp, x, geom, pad, 0)
        rows = _sum_stage(xp, buf, -1, kw, sw, 1, ow, scratch=True)
        total = _sum_stage(xp, rows, -2, kh, sh, 1, oh)
        div = xp.asarray(divisor, dtype=x.dtype)
        total /= div
        ctx.meta = (geom, pad, x.shape, buf.shape, rows.shape, div, _layout(x))
        return total

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        geom, pad, x_shape, buf_shape, rows_shape, div, layout = ctx.meta
        kh, kw, sh, sw, _, _, _, _ = geom
        gd = _empty_like_layout(xp, layout, g.shape, g.dtype)
        xp.divide(_in_layout(xp, g, layout), div, out=gd)
        drows = _spread_stage(xp, gd, layout, -2, kh, sh, rows_shape[-2], scratch=True)
        dbuf = _spread_stage(xp, drows, layout, -1, kw, sw, buf_shape[-1])
        return _unpad(xp, dbuf, x_shape, pad), None, None, None


def avg_divisor(size, geom, pad, count_include_pad, divisor_override):
    """The (OH, OW) divisors of average pooling, with PyTorch's rules for padding and ceil-mode windows."""
    if divisor_override:
        return np.full((geom[6], geom[7]), float(divisor_override))
    counts = []
    axes = ((size[0], geom[0], geom[2], pad[0], geom[6]), (size[1], geom[1], geom[3], pad[1], geom[7]))
    for length, k, s, p, o in axes:
        start = np.arange(o) * s - p
        end = np.minimum(start + k, length + p)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(np.minimum(end, length) - np.maximum(start, 0))
    return np.outer(counts[0], counts[1]).astype(np.float64)


def adaptive_bounds(length, out):
    """PyTorch's adaptive windows along one axis: [floor(i*L/O), ceil((i+1)*L/O))."""
    i = np.arange(out)
    return (i * length) // out, -((-(i + 1) * length) // out)


def _average_matrix(length, out):
    start, end = adaptive_bounds(length, out)
    pos = np.arange(length)
    inside = (pos[None, :] >= start[:, None]) & (pos[None, :] < end[:, None])
    return inside / (end - start)[:, None]


class AdaptiveAvgPool2d(Function):
    """y = A_h x A_wᵀ with A the (out, in) window-averaging matrices;  dx = A_hᵀ dy A_w."""

    @staticmethod
    def forward(ctx, x, out_hw):
        xp = ctx.xp
        h, w = x.shape[-2:]
        if out_hw == (1, 1):
            ctx.meta = (None, None, x.shape)
            return x.mean(axis=(-2, -1), keepdims=True, dtype=x.dtype)
        ah = xp.asarray(_average_matrix(h, out_hw[0]), dtype=x.dtype)
        aw = xp.asarray(_average_matrix(w, out_hw[1]), dtype=x.dtype)
        y = xp.tensordot(x, aw, axes=([-1], [1]))  # (..., H, OW)
        y = xp.moveaxis(xp.tensordot(y, ah, axes=([-2], [1])), -1, -2)  # (..., OH, OW)
        ctx.meta = (ah, aw, x.shape)
        return y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        ah, aw, x_shape = ctx.meta
        if ah is None:
            return xp.broadcast_to(g / (x_shape[-2] * x_shape[-1]), x_shape).copy(), None
        gx = xp.tensordot(g, aw, axes=([-1], [0]))  # (..., OH, W)
        gx = xp.moveaxis(xp.tensordot(gx, ah, axes=([-2], [0])), -1, -2)  # (..., H, W)
        return gx, None


class AdaptiveMaxPool2d(Function):
    """y = max over each adaptive window;  dx = dy scattered to the argmax positions (indices returned)."""

    @staticmethod
    def forward(ctx, x, out_hw):
        xp = ctx.xp
        h, w = x.shape[-2:]
        sh, eh = adaptive_bounds(h, out_hw[0])
        sw, ew = adaptive_bounds(w, out_hw[1])
        best = arg = None
        for a in range(int((eh - sh).max())):
            rows = xp.asarray(np.minimum(sh + a, eh - 1))[:, None]
            for b in range(int((ew - sw).max())):
                cols = xp.asarray(np.minimum(sw + b, ew - 1))[None, :]
                v = x[..., rows, cols]
                flat = rows * w + cols
                if best is None:
                    best, arg = v.copy(), xp.broadcast_to(flat, v.shape).copy()
                    continue
                take = (v > best) | (v != v)  # PyTorch's scan: a larger value or a NaN takes over
                best = xp.where(take, v, best)
                arg = xp.where(take, flat, arg)
        ctx.save_for_backward(arg)
        ctx.meta = x.shape
        ctx.mark_non_differentiable(arg)
        return best, arg

    @staticmethod
    def backward(ctx, g, _g_indices):
        (arg,) = ctx.saved_tensors
        return _scatter_plane(ctx.xp, g, arg, ctx.meta), None


def _scatter_plane(xp, values, indices, shape):
    """zeros(shape) with ``values`` added at flat per-plane positions ``indices`` (over the last two axes)."""
    lead = int(np.prod(shape[:-2], dtype=np.int64))
    out = xp.zeros((lead, shape[-2] * shape[-1]), dtype=values.dtype)
    rows = xp.arange(lead)[:, None]
    xp.add.at(out, (rows, indices.reshape(lead, -1)), values.reshape(lead, -1))
    return out.reshape(shape)


class MaxUnpool2d(Function):
    """y = zeros with x placed at ``indices`` (flat per plane);  dx = dy gathered at ``indices``."""

    @staticmethod
    def forward(ctx, x, indices, out_hw):
        xp = ctx.xp
        lead = x.shape[:-2]
        b = int(np.prod(lead, dtype=np.int64))
        out = xp.zeros((b, out_hw[0] * out_hw[1]), dtype=x.dtype)
        idx = indices.reshape(b, -1)
        out[xp.arange(b)[:, None], idx] = x.reshape(b, -1)
        ctx.save_for_backward(idx)
        ctx.meta = x.shape
        return out.reshape(lead + tuple(out_hw))

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        b = idx.shape[0]
        gx = g.reshape(b, -1)[ctx.xp.arange(b)[:, None], idx]
        return gx.reshape(ctx.meta), None, None
