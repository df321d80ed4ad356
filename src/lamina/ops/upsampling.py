"""Separable resampling: interpolation (nearest, linear, cubic) and non-constant padding as one op.

Every one of these maps is, along each spatial axis, a sum of gathers: y = Σ_t take(x, idx_t, axis) * w_t
(nearest and padding: one tap of weight 1; linear: two taps; cubic: four). The op applies the axes one after
the other; backward scatters the gradient back through the same index tables in reverse order. The tables
are small host arrays (one entry per output position along one axis), computed once per call.
"""

import math

import numpy as np

from lamina.autograd.function import ArrayFunction as Function


def _take(xp, x, idx, axis):
    return xp.take(x, xp.asarray(idx), axis=axis)


def _scatter(xp, g, idx, length, axis):
    """The adjoint of ``take(., idx, axis)``: entries of ``g`` summed into the positions ``idx`` name."""
    n = idx.shape[0]
    if n == length and (idx == np.arange(length)).all():
        return g
    steps = np.diff(idx)
    if (steps >= 0).all():
        # sorted indices: each target position gets one contiguous run of g, summed by reduceat
        starts = np.flatnonzero(np.concatenate(([True], steps != 0)))
        red = xp.add.reduceat(g, xp.asarray(starts), axis=axis) if starts.shape[0] < n else g
        pos = idx[starts]
        if pos.shape[0] == length:
            return red
        shape = list(g.shape)
        shape[axis] = length
        out = xp.zeros(shape, dtype=g.dtype)
        out[(slice(None),) * axis + (xp.asarray(pos),)] = red
        return out
    shape = list(g.shape)
    shape[axis] = length
    out = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(out, (slice(None),) * axis + (xp.asarray(idx),), g)
    return out


def _weights(xp, w, ndim, axis, dtype):
    return xp.asarray(w, dtype=dtype).reshape((-1,) + (1,) * (ndim - axis - 1))


class Resample(Function):
    """y = the composition over axes of  Σ_t take(x, idx_t, axis) * w_t;  dx = the adjoint, axes reversed.

    ``plan`` is a tuple of (axis, input length, taps) with taps a tuple of (idx, weights or None).
    """

    @staticmethod
    def forward(ctx, x, plan):
        xp = ctx.xp
        for axis, _, taps in plan:
            y = None
            for idx, w in taps:
                part = _take(xp, x, idx, axis)
                if w is not None:
                    part *= _weights(xp, w, x.ndim, axis, x.dtype)
                if y is None:
                    y = part
                else:
                    y += part
            x = y
        ctx.plan = plan
        return x

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        for axis, length, taps in reversed(ctx.plan):
            gx = None
            for idx, w in taps:
                gw = g if w is None else g * _weights(xp, w, g.ndim, axis, g.dtype)
                part = _scatter(xp, gw, idx, length, axis)
                if gx is None:
                    gx = part if part is not g else part.copy()
                else:
                    gx += part
            g = gx
        return g, None


# ----------------------------------------------------------------------------- index tables, one axis at a time


def nearest_taps(length, out, scale, exact=False):
    """PyTorch's nearest / nearest-exact source index (scale = 1/scale_factor or in/out, in float32)."""
    if out == length and not exact:
        return ((np.arange(out), None),)
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(length) / np.float32(out)
    if exact:
        src = np.floor((np.arange(out) + 0.5) * np.float64(s))
    else:
        src = np.floor(np.arange(out, dtype=np.float32) * s)
    return ((np.minimum(src.astype(np.int64), length - 1), None),)


def _source_scale(length, out, align_corners, scale, dtype):
    if align_corners:
        return dtype((length - 1) / (out - 1)) if out > 1 else dtype(0)
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(length) / dtype(out)


def linear_taps(length, out, align_corners, scale, dtype):
    """Two-tap linear interpolation weights with PyTorch's source-index rule (computed in the input dtype)."""
    dtype = np.dtype(dtype).type
    if out == length:
        return ((np.arange(out), None),)
    r = _source_scale(length, out, align_corners, scale, dtype)
    dst = np.arange(out).astype(dtype)
    src = r * dst if align_corners else np.maximum(r * (dst + dtype(0.5)) - dtype(0.5), dtype(0))
    i0 = src.astype(np.int64)
    i1 = i0 + (i0 < length - 1)
    lam1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    return ((i0, (dtype(1) - lam1).astype(dtype)), (i1, lam1))


def cubic_taps(length, out, align_corners, scale, dtype):
    """Four-tap cubic convolution (A = -0.75) with clamped borders, as PyTorch's bicubic."""
    dtype = np.dtype(dtype).type
    r = _source_scale(length, out, align_corners, scale, dtype)
    dst = np.arange(out).astype(dtype)
    src = r * dst if align_corners else r * (dst + dtype(0.5)) - dtype(0.5)
    base = np.floor(src)
    t = (src - base).astype(dtype)
    base = base.astype(np.int64)
    a = dtype(-0.75)

    def near(v):
        return ((a + 2) * v - (a + 3)) * v * v + 1

    def far(v):
        return ((a * v - 5 * a) * v + 8 * a) * v - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    return tuple((np.clip(base + k - 1, 0, length - 1), w.astype(dtype)) for k, w in enumerate(weights))


def pad_taps(length, before, after, mode):
    """Source positions of reflect / replicate / circular padding (negative widths crop).

    As in PyTorch, circular padding wraps around the cropped input; reflect and replicate use the whole input.
    """
    if mode == "circular":
        start, stop = max(-before, 0), length - max(-after, 0)
        return ((start + np.arange(-max(before, 0), stop - start + max(after, 0)) % (stop - start), None),)
    pos = np.arange(-before, length + after)
    if mode == "reflect":
        period = 2 * (length - 1)
        pos = np.abs(pos) % period if period else np.zeros_like(pos)
        pos = np.where(pos >= length, period - pos, pos)
    else:
        pos = np.clip(pos, 0, length - 1)
    return ((pos, None),)


def output_length(length, size, scale):
    return int(size) if size is not None else int(math.floor(length * scale))
