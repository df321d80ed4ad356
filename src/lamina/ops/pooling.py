"""Pooling ops (max, average, adaptive, unpooling) over the last one or two axes, forward and backward.

The ops work on the trailing (H, W) axes of any leading shape and keep the input's memory layout (a
channels-last input gives a channels-last output), so they never force a transposing copy. Windows are
visited as strided slices, one per kernel offset: a loop over kH*kW offsets of whole-array operations, never
over pixels, channels or batch items. One-dimensional pooling runs with H = 1. Geometry tuples are
(height, width).
"""

import numpy as np

from lamina.autograd.function import ArrayFunction as Function


def _empty_like_layout(xp, like, shape, fill=None):
    """An array of ``shape`` whose axes are ordered in memory like ``like``'s (channels-last stays so)."""
    order = sorted(range(like.ndim), key=lambda i: -like.strides[i])
    inverse = [order.index(i) for i in range(like.ndim)]
    buf = xp.empty([shape[i] for i in order], dtype=like.dtype)
    if fill is not None:
        buf.fill(fill)
    return buf.transpose(inverse)


def _offset_slices(geom):
    kh, kw, sh, sw, dh, dw, oh, ow = geom
    return [(i, j, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _padded(xp, x, geom, pad, fill):
    """The input inside a border of ``fill``: ``pad`` before, and after as far as the last window reaches."""
    kh, kw, sh, sw, dh, dw, oh, ow = geom
    ph, pw = pad
    h, w = x.shape[-2:]
    need_h, need_w = (oh - 1) * sh + dh * (kh - 1) + 1, (ow - 1) * sw + dw * (kw - 1) + 1
    if ph == 0 and pw == 0 and need_h <= h and need_w <= w:
        return x
    buf = _empty_like_layout(xp, x, x.shape[:-2] + (need_h, need_w), fill)
    hh, ww = min(h, need_h - ph), min(w, need_w - pw)
    buf[..., ph:ph + hh, pw:pw + ww] = x[..., :hh, :ww]
    return buf


def _disjoint(geom):
    """True when no input element lies in two windows (then backward assigns instead of accumulating)."""
    kh, kw, sh, sw, dh, dw, _, _ = geom
    return sh >= dh * (kh - 1) + 1 and sw >= dw * (kw - 1) + 1


def _unpad(xp, dbuf, x_shape, pad):
    h, w = x_shape[-2:]
    ph, pw = pad
    if dbuf.shape == tuple(x_shape) and ph == 0 and pw == 0:
        return dbuf
    gx = _empty_like_layout(xp, dbuf, x_shape, 0)
    hh, ww = min(h, dbuf.shape[-2] - ph), min(w, dbuf.shape[-1] - pw)
    gx[..., :hh, :ww] = dbuf[..., ph:ph + hh, pw:pw + ww]
    return gx


class MaxPool2d(Function):
    """y = max over each window (NaN propagates; ties go to the first offset, as in PyTorch).

    dx = dy routed to the position of each window's maximum (accumulated where windows overlap).
    Returns (y, indices) with indices = flat h * W + w of each maximum in the unpadded input.
    """

    @staticmethod
    def forward(ctx, x, geom, pad, return_indices):
        xp = ctx.xp
        buf = _padded(xp, x, geom, pad, -xp.inf)
        slices = _offset_slices(geom)
        kk = len(slices)
        _, _, hs0, ws0 = slices[0]
        best = xp.array(buf[..., hs0, ws0], copy=True, order="K")
        arg = xp.zeros_like(best, dtype=xp.uint8 if kk < 256 else xp.int32)
        for k in range(1, kk):
            _, _, hs, ws = slices[k]
            v = buf[..., hs, ws]
            take = v > best
            if buf.dtype.kind == "f":
                take |= v != v  # a NaN wins the window, as in PyTorch
            xp.copyto(arg, k, where=take)
            xp.copyto(best, v, where=take)
        ctx.save_for_backward(arg)
        ctx.meta = (geom, pad, x.shape, buf.shape)
        if not return_indices:
            return best
        kh, kw, sh, sw, dh, dw, oh, ow = geom
        ki, kj = arg // kw, arg % kw
        rows = (xp.arange(oh) * sh - pad[0])[:, None] + ki.astype(xp.int64) * dh
        cols = (xp.arange(ow) * sw - pad[1]) + kj.astype(xp.int64) * dw
        indices = rows * x.shape[-1] + cols
        ctx.mark_non_differentiable(indices)
        return best, indices

    @staticmethod
    def backward(ctx, g, _g_indices=None):
        xp = ctx.xp
        (arg,) = ctx.saved_tensors
        geom, pad, x_shape, buf_shape = ctx.meta
        dbuf = _empty_like_layout(xp, g, buf_shape, 0)
        zero = xp.zeros((), dtype=g.dtype)
        disjoint = _disjoint(geom)
        for k, (_, _, hs, ws) in enumerate(_offset_slices(geom)):
            part = xp.where(arg == k, g, zero)
            if disjoint:
                dbuf[..., hs, ws] = part
            else:
                dbuf[..., hs, ws] += part
        return _unpad(xp, dbuf, x_shape, pad), None, None, None


class AvgPool2d(Function):
    """y = (sum over each window) / divisor;  dx = dy / divisor spread over each window."""

    @staticmethod
    def forward(ctx, x, geom, pad, divisor):
        xp = ctx.xp
        buf = _padded(xp, x, geom, pad, 0)
        slices = _offset_slices(geom)
        _, _, hs, ws = slices[0]
        if len(slices) == 1:
            total = xp.array(buf[..., hs, ws], copy=True, order="K")
        else:
            _, _, hs1, ws1 = slices[1]
            total = xp.add(buf[..., hs, ws], buf[..., hs1, ws1])
            for _, _, hs, ws in slices[2:]:
                total += buf[..., hs, ws]
        div = xp.asarray(divisor, dtype=x.dtype)
        total /= div
        ctx.meta = (geom, pad, x.shape, buf.shape, div)
        return total

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        geom, pad, x_shape, buf_shape, div = ctx.meta
        gd = g / div
        dbuf = _empty_like_layout(xp, g, buf_shape, 0)
        disjoint = _disjoint(geom)
        for _, _, hs, ws in _offset_slices(geom):
            if disjoint:
                dbuf[..., hs, ws] = gd
            else:
                dbuf[..., hs, ws] += gd
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
                take = (v > best) | (v != v)
                xp.copyto(best, v, where=take)
                xp.copyto(arg, flat, where=take)
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
