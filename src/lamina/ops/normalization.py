"""Normalisation layers as single fused ops: batch, instance, layer and group normalisation, local response norm.

Every one normalises x over a set of axes S (n values per group) and applies a per-feature affine map:

    x̂ = (x - mean_S x) · invstd,  invstd = 1 / sqrt(var_S x + eps)   (biased variance)
    y = x̂ · w + b

and shares one closed-form backward over whole arrays (with ĝ = dy · w):

    dx = invstd · (ĝ - mean_S ĝ - x̂ · mean_S(ĝ · x̂)),   dw = Σ dy · x̂,   db = Σ dy

When w is constant on each group (batch and instance norm) the w factor moves outside, so dy is reduced only
twice per group. How the NumPy work is kept cheap (each full-array pass costs about as much as the arithmetic):

- sums over rows or columns are BLAS products with ones vectors or with g, g·x (gemv/gemm), and sums of squares
  are dot products (vecdot/einsum): no squared temporary, no np.sum over a strided axis;
- statistics are one pass (mean and E[x²]) while E[x²]/var stays small, else x is centred first, so float32
  keeps PyTorch's accuracy;
- a full-size array is created by one pass (a product, or an (R, k) @ (k, D) BLAS product of per-row and
  per-column vectors, which writes at memory speed) and then updated in place; per-row values are not
  broadcast over short rows where avoidable (NumPy is slow there): with SciPy installed, per-row constants are
  added by one in-place BLAS gemm (beta = 1); channels-last element-wise work runs on long rows;
- backward keeps only x (the input itself, or its centred copy) and per-group statistics, and writes dx into a
  new array in the input's memory layout that owns its memory, so the engine stores it as x.grad uncopied.
"""

import math

from lamina.autograd.function import ArrayFunction as Function

try:  # SciPy's BLAS adds a product into an existing array in one pass (NumPy's matmul has no beta = 1)
    from scipy.linalg import blas as _scipy_blas
except ImportError:  # pragma: no cover - SciPy is an optional accelerator here
    _scipy_blas = None


def _blas_gemm(xp, out):
    """SciPy's in-place gemm for ``out`` (C-contiguous float32/float64 NumPy array), or None."""
    if _scipy_blas is None or xp.__name__ != "numpy" or not out.size or not out.flags.c_contiguous:
        return None
    return {"f": _scipy_blas.sgemm, "d": _scipy_blas.dgemm}.get(out.dtype.char)


def _add_product(xp, out, lhs, rhs):
    """out += lhsᵀ @ rhs in place for a 2-D ``out`` (R, n), lhs (k, R), rhs (k, n) (k small: a sum of outer
    products of per-row and per-column vectors). With SciPy: one BLAS gemm with beta = 1, a single pass over
    ``out`` at memory speed; otherwise the product in a temporary, then an add."""
    gemm = _blas_gemm(xp, out)
    if gemm is None:
        out += xp.matmul(lhs.T, rhs)
        return
    r = gemm(1.0, rhs.T, lhs, beta=1.0, c=out.T, overwrite_c=1)  # outᵀ (n, R) is Fortran-ordered: updated in place
    if r.ctypes.data != out.ctypes.data:  # pragma: no cover - f2py copied (it does not for these arguments)
        out[...] = r.T


def _add_rows(xp, out, v):
    """out += v[:, None] in place for a 2-D ``out`` (R, n): a BLAS rank-1 update where SciPy is there (NumPy's
    broadcast over short rows costs several times more), else the broadcast add."""
    gemm = _blas_gemm(xp, out)
    if gemm is None:
        out += v[:, None]
        return
    r = gemm(1.0, xp.ones((out.shape[1], 1), out.dtype), v.reshape(1, -1), beta=1.0, c=out.T, overwrite_c=1)
    if r.ctypes.data != out.ctypes.data:  # pragma: no cover
        out[...] = r.T

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


