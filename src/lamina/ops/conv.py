"""Convolution, transposed convolution and im2col (unfold / fold) as fused ops with hand-written backward.

Layout: the convolutions work on channels-last copies of their inputs, (N, H, W, C) in memory, so that the
column matrix of a batch chunk is one strided copy with contiguous runs of C values, its rows are the output
pixels (batch folded in) and one GEMM per chunk gives the output already channels-last. The output is returned
as an (N, C, H, W)-shaped view of that channels-last memory (PyTorch's shape, no transposing copy); element-wise
ops keep that layout, so the next convolution reads it without a copy.

The batch is processed in chunks of a few samples so that a chunk's column matrix stays in cache between the
copy that builds it and the GEMM that reads it (the loop is over chunks, never over single samples or pixels).
Backward recomputes the columns chunk by chunk instead of keeping the whole matrix alive.

One-dimensional convolutions run as two-dimensional ones with H = 1. Geometry tuples are (height, width).
"""

import threading

from lamina.autograd.function import ArrayFunction as Function
from lamina.backend.threads import intraop_threads, parallel_map

_CHUNK_BYTES = 5 << 20  # column + output bytes per chunk: fits the cache, yet large enough for efficient GEMMs


_SCRATCH_MAX_BYTES = 64 << 20  # larger workspaces (one huge image's columns) are not kept between calls
_scratch_cache = threading.local()


def _scratch(xp, size, dtype):
    """A reusable per-thread workspace of at least ``size`` elements, for arrays that never leave an op.

    Reusing it spares the allocator a fresh multi-megabyte block, and the page faults that come with one, on
    every call.
    """
    if size * dtype.itemsize > _SCRATCH_MAX_BYTES:
        return xp.empty(size, dtype=dtype)
    key = (xp.__name__, dtype.str)
    cache = _scratch_cache.__dict__
    buf = cache.get(key)
    if buf is None or buf.size < size:
        buf = xp.empty(size, dtype=dtype)
        cache[key] = buf
    return buf


def _map(xp, fn, items):
    """The chunks on the intra-op threads for NumPy arrays; one after another on a GPU (one stream does them)."""
    if xp.__name__ == "numpy":
        return parallel_map(fn, items)
    return [fn(*it) for it in items]


def _as_strided(xp, a, shape, strides):
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


