"""Element-wise ops: arithmetic, powers, exponentials, trigonometry, clamping, selection.

Binary ops follow NumPy broadcasting and PyTorch's type promotion (see
``coerce``); their backward reduces each gradient back to its input's shape
with the shared ``unbroadcast`` helper.
"""

import math

from lamina.autograd.function import ArrayFunction as Function
from lamina.backend.dtypes import get_default_dtype
from lamina.ops._util import quiet, result_dtype, unbroadcast

# --------------------------------------------------------------------------- type promotion


def _tensor_cls():
    return _tensor_cls_cache[0] or _load_tensor_cls()


_tensor_cls_cache = [None]


def _load_tensor_cls():
    from lamina.tensor import Tensor  # lamina.tensor imports this module: resolved on first use, then cached

    _tensor_cls_cache[0] = Tensor
    return Tensor


def coerce(a, b, op):
    """Bring two operands (Tensors or Python/NumPy scalars) to the dtypes PyTorch would compute in."""
    Tensor = _tensor_cls_cache[0] or _load_tensor_cls()
    ta, tb = isinstance(a, Tensor), isinstance(b, Tensor)
    if ta and tb:
        da, db = a._data.dtype, b._data.dtype
        if da != db:
            target = result_dtype(a._data, b._data)
            if da != target:
                a = a.to(target)
            if db != target:
                b = b.to(target)
        return a, b
    if not ta and not tb:
        raise TypeError(f"{op}: expected at least one Tensor operand")
    t, s = (a, b) if ta else (b, a)
    kind = t._data.dtype.kind
    cls = type(s)
    if cls is bool:
        pass
    elif cls is int:
        if kind == "b":
            t = t.to(_int64())
    elif cls is float:  # exact type: a NumPy float64 (a float subclass) must not make NumPy compute in float64
        if kind != "f":
            t = t.to(get_default_dtype())
    else:
        s = _as_tensor_operand(s, t, op)
        return coerce(t, s, op) if ta else coerce(s, t, op)
    return (t, s) if ta else (s, t)


def _int64():
    from lamina.backend.dtypes import int64

    return int64


def _as_tensor_operand(s, like, op):
    Tensor = _tensor_cls()
    xp = like.xp
    if hasattr(s, "dtype") and getattr(s, "ndim", None) == 0:  # a NumPy scalar acts like a Python scalar
        v = s.item()
        return float(v) if isinstance(v, float) else v
    try:
        arr = xp.asarray(s)
    except Exception:
        raise TypeError(f"{op}: unsupported operand type {type(s).__name__}") from None
    if arr.dtype.kind == "f" and not hasattr(s, "dtype"):
        arr = arr.astype(get_default_dtype().np)
    return Tensor._make(arr, False, None, 0)


def _shape_error(op, a, b):
    sa, sb = tuple(getattr(a, "shape", ())), tuple(getattr(b, "shape", ()))
    n = max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    for i in range(n - 1, -1, -1):
        if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
            return RuntimeError(
                f"{op}: the size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at non-singleton "
                f"dimension {i} (shapes {sa} and {sb})")
    return RuntimeError(f"{op}: shapes {sa} and {sb} cannot be broadcast")


def binary(cls, a, b, op):
    a, b = coerce(a, b, op)
    try:
        return cls.apply(a, b)
    except ValueError as e:
        if "broadcast" in str(e):
            raise _shape_error(op, a, b) from None
        raise


def _shape(x):
    return getattr(x, "shape", ())


# --------------------------------------------------------------------------- arithmetic


