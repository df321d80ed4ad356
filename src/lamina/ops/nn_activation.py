"""Activation functions of ``lamina.nn``: one op each, forward and hand-written backward side by side.

Also ``erf_array``: a vectorised error function accurate to a few ulp in float64 (NumPy has no erf).
ReLU, sigmoid, tanh and softmax live in ``ops/elementwise.py`` and ``ops/activation.py``.
"""

import math

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import quiet

# --------------------------------------------------------------------------- erf
#
# Chebyshev expansions computed with mpmath at 40 digits (Chebyshev interpolation at 19 nodes, truncation
# error below 2e-18 relative):
#   |x| < 2:       erf(x) = x P(x²),            P(t) = erf(√t)/√t on t in [0, 4]
#   2 <= |x| < 6:  erf(x) = 1 - exp(-x²) G(1/x) / x,   G(u) = erfc(1/u) exp(1/u²) / u on u in [1/6, 1/2]
#   |x| >= 6:      erf(x) = ±1 (erfc(6) = 2.2e-17 is below half an ulp of 1)
_ERF_SMALL = (
    0.7415552820424018, -0.30107107338659495, 0.06899483068983156, -0.013916271264722188, 0.0024207995224334636,
    -0.0003658639685848086, 4.862098443231905e-05, -5.749256558035685e-06, 6.113243578434765e-07,
    -5.8991015312958435e-08, 5.2070090920686485e-09, -4.2329758799655433e-10, 3.188113506649175e-11,
    -2.236155018832684e-12, 1.4673298479909718e-13, -9.04400198509749e-15, 5.254813646827272e-16,
    -2.8874102278205275e-17, 1.5012626237477286e-18)
_ERFC_LARGE = (
    0.5353732068438819, -0.023155412139469353, -0.0016392210759605804, 0.00022227996277607014,
    -8.78999954273534e-06, -8.810395716790812e-07, 1.8418972159404269e-07, -1.4087247661320117e-08,
    -2.163390848477303e-10, 2.1064317309527063e-10, -2.979314476337554e-11, 1.8153634618563186e-12,
    1.45245031919246e-13, -5.4759072299949625e-14, 7.611811789468682e-15, -4.896369279672883e-16,
    -4.141928657195783e-17, 1.7345796536865317e-17, -2.75885760294402e-18)


def _chebyshev(y, coefs):
    """Clenshaw's recurrence: sum_k c_k T_k(y) for y in [-1, 1], in y's dtype."""
    b1 = b2 = 0.0
    y2 = 2 * y
    for c in coefs[:0:-1]:
        b1, b2 = y2 * b1 - b2 + c, b1
    return y * b1 - b2 + coefs[0]


def _erf_small(x):
    return x * _chebyshev(x * x * 0.5 - 1.0, _ERF_SMALL)


def _erf_large(xp, x):
    a = xp.minimum(xp.abs(x), 6.0)
    erfc = xp.exp(-(a * a)) * _chebyshev(6.0 / a - 2.0, _ERFC_LARGE) / a
    return xp.copysign(1 - erfc, x)


try:  # SciPy's erf ufunc (present wherever scikit-learn is) is 2-3x faster than the expansion below
    from scipy.special import erf as _scipy_erf
except ImportError:
    _scipy_erf = None


def erf_array(xp, x):
    """The error function of a float array, in its dtype: erf(x) = 2/√π ∫₀ˣ exp(-t²) dt.

    NumPy arrays go through SciPy's ufunc when SciPy is installed; otherwise (and for other array modules) the
    Chebyshev expansions above, accurate to a few ulp in float64.
    """
    if _scipy_erf is not None and xp.__name__ == "numpy":
        return _scipy_erf(x)
    return erf_expansion(xp, x)


def erf_expansion(xp, x):
    """erf by the Chebyshev expansions (no SciPy needed)."""
    with quiet(xp):
        small = xp.abs(x) < 2
        if small.all():
            return _erf_small(x)
        out = xp.empty_like(x)
        out[small] = _erf_small(x[small])
        big = ~small
        out[big] = _erf_large(xp, x[big])
        return out


# erfc(z) = t exp(-z² + P(t)), t = 1 / (1 + |z|/2), for z >= 0 (Numerical Recipes' Chebyshev fit, relative error
# below 1.2e-7 everywhere: float32 accuracy, also deep in the tails); erfc(-z) = 2 - erfc(z).
_ERFC_FIT = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196,
             1.00002368, -1.26551223)


def erfc_float32(xp, z):
    """erfc of a float32 array to float32 accuracy in ~25 in-place passes (no float64 temporaries)."""
    with quiet(xp):  # |z|² overflowing to inf gives erfc = 0 (or 2), as it should
        a = xp.abs(z)
        t = a * 0.5
        t += 1
        xp.reciprocal(t, out=t)
        p = t * _ERFC_FIT[0]
        for c in _ERFC_FIT[1:-1]:
            p += c
            p *= t
        p += _ERFC_FIT[-1]
        a *= a
        p -= a
        xp.exp(p, out=p)
        p *= t
        xp.subtract(2, p, out=p, where=z < 0)
        return p


