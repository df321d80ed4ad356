"""Normalisation layers as single fused ops: batch, instance, layer and group normalisation, local response norm.

Every one normalises x over a set of axes S (n values per group) and applies a per-feature affine map:

    x̂ = (x - mean_S x) · invstd,  invstd = 1 / sqrt(var_S x + eps)   (biased variance)
    y = x̂ · w + b

and shares one closed-form backward over whole arrays (with ĝ = dy · w):

    dx = invstd · (ĝ - mean_S ĝ - x̂ · mean_S(ĝ · x̂)),   dw = Σ dy · x̂,   db = Σ dy

When w is constant on each group (batch and instance norm) the w factor moves outside, so dy is reduced only
twice per group. Statistics are two-pass (mean, then the centred second moment, which yields x̂ as a by-product)
in the input's dtype; the centred sums are BLAS/einsum dot products, so no squared temporary is made.
"""

import math

from lamina.autograd.function import ArrayFunction as Function

# --------------------------------------------------------------------------- layouts
# A batch-norm input (N, C, *S) is viewed without copying as either
#   "cf": (N, C, L)  contiguous channels-first (L = prod S), statistics over axes (0, 2), or
#   "cl": (M, C)     channels-last memory (M = N·prod S), e.g. a conv output, statistics over axis 0.
# The output keeps the input's memory layout, so a conv -> batchnorm -> relu chain never transposes.


def _bn_view(xp, x):
    """(view, layout, perm): x as a 2-D channels-last or 3-D channels-first view, copying only when neither fits."""
    if x.ndim == 2:
        return (x if x.flags.c_contiguous else xp.ascontiguousarray(x)), "cl", None
    n, c = x.shape[:2]
    if x.flags.c_contiguous:
        if x.size == n * c:  # no spatial extent: (N, C) rows
            return x.reshape(n, c), "cl", None
        return x.reshape(n, c, -1), "cf", None
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    xt = x.transpose(perm)
    if xt.flags.c_contiguous:
        return xt.reshape(-1, c), "cl", perm
    return xp.ascontiguousarray(x).reshape(n, c, -1), "cf", None


def _bn_grad_view(xp, g, layout, perm, view_shape):
    """The incoming gradient in the forward's view layout."""
    if layout == "cf":
        return g.reshape(view_shape)
    if perm is not None:
        g = g.transpose(perm)
    return g.reshape(view_shape)


def _bn_restore(y, layout, perm, shape):
    """A view result back in the input's shape (channels-last memory stays channels-last)."""
    if layout == "cf" or perm is None:
        return y.reshape(shape)
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return y.reshape(tuple(shape[i] for i in perm)).transpose(inv)


_BLOCK = 256  # rows per partial sum: a two-level sum keeps float32 error near sqrt(256) + sqrt(M/256) roundings


def _blocked(xp, operands, *arrays):
    """Per-column Σ over rows of the product of (M, C) arrays ("mc" or "mc,mc"), in blocks of rows; shape (C,)."""
    m = arrays[0].shape[0]
    k = m // _BLOCK
    out = None
    if k:
        spec = operands.replace("mc", "kbc") + "->kc"
        out = xp.einsum(spec, *[a[:k * _BLOCK].reshape(k, _BLOCK, -1) for a in arrays]).sum(axis=0)
    if m > k * _BLOCK or out is None:
        tail = xp.einsum(operands + "->c", *[a[k * _BLOCK:] for a in arrays])
        out = tail if out is None else out + tail
    return out


def _csum(xp, a, layout):
    """Per-channel sum of a view, shape (C,)."""
    return _blocked(xp, "mc", a) if layout == "cl" else a.sum(axis=(0, 2))


def _cdot(xp, a, b, layout):
    """Per-channel Σ a·b of two views without materialising the product, shape (C,)."""
    return _blocked(xp, "mc,mc", a, b) if layout == "cl" else xp.einsum("ncl,ncl->c", a, b)


