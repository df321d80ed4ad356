"""Separable resampling: interpolation (nearest, linear, cubic) and non-constant padding as one op.

Each of these maps is, along each spatial axis, a linear map given by taps: y = Σ_t take(x, idx_t, axis) * w_t
(nearest and padding: one tap of weight 1; linear: two taps; cubic: four). The op applies the axes one after
the other, and backward applies the transposed maps in reverse order. The tables are small host arrays (one
entry per output position along one axis), computed once per call.

How an axis is evaluated depends on its map (the result is the same):
  * a few runs of consecutive source positions (padding, cropping): slices; backward adds slices back;
  * otherwise, for axes up to ``_DENSE_MAX`` long: the map as a small dense (out, in) matrix, applied with
    one matrix multiplication (NumPy has no fused gather-and-blend; BLAS beats five element-wise passes);
  * longer axes: gathers with ``take``; backward accumulates with ``add.at``.
"""

import math

import numpy as np

from lamina.autograd.function import ArrayFunction as Function

_DENSE_MAX = 512
_MAX_RUNS = 8


def _runs(idx):
    """idx as [(out_start, out_stop, src_start, step)] runs of step +1 / -1, or None when there are too many."""
    runs = []
    i, n = 0, idx.shape[0]
    while i < n:
        j = i + 1
        step = int(idx[j] - idx[i]) if j < n and abs(int(idx[j] - idx[i])) == 1 else 1
        while j < n and int(idx[j] - idx[j - 1]) == step:
            j += 1
        runs.append((i, j, int(idx[i]), step))
        if len(runs) > _MAX_RUNS:
            return None
        i = j
    return runs


def _index(ndim, axis, sl):
    return (slice(None),) * axis + (sl,) + (slice(None),) * (ndim - axis - 1)


def _src_slice(start, count, step):
    stop = start + step * count
    return slice(start, stop if stop >= 0 else None, step)


def _dense(taps, length, dtype):
    out = taps[0][0].shape[0]
    a = np.zeros((out, length))
    rows = np.arange(out)
    for idx, w in taps:
        np.add.at(a, (rows, idx), 1.0 if w is None else w)
    return a.astype(dtype)


def _apply_matrix(xp, x, a, axis):
    """Contract ``x``'s ``axis`` with the (out, in) matrix ``a``: one GEMM, batched over the leading axes."""
    shape = x.shape
    if axis == x.ndim - 1:
        y = xp.ascontiguousarray(x).reshape(-1, shape[-1]) @ a.T
        return y.reshape(shape[:-1] + (a.shape[0],))
    lead = int(np.prod(shape[:axis], dtype=np.int64))
    rest = int(np.prod(shape[axis + 1:], dtype=np.int64))
    y = xp.matmul(a, xp.ascontiguousarray(x).reshape(lead, shape[axis], rest))
    return y.reshape(shape[:axis] + (a.shape[0],) + shape[axis + 1:])


def _weights(xp, w, ndim, axis, dtype):
    return xp.asarray(w, dtype=dtype).reshape((-1,) + (1,) * (ndim - axis - 1))


def _strategy(xp, length, taps, dtype):
    if len(taps) == 1 and taps[0][1] is None:
        runs = _runs(taps[0][0])
        if runs is not None:
            return "slices", runs
    if length <= _DENSE_MAX:
        return "dense", xp.asarray(_dense(taps, length, dtype))
    return "gather", taps


def _forward_axis(xp, x, axis, how, data):
    if how == "slices":
        parts = [x[_index(x.ndim, axis, _src_slice(src, o1 - o0, step))] for o0, o1, src, step in data]
        return parts[0].copy() if len(parts) == 1 else xp.concatenate(parts, axis=axis)
    if how == "dense":
        return _apply_matrix(xp, x, data, axis)
    y = None
    for idx, w in data:
        part = xp.take(x, xp.asarray(idx), axis=axis)
        if w is not None:
            part *= _weights(xp, w, x.ndim, axis, x.dtype)
        y = part if y is None else y.__iadd__(part)
    return y


def _backward_axis(xp, g, axis, length, how, data):
    shape = g.shape[:axis] + (length,) + g.shape[axis + 1:]
    if how == "dense":
        return _apply_matrix(xp, g, data.T, axis)
    out = xp.zeros(shape, dtype=g.dtype)
    if how == "slices":
        for o0, o1, src, step in data:
            out[_index(g.ndim, axis, _src_slice(src, o1 - o0, step))] += g[_index(g.ndim, axis, slice(o0, o1))]
        return out
    for idx, w in data:
        part = g if w is None else g * _weights(xp, w, g.ndim, axis, g.dtype)
        xp.add.at(out, _index(g.ndim, axis, xp.asarray(idx)), part)
    return out


class Resample(Function):
    """y = the composition over axes of  Σ_t take(x, idx_t, axis) * w_t;  dx = the transposed maps, reversed.

    ``plan`` is a tuple of (axis, input length, taps) with taps a tuple of (idx, weights or None).
    """

    @staticmethod
    def forward(ctx, x, plan):
        xp = ctx.xp
        steps = []
        for axis, length, taps in plan:
            how, data = _strategy(xp, length, taps, x.dtype)
            x = _forward_axis(xp, x, axis, how, data)
            steps.append((axis, length, how, data))
        ctx.steps = steps
        return x

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        for axis, length, how, data in reversed(ctx.steps):
            g = _backward_axis(xp, g, axis, length, how, data)
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