class Erf(Function):
    """y = erf(x);  dy/dx = 2/√π exp(-x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf_array(ctx.xp, x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (ctx.xp.exp(-(x * x)) * (2 / math.sqrt(math.pi)))


# --------------------------------------------------------------------------- piecewise-linear family

class Hardtanh(Function):
    """y = clamp(x, min_val, max_val);  dy/dx = 1 strictly inside (min_val, max_val) (ReLU6 is (0, 6))"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return ctx.xp.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x > ctx.lo) & (x < ctx.hi)), None, None


class LeakyReLU(Function):
    """y = x if x > 0 else slope x;  dy/dx = 1 or slope"""

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        return ctx.xp.where(x > 0, x, x * slope)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ctx.xp.where(x > 0, g, g * ctx.slope), None


class PReLU(Function):
    """y = x if x > 0 else w x, w per channel (dim 1) or shared;  dx = dy or w dy,  dw = sum of dy x where x <= 0"""

    @staticmethod
    def forward(ctx, x, w):
        wb = w.reshape((-1,) + (1,) * (x.ndim - 2)) if x.ndim >= 2 and w.size > 1 else w.reshape(())
        ctx.save_for_backward(x, wb)
        ctx.w_shape = w.shape
        return ctx.xp.where(x > 0, x, x * wb)

    @staticmethod
    def backward(ctx, g):
        x, wb = ctx.saved_tensors
        xp = ctx.xp
        pos = x > 0
        gx = gw = None
        if ctx.needs_input_grad[0]:
            gx = xp.where(pos, g, g * wb)
        if ctx.needs_input_grad[1]:
            gxw = xp.where(pos, 0, g * x)
            if len(ctx.w_shape) and ctx.w_shape[0] > 1:
                axes = (0,) + tuple(range(2, x.ndim))
                gw = gxw.sum(axis=axes).reshape(ctx.w_shape)
            else:
                gw = xp.asarray(gxw.sum()).reshape(ctx.w_shape)
        return gx, gw


class Threshold(Function):
    """y = x if x > threshold else value;  dy/dx = 1 where x > threshold"""

    @staticmethod
    def forward(ctx, x, threshold, value):
        mask = x > threshold
        ctx.save_for_backward(mask)
        return ctx.xp.where(mask, x, value).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None, None


class Hardshrink(Function):
    """y = x if |x| > lambd else 0;  dy/dx = 1 where |x| > lambd"""

    @staticmethod
    def forward(ctx, x, lambd):
        mask = (x > lambd) | (x < -lambd)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


class Softshrink(Function):
    """y = x - lambd if x > lambd, x + lambd if x < -lambd, else 0;  dy/dx = 1 where |x| > lambd"""

    @staticmethod
    def forward(ctx, x, lambd):
        mask = (x > lambd) | (x < -lambd)
        ctx.save_for_backward(mask)
        return ctx.xp.where(x > 0, x - lambd, x + lambd) * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask, None


class Hardsigmoid(Function):
    """y = clamp(x / 6 + 1/2, 0, 1);  dy/dx = 1/6 strictly inside (-3, 3)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.clip(x / 6 + 0.5, 0, 1)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ((x > -3) & (x < 3)) / 6


class Hardswish(Function):
    """y = x clamp(x + 3, 0, 6) / 6;  dy/dx = 0 below -3, x/3 + 1/2 on [-3, 3], 1 above"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * ctx.xp.clip(x + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        xp = ctx.xp
        d = xp.where(x < -3, 0, xp.where(x <= 3, x / 3 + 0.5, 1)).astype(x.dtype, copy=False)
        return g * d


# --------------------------------------------------------------------------- exponential family

class ELU(Function):
    """y = scale x if x > 0 else scale alpha (exp(input_scale x) - 1)   (ELU, SELU and CELU);
    dy/dx = scale or scale alpha input_scale exp(input_scale x)"""

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        xp = ctx.xp
        e = xp.expm1(x * input_scale)
        ctx.save_for_backward(x, e)
        ctx.coefs = (alpha, scale, input_scale)
        return xp.where(x > 0, x * scale, e * (alpha * scale))

    @staticmethod
    def backward(ctx, g):
        x, e = ctx.saved_tensors
        alpha, scale, input_scale = ctx.coefs
        return ctx.xp.where(x > 0, g * scale, g * ((e + 1) * (alpha * scale * input_scale))), None, None, None


def _softplus_array(xp, x):
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _sigmoid_array(xp, x):
    e = xp.exp(-xp.abs(x))
    r = 1 / (1 + e)
    return xp.where(x >= 0, r, e * r)