def _wide_rows(m, c):
    """r dividing m with r·c near 1024: a (m, c) channels-last view is used as (m/r, r·c) for element-wise work,
    so NumPy's inner loop runs over r·c values instead of c (several times faster for small c)."""
    for r in range(min(m, max(1, 1024 // max(c, 1))), 1, -1):
        if m % r == 0:
            return r
    return 1


def _wide(a, layout, r):
    """A view in the shape element-wise per-channel work uses (widened channels-last rows)."""
    return a.reshape(a.shape[0] // r, r * a.shape[1]) if layout == "cl" and r > 1 else a


def _bcast(xp, v, layout, r=1):
    """A (C,) vector shaped to broadcast against ``_wide`` of a view."""
    if layout == "cf":
        return v[:, None]
    return xp.tile(v, r) if r > 1 else v


# One-pass variance E[x²] - mean² is used while (mean² + var) / var, the factor by which its rounding error grows,
# stays below this bound (float32: about 16 · 3e-7, inside PyTorch parity at 1e-5); beyond it, two passes.
_ONE_PASS_RATIO = {2: 4.0, 4: 16.0, 8: 1e6}  # by itemsize


class BatchNorm(Function):
    """Batch normalisation of x (N, C, *) with per-channel statistics over N and the spatial dims.

    training=True: batch statistics (biased variance in x̂), and the running buffers, when given, are updated in
    place with ``momentum`` using the unbiased variance, as PyTorch does. training=False: the running statistics
    normalise. Either way the output is the per-channel affine map y = x · scale + shift (two passes over x),
    and backward is dx = k·(dy + a·x + c) per channel (k = w·invstd; a, c from Σdy and Σdy·x̂; eval: a = c = 0).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training=True, momentum=0.1, eps=1e-5):
        xp = ctx.xp
        shape = x.shape
        v, layout, perm = _bn_view(xp, x)
        c = shape[1]
        n = v.size // c if c else 0
        dt = x.dtype
        if training:
            cnt = dt.type(n)
            mean = _csum(xp, v, layout) / cnt
            msq = mean * mean
            var = _cdot(xp, v, v, layout) / cnt - msq
            if not bool(xp.all(msq + var <= _ONE_PASS_RATIO[dt.itemsize] * var)):
                v = v - _bcast(xp, mean, layout)  # cancellation: centre first (x̂ is then measured from 0)
                var = _cdot(xp, v, v, layout) / cnt
                centre = xp.zeros_like(mean)
            else:
                centre = mean
            if running_mean is not None and momentum:
                m = float(momentum)
                running_mean *= 1 - m
                running_mean += m * mean
            if running_var is not None and momentum:
                m = float(momentum)
                running_var *= 1 - m
                running_var += (m * n / max(n - 1, 1)) * var
        else:
            centre = running_mean.astype(dt)  # a copy: the buffer may change before backward runs
            var = running_var.astype(dt, copy=False)
        invstd = 1 / xp.sqrt(var + dt.type(eps))
        scale = invstd if weight is None else weight * invstd
        shift = -centre * scale
        if bias is not None:
            shift += bias
        r = _wide_rows(*v.shape) if layout == "cl" else 1
        y = _wide(v, layout, r) * _bcast(xp, scale, layout, r)
        y += _bcast(xp, shift, layout, r)
        y = y.reshape(v.shape)
        need = ctx.needs_input_grad
        if need:
            keep_x = need[0] and training or (need[1] and weight is not None)
            ctx.save_for_backward(v if keep_x else None, centre, invstd, weight)
        ctx.meta = (training, layout, perm, shape, v.shape, n, r)
        return _bn_restore(y, layout, perm, shape)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        training, layout, perm, shape, vshape, n, r = ctx.meta
        v, centre, invstd, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        dy = _bn_grad_view(xp, g, layout, perm, vshape)
        gx = gw = gb = None
        k = invstd if weight is None else weight * invstd
        sdy = _csum(xp, dy, layout) if (training and need[0]) or need[1] or need[2] else None
        # Σ dy·x̂ = (Σ dy·x - centre·Σ dy)·invstd
        sdyx = (_cdot(xp, dy, v, layout) - centre * sdy) * invstd if (training and need[0]) or need[1] else None
        if need[0]:
            kb = _bcast(xp, k, layout, r)
            if training:
                # dx = k·(dy - Σdy/n - x̂·Σ(dy·x̂)/n) = k·(dy + a·x + c),  x̂ = (x - centre)·invstd;
                # one new array and no temporaries (a fresh large array costs page faults, not just a pass)
                cnt = invstd.dtype.type(n)
                a = -invstd * sdyx / cnt
                gx = _wide(v, layout, r) * _bcast(xp, a, layout, r)
                gx += _wide(dy, layout, r)
                gx += _bcast(xp, -sdy / cnt - a * centre, layout, r)
                gx *= kb
            else:
                gx = _wide(dy, layout, r) * kb
            gx = _bn_restore(gx.reshape(vshape), layout, perm, shape)
        if need[1]:
            gw = sdyx
        if need[2]:
            gb = sdy
        return gx, gw, gb, None, None


def _row_stats(xp, x2, eps):
    """Per-row statistics of a 2-D (R, n) array: x̂ (new array), invstd (R,), mean (R,), biased var (R,)."""
    dt = x2.dtype
    n = dt.type(x2.shape[1])
    mean = x2.sum(axis=1) / n
    xhat = x2 - mean[:, None]
    var = xp.einsum("rn,rn->r", xhat, xhat) / n
    invstd = 1 / xp.sqrt(var + dt.type(eps))
    xhat *= invstd[:, None]
    return xhat, invstd, mean, var


def _row_dx(xp, gh, xhat, invstd):
    """dx of a per-row normalisation given ĝ (R, n): invstd · (ĝ - mean ĝ - x̂ · mean(ĝ · x̂)); overwrites nothing."""
    n = xhat.dtype.type(xhat.shape[1])
    a = xp.einsum("rn,rn->r", gh, xhat) / n
    m = gh.sum(axis=1) / n
    gx = xhat * (-a)[:, None]
    gx += gh
    gx -= m[:, None]
    gx *= invstd[:, None]
    return gx


class LayerNorm(Function):
    """Layer normalisation over the trailing ``k`` dims of x; weight and bias have those dims' shape.

    x is viewed as (R, D), one row per normalised group: x̂ = (x - mean_row)·invstd_row, y = x̂·w + b.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k=1, eps=1e-5):
        xp = ctx.xp
        d = math.prod(x.shape[x.ndim - k:])
        x2 = x.reshape(-1, d) if d else x.reshape(0, 0)
        xhat, invstd, _, _ = _row_stats(xp, x2, eps)
        if weight is not None:
            y = xhat * weight.reshape(d)
            if bias is not None:
                y += bias.reshape(d)
        elif bias is not None:
            y = xhat + bias.reshape(d)
        else:
            y = xhat.copy()
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.shapes = (x.shape, d)
        ctx.k = k
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        xhat, invstd, weight = ctx.saved_tensors
        shape, d = ctx.shapes
        need = ctx.needs_input_grad
        dy = g.reshape(xhat.shape)
        gx = gw = gb = None
        if need[0]:
            gh = dy if weight is None else dy * weight.reshape(d)
            gx = _row_dx(xp, gh, xhat, invstd).reshape(shape)
        if need[1]:
            gw = xp.einsum("rn,rn->n", dy, xhat).reshape(weight.shape)
        if need[2]:
            gb = dy.sum(axis=0).reshape(shape[len(shape) - ctx.k:])
        return gx, gw, gb


class GroupNorm(Function):
    """Group normalisation of x (N, C, *): channels split into G groups, statistics per (sample, group).

    x is viewed as (N, G, C/G, L); statistics over the last two axes, weight and bias per channel.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, num_groups=1, eps=1e-5):
        xp = ctx.xp
        n, c = x.shape[:2]
        g = num_groups
        v = x.reshape(n, g, c // g, -1)
        xhat, invstd, _, _ = _row_stats(xp, v.reshape(n * g, -1), eps)
        xhat = xhat.reshape(v.shape)
        if weight is not None:
            y = xhat * weight.reshape(g, c // g, 1)
            if bias is not None:
                y += bias.reshape(g, c // g, 1)
        elif bias is not None:
            y = xhat + bias.reshape(g, c // g, 1)
        else:
            y = xhat.copy()
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.shape = x.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        xhat, invstd, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        n, grp, cg, ll = xhat.shape
        dy = g.reshape(xhat.shape)
        gx = gw = gb = None
        if need[0]:
            gh = dy if weight is None else dy * weight.reshape(grp, cg, 1)
            rows = (n * grp, cg * ll)
            gx = _row_dx(xp, gh.reshape(rows), xhat.reshape(rows), invstd).reshape(ctx.shape)
        if need[1]:
            gw = xp.einsum("ngcl,ngcl->gc", dy, xhat).reshape(-1)
        if need[2]:
            gb = dy.sum(axis=(0, 3)).reshape(-1)
        return gx, gw, gb


def _window_sum(xp, a, lo, hi):
    """s[:, c] = Σ a[:, c - lo .. c + hi] along axis 1 (zero outside), from one cumulative sum."""
    c = a.shape[1]
    cs = xp.zeros((a.shape[0], c + 1) + a.shape[2:], dtype=a.dtype)
    xp.cumsum(a, axis=1, out=cs[:, 1:])
    top = xp.minimum(xp.arange(c) + hi + 1, c)
    bot = xp.maximum(xp.arange(c) - lo, 0)
    return cs[:, top] - cs[:, bot]


class LocalResponseNorm(Function):
    """y_c = x_c · d_c^(-β), d_c = k + (α/size) Σ_{c' in window(c)} x_c'², window [c - size//2, c + (size-1)//2].

    dx_c = dy_c · d_c^(-β) - (2αβ/size) · x_c · Σ_{c': c in window(c')} dy_c' · x_c' · d_c'^(-β-1).
    """

    @staticmethod
    def forward(ctx, x, size, alpha=1e-4, beta=0.75, k=1.0):
        xp = ctx.xp
        dt = x.dtype
        d = _window_sum(xp, x * x, size // 2, (size - 1) // 2)
        d *= dt.type(alpha / size)
        d += dt.type(k)
        p = d ** dt.type(-beta)
        ctx.save_for_backward(x, d, p)
        ctx.args = (size, alpha, beta)
        return x * p

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x, d, p = ctx.saved_tensors
        size, alpha, beta = ctx.args
        dt = x.dtype
        t = g * x
        t *= p
        t /= d
        s = _window_sum(xp, t, (size - 1) // 2, size // 2)
        gx = g * p
        s *= x
        s *= dt.type(2 * alpha * beta / size)
        gx -= s
        return gx, None