def _bn_alloc(xp, like, layout, perm, shape, vshape, dt):
    """(out, view): a new array of ``shape`` in the input's memory layout that owns its memory (so the autograd
    engine keeps a gradient as it is instead of copying it) and its alias in the op's view shape.

    ``like`` is an array of ``shape`` in the wanted layout (the input), or None."""
    if perm is None:
        out = xp.empty(shape, dt)
        return out, out.reshape(vshape)
    if like is not None:
        out = xp.empty_like(like)  # order="K": the same strides, in fresh memory
        t = out.transpose(perm)
        if t.flags.c_contiguous:
            return out, t.reshape(vshape)
    view = xp.empty(vshape, dt)
    return _bn_restore(view, layout, perm, shape), view


_BLOCK = 256  # rows per partial sum: a two-level sum keeps float32 error near sqrt(256) + sqrt(M/256) roundings


def _csum(xp, v, layout):
    """Per-channel sum of a view, shape (C,), as BLAS products with ones vectors.

    cf (N, C, L): a sum per (n, c) row, then over N. cl (M, C): long columns are summed in two levels, first
    across the M/256 blocks of 256 rows (one product over the (M/256, 256·C) view), then over the 256 rows."""
    dt = v.dtype
    if layout == "cf":
        n, c, ln = v.shape
        return (v.reshape(n * c, ln) @ xp.ones(ln, dt)).reshape(n, c).sum(axis=0)
    m, c = v.shape
    k = m // _BLOCK
    if k < 2:
        return xp.ones(m, dt) @ v
    kb = k * _BLOCK
    out = (xp.ones(k, dt) @ v[:kb].reshape(k, _BLOCK * c)).reshape(_BLOCK, c).sum(axis=0)
    if m > kb:
        out += xp.ones(m - kb, dt) @ v[kb:]
    return out


def _cdot(xp, a, b, layout):
    """Per-channel Σ a·b of two views without materialising the product, shape (C,); blocked like ``_csum``."""
    if layout == "cf":
        n, c, ln = a.shape
        return _rowdot(xp, a.reshape(n * c, ln), b.reshape(n * c, ln)).reshape(n, c).sum(axis=0)
    m, c = a.shape
    k = m // _BLOCK
    if k < 2:
        return xp.einsum("mc,mc->c", a, b)
    kb = k * _BLOCK
    out = xp.einsum("kj,kj->j", a[:kb].reshape(k, -1), b[:kb].reshape(k, -1)).reshape(_BLOCK, c).sum(axis=0)
    if m > kb:
        out += xp.einsum("mc,mc->c", a[kb:], b[kb:])
    return out