class Add(Function):
    """z = a + b"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a + b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), unbroadcast(g, sb)


class Sub(Function):
    """z = a - b"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return a - b

    @staticmethod
    def backward(ctx, g):
        sa, sb = ctx.shapes
        return unbroadcast(g, sa), (unbroadcast(-g, sb) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """z = a * b;  dz/da = b, dz/db = a"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = unbroadcast(g * b, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g * a, _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


def _is_float(v):
    dt = getattr(v, "dtype", None)
    return dt.kind == "f" if dt is not None else isinstance(v, float)


class Div(Function):
    """z = a / b;  dz/da = 1/b, dz/db = -a/b**2"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with quiet(ctx.xp):
            out = a / b
        if not _is_float(a) and not _is_float(b):
            out = out.astype(get_default_dtype().np)  # integer / integer is true division in the default dtype
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        gb_ = g / b
        ga = unbroadcast(gb_, _shape(a)) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(-gb_ * a / b, _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    """z = a ** b for two tensors;  dz/da = b a**(b-1),  dz/db = z log(a) (0 where a == 0 and b >= 0)"""

    @staticmethod
    def forward(ctx, a, b):
        out = ctx.xp.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        xp = ctx.xp
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(g * b * xp.power(a, b - 1), _shape(a))
        if ctx.needs_input_grad[1]:
            with quiet(xp):
                t = out * xp.log(a)
            t = xp.where((a == 0) & (b >= 0), 0, t)
            gb = unbroadcast(g * t, _shape(b))
        return ga, gb


class PowScalar(Function):
    """y = x ** p for a Python number p;  dy/dx = p x**(p-1)"""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        if p == 2:
            return x * x
        if p == 0.5:
            return ctx.xp.sqrt(x)
        return ctx.xp.power(x, p)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return g * 0, None
        if p == 2:
            return g * (2 * x), None
        return g * (p * ctx.xp.power(x, p - 1)), None


class RPowScalar(Function):
    """y = c ** x for a Python number c;  dy/dx = y log(c)"""

    @staticmethod
    def forward(ctx, x, c):
        out = ctx.xp.power(c, x)
        if out.dtype != x.dtype and x.dtype.kind == "f":
            out = out.astype(x.dtype)
        ctx.save_for_backward(out)
        ctx.logc = math.log(c) if c > 0 else (float("-inf") if c == 0 else float("nan"))
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * ctx.logc, None


# --------------------------------------------------------------------------- unary math


class Exp(Function):
    """y = exp(x);  dy/dx = y"""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    """y = log(x);  dy/dx = 1/x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with quiet(ctx.xp):
            return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with quiet(ctx.xp):
            return g / x


class Log1p(Function):
    """y = log(1 + x);  dy/dx = 1/(1 + x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with quiet(ctx.xp):
            return ctx.xp.log1p(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with quiet(ctx.xp):
            return g / (1 + x)


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1/(2y)"""

    @staticmethod
    def forward(ctx, x):
        with quiet(ctx.xp):
            y = ctx.xp.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        with quiet(ctx.xp):
            return g / (2 * y)


class Rsqrt(Function):
    """y = 1/sqrt(x);  dy/dx = -y**3 / 2"""

    @staticmethod
    def forward(ctx, x):
        with quiet(ctx.xp):
            y = 1 / ctx.xp.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (-0.5 * y * y * y)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.xp.sign(x)


class Sign(Function):
    """y = sign(x);  the gradient is zero everywhere"""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.sign(x)

    @staticmethod
    def backward(ctx, g):
        return g * 0


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.xp.cos(x)


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ctx.xp.cos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -g * ctx.xp.sin(x)


class Tanh(Function):
    """y = tanh(x);  dy/dx = 1 - y**2"""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)


def sigmoid_array(xp, x):
    """A numerically stable logistic function on a whole array: exp never overflows."""
    e = xp.exp(-xp.abs(x))
    d = 1 + e
    return xp.where(x >= 0, 1 / d, e / d).astype(x.dtype, copy=False)


class Sigmoid(Function):
    """y = 1 / (1 + exp(-x));  dy/dx = y (1 - y)"""

    @staticmethod
    def forward(ctx, x):
        y = sigmoid_array(ctx.xp, x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * (1 - y)


class Relu(Function):
    """y = max(x, 0);  dy/dx = 1 where x > 0"""

    @staticmethod
    def forward(ctx, x):
        y = ctx.xp.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y > 0)


class Clamp(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo <= x <= hi"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        return ctx.xp.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = None
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            mask = (x <= hi) if mask is None else (mask & (x <= hi))
        return (g * mask if mask is not None else g), None, None


class _MinMax(Function):
    """Element-wise maximum/minimum; ties send half the gradient to each input, as PyTorch does."""

    _take_a = None

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls._op(ctx.xp, a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        xp = ctx.xp
        wins_a = cls._wins(a, b)
        tie = a == b
        half = g * 0.5
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = unbroadcast(xp.where(tie, half, xp.where(wins_a, g, 0)).astype(g.dtype, copy=False), _shape(a))
        if ctx.needs_input_grad[1]:
            gb = unbroadcast(xp.where(tie, half, xp.where(wins_a, 0, g)).astype(g.dtype, copy=False), _shape(b))
        return ga, gb


class Maximum(_MinMax):
    @staticmethod
    def _op(xp, a, b):
        return xp.maximum(a, b)

    @staticmethod
    def _wins(a, b):
        return a > b


class Minimum(_MinMax):
    @staticmethod
    def _op(xp, a, b):
        return xp.minimum(a, b)

    @staticmethod
    def _wins(a, b):
        return a < b


class Where(Function):
    """z = a where cond else b"""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        ctx.shapes = (_shape(a), _shape(b))
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        xp = ctx.xp
        sa, sb = ctx.shapes
        ga = unbroadcast(xp.where(cond, g, 0).astype(g.dtype, copy=False), sa) if ctx.needs_input_grad[1] else None
        gb = unbroadcast(xp.where(cond, 0, g).astype(g.dtype, copy=False), sb) if ctx.needs_input_grad[2] else None
        return None, ga, gb


class Cast(Function):
    """y = x converted to another dtype; the gradient is converted back."""

    @staticmethod
    def forward(ctx, x, np_dtype):
        ctx.src = x.dtype
        return x.astype(np_dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.src) if ctx.src.kind == "f" else None, None


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


# --------------------------------------------------------------------------- more unary math
#
# Each op below states y = f(x) and dy/dx; ``_Unary`` holds the shared forward/backward so that one class is one
# line of math. ``_Unary`` saves x (and y when the derivative needs it).


class _Unary(Function):
    @classmethod
    def forward(cls, ctx, x):
        with quiet(ctx.xp):
            y = cls.f(ctx.xp, x)
        y = y.astype(x.dtype, copy=False) if x.dtype.kind == "f" else y
        ctx.save_for_backward(x, y)
        return y

    @classmethod
    def backward(cls, ctx, g):
        x, y = ctx.saved_tensors
        with quiet(ctx.xp):
            return (g * cls.df(ctx.xp, x, y)).astype(g.dtype, copy=False)


class Sinh(_Unary):
    """y = sinh(x);  dy/dx = cosh(x)"""
    f = staticmethod(lambda xp, x: xp.sinh(x))
    df = staticmethod(lambda xp, x, y: xp.cosh(x))


class Cosh(_Unary):
    """y = cosh(x);  dy/dx = sinh(x)"""
    f = staticmethod(lambda xp, x: xp.cosh(x))
    df = staticmethod(lambda xp, x, y: xp.sinh(x))


class Tan(_Unary):
    """y = tan(x);  dy/dx = 1 + y²"""
    f = staticmethod(lambda xp, x: xp.tan(x))
    df = staticmethod(lambda xp, x, y: 1 + y * y)


class Asin(_Unary):
    """y = asin(x);  dy/dx = 1/√(1 - x²)"""
    f = staticmethod(lambda xp, x: xp.arcsin(x))
    df = staticmethod(lambda xp, x, y: 1 / xp.sqrt(1 - x * x))


class Acos(_Unary):
    """y = acos(x);  dy/dx = -1/√(1 - x²)"""
    f = staticmethod(lambda xp, x: xp.arccos(x))
    df = staticmethod(lambda xp, x, y: -1 / xp.sqrt(1 - x * x))


class Atan(_Unary):
    """y = atan(x);  dy/dx = 1/(1 + x²)"""
    f = staticmethod(lambda xp, x: xp.arctan(x))
    df = staticmethod(lambda xp, x, y: 1 / (1 + x * x))


class Asinh(_Unary):
    """y = asinh(x);  dy/dx = 1/√(x² + 1)"""
    f = staticmethod(lambda xp, x: xp.arcsinh(x))
    df = staticmethod(lambda xp, x, y: 1 / xp.sqrt(x * x + 1))


class Acosh(_Unary):
    """y = acosh(x);  dy/dx = 1/√(x² - 1)"""
    f = staticmethod(lambda xp, x: xp.arccosh(x))
    df = staticmethod(lambda xp, x, y: 1 / xp.sqrt(x * x - 1))


class Atanh(_Unary):
    """y = atanh(x);  dy/dx = 1/(1 - x²)"""
    f = staticmethod(lambda xp, x: xp.arctanh(x))
    df = staticmethod(lambda xp, x, y: 1 / (1 - x * x))


class Log2(_Unary):
    """y = log2(x);  dy/dx = 1/(x ln 2)"""
    f = staticmethod(lambda xp, x: xp.log2(x))
    df = staticmethod(lambda xp, x, y: 1 / (x * math.log(2)))


class Log10(_Unary):
    """y = log10(x);  dy/dx = 1/(x ln 10)"""
    f = staticmethod(lambda xp, x: xp.log10(x))
    df = staticmethod(lambda xp, x, y: 1 / (x * math.log(10)))


class Exp2(_Unary):
    """y = 2**x;  dy/dx = y ln 2"""
    f = staticmethod(lambda xp, x: xp.exp2(x))
    df = staticmethod(lambda xp, x, y: y * math.log(2))


class Expm1(_Unary):
    """y = exp(x) - 1;  dy/dx = y + 1"""
    f = staticmethod(lambda xp, x: xp.expm1(x))
    df = staticmethod(lambda xp, x, y: y + 1)


class Frac(_Unary):
    """y = x - trunc(x);  dy/dx = 1"""
    f = staticmethod(lambda xp, x: x - xp.trunc(x))
    df = staticmethod(lambda xp, x, y: 1)


def _erfc_array(xp, x):
    """erfc(x) = 1 - erf(x), computed without cancellation for large x (Chebyshev below 6, asymptotic above)."""
    from lamina.ops.nn_activation import _ERFC_LARGE, _chebyshev, erf_array

    a = xp.abs(x)
    out = 1 - erf_array(xp, x)
    mid = (a >= 2) & (a < 6)
    if mid.any():
        am = a[mid]
        tail = xp.exp(-(am * am)) * _chebyshev(6.0 / am - 2.0, _ERFC_LARGE) / am
        out[mid] = xp.where(x[mid] > 0, tail, 2 - tail)
    far = (x >= 6) & xp.isfinite(x)
    if far.any():  # erfc(x) ~ exp(-x²)/(x√π) Σ (-1)^n (2n-1)!! / (2x²)^n; terms shrink until n ≈ x² ≥ 36
        af = x[far]
        inv = 1 / (2 * af * af)
        term, acc = xp.ones_like(af), xp.ones_like(af)
        for n in range(1, 30):
            term = term * (-(2 * n - 1)) * inv
            acc = acc + term
        out[far] = xp.exp(-(af * af)) / (af * math.sqrt(math.pi)) * acc
    return out


class Erfc(_Unary):
    """y = erfc(x) = 1 - erf(x);  dy/dx = -2/√π exp(-x²)"""
    f = staticmethod(lambda xp, x: _erfc_array(xp, x))
    df = staticmethod(lambda xp, x, y: xp.exp(-(x * x)) * (-2 / math.sqrt(math.pi)))


def _erfinv_array(xp, x):
    """erfinv by Giles' single-precision approximation refined with three Newton steps on erf (float64 accuracy)."""
    from lamina.ops.nn_activation import erf_array

    w = -xp.log((1 - x) * (1 + x))
    small = w < 5
    ws, wl = w - 2.5, xp.sqrt(w) - 3
    ps = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164,
              0.246640727, 1.50140941):
        ps = c + ps * ws
    pl = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047,
              1.00167406, 2.83297682):
        pl = c + pl * wl
    y = xp.where(small, ps, pl) * x
    finite = xp.isfinite(y)
    y0 = xp.where(finite, y, 0)
    for _ in range(3):
        y0 = y0 - (erf_array(xp, y0) - x) / (xp.exp(-(y0 * y0)) * (2 / math.sqrt(math.pi)))
    a = xp.abs(x)
    return xp.where(finite, y0, xp.where(a == 1, xp.copysign(xp.inf, x), xp.nan)).astype(x.dtype, copy=False)


class Erfinv(_Unary):
    """y = erfinv(x);  dy/dx = √π/2 exp(y²)"""
    f = staticmethod(lambda xp, x: _erfinv_array(xp, x))
    df = staticmethod(lambda xp, x, y: xp.exp(y * y) * (math.sqrt(math.pi) / 2))


class _Rounding(Function):
    """floor/ceil/round/trunc: piecewise constant, so the gradient is zero everywhere (as in PyTorch)."""

    @classmethod
    def forward(cls, ctx, x, decimals=0):
        return cls.f(ctx.xp, x, decimals)

    @staticmethod
    def backward(ctx, g):
        return g * 0, None


class Floor(_Rounding):
    f = staticmethod(lambda xp, x, d: xp.floor(x))


class Ceil(_Rounding):
    f = staticmethod(lambda xp, x, d: xp.ceil(x))


class Trunc(_Rounding):
    f = staticmethod(lambda xp, x, d: xp.trunc(x))


class Round(_Rounding):
    """Round half to even, at ``decimals`` places (PyTorch scales by 10**decimals, rounds, and scales back)."""
    f = staticmethod(lambda xp, x, d: xp.round(x) if d == 0 else (
        xp.round(x * 10.0 ** d) / 10.0 ** d if d > 0 else xp.round(x / 10.0 ** -d) * 10.0 ** -d).astype(x.dtype))


class NanToNum(Function):
    """y = x with nan, +inf, -inf replaced;  dy/dx = 1 where x is finite, else 0"""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        xp = ctx.xp
        ctx.save_for_backward(x)
        return xp.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ctx.xp.isfinite(x), None, None, None


# --------------------------------------------------------------------------- more binary math


class _Binary(Function):
    """z = f(a, b) with broadcasting; ``d(xp, a, b, z)`` gives (dz/da, dz/db); gradients reduced to each shape."""

    @classmethod
    def forward(cls, ctx, a, b):
        with quiet(ctx.xp):
            z = cls.f(ctx.xp, a, b)
        ctx.save_for_backward(a, b, z)
        return z

    @classmethod
    def backward(cls, ctx, g):
        a, b, z = ctx.saved_tensors
        xp = ctx.xp
        with quiet(xp):
            da, db = cls.d(xp, a, b, z, ctx.needs_input_grad)
            ga = unbroadcast((g * da).astype(g.dtype, copy=False), _shape(a)) if ctx.needs_input_grad[0] else None
            gb = unbroadcast((g * db).astype(g.dtype, copy=False), _shape(b)) if ctx.needs_input_grad[1] else None
        return ga, gb


class Atan2(_Binary):
    """z = atan2(a, b);  dz/da = b/(a² + b²),  dz/db = -a/(a² + b²)"""
    f = staticmethod(lambda xp, a, b: xp.arctan2(a, b))

    @staticmethod
    def d(xp, a, b, z, needs):
        r = a * a + b * b
        return b / r, -a / r


class Hypot(_Binary):
    """z = √(a² + b²);  dz/da = a/z,  dz/db = b/z"""
    f = staticmethod(lambda xp, a, b: xp.hypot(a, b))

    @staticmethod
    def d(xp, a, b, z, needs):
        return a / z, b / z


class Logaddexp(_Binary):
    """z = log(exp(a) + exp(b));  dz/da = exp(a - z),  dz/db = exp(b - z)"""
    f = staticmethod(lambda xp, a, b: xp.logaddexp(a, b))

    @staticmethod
    def d(xp, a, b, z, needs):
        return xp.exp(a - z), xp.exp(b - z)


class Fmod(_Binary):
    """z = a - trunc(a/b) b (sign of a, C's fmod);  dz/da = 1,  dz/db = -trunc(a/b)"""
    f = staticmethod(lambda xp, a, b: xp.fmod(a, b))

    @staticmethod
    def d(xp, a, b, z, needs):
        return 1, (-xp.trunc(a / b) if needs[1] else 0)


class Remainder(_Binary):
    """z = a - floor(a/b) b (sign of b, Python's %);  dz/da = 1,  dz/db = -floor(a/b)"""
    f = staticmethod(lambda xp, a, b: xp.remainder(a, b))

    @staticmethod
    def d(xp, a, b, z, needs):
        return 1, (-xp.floor(a / b) if needs[1] else 0)


class Lerp(Function):
    """z = a + w (b - a), in PyTorch's two-sided form (exact at w = 1);  dz/da = 1 - w, dz/db = w, dz/dw = b - a"""

    @staticmethod
    def forward(ctx, a, b, w):
        xp = ctx.xp
        ctx.save_for_backward(a, b, w)
        d = b - a
        return xp.where(xp.abs(w) < 0.5, a + w * d, b - d * (1 - w)).astype(d.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, b, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = unbroadcast(g * (1 - w), _shape(a)) if need[0] else None
        gb = unbroadcast(g * w, _shape(b)) if need[1] else None
        gw = unbroadcast(g * (b - a), _shape(w)) if need[2] else None
        return ga, gb, gw


class SlopeRelu(Function):
    """y = x where x >= 0, else a x for a per-element slope array a (RReLU's training form);  dy/dx = 1 or a"""

    @staticmethod
    def forward(ctx, x, a):
        neg = x < 0
        slope = ctx.xp.where(neg, a, 1).astype(x.dtype, copy=False)
        ctx.save_for_backward(slope)
        return x * slope

    @staticmethod
    def backward(ctx, g):
        (slope,) = ctx.saved_tensors
        return g * slope, None