class Softplus(Function):
    """y = log(1 + exp(beta x)) / beta, or x where beta x > threshold;  dy/dx = sigmoid(beta x) or 1"""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        xp = ctx.xp
        bx = x * beta if beta != 1 else x
        ctx.save_for_backward(bx)
        ctx.threshold = threshold
        with quiet(xp):
            sp = _softplus_array(xp, bx)
        if beta != 1:
            sp /= beta
        return xp.where(bx > threshold, x, sp)

    @staticmethod
    def backward(ctx, g):
        (bx,) = ctx.saved_tensors
        xp = ctx.xp
        return xp.where(bx > ctx.threshold, g, g * _sigmoid_array(xp, bx)), None, None


class LogSigmoid(Function):
    """y = log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|));  dy/dx = sigmoid(-x)"""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        ctx.save_for_backward(x)
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _sigmoid_array(ctx.xp, -x)


class SiLU(Function):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)"""

    @staticmethod
    def forward(ctx, x):
        s = _sigmoid_array(ctx.xp, x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, g):
        x, s = ctx.saved_tensors
        return g * (s * (1 + x * (1 - s)))


class Mish(Function):
    """y = x tanh(softplus(x));  dy/dx = t + x sigmoid(x) (1 - t²), t = tanh(softplus(x))"""

    @staticmethod
    def forward(ctx, x):
        xp = ctx.xp
        t = xp.tanh(_softplus_array(xp, x))
        ctx.save_for_backward(x, t)
        return x * t

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        return g * (t + x * _sigmoid_array(ctx.xp, x) * (1 - t * t))


class GELU(Function):
    """exact: y = x Φ(x), Φ(x) = (1 + erf(x/√2)) / 2,  dy/dx = Φ(x) + x φ(x);
    tanh: y = x (1 + tanh(k (x + 0.044715 x³))) / 2, k = √(2/π)"""

    @staticmethod
    def forward(ctx, x, approximate):
        xp = ctx.xp
        ctx.approximate = approximate
        if approximate == "tanh":
            t = xp.tanh((x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi))
            ctx.save_for_backward(x, t)
            return 0.5 * x * (1 + t)
        if x.dtype == xp.float32:  # Φ(x) = erfc(-x/√2) / 2: float32-accurate in both tails
            cdf = erfc_float32(xp, x * -math.sqrt(0.5))
        else:
            cdf = erf_array(xp, x * math.sqrt(0.5))
            cdf += 1
        cdf *= 0.5
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, g):
        x, c = ctx.saved_tensors
        xp = ctx.xp
        if ctx.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            d = 0.5 * (1 + c) + 0.5 * x * (1 - c * c) * (k * (1 + 3 * 0.044715 * x * x))
        else:
            d = x * x
            d *= -0.5
            xp.exp(d, out=d)
            d *= x
            d *= 1 / math.sqrt(2 * math.pi)
            d += c
        d *= g
        return d, None


# --------------------------------------------------------------------------- others

class Softsign(Function):
    """y = x / (1 + |x|);  dy/dx = 1 / (1 + |x|)²"""

    @staticmethod
    def forward(ctx, x):
        d = 1 + ctx.xp.abs(x)
        ctx.save_for_backward(d)
        return x / d

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return g / (d * d)


class Tanhshrink(Function):
    """y = x - tanh(x);  dy/dx = tanh(x)²"""

    @staticmethod
    def forward(ctx, x):
        t = ctx.xp.tanh(x)
        ctx.save_for_backward(t)
        return x - t

    @staticmethod
    def backward(ctx, g):
        (t,) = ctx.saved_tensors
        return g * (t * t)


class Softmin(Function):
    """y = softmax(-x);  dx = -y (dy - sum(dy y))"""

    @staticmethod
    def forward(ctx, x, dim):
        xp = ctx.xp
        e = xp.min(x, axis=dim, keepdims=True) - x if x.size else -x
        xp.exp(e, out=e)
        e /= xp.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(e)
        ctx.dim = dim
        return e

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        gy -= y * ctx.xp.sum(gy, axis=ctx.dim, keepdims=True)
        return -gy, None


class GLU(Function):
    """y = a sigmoid(b), (a, b) the two halves of x along dim;  da = dy s,  db = dy a s (1 - s)"""

    @staticmethod
    def forward(ctx, x, dim):
        xp = ctx.xp
        h = x.shape[dim] // 2
        a = _half(x, dim, 0, h)
        b = _half(x, dim, h, 2 * h)
        s = _sigmoid_array(xp, b)
        ctx.save_for_backward(a, s)
        ctx.dim = dim
        return a * s

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved_tensors
        ga = g * s
        gb = ga * a * (1 - s)
        return ctx.xp.concatenate([ga, gb], axis=ctx.dim), None


def _half(x, dim, lo, hi):
    idx = [slice(None)] * x.ndim
    idx[dim] = slice(lo, hi)
    return x[tuple(idx)]