def _wide_rows(m, c):
    """r dividing m with r·c up to 8192: a (m, c) channels-last view is used as (m/r, r·c) for element-wise work,
    so NumPy's inner loop runs over r·c values instead of c (several times faster for small c)."""
    top = min(m, max(1, 8192 // max(c, 1)))
    r = math.gcd(m, 1 << (top.bit_length() - 1)) if top else 1  # M = N·H·W usually has a large power of two
    if r * c >= 1024:
        return r
    for q in range(top, max(r, top - 256), -1):  # otherwise the largest divisor near the top, in a short search
        if m % q == 0:
            return q
    return r


def _wide(a, layout, r):
    """A view in the shape element-wise per-channel work uses (widened channels-last rows)."""
    return a.reshape(a.shape[0] // r, r * a.shape[1]) if layout == "cl" and r > 1 else a


def _bcast(xp, v, layout, r=1):
    """A (C,) vector shaped to broadcast against ``_wide`` of a view."""
    if layout == "cf":
        return v[:, None]
    return _tiled(xp, v, r)


def _add_channels(xp, a, v, layout, r):
    """a += v per channel, in place, for ``a`` in ``_wide`` form: a BLAS rank-1 update of the (N·C, L) rows in the
    channels-first layout (see ``_add_rows``), a broadcast add of the tiled vector along the long channels-last
    rows."""
    if layout == "cf":
        n, c, ln = a.shape
        _add_rows(xp, a.reshape(n * c, ln), _tiled(xp, v, n))
    else:
        a += _tiled(xp, v, r)


# One-pass variance E[x²] - mean² is used while (mean² + var) / var, the factor by which its rounding error grows,
# stays below this bound (float32: about 16 · 3e-7, inside PyTorch parity at 1e-5); beyond it, two passes.
_ONE_PASS_RATIO = {2: 4.0, 4: 16.0, 8: 1e6}  # by itemsize


class BatchNorm(Function):
    """Batch normalisation of x (N, C, *) with per-channel statistics over N and the spatial dims.

    training=True: batch statistics (biased variance in x̂), and the running buffers, when given, are updated in
    place with ``momentum`` using the unbiased variance, as PyTorch does. training=False: the running statistics
    normalise. Either way the output is the per-channel affine map y = x · scale + shift (two passes over x),
    and backward is dx = k·(dy + a·x + c) per channel (k = w·invstd; a, c from Σdy and Σdy·x̂; eval: a = c = 0).
    Outputs keep the input's memory layout and own their memory.
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
                r = _wide_rows(*v.shape) if layout == "cl" else 1
                v = _wide(v, layout, r) - _bcast(xp, mean, layout, r)  # cancellation: centre first (x̂ from 0)
                v = v.reshape(-1, c) if layout == "cl" else v
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
        y, yv = _bn_alloc(xp, x, layout, perm, shape, v.shape, dt)
        yw = _wide(yv, layout, r)
        xp.multiply(_wide(v, layout, r), _bcast(xp, scale, layout, r), out=yw)
        _add_channels(xp, yw, shift, layout, r)
        need = ctx.needs_input_grad
        if need:
            keep_x = need[0] and training or (need[1] and weight is not None)
            ctx.save_for_backward(v if keep_x else None, centre, invstd, weight)
        ctx.meta = (training, layout, perm, shape, v.shape, n, r)
        return y

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
            like = _bn_restore(v, layout, perm, shape) if v is not None and perm is not None else None
            gx, gv = _bn_alloc(xp, like, layout, perm, shape, vshape, g.dtype)
            gw_ = _wide(gv, layout, r)
            kb = _bcast(xp, k, layout, r)
            if training:
                # dx = k·(dy - Σdy/n - x̂·Σ(dy·x̂)/n) = k·(dy + a·x + c),  x̂ = (x - centre)·invstd;
                # written into the gradient array itself: no temporaries
                cnt = invstd.dtype.type(n)
                a = -invstd * sdyx / cnt
                xp.multiply(_wide(v, layout, r), _bcast(xp, a, layout, r), out=gw_)
                gw_ += _wide(dy, layout, r)
                _add_channels(xp, gw_, -sdy / cnt - a * centre, layout, r)
                gw_ *= kb
            else:
                xp.multiply(_wide(dy, layout, r), kb, out=gw_)
        if need[1]:
            gw = sdyx
        if need[2]:
            gb = sdy
        return gx, gw, gb, None, None


def _rowdot(xp, a, b):
    """Per-row Σ a·b of two (R, n) arrays without materialising the product (NumPy's vecdot, else einsum)."""
    vecdot = getattr(xp, "vecdot", None)
    return vecdot(a, b) if vecdot is not None else xp.einsum("rn,rn->r", a, b)


def _tiled(xp, v, r):
    """A 1-D vector repeated r times end to end (the per-column operand of a widened (R/r, r·n) view)."""
    return v if r == 1 else v.reshape(1, -1).repeat(r, axis=0).reshape(-1)


def _outer2(xp, u, p, v, q, out=None):
    """u ⊗ p + v ⊗ q for row vectors u, v (R,) and column vectors p, q (n,), as one (R, 2) @ (2, n) BLAS product.

    This writes a full array at memory speed: far cheaper than a NumPy broadcast over short rows, and (unlike a
    rank-1 product) BLAS runs it as a real matrix multiply."""
    lhs = xp.empty((2, u.shape[0]), u.dtype)
    lhs[0] = u
    lhs[1] = v
    rhs = xp.empty((2, p.shape[0]), p.dtype)
    rhs[0] = p
    rhs[1] = q
    return xp.matmul(lhs.T, rhs, out=out)


# Row statistics (layer and group norm) take the one-pass variance E[x²] - mean² while E[x²] / var = (mean² + var)
# / var stays below this bound (float32: the variance keeps ~6 correct digits); beyond it, x is centred first.
_ROW_ONE_PASS_RATIO = {2: 2.0, 4: 4.0, 8: 1e6}  # by itemsize


def _row_moments(xp, x2, inv_n):
    """(x, centre, var) of a 2-D (R, n) array: per-row mean and biased variance from BLAS sums.

    When the mean dwarfs the spread, x comes back centred (a new array) with centre 0, so that every later
    formula in x - centre stays exact."""
    dt = x2.dtype
    mean = x2 @ xp.ones(x2.shape[1], dt)
    mean *= inv_n
    sq = _rowdot(xp, x2, x2)
    sq *= inv_n
    var = sq - mean * mean
    if bool((sq <= _ROW_ONE_PASS_RATIO[dt.itemsize] * var).all()):
        return x2, mean, var
    x2 = x2 - mean[:, None]
    return x2, xp.zeros_like(mean), _rowdot(xp, x2, x2) * inv_n


def _rstd(xp, var, eps):
    """1 / sqrt(var + eps), in place."""
    var += var.dtype.type(eps)
    rstd = xp.sqrt(var, out=var)
    return xp.divide(1, rstd, out=rstd)


class LayerNorm(Function):
    """Layer normalisation over the trailing ``k`` dims of x; weight and bias have those dims' shape.

    x is viewed as (R, D), one row per normalised group: x̂ = (x - mean_row)·rstd_row, y = x̂·w + b. Row
    statistics are BLAS sums (one pass for mean and E[x²] unless the mean dwarfs the spread). Each full-size
    array is first written by an (R, 3) @ (3, D) BLAS product of per-row and per-column vectors and then updated
    in place with full arrays, never by broadcasting a per-row value over short rows (slow in NumPy):

        y  = (b - mean·rstd·w) + x ⊙ (rstd ⊗ w)
        dx = rstd·(ĝ - Σĝ/D - x̂·Σ(ĝ·x̂)/D) = g ⊙ (rstd ⊗ w) + x ⊙ (A ⊗ 1) + C     (ĝ = g·w; A, C per row)

    Backward needs only x, mean and rstd; its sums over rows and columns are BLAS products with g and g·x.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, k=1, eps=1e-5):
        xp = ctx.xp
        shape = x.shape
        dt = x.dtype
        d = shape[-1] if k == 1 else math.prod(shape[len(shape) - k:])
        rows = x.size // d if d else 0
        x2, centre, var = _row_moments(xp, x.reshape(rows, d), dt.type(1 / d) if d else dt.type(0))
        rstd = _rstd(xp, var, eps)
        lhs = xp.empty((3, rows), dt)  # row vectors: -mean·rstd, 1, rstd
        xp.multiply(centre, rstd, out=lhs[0])
        lhs[0] *= -1
        lhs[1] = 1
        lhs[2] = rstd
        rhs = xp.zeros((2, 3, d), dt)  # column vectors of y's offset and of the scale rstd ⊗ w
        rhs[0, 0] = rhs[1, 2] = 1 if weight is None else weight.reshape(d)
        if bias is not None:
            rhs[0, 1] = bias.reshape(d)
        y = xp.empty(shape, dt)
        y2 = y.reshape(rows, d)
        xp.matmul(lhs.T, rhs[1], out=y2)  # rstd ⊗ w
        y2 *= x2
        _add_product(xp, y2, lhs, rhs[0])  # + b - mean·rstd·w
        if ctx.needs_input_grad:
            ctx.save_for_backward(x2, centre, rstd, weight)
            ctx.meta = (shape, k)
        return y

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        x2, centre, rstd, weight = ctx.saved_tensors
        shape, k = ctx.meta
        need = ctx.needs_input_grad
        rows, d = x2.shape
        dt = x2.dtype
        g2 = g.reshape(rows, d)
        gx = gw = gb = None
        u = g2 * x2 if need[0] or need[1] else None
        if need[1] or need[2]:
            # column sums in one product over g: Σ_r g (bias) and Σ_r rstd·centre·g (weight: Σ_r g·x̂ = Σ_r rstd·g·x
            # - Σ_r rstd·centre·g)
            lhs = xp.empty((2, rows), dt)
            lhs[0] = 1
            xp.multiply(rstd, centre, out=lhs[1])
            cols = lhs @ g2
            if need[1]:
                gw = rstd @ u
                gw -= cols[1]
                gw = gw.reshape(weight.shape)
            if need[2]:
                gb = cols[0].reshape(shape[len(shape) - k:])
        if need[0]:
            w = xp.ones(d, dt) if weight is None else weight.reshape(d)
            inv_d = dt.type(1 / d) if d else dt.type(0)
            m = g2 @ w  # Σ ĝ per row
            a = u @ w  # Σ ĝ·x̂ per row = (Σ ĝ·x - centre·Σ ĝ)·rstd
            a -= centre * m
            a *= rstd
            lhs = xp.empty((2, rows), dt)  # row vectors: rstd, A = -rstd²·Σ(ĝ·x̂)/D
            lhs[0] = rstd
            xp.multiply(a, rstd, out=lhs[1])
            lhs[1] *= rstd
            lhs[1] *= -inv_d
            big_c = lhs[1] * centre  # C = -A·centre - rstd·Σĝ/D
            m *= rstd
            m *= inv_d
            big_c += m
            big_c *= -1
            rhs = xp.zeros((2, 2, d), dt)
            rhs[0, 0] = w
            rhs[1, 1] = 1
            gx = xp.empty(shape, dt)
            dx = gx.reshape(rows, d)
            xp.matmul(lhs.T, rhs[0], out=dx)  # rstd ⊗ w
            dx *= g2
            xp.matmul(lhs.T, rhs[1], out=u)  # A ⊗ 1
            u *= x2
            dx += u
            _add_rows(xp, dx, big_c)
        return gx, gw, gb


class GroupNorm(Function):
    """Group normalisation of x (N, C, *): channels split into G groups, statistics per (sample, group).

    x is viewed as (N·G, C/G·L) rows for the statistics (BLAS sums, as in layer norm) and as (N·C, L) rows for
    the output y = x·scale + shift, scale and shift per (sample, channel). Backward reduces dy and dy·x per
    (sample, channel) row and writes dx = K·(dy + x·A/K + C/K) in place (K = rstd·w per row; K·dy + x·A + C with
    one temporary when some w is 0). Per-row values are kept as (N, G, C/G) arrays, broadcast, not repeated.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, num_groups=1, eps=1e-5):
        xp = ctx.xp
        shape = x.shape
        dt = x.dtype
        n, c = shape[:2]
        g = num_groups
        cg = c // g
        ln = math.prod(shape[2:])
        if x.size == 0:  # nothing to normalise; backward gives zeros
            ctx.meta = (shape, g)
            return xp.empty(shape, dt)
        rows, centre, var = _row_moments(xp, x.reshape(n * g, cg * ln), dt.type(1 / (cg * ln)))
        rstd = _rstd(xp, var, eps).reshape(n, g, 1)
        scale = rstd.repeat(cg, axis=2) if weight is None else rstd * weight.reshape(g, cg)
        shift = centre.reshape(n, g, 1) * scale
        shift *= -1
        if bias is not None:
            shift += bias.reshape(g, cg)
        x2 = rows.reshape(n * c, ln)
        y = xp.empty(shape, dt)
        y2 = y.reshape(n * c, ln)
        if ln <= 512:  # short rows: write scale ⊗ 1 by BLAS, then one full in-place product (cheaper broadcast)
            sc = scale.reshape(n * c)
            _outer2(xp, sc, xp.ones(ln, dt), sc, xp.zeros(ln, dt), out=y2)
            y2 *= x2
        else:
            xp.multiply(x2, scale.reshape(n * c, 1), out=y2)
        _add_rows(xp, y2, shift.reshape(n * c))
        if ctx.needs_input_grad:
            ctx.save_for_backward(x2, centre.reshape(n, g, 1), rstd, weight)
            ctx.meta = (shape, g)
        return y

    @staticmethod
    def backward(ctx, grad):
        xp = ctx.xp
        need = ctx.needs_input_grad
        if grad.size == 0:
            c = ctx.meta[0][1]
            return (xp.zeros(grad.shape, grad.dtype) if need[0] else None,
                    xp.zeros(c, grad.dtype) if need[1] else None, xp.zeros(c, grad.dtype) if need[2] else None)
        x2, ce, rs, weight = ctx.saved_tensors
        nc, ln = x2.shape
        n, g = rs.shape[:2]
        cg = nc // (n * g)
        dt = x2.dtype
        d2 = grad.reshape(nc, ln)
        s_dy = (d2 @ xp.ones(ln, dt)).reshape(n, g, cg)
        p = _rowdot(xp, d2, x2).reshape(n, g, cg)  # Σ_L dy·x̂ = (Σ dy·x - centre·Σ dy)·rstd per (sample, channel)
        p -= ce * s_dy
        p *= rs
        gx = gw = gb = None
        if need[0]:
            inv = dt.type(1 / (cg * ln))
            wg = None if weight is None else weight.reshape(g, cg)
            m = (s_dy if wg is None else s_dy * wg).sum(axis=2, keepdims=True)  # D·mean ĝ per group
            a = (p if wg is None else p * wg).sum(axis=2, keepdims=True)  # D·mean ĝ·x̂
            # dx = rstd·(w·dy - m - x̂·a) = K·dy + A·x + C per (sample, channel), x̂ = (x - centre)·rstd
            k = rs.repeat(cg, axis=2) if wg is None else rs * wg
            a *= rs * inv
            big_a = a * rs  # A = -rstd²·a (sign applied below)
            big_c = ce * big_a
            m *= rs * inv
            big_c -= m
            gx = xp.empty(ctx.meta[0], dt)
            gv = gx.reshape(nc, ln)
            ones, zeros = xp.ones(ln, dt), xp.zeros(ln, dt)
            if bool((k != 0).all()):
                big_a = (big_a / k).reshape(nc)
                big_a *= -1
                _outer2(xp, big_a, ones, big_a, zeros, out=gv)
                gv *= x2
                gv += d2
                _add_rows(xp, gv, (big_c / k).reshape(nc))
                gv *= k.reshape(nc, 1)
            else:
                _outer2(xp, k.reshape(nc), ones, k.reshape(nc), zeros, out=gv)
                gv *= d2
                big_a = xp.broadcast_to(-big_a, (n, g, cg)).reshape(nc)
                t = _outer2(xp, big_a, ones, big_a, zeros)
                t *= x2
                gv += t
                _add_rows(xp, gv, xp.broadcast_to(big_c, (n, g, cg)).reshape(nc))
        if need[1]:
            gw = p.sum(axis=0).reshape(-1)
        if need[2]:
            gb = s_dy.sum(axis=0).reshape(-1)
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