def _chunks(n, bytes_per_sample):
    step = max(1, min(n, _CHUNK_BYTES // max(1, bytes_per_sample)))
    threads = intraop_threads()
    if threads > 1 and n > 1:  # at least two chunks per thread, so that the threads finish together
        step = max(1, min(step, -(-n // (2 * threads))))
    return [(i, min(n, i + step)) for i in range(0, n, step)], step


def _channels_last_padded(xp, x, pad):
    """(N, C, H, W) -> (N, H + pt + pb, W + pl + pr, C) contiguous, zero border; no copy when already so."""
    (pt, pb), (pl, pr) = pad
    xl = x.transpose(0, 2, 3, 1)
    if not (pt or pb or pl or pr):
        return xl if xl.flags.c_contiguous else xp.ascontiguousarray(xl)
    n, h, w, c = xl.shape
    buf = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=x.dtype)
    buf[:, pt:pt + h, pl:pl + w] = xl
    return buf


def _rows(xp, g):
    """(N, C, H, W) gradient -> contiguous channels-last (N, H, W, C)."""
    gl = g.transpose(0, 2, 3, 1)
    return gl if gl.flags.c_contiguous else xp.ascontiguousarray(gl)


def _geometry(hp, wp, kh, kw, stride, dilation):
    (sh, sw), (dh, dw) = stride, dilation
    oh = (hp - dh * (kh - 1) - 1) // sh + 1
    ow = (wp - dw * (kw - 1) - 1) // sw + 1
    return kh, kw, sh, sw, dh, dw, oh, ow


def _im2col(xp, buf, geom, groups, ws):
    """Columns of a channels-last chunk, in the layout that copies fastest for its channel count.

    Many channels per group: (G, n*OH*OW, KH*KW*Cg), each row a window (runs of Cg contiguous values).
    Few channels (Cg < 4, e.g. a first layer on grey or RGB images): the transpose (G, KH*KW*Cg, n*OH*OW),
    each row one kernel offset's shifted image (runs of OW values). Column order within a group: (kh, kw, c).
    Returns (col, transposed).
    """
    kh, kw, sh, sw, dh, dw, oh, ow = geom
    n, _, _, c = buf.shape
    cg = c // groups
    s0, s1, s2, s3 = buf.strides
    size = n * oh * ow * kh * kw * c
    if cg < 4:
        win = _as_strided(xp, buf, (groups, kh, kw, cg, n, oh, ow),
                          (s3 * cg, s1 * dh, s2 * dw, s3, s0, s1 * sh, s2 * sw))
        col = ws[:size].reshape(win.shape)
        xp.copyto(col, win)
        return col.reshape(groups, kh * kw * cg, n * oh * ow), True
    win = _as_strided(xp, buf, (groups, n, oh, ow, kh, kw, cg),
                      (s3 * cg, s0, s1 * sh, s2 * sw, s1 * dh, s2 * dw, s3))
    col = ws[:size].reshape(win.shape)
    xp.copyto(col, win)
    return col.reshape(groups, n * oh * ow, kh * kw * cg), False


def _plan(n, geom, c, o, itemsize):
    """Batch chunks sized so a chunk's columns and outputs stay in cache: ([(start, stop)], samples per chunk)."""
    kh, kw, _, _, _, _, oh, ow = geom
    return _chunks(n, (kh * kw * c + o) * oh * ow * itemsize)


def _offset_slices(geom):
    """For each kernel offset (kh, kw): the slices of the padded input that it meets, in (kh, kw) order."""
    kh, kw, sh, sw, dh, dw, oh, ow = geom
    return [(slice(i * dh, i * dh + sh * (oh - 1) + 1, sh), slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            for i in range(kh) for j in range(kw)]


def _conv_rows(xp, buf, weight, groups, geom, bias=None):
    """Convolution of a channels-last padded input: (N, OH, OW, O) contiguous = columns @ weight (+ bias)."""
    kh, kw, _, _, _, _, oh, ow = geom
    n, _, _, c = buf.shape
    o, cg = weight.shape[0], weight.shape[1]
    og = o // groups
    wmat = weight.reshape(groups, og, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(groups, kh * kw * cg, og)
    out = xp.empty((n, oh, ow, o), dtype=buf.dtype)
    chunks, step = _plan(n, geom, c, o, buf.itemsize)

    def chunk(n0, n1):
        ws = _scratch(xp, step * oh * ow * kh * kw * c, buf.dtype)
        col, transposed = _im2col(xp, buf[n0:n1], geom, groups, ws)
        if transposed:
            col = col.transpose(0, 2, 1)
        m = col.shape[1]
        dst = out[n0:n1].reshape(m, o)
        if groups == 1:
            xp.matmul(col[0], wmat[0], out=dst)
        else:
            dst.reshape(m, groups, og)[...] = xp.matmul(col, wmat).transpose(1, 0, 2)
        if bias is not None:
            dst += bias

    _map(xp, chunk, chunks)
    return out


def _conv_weight_grad(xp, buf, grows, groups, geom, weight_shape):
    """dW[o, c, i, j] = sum over output pixels of grad[o] * input window[c, i, j], chunk by chunk."""
    kh, kw, _, _, _, _, oh, ow = geom
    n, _, _, c = buf.shape
    o, cg = weight_shape[0], weight_shape[1]
    og = o // groups
    chunks, step = _plan(n, geom, c, o, buf.itemsize)
    threads = min(intraop_threads(), len(chunks)) if xp.__name__ == "numpy" else 1
    acc = [None] * threads  # one accumulator per worker (chunk k goes to worker k % threads)

    def chunk(k, n0, n1):
        ws = _scratch(xp, step * oh * ow * kh * kw * c, buf.dtype)
        col, transposed = _im2col(xp, buf[n0:n1], geom, groups, ws)
        if not transposed:
            col = col.transpose(0, 2, 1)
        m = col.shape[2]
        g = grows[n0:n1].reshape(m, groups, og).transpose(1, 0, 2)  # (G, m, Og)
        part = xp.matmul(col, g)  # (G, KH*KW*Cg, Og): the faster orientation for these thin GEMMs
        w = k % threads
        if acc[w] is None:
            acc[w] = part
        else:
            acc[w] += part

    _map(xp, chunk, [(k, n0, n1) for k, (n0, n1) in enumerate(chunks)])
    total = acc[0]
    for part in acc[1:]:
        if part is not None:
            total += part
    return total.reshape(groups, kh, kw, cg, og).transpose(0, 4, 3, 1, 2).reshape(weight_shape)


def _bias_grad(xp, grows):
    """db = the sum of the gradient over every output pixel (a GEMV: faster than a column sum)."""
    g2 = grows.reshape(-1, grows.shape[-1])
    return xp.ones(g2.shape[0], dtype=g2.dtype) @ g2


def _conv_input_grad(xp, grows, weight, groups, geom, buf_shape):
    """Gradient of a channels-last padded input: per kernel offset, grad @ W[:, :, i, j] added at that offset."""
    kh, kw, _, _, _, _, oh, ow = geom
    n, _, _, c = buf_shape
    o, cg = weight.shape[0], weight.shape[1]
    og = o // groups
    wk = xp.ascontiguousarray(weight.reshape(groups, og, cg, kh * kw).transpose(3, 0, 1, 2))  # (KK, G, Og, Cg)
    dbuf = xp.zeros(buf_shape, dtype=grows.dtype)
    slices = _offset_slices(geom)
    chunks, step = _plan(n, geom, c, o, grows.itemsize)

    def chunk(n0, n1):
        ws = _scratch(xp, step * oh * ow * kh * kw * c, grows.dtype)
        nb = n1 - n0
        m = nb * oh * ow
        g = grows[n0:n1].reshape(m, groups, og).transpose(1, 0, 2)  # (G, m, Og)
        d = ws[:kh * kw * groups * m * cg].reshape(kh * kw, groups, m, cg)
        xp.matmul(g[None], wk, out=d)
        dst = dbuf[n0:n1]
        for k, (hs, wsl) in enumerate(slices):
            part = d[k, 0] if groups == 1 else d[k].transpose(1, 0, 2)
            dst[:, hs, wsl] += part.reshape(nb, oh, ow, c)

    _map(xp, chunk, chunks)
    return dbuf


class ConvNd(Function):
    """y = x ⋆ W + b (cross-correlation; 1-D inputs run with H = 1).

    dx = Σ over kernel offsets of (dy @ W[:, :, i, j]) placed at that offset;  dW = dyᵀ @ columns(x);  db = Σ dy
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        xp = ctx.xp
        one_d = x.ndim == 3
        if one_d:
            x, weight = x[:, :, None, :], weight[:, :, None, :]
        buf = _channels_last_padded(xp, x, padding)
        kh, kw = weight.shape[2], weight.shape[3]
        geom = _geometry(buf.shape[1], buf.shape[2], kh, kw, stride, dilation)
        out = _conv_rows(xp, buf, weight, groups, geom, bias)
        ctx.save_for_backward(buf, weight)
        ctx.meta = (geom, groups, padding, x.shape, one_d, bias is not None)
        out = out.transpose(0, 3, 1, 2)
        return out[:, :, 0, :] if one_d else out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        buf, weight = ctx.saved_tensors
        geom, groups, padding, x_shape, one_d, has_bias = ctx.meta
        if one_d:
            g = g[:, :, None, :]
        grows = _rows(xp, g)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            dbuf = _conv_input_grad(xp, grows, weight, groups, geom, buf.shape)
            (pt, _), (pl, _) = padding
            gx = dbuf[:, pt:pt + x_shape[2], pl:pl + x_shape[3]].transpose(0, 3, 1, 2)
            if one_d:
                gx = gx[:, :, 0, :]
        if ctx.needs_input_grad[1]:
            gw = _conv_weight_grad(xp, buf, grows, groups, geom, weight.shape)
            if one_d:
                gw = gw[:, :, 0, :]
        if has_bias and ctx.needs_input_grad[2]:
            gb = _bias_grad(xp, grows)
        return gx, gw, gb, None, None, None, None


class ConvTransposeNd(Function):
    """y = the adjoint of a convolution applied to x (W has shape (C_in, C_out / groups, kH, kW)), + b.

    Forward is a convolution's input gradient, backward a convolution's forward (dx) and weight gradient (dW).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups):
        xp = ctx.xp
        one_d = x.ndim == 3
        if one_d:
            x, weight = x[:, :, None, :], weight[:, :, None, :]
        n, _, h, w = x.shape
        kh, kw = weight.shape[2], weight.shape[3]
        o = weight.shape[1] * groups
        (sh, sw), (dh, dw) = stride, dilation
        (ph, pw), (oph, opw) = padding, output_padding
        base_h, base_w = (h - 1) * sh + dh * (kh - 1) + 1, (w - 1) * sw + dw * (kw - 1) + 1
        out_h, out_w = base_h - 2 * ph + oph, base_w - 2 * pw + opw
        buf_shape = (n, max(base_h, ph + out_h), max(base_w, pw + out_w), o)
        geom = (kh, kw, sh, sw, dh, dw, h, w)
        xrows = _rows(xp, x)
        dbuf = _conv_input_grad(xp, xrows, weight, groups, geom, buf_shape)
        out = dbuf[:, ph:ph + out_h, pw:pw + out_w]
        if not out.flags.c_contiguous:
            out = xp.ascontiguousarray(out)
        if bias is not None:
            out += bias
        ctx.save_for_backward(xrows, weight)
        ctx.meta = (geom, groups, buf_shape, ph, pw, one_d, bias is not None)
        out = out.transpose(0, 3, 1, 2)
        return out[:, :, 0, :] if one_d else out

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        xrows, weight = ctx.saved_tensors
        geom, groups, buf_shape, ph, pw, one_d, has_bias = ctx.meta
        if one_d:
            g = g[:, :, None, :]
        gl = g.transpose(0, 2, 3, 1)
        if buf_shape[1:3] == gl.shape[1:3]:
            gbuf = gl if gl.flags.c_contiguous else xp.ascontiguousarray(gl)
        else:
            gbuf = xp.zeros(buf_shape, dtype=g.dtype)
            gbuf[:, ph:ph + gl.shape[1], pw:pw + gl.shape[2]] = gl
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _conv_rows(xp, gbuf, weight, groups, geom).transpose(0, 3, 1, 2)
            if one_d:
                gx = gx[:, :, 0, :]
        if ctx.needs_input_grad[1]:
            gw = _conv_weight_grad(xp, gbuf, xrows, groups, geom, weight.shape)
            if one_d:
                gw = gw[:, :, 0, :]
        if has_bias and ctx.needs_input_grad[2]:
            gb = _bias_grad(xp, gbuf)  # the zero border of gbuf adds nothing
        return gx, gw, gb, None, None, None, None, None


def _unfold(xp, x, geom, pad):
    """im2col in PyTorch's unfold layout: (N, C, H, W) -> (N, C*kH*kW, L)."""
    kh, kw, sh, sw, dh, dw, oh, ow = geom
    n, c = x.shape[:2]
    if pad != (0, 0):
        x = xp.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    s0, s1, s2, s3 = x.strides
    win = _as_strided(xp, x, (n, c, kh, kw, oh, ow), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw))
    return xp.ascontiguousarray(win).reshape(n, c * kh * kw, oh * ow)  # a new array, never a view of x


def _fold(xp, cols, geom, pad, size):
    """col2im, the adjoint of ``_unfold``: (N, C*kH*kW, L) -> (N, C, H, W), overlapping windows summed."""
    kh, kw, _, _, _, _, oh, ow = geom
    n = cols.shape[0]
    c = cols.shape[1] // (kh * kw)
    ph, pw = pad
    out = xp.zeros((n, c, size[0] + 2 * ph, size[1] + 2 * pw), dtype=cols.dtype)
    parts = cols.reshape(n, c, kh * kw, oh, ow)
    for k, (hs, ws) in enumerate(_offset_slices(geom)):
        out[:, :, hs, ws] += parts[:, :, k]
    return out[:, :, ph:ph + size[0], pw:pw + size[1]]


class Unfold(Function):
    """Sliding local blocks (im2col): (N, C, H, W) -> (N, C*kH*kW, L); backward folds (col2im)."""

    @staticmethod
    def forward(ctx, x, geom, pad):
        ctx.meta = (geom, pad, x.shape[2:])
        return _unfold(ctx.xp, x, geom, pad)

    @staticmethod
    def backward(ctx, g):
        geom, pad, size = ctx.meta
        return _fold(ctx.xp, g, geom, pad, size), None, None


class Fold(Function):
    """Sums sliding local blocks into an image (col2im): (N, C*kH*kW, L) -> (N, C, H, W); backward unfolds."""

    @staticmethod
    def forward(ctx, cols, geom, pad, size):
        ctx.meta = (geom, pad)
        return _fold(ctx.xp, cols, geom, pad, size)

    @staticmethod
    def backward(ctx, g):
        geom, pad = ctx.meta
        return _unfold(ctx.xp, g, geom, pad), None, None, None
