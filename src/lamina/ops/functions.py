"""The public functional form of every core op (``lamina.exp(x)``, ``lamina.matmul(a, b)``...).

Tensor methods and operators are these same functions, bound in ``tensor.py``.
Each validates its arguments with an error naming the op and the shapes, then
applies the op's Function.
"""

import builtins
import collections

from lamina.autograd.grad_mode import state
from lamina.backend.dtypes import to_numpy_dtype
from lamina.ops import activation as A
from lamina.ops import elementwise as E
from lamina.ops import indexing as I
from lamina.ops import linalg as L
from lamina.ops import reduction as R
from lamina.ops import shape as S
from lamina.ops._util import norm_dim, norm_dims, result_dtype


def _return_type(name):
    """PyTorch's ``torch.return_types.<name>``: a (values, indices) named tuple with the same repr."""
    base = collections.namedtuple(name, ["values", "indices"])

    def __repr__(self):  # noqa: N807
        return f"lamina.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__})


_max_values, _min_values, _topk_values, _sort_values = (_return_type(n) for n in ("max", "min", "topk", "sort"))


def _Tensor():
    return E._tensor_cls()


def _t(x, op="op"):
    Tensor = _Tensor()
    if isinstance(x, Tensor):
        return x
    from lamina.creation import tensor

    try:
        return tensor(x)
    except Exception:
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}") from None


def _const(arr):
    return _Tensor()._make(arr, False, None, 0)


# --------------------------------------------------------------------------- arithmetic

def add(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, _Tensor()) else other * alpha
    return E.binary(E.Add, input, other, "add")


def sub(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, _Tensor()) else other * alpha
    return E.binary(E.Sub, input, other, "sub")


def mul(input, other):
    return E.binary(E.Mul, input, other, "mul")


def div(input, other, *, rounding_mode=None):
    if rounding_mode is None:
        return E.binary(E.Div, input, other, "div")
    a, b = E.coerce(input, other, "div")
    av = a._data if isinstance(a, _Tensor()) else a
    bv = b._data if isinstance(b, _Tensor()) else b
    xp = (a if isinstance(a, _Tensor()) else b).xp
    with _quiet(xp):
        if rounding_mode == "floor":
            out = xp.floor_divide(av, bv)
        elif rounding_mode == "trunc":
            out = xp.trunc(xp.true_divide(av, bv))
            if xp.asarray(av).dtype.kind in "iu" and xp.asarray(bv).dtype.kind in "iu":
                out = out.astype(xp.result_type(av, bv))
        else:
            raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                             f"'{rounding_mode}'")
    return _const(xp.asarray(out))


def true_divide(input, other):
    return div(input, other)


def neg(input):
    return E.Neg.apply(_t(input, "neg"))


def square(input):
    return pow(input, 2)


def reciprocal(input):
    return div(1.0, input)


def clone(input, *, memory_format=None):
    return E.Clone.apply(_t(input, "clone"))


def detach(input):
    return _t(input, "detach").detach()


def _py_number(v):
    """A NumPy scalar as the Python number it holds (NumPy scalars would force their own dtype on the result)."""
    return v.item() if hasattr(v, "item") and not isinstance(v, _Tensor()) else v


def pow(input, exponent):  # noqa: A001 - PyTorch's name
    Tensor = _Tensor()
    input, exponent = _py_number(input), _py_number(exponent)
    if isinstance(exponent, Tensor):
        if isinstance(input, (int, float)) and not isinstance(input, bool):
            e = exponent
            if isinstance(input, float) and e._data.dtype.kind != "f":
                e = e.to(_default_float())
            return E.RPowScalar.apply(e, input)
        return E.binary(E.Pow, input, exponent, "pow")
    x = _t(input, "pow")
    if isinstance(exponent, float) and x._data.dtype.kind != "f":
        x = x.to(_default_float())
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool):
        return E.PowScalar.apply(x, exponent)
    return E.binary(E.Pow, x, exponent, "pow")


def _default_float():
    from lamina.backend.dtypes import get_default_dtype

    return get_default_dtype()


def _float_input(x, op):
    x = _t(x, op)
    if x._data.dtype.kind != "f":
        x = x.to(_default_float())
    return x


def _unary(cls, op):
    def fn(input):
        return cls.apply(_float_input(input, op))

    fn.__name__ = op
    fn.__doc__ = cls.__doc__
    return fn


exp = _unary(E.Exp, "exp")
log = _unary(E.Log, "log")
log1p = _unary(E.Log1p, "log1p")
sqrt = _unary(E.Sqrt, "sqrt")
rsqrt = _unary(E.Rsqrt, "rsqrt")
sin = _unary(E.Sin, "sin")
cos = _unary(E.Cos, "cos")
tanh = _unary(E.Tanh, "tanh")
sigmoid = _unary(E.Sigmoid, "sigmoid")


def abs(input):  # noqa: A001
    return E.Abs.apply(_t(input, "abs"))


def sign(input):
    return E.Sign.apply(_t(input, "sign"))


def relu(input):
    return E.Relu.apply(_t(input, "relu"))


def clamp(input, min=None, max=None):  # noqa: A002
    x = _t(input, "clamp")
    Tensor = _Tensor()
    if min is None and max is None:
        raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    min, max = _py_number(min), _py_number(max)  # noqa: A001
    if x._data.dtype.kind != "f" and builtins.any(isinstance(v, float) for v in (min, max)):
        x = x.to(_default_float())
    return E.Clamp.apply(x, min, max)


clip = clamp


def maximum(input, other):
    return E.binary(E.Maximum, input, other, "maximum")


def minimum(input, other):
    return E.binary(E.Minimum, input, other, "minimum")


def where(condition, input=None, other=None):
    Tensor = _Tensor()
    cond = _t(condition, "where")
    if input is None and other is None:
        return tuple(_const(i.astype("int64")) for i in cond.xp.nonzero(cond._data))
    if cond._data.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{cond.dtype}")
    a, b = input, other
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = _t(a, "where")
    a, b = E.coerce(a, b, "where")
    if not isinstance(b, Tensor):
        b = _const(a.xp.asarray(b, dtype=a._data.dtype))
    if not isinstance(a, Tensor):
        a = _const(b.xp.asarray(a, dtype=b._data.dtype))
    try:
        return E.Where.apply(cond, a, b)
    except ValueError:
        raise RuntimeError(f"where: shapes {tuple(cond.shape)}, {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           f"broadcast together") from None


# --------------------------------------------------------------------------- comparisons and logic (no gradient)

def _compare(name, ufunc_name):
    def fn(input, other):
        a = _t(input, name)
        xp = a.xp
        b = other._data if isinstance(other, _Tensor()) else other
        try:
            return _const(getattr(xp, ufunc_name)(a._data, b))
        except ValueError:
            raise E._shape_error(name, a, other) from None

    fn.__name__ = name
    return fn


eq = _compare("eq", "equal")
ne = _compare("ne", "not_equal")
lt = _compare("lt", "less")
le = _compare("le", "less_equal")
gt = _compare("gt", "greater")
ge = _compare("ge", "greater_equal")
logical_and = _compare("logical_and", "logical_and")
logical_or = _compare("logical_or", "logical_or")
logical_xor = _compare("logical_xor", "logical_xor")
greater, less, greater_equal, less_equal, not_equal = gt, lt, ge, le, ne


def logical_not(input):
    return _const(input.xp.logical_not(input._data))


def isnan(input):
    return _const(input.xp.isnan(input._data))


def isinf(input):
    return _const(input.xp.isinf(input._data))


def isfinite(input):
    return _const(input.xp.isfinite(input._data))


def equal(input, other):
    """True when both tensors have the same shape and elements."""
    return input.shape == other.shape and builtins.bool((input._data == other._data).all())


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return builtins.bool(input.xp.allclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return _const(input.xp.isclose(input._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))


# --------------------------------------------------------------------------- reductions

def _np_dtype_or_none(dtype):
    return to_numpy_dtype(dtype) if dtype is not None else None


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    x = _t(input, "sum")
    axes = norm_dims(dim, x.ndim, "sum")
    npd = _np_dtype_or_none(dtype)
    if npd is None and x._data.dtype.kind in "bui":
        npd = x.xp.int64  # integer sums accumulate in int64, as in PyTorch
    return R.Sum.apply(x, axes, keepdim, npd)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    x = _t(input, "mean")
    if dtype is None and x._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point or "
                           f"complex dtype. Got: {x.dtype.name.capitalize()}")
    if dtype is not None:
        x = x.to(dtype)
    return R.Mean.apply(x, norm_dims(dim, x.ndim, "mean"), keepdim, None)


def var(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    x = _float_input(input, "var")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return R.Var.apply(x, norm_dims(dim, x.ndim, "var"), keepdim, correction)


def std(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    x = _float_input(input, "std")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    return R.Std.apply(x, norm_dims(dim, x.ndim, "std"), keepdim, correction)


def var_mean(input, dim=None, *, correction=1, keepdim=False):
    return var(input, dim, correction=correction, keepdim=keepdim), mean(input, dim, keepdim=keepdim)


def std_mean(input, dim=None, *, correction=1, keepdim=False):
    return std(input, dim, correction=correction, keepdim=keepdim), mean(input, dim, keepdim=keepdim)


def _check_nonempty(x, axes, op, full=False):
    if x._data.size == 0 and (full or not axes):
        raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           f"reduction dim with the 'dim' argument (got shape {tuple(x.shape)}).")
    for a in axes:
        if x.shape[a] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {a} to have non-zero size, got shape {tuple(x.shape)}")


def amax(input, dim=(), keepdim=False):
    x = _t(input, "amax")
    axes = norm_dims(None if dim == () else dim, x.ndim, "amax")
    _check_nonempty(x, axes, "amax", dim == ())
    return R.Amax.apply(x, axes, keepdim)


def amin(input, dim=(), keepdim=False):
    x = _t(input, "amin")
    axes = norm_dims(None if dim == () else dim, x.ndim, "amin")
    _check_nonempty(x, axes, "amin", dim == ())
    return R.Amin.apply(x, axes, keepdim)


def max(input, dim=None, keepdim=False):  # noqa: A001
    """max(x): the largest element; max(x, dim): (values, indices); max(x, other): element-wise maximum."""
    x = _t(input, "max")
    if isinstance(dim, _Tensor()):
        return maximum(x, dim)
    if dim is None:
        _check_nonempty(x, tuple(range(x.ndim)), "max", True)
        return R.Amax.apply(x, tuple(range(x.ndim)), False)
    d = norm_dim(dim, x.ndim, "max")
    if x.ndim == 0:
        return _max_values(x.clone(), _const(x.xp.zeros((), dtype="int64")))
    _check_nonempty(x, (d,), "max")
    return _max_values(*R.MaxDim.apply(x, d, keepdim))


def min(input, dim=None, keepdim=False):  # noqa: A001
    x = _t(input, "min")
    if isinstance(dim, _Tensor()):
        return minimum(x, dim)
    if dim is None:
        _check_nonempty(x, tuple(range(x.ndim)), "min", True)
        return R.Amin.apply(x, tuple(range(x.ndim)), False)
    d = norm_dim(dim, x.ndim, "min")
    if x.ndim == 0:
        return _min_values(x.clone(), _const(x.xp.zeros((), dtype="int64")))
    _check_nonempty(x, (d,), "min")
    return _min_values(*R.MinDim.apply(x, d, keepdim))


def _arg(fname):
    def fn(input, dim=None, keepdim=False):
        x = _t(input, fname)
        xp = x.xp
        f = getattr(xp, fname)
        if dim is None:
            out = xp.asarray(f(x._data.reshape(-1)))
            if keepdim:
                out = out.reshape([1] * x.ndim)
        else:
            d = norm_dim(dim, x.ndim, fname)
            if x.ndim == 0:
                out = xp.zeros((), dtype="int64")
            else:
                out = f(x._data, axis=d, keepdims=keepdim)
        return _const(out.astype("int64", copy=False))

    fn.__name__ = fname
    return fn


argmax = _arg("argmax")
argmin = _arg("argmin")


def prod(input, dim=None, keepdim=False, *, dtype=None):
    x = _t(input, "prod")
    if dtype is not None:
        x = x.to(dtype)
    d = None if dim is None else norm_dim(dim, x.ndim, "prod")
    if d is not None and x.ndim == 0:
        d = None
    return R.Prod.apply(x, d, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    x = _float_input(input, "norm")
    if dtype is not None:
        x = x.to(dtype)
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise RuntimeError("norm: the nuclear norm is not supported; use p='fro' or a number")
    axes = norm_dims(dim, x.ndim, "norm")
    p = float(p)
    if p in (float("inf"), float("-inf")) and builtins.any(x.shape[a] == 0 for a in axes):
        raise RuntimeError(f"norm: cannot compute the {p} norm on an empty tensor because the operation does not "
                           f"have an identity (shape {tuple(x.shape)}, dim {dim})")
    return R.Norm.apply(x, p, axes, keepdim)


def logsumexp(input, dim, keepdim=False):
    x = _float_input(input, "logsumexp")
    return R.Logsumexp.apply(x, norm_dims(dim, x.ndim, "logsumexp"), keepdim)


def all(input, dim=None, keepdim=False):  # noqa: A001
    x = _t(input, "all")
    axes = None if dim is None else norm_dims(dim, x.ndim, "all")
    return _const(x.xp.asarray(x._data.all(axis=axes, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):  # noqa: A001
    x = _t(input, "any")
    axes = None if dim is None else norm_dims(dim, x.ndim, "any")
    return _const(x.xp.asarray(x._data.any(axis=axes, keepdims=keepdim)))


def cumsum(input, dim, *, dtype=None):
    x = _t(input, "cumsum")
    d = norm_dim(dim, x.ndim, "cumsum")
    if dtype is not None:
        x = x.to(dtype)
    return _CumSum.apply(x, d)


class _CumSum(E.Function):
    """y_i = sum_{j<=i} x_j;  dx = reverse cumulative sum of dy"""

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return ctx.xp.cumsum(x, axis=dim, dtype=x.dtype if x.dtype.kind == "f" else "int64") if x.ndim else x.copy()

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        if g.ndim == 0:
            return g, None
        return xp.flip(xp.cumsum(xp.flip(g, axis=ctx.dim), axis=ctx.dim), axis=ctx.dim), None


# --------------------------------------------------------------------------- softmax

def softmax(input, dim=None, dtype=None):
    x = _float_input(input, "softmax")
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    d = norm_dim(dim, x.ndim, "softmax")
    if x.ndim == 0:
        return reshape(A.Softmax.apply(reshape(x, (1,)), 0), ())
    return A.Softmax.apply(x, d)


def log_softmax(input, dim=None, dtype=None):
    x = _float_input(input, "log_softmax")
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1
    d = norm_dim(dim, x.ndim, "log_softmax")
    if x.ndim == 0:
        return reshape(A.LogSoftmax.apply(reshape(x, (1,)), 0), ())
    return A.LogSoftmax.apply(x, d)


# --------------------------------------------------------------------------- linear algebra

def matmul(input, other):
    a, b = _t(input, "matmul"), _t(other, "matmul")
    if a._data.dtype != b._data.dtype:
        a, b = E.coerce(a, b, "matmul")
    return L.Matmul.apply(a, b)


def mm(input, mat2):
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: batch sizes differ: {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


def outer(input, vec2):
    return mul(reshape(input, (-1, 1)), reshape(vec2, (1, -1)))


# --------------------------------------------------------------------------- shapes

def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    if len(shape) == 1 and hasattr(shape[0], "__iter__") and not isinstance(shape[0], int):
        return tuple(shape[0])
    return tuple(shape)


def _infer_shape(shape, numel, op, src_shape):
    shape = tuple(int(s) for s in shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError(f"{op}: only one dimension can be inferred, got shape {shape}")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"{op}: invalid shape dimension {s} in {shape}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel} "
                               f"(input shape {tuple(src_shape)})")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"{op}: shape '{list(shape)}' is invalid for input of size {numel} "
                           f"(input shape {tuple(src_shape)})")
    return shape


def reshape(input, *shape):
    x = _t(input, "reshape")
    shape = _infer_shape(_shape_arg(shape), x._data.size, "reshape", x.shape)
    if shape == x.shape:
        return S.Reshape.apply(x, shape) if x.requires_grad and state.enabled else _alias(x)
    return S.Reshape.apply(x, shape)


def _alias(x):
    return _Tensor()._make(x._data, False, None, 0)


def view(input, *shape):
    x = _t(input, "view")
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and hasattr(shape[0], "np"):
        return x.to(shape[0])  # view(dtype) is not a reinterpretation here; PyTorch's bit-cast view is unsupported
    return S.Reshape.apply(x, _infer_shape(_shape_arg(shape), x._data.size, "view", x.shape))


def flatten(input, start_dim=0, end_dim=-1):
    x = _t(input, "flatten")
    if x.ndim == 0:
        return reshape(x, (1,))
    s = norm_dim(start_dim, x.ndim, "flatten")
    e = norm_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return x
    shape = x.shape
    n = 1
    for v in shape[s:e + 1]:
        n *= v
    return S.Reshape.apply(x, tuple(shape[:s]) + (n,) + tuple(shape[e + 1:]))


def unflatten(input, dim, sizes):
    x = _t(input, "unflatten")
    d = norm_dim(dim, x.ndim, "unflatten")
    sizes = _infer_shape(tuple(sizes), x.shape[d], "unflatten", x.shape)
    return S.Reshape.apply(x, tuple(x.shape[:d]) + sizes + tuple(x.shape[d + 1:]))


def squeeze(input, dim=None):
    x = _t(input, "squeeze")
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        dims = norm_dims(dim, x.ndim, "squeeze")
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in dims and s == 1))
    return S.Reshape.apply(x, shape)


def unsqueeze(input, dim):
    x = _t(input, "unsqueeze")
    d = norm_dim(dim, x.ndim + 1, "unsqueeze")
    shape = list(x.shape)
    shape.insert(d, 1)
    return S.Reshape.apply(x, tuple(shape))


def transpose(input, dim0, dim1):
    x = _t(input, "transpose")
    if x.ndim == 0:
        return x
    d0, d1 = norm_dim(dim0, x.ndim, "transpose"), norm_dim(dim1, x.ndim, "transpose")
    axes = list(range(x.ndim))
    axes[d0], axes[d1] = axes[d1], axes[d0]
    return S.Permute.apply(x, tuple(axes))


swapaxes = transpose


def permute(input, *dims):
    x = _t(input, "permute")
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the length "
                           f"of the desired ordering of dimensions i.e. input.dim() = {x.ndim} is not equal to "
                           f"len(dims) = {len(dims)}".replace("(sparse_coo)", ""))
    axes = tuple(norm_dim(d, x.ndim, "permute") for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return S.Permute.apply(x, axes)


def t(input):
    x = _t(input, "t")
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def expand(input, *sizes):
    x = _t(input, "expand")
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
                           f"number of dimensions in the tensor ({x.ndim})")
    lead = len(sizes) - x.ndim
    shape = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, non-existing dimension {i}")
            s = x.shape[i - lead]
        elif i >= lead and x.shape[i - lead] not in (1, s):
            raise RuntimeError(f"expand: the expanded size of the tensor ({s}) must match the existing size "
                               f"({x.shape[i - lead]}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}."
                               f"  Tensor sizes: {list(x.shape)}")
        shape.append(s)
    return S.Expand.apply(x, tuple(shape))


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors):
    import numpy as np  # shape arithmetic only

    shape = np.broadcast_shapes(*(tuple(x.shape) for x in tensors))
    return tuple(expand(x, shape) for x in tensors)


def _seq_tensors(tensors, op):
    if isinstance(tensors, _Tensor()):
        raise TypeError(f"{op}(): argument 'tensors' must be a sequence of Tensors, not Tensor")
    ts = [_t(x, op) for x in tensors]
    if not ts:
        raise RuntimeError(f"{op}(): expected a non-empty list of Tensors")
    dt = ts[0]._data.dtype
    if builtins.any(x._data.dtype != dt for x in ts):
        target = ts[0]._data
        for x in ts[1:]:
            target = target.astype(result_dtype(target, x._data), copy=False) if target.dtype != x._data.dtype \
                else target
        ts = [x if x._data.dtype == target.dtype else x.to(target.dtype) for x in ts]
    return ts


def cat(tensors, dim=0):
    ts = _seq_tensors(tensors, "cat")
    ts_nonempty = [x for x in ts if not (x.ndim == 1 and x.shape[0] == 0)] or ts[:1]
    ref = ts_nonempty[0]
    d = norm_dim(dim, ref.ndim, "cat")
    for i, x in enumerate(ts_nonempty):
        if x.ndim != ref.ndim:
            raise RuntimeError(f"cat(): tensors must have same number of dimensions: got {ref.ndim} and {x.ndim}")
        for k in range(ref.ndim):
            if k != d and x.shape[k] != ref.shape[k]:
                raise RuntimeError(f"cat(): sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[k]} but got size {x.shape[k]} for tensor number {i} in the list.")
    return S.Cat.apply(d, *ts_nonempty)


concat = concatenate = cat


def stack(tensors, dim=0):
    ts = _seq_tensors(tensors, "stack")
    d = norm_dim(dim, ts[0].ndim + 1, "stack")
    for i, x in enumerate(ts):
        if x.shape != ts[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(ts[0].shape)} at entry 0 "
                               f"and {list(x.shape)} at entry {i}")
    return S.Stack.apply(d, *ts)


def hstack(tensors):
    ts = _seq_tensors(tensors, "hstack")
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    ts = [x if x.ndim >= 2 else reshape(x, (1, -1)) for x in _seq_tensors(tensors, "vstack")]
    return cat(ts, 0)


def split(tensor, split_size_or_sections, dim=0):
    x = _t(tensor, "split")
    d = norm_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise RuntimeError(f"split: split_size must be positive, got {step}")
        sizes = [step] * (n // step) + ([n % step] if n % step else [])
        if not sizes:
            sizes = [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    out = S.Split.apply(x, tuple(sizes), d)
    return out if isinstance(out, tuple) else (out,)


def chunk(input, chunks, dim=0):
    x = _t(input, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = norm_dim(dim, x.ndim, "chunk")
    n = x.shape[d]
    if n == 0:
        return split(x, [0] * chunks, d)  # PyTorch gives `chunks` empty pieces
    return split(x, -(-n // chunks), d)


def unbind(input, dim=0):
    x = _t(input, "unbind")
    d = norm_dim(dim, x.ndim, "unbind")
    return tuple(squeeze(p, d) for p in split(x, 1, d)) if x.shape[d] else ()


def flip(input, dims):
    x = _t(input, "flip")
    return S.Flip.apply(x, norm_dims(dims, x.ndim, "flip"))


def repeat(input, *sizes):
    x = _t(input, "repeat")
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise RuntimeError("repeat: Number of dimensions of repeat dims can not be smaller than number of dimensions "
                           "of tensor")
    lead = len(sizes) - x.ndim
    xs = reshape(x, (1,) * lead + tuple(x.shape))
    # expand into (r0, s0, r1, s1, ...) then merge: a view plus one copy, no Python loop over elements
    inter = []
    for s in xs.shape:
        inter += [1, s]
    xe = reshape(xs, tuple(inter))
    target = []
    for r, s in zip(sizes, xs.shape):
        target += [r, s]
    return reshape(expand(xe, tuple(target)), tuple(r * s for r, s in zip(sizes, xs.shape)))


def tile(input, dims):
    x = _t(input, "tile")
    dims = tuple(dims)
    if len(dims) < x.ndim:
        dims = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, dims)


def pad(input, pad, mode="constant", value=None):  # noqa: A002
    x = _t(input, "pad")
    if mode != "constant":
        from lamina.nn.functional import _pad_nonconstant

        return _pad_nonconstant(x, pad, mode)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise RuntimeError(f"pad: padding length must be even and at most 2 * input.dim() ({2 * x.ndim}), "
                           f"got {len(pad)} for input of shape {tuple(x.shape)}")
    return S.Pad.apply(x, tuple(int(p) for p in pad), 0 if value is None else value)


# --------------------------------------------------------------------------- indexing

def _index_key(key, x):
    """Turn Tensors (and lists) inside an index into arrays; validate boolean masks."""
    Tensor = _Tensor()
    xp = x.xp
    single = not isinstance(key, tuple)
    parts = (key,) if single else key
    out = []
    for k in parts:
        if isinstance(k, Tensor):
            k = k._data
            if k.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        elif isinstance(k, list):
            k = xp.asarray(k)
            if k.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        out.append(k)
    return out[0] if single else tuple(out)


def getitem(x, key):
    k = _index_key(key, x)
    try:
        return I.GetItem.apply(x, k)
    except IndexError as e:
        raise IndexError(f"index {key!r} is invalid for a tensor of shape {tuple(x.shape)}: {e}") from None


def gather(input, dim, index):
    x = _t(input, "gather")
    d = norm_dim(dim, x.ndim, "gather")
    idx = _t(index, "gather")
    if idx._data.dtype.kind not in "iu":
        raise RuntimeError(f"gather(): Expected dtype int64 for index, got {idx.dtype}")
    if idx.ndim != x.ndim:
        raise RuntimeError(f"gather(): Index tensor must have the same number of dimensions as input tensor "
                           f"(index {tuple(idx.shape)}, input {tuple(x.shape)})")
    for k in range(x.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            raise RuntimeError(f"gather(): Size does not match at dimension {k} expected index {tuple(idx.shape)} to "
                               f"be no larger than self {tuple(x.shape)} apart from dimension {d}")
    return I.Gather.apply(x, d, idx._data)


def scatter_add(input, dim, index, src):
    x = _t(input, "scatter_add")
    d = norm_dim(dim, x.ndim, "scatter_add")
    idx = _t(index, "scatter_add")
    s = _t(src, "scatter_add")
    if s._data.dtype != x._data.dtype:
        s = s.to(x.dtype)
    return I.ScatterAdd.apply(x, d, idx._data, s)


def index_select(input, dim, index):
    x = _t(input, "index_select")
    d = norm_dim(dim, x.ndim, "index_select")
    idx = _t(index, "index_select")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx._data.dtype.kind not in "iu":
        raise RuntimeError(f"index_select(): Expected dtype int32/int64 for index, got {idx.dtype}")
    return I.IndexSelect.apply(x, d, idx._data.reshape(-1))


def masked_fill(input, mask, value):
    x = _t(input, "masked_fill")
    m = _t(mask, "masked_fill")
    if m._data.dtype.kind != "b":
        raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with dtype {m.dtype}")
    import numpy as np  # shape arithmetic only

    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(m.shape))
    except ValueError:
        raise E._shape_error("masked_fill", x, m) from None
    if shape != tuple(x.shape):
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(m.shape)} must broadcast to the input's shape "
                           f"{tuple(x.shape)}")
    if isinstance(value, _Tensor()):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        if value.requires_grad and state.enabled:  # the value gets the sum of the masked gradient
            return E.Where.apply(m, value if value._data.dtype == x._data.dtype else value.to(x.dtype), x)
        value = value.item()
    return I.MaskedFill.apply(x, m._data, value)


def masked_select(input, mask):
    return getitem(input, _t(mask, "masked_select").expand(*input.shape) if mask.shape != input.shape else mask)


def nonzero(input, *, as_tuple=False):
    x = _t(input, "nonzero")
    if x.ndim == 0:  # PyTorch: a 0-d tensor has no index columns
        n = int(bool(x._data))
        return (_const(x.xp.zeros(n, "int64")),) if as_tuple else _const(x.xp.zeros((n, 0), "int64"))
    idx = x.xp.nonzero(x._data)
    if as_tuple:
        return tuple(_const(i.astype("int64")) for i in idx)
    return _const(x.xp.stack(idx, axis=1).astype("int64") if idx else x.xp.zeros((1, 0), "int64"))


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    x = _t(input, "topk")
    d = norm_dim(dim, x.ndim, "topk")
    xp = x.xp
    order = xp.argsort(-x._data if largest else x._data, axis=d, kind="stable")
    idx = xp.take(order, range(k), axis=d).astype("int64")
    return _topk_values(gather(x, d, _const(idx)), _const(idx))


def sort(input, dim=-1, descending=False, stable=False):
    x = _t(input, "sort")
    d = norm_dim(dim, x.ndim, "sort")
    xp = x.xp
    idx = xp.argsort(-x._data if descending else x._data, axis=d, kind="stable").astype("int64")
    return _sort_values(gather(x, d, _const(idx)), _const(idx))


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable).indices


def _quiet(xp):
    from lamina.ops._util import quiet

    return quiet(xp)


# --------------------------------------------------------------------------- more element-wise math

sinh = _unary(E.Sinh, "sinh")
cosh = _unary(E.Cosh, "cosh")
tan = _unary(E.Tan, "tan")
asin = _unary(E.Asin, "asin")
acos = _unary(E.Acos, "acos")
atan = _unary(E.Atan, "atan")
asinh = _unary(E.Asinh, "asinh")
acosh = _unary(E.Acosh, "acosh")
atanh = _unary(E.Atanh, "atanh")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
log2 = _unary(E.Log2, "log2")
log10 = _unary(E.Log10, "log10")
exp2 = _unary(E.Exp2, "exp2")
expm1 = _unary(E.Expm1, "expm1")
erfc = _unary(E.Erfc, "erfc")
erfinv = _unary(E.Erfinv, "erfinv")


def erf(input):
    """y = erf(x) (the op of ``nn.GELU``)."""
    from lamina.ops.nn_activation import Erf

    return Erf.apply(_float_input(input, "erf"))


def frac(input):
    x = _t(input, "frac")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"frac: expected a floating point tensor, got dtype {x.dtype} (shape {tuple(x.shape)})")
    return E.Frac.apply(x)


def _rounding(cls, op):
    def fn(input):
        x = _t(input, op)
        return x.clone() if x._data.dtype.kind != "f" else cls.apply(x)  # integers are already whole

    fn.__name__ = op
    fn.__doc__ = f"{op}(x): element-wise; its gradient is zero (as in PyTorch)."
    return fn


floor = _rounding(E.Floor, "floor")
ceil = _rounding(E.Ceil, "ceil")
trunc = _rounding(E.Trunc, "trunc")
fix = trunc


def round(input, *, decimals=0):  # noqa: A001
    """Round half to even; ``decimals`` places after the point (negative: before)."""
    x = _t(input, "round")
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if x._data.dtype.kind != "f":
        if decimals != 0:
            raise RuntimeError(f"round: decimals is only supported for floating point tensors, got dtype {x.dtype}")
        return x.clone()
    return E.Round.apply(x, decimals)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """nan, +inf and -inf replaced by ``nan``, ``posinf`` (default: the dtype's max) and ``neginf`` (its min)."""
    x = _t(input, "nan_to_num")
    if x._data.dtype.kind != "f":
        return x.clone()
    return E.NanToNum.apply(x, nan, posinf, neginf)


def clamp_min(input, min):  # noqa: A002
    return clamp(input, min=min)


def clamp_max(input, max):  # noqa: A002
    return clamp(input, max=max)


def _binary_float(cls, a, b, op):
    """A binary op computed in floating point (integer operands are promoted to the default dtype)."""
    Tensor = _Tensor()
    a, b = E.coerce(a, b, op)
    if isinstance(a, Tensor) and a._data.dtype.kind != "f":
        a = a.to(_default_float())
    if isinstance(b, Tensor) and b._data.dtype.kind != "f":
        b = b.to(_default_float())
    return E.binary(cls, a, b, op)


def atan2(input, other):
    return _binary_float(E.Atan2, input, other, "atan2")


arctan2 = atan2


def hypot(input, other):
    return _binary_float(E.Hypot, input, other, "hypot")


def logaddexp(input, other):
    return _binary_float(E.Logaddexp, input, other, "logaddexp")


def _mod(cls, op):
    def fn(input, other):
        Tensor = _Tensor()
        a, b = E.coerce(input, other, op)
        if not _is_float_operand(a) and not _is_float_operand(b):  # integers: exact, no gradient
            bv = b._data if isinstance(b, Tensor) else b
            if (a if isinstance(a, Tensor) else b).xp.any(bv == 0):
                raise RuntimeError(f"{op}: ZeroDivisionError (an integer divisor is zero)")
        return E.binary(cls, a, b, op)

    fn.__name__ = op
    fn.__doc__ = cls.__doc__
    return fn


def _is_float_operand(v):
    return v._data.dtype.kind == "f" if isinstance(v, _Tensor()) else isinstance(v, float)


fmod = _mod(E.Fmod, "fmod")
remainder = _mod(E.Remainder, "remainder")


def lerp(input, end, weight):
    """input + weight * (end - input); ``weight`` a number or a tensor broadcastable with both."""
    Tensor = _Tensor()
    a, b = _t(input, "lerp"), _t(end, "lerp")
    if a._data.dtype.kind != "f" or a._data.dtype != b._data.dtype:
        raise RuntimeError(f"lerp: expected input and end of the same floating point dtype, got {a.dtype} and "
                           f"{b.dtype}")
    w = _py_number(weight)
    if isinstance(w, Tensor):
        if w._data.dtype != a._data.dtype:
            raise RuntimeError(f"lerp: expected weight of dtype {a.dtype}, got {w.dtype}")
    elif not isinstance(w, (int, float)) or isinstance(w, bool):
        raise TypeError(f"lerp: weight must be a number or a Tensor, got {type(weight).__name__}")
    else:
        w = float(w)
    try:
        return E.Lerp.apply(a, b, w)
    except ValueError:
        import numpy as np  # shape arithmetic only

        shapes = [tuple(a.shape), tuple(b.shape), tuple(getattr(w, "shape", ()))]
        try:
            np.broadcast_shapes(*shapes)
        except ValueError:
            raise RuntimeError(f"lerp: shapes {shapes[0]} (input), {shapes[1]} (end) and {shapes[2]} (weight) "
                               f"cannot be broadcast together") from None
        raise


# --------------------------------------------------------------------------- more shape and indexing

def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("bij,bjk->bik", a, b)``; ellipsis broadcasts."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the equation must be a string, got {type(equation).__name__}")
    ts = _seq_tensors(operands, "einsum")
    try:
        subs, out = L.parse_einsum(equation, [tuple(x.shape) for x in ts])
    except ValueError as e:
        raise RuntimeError(f"einsum(): {e} (equation '{equation}', operand shapes "
                           f"{[tuple(x.shape) for x in ts]})") from None
    return L.Einsum.apply(tuple(subs), out, *ts)


def roll(input, shifts, dims=None):
    x = _t(input, "roll")
    if dims is None:
        if not isinstance(shifts, int):
            if len(tuple(shifts)) != 1:
                raise RuntimeError(f"roll: shifts {tuple(shifts)} need matching dims when dims is not given")
            shifts = tuple(shifts)[0]
        return reshape(S.Roll.apply(reshape(x, (-1,)), int(shifts), 0), tuple(x.shape))
    one = isinstance(dims, int)
    shifts_t = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims_t = (dims,) if one else tuple(dims)
    if len(shifts_t) != len(dims_t):
        raise RuntimeError(f"roll: shifts and dims must align. shifts: {len(shifts_t)}, dims: {len(dims_t)}")
    axes = tuple(norm_dim(d, x.ndim, "roll") for d in dims_t)
    return S.Roll.apply(x, tuple(int(v) for v in shifts_t), axes)


def movedim(input, source, destination):
    x = _t(input, "movedim")
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
                           f"the same number of dims as destination ({list(dst)} dims)")
    src = tuple(norm_dim(d, x.ndim, "movedim") for d in src)
    dst = tuple(norm_dim(d, x.ndim, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in source {list(src)} or destination {list(dst)}")
    if x.ndim == 0:
        return x
    order = [None] * x.ndim
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(x.ndim) if i not in src)
    order = tuple(o if o is not None else next(rest) for o in order)
    return S.Permute.apply(x, order)


moveaxis = movedim


def narrow(input, dim, start, length):
    x = _t(input, "narrow")
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, x.ndim, "narrow")
    n = x.shape[d]
    start = int(start.item() if isinstance(start, _Tensor()) else start)
    if not -n <= start <= n:
        raise IndexError(f"narrow(): start ({start}) out of range [{-n}, {n}] for dimension {d} of a tensor of shape "
                         f"{tuple(x.shape)}")
    start %= n if n else 1
    if length < 0 or start + length > n:
        raise RuntimeError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}) of a tensor "
                           f"of shape {tuple(x.shape)}")
    return I.GetItem.apply(x, (slice(None),) * d + (slice(start, start + length),))


def diagonal(input, offset=0, dim1=0, dim2=1):
    x = _t(input, "diagonal")
    if x.ndim < 2:
        raise RuntimeError(f"diagonal: expected a tensor of at least 2 dims, got shape {tuple(x.shape)}")
    d1, d2 = norm_dim(dim1, x.ndim, "diagonal"), norm_dim(dim2, x.ndim, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return I.Diagonal.apply(x, int(offset), d1, d2)


def diag(input, diagonal=0):
    """A 1-D input becomes a square matrix with it on the ``diagonal``; a 2-D input gives that diagonal."""
    x = _t(input, "diag")
    if x.ndim == 1:
        return I.DiagEmbed.apply(x, int(diagonal))
    if x.ndim == 2:
        return I.Diagonal.apply(x, int(diagonal), 0, 1)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.ndim}D (shape {tuple(x.shape)})")


def trace(input):
    x = _t(input, "trace")
    if x.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.ndim} (shape {tuple(x.shape)})")
    return sum(I.Diagonal.apply(x, 0, 0, 1))


def kron(input, other):
    a, b = _t(input, "kron"), _t(other, "kron")
    if a._data.dtype != b._data.dtype:
        a, b = E.coerce(a, b, "kron")
    return L.Kron.apply(a, b)


def cross(input, other, dim=None):
    """The 3-vector cross product along ``dim`` (None: the first dim of size 3, as torch.cross)."""
    a, b = _t(input, "cross"), _t(other, "cross")
    if a._data.dtype != b._data.dtype:
        a, b = E.coerce(a, b, "cross")
    if a.ndim != b.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    if dim is None:
        dim = next((i for i in range(a.ndim) if a.shape[i] == 3 and b.shape[i] == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in input (shapes {tuple(a.shape)} and "
                               f"{tuple(b.shape)})")
    d = norm_dim(dim, a.ndim, "cross")
    if a.shape[d] != 3 or b.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got {a.shape[d]} and "
                           f"{b.shape[d]} (shapes {tuple(a.shape)} and {tuple(b.shape)})")
    try:
        return L.Cross.apply(a, b, d)
    except ValueError:
        raise E._shape_error("cross", a, b) from None


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times; ``repeats`` an int or a 1-D tensor."""
    Tensor = _Tensor()
    x = _t(input, "repeat_interleave")
    if repeats is None:  # repeat_interleave(repeats): arange(len) repeated
        r = x._data
        if r.ndim != 1 or r.dtype.kind not in "iu":
            raise RuntimeError(f"repeat_interleave: repeats must be a 1-D integer tensor, got shape {tuple(x.shape)} "
                               f"dtype {x.dtype}")
        return _const(x.xp.repeat(x.xp.arange(r.shape[0], dtype="int64"), r))
    if dim is None:
        x = reshape(x, (-1,))
        d = 0
    else:
        d = norm_dim(dim, x.ndim, "repeat_interleave")
        if x.ndim == 0:
            x = reshape(x, (1,))
    xp = x.xp
    n = x.shape[d]
    if isinstance(repeats, Tensor):
        r = repeats._data
        if r.dtype.kind not in "iu" or r.ndim > 1:
            raise RuntimeError(f"repeat_interleave: repeats must be an integer scalar or 1-D tensor, got shape "
                               f"{tuple(repeats.shape)} dtype {repeats.dtype}")
        r = r.reshape(-1)
        if r.shape[0] not in (1, n):
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim {d} ({n}), "
                               f"got {r.shape[0]} (input shape {tuple(x.shape)})")
        if (r < 0).any():
            raise RuntimeError("repeat_interleave: repeats can not be negative")
    else:
        if int(repeats) < 0:
            raise RuntimeError(f"repeat_interleave: repeats can not be negative, got {repeats}")
        r = int(repeats)
    idx = xp.repeat(xp.arange(n, dtype="int64"), r)
    return I.IndexSelect.apply(x, d, idx)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors; ``indexing`` 'ij' (matrix, the default) or 'xy' (Cartesian)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    ts = [_t(x, "meshgrid") for x in tensors]
    for x in ts:
        if x.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0D or 1D tensors, got shape {tuple(x.shape)}")
    ts = [reshape(x, (-1,)) for x in ts]
    if builtins.any(x._data.dtype != ts[0]._data.dtype for x in ts):
        raise RuntimeError(f"meshgrid: expected all tensors to have the same dtype, got {[x.dtype for x in ts]}")
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(x.shape[0] for x in ts)
    out = []
    for i, x in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(expand(reshape(x, tuple(view)), shape))
    if swap:  # 'xy' is 'ij' on (y, x, ...): the first two grids trade places
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def take_along_dim(input, indices, dim=None):
    x, idx = _t(input, "take_along_dim"), _t(indices, "take_along_dim")
    if idx._data.dtype.kind not in "iu":
        raise RuntimeError(f"take_along_dim(): dtype of indices should be int64 but got {idx.dtype}")
    if dim is None:
        return gather(reshape(x, (-1,)), 0, reshape(idx, (-1,)))
    d = norm_dim(dim, x.ndim, "take_along_dim")
    if x.ndim != idx.ndim:
        raise RuntimeError(f"take_along_dim(): input and indices should have the same number of dimensions, but got "
                           f"{x.ndim} dimensions for input, and {idx.ndim} dimensions for indices")
    import numpy as np  # shape arithmetic only

    try:
        sx = list(np.broadcast_shapes(tuple(s for i, s in enumerate(x.shape) if i != d),
                                      tuple(s for i, s in enumerate(idx.shape) if i != d)))
    except ValueError:
        raise RuntimeError(f"take_along_dim(): input {tuple(x.shape)} and indices {tuple(idx.shape)} cannot be "
                           f"broadcast apart from dim {d}") from None
    xs, js = list(sx), list(sx)
    xs.insert(d, x.shape[d])
    js.insert(d, idx.shape[d])
    data = idx._data % x.shape[d] if x.shape[d] else idx._data  # negative indices count from the end
    return gather(expand(x, tuple(xs)), d, _const(x.xp.broadcast_to(data, tuple(js))))


def _scatter_args(op, input, dim, index, src=None):
    x = _t(input, op)
    idx = _t(index, op)
    if idx._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int64 for index, got {idx.dtype}")
    if x.ndim == 0:
        x1, i1 = reshape(x, (1,)), reshape(idx, (1,)) if idx.ndim == 0 else idx
        s1 = reshape(src, (1,)) if src is not None and src.ndim == 0 else src
        return x1, 0, i1, s1, True
    d = norm_dim(dim, x.ndim, op)
    if idx.ndim != x.ndim:
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as self tensor (index "
                           f"{tuple(idx.shape)}, self {tuple(x.shape)})")
    for k in range(x.ndim):
        if (k != d and idx.shape[k] > x.shape[k]) or (src is not None and idx.shape[k] > src.shape[k]):
            raise RuntimeError(f"{op}(): Expected index {tuple(idx.shape)} to be smaller than self "
                               f"{tuple(x.shape)} apart from dimension {d} and to be smaller size than src "
                               f"{tuple(src.shape) if src is not None else None}")
    if idx._data.size and (idx._data.min() < 0 or idx._data.max() >= x.shape[d]):
        raise RuntimeError(f"{op}(): index out of bounds for dimension {d} with size {x.shape[d]} (index values in "
                           f"[{int(idx._data.min())}, {int(idx._data.max())}])")
    return x, d, idx, src, False


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """out = input.clone(); out[index[i][j]][j] = src[i][j] (dim = 0), or the scalar ``value``."""
    Tensor = _Tensor()
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # scatter(input, dim, index, 1.5): the value form
    if (src is None) == (value is None):
        raise TypeError("scatter(): expected exactly one of src (a Tensor) or value (a number)")
    if reduce is not None:
        if reduce not in ("add", "multiply"):
            raise RuntimeError(f"scatter(): reduce argument must be either add or multiply, got {reduce!r}")
        if src is None:
            src = full_like_index(index, value, _t(input, "scatter"))
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    x, d, idx, s, was0d = _scatter_args("scatter", input, dim, index, src)
    if s is not None and s._data.dtype != x._data.dtype:
        s = s.to(x.dtype)
    out = I.Scatter.apply(x, d, idx._data, s, None if s is not None else _py_number(value))
    return reshape(out, ()) if was0d else out


def full_like_index(index, value, like):
    return _const(like.xp.full(tuple(index.shape), value, dtype=like._data.dtype))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce ``src`` into ``input`` at ``index`` along ``dim``: 'sum', 'prod', 'mean', 'amax' or 'amin'."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce!r}")
    s = _t(src, "scatter_reduce")
    x, d, idx, s, was0d = _scatter_args("scatter_reduce", input, dim, index, s)
    if s._data.dtype != x._data.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, got {x.dtype} and "
                           f"{s.dtype}")
    out = I.ScatterReduce.apply(x, d, idx._data, s, reduce, bool(include_self))
    return reshape(out, ()) if was0d else out


def _index_args(op, input, dim, index, source=None, negative=False):
    x = _t(input, op)
    d = norm_dim(dim, x.ndim, op)
    idx = _t(index, op)
    if idx.ndim > 1 or idx._data.dtype.kind not in "iu":
        raise IndexError(f"{op}(): index must be a 1-D integer tensor, got shape {tuple(idx.shape)} dtype "
                         f"{idx.dtype}")
    i = idx._data.reshape(-1)
    n = x.shape[d] if x.ndim else 1
    if i.size and (i.min() < (-n if negative else 0) or i.max() >= n):  # only index_fill counts from the end
        raise IndexError(f"{op}(): index out of range for dimension {d} with size {n} (values in "
                         f"[{int(i.min())}, {int(i.max())}])")
    i = i % n if n else i
    if source is not None:
        expect = list(x.shape)
        if expect:
            expect[d] = i.size
        if tuple(source.shape) != tuple(expect) and not (x.ndim == 0 and source.numel() == 1):
            raise RuntimeError(f"{op}(): source must have shape {tuple(expect)} (self {tuple(x.shape)} with "
                               f"len(index) = {i.size} along dim {d}), got {tuple(source.shape)}")
    return x, d, i


def index_add(input, dim, index, source, *, alpha=1):
    s = _t(source, "index_add")
    x, d, i = _index_args("index_add", input, dim, index, s)
    if s._data.dtype != x._data.dtype:
        raise RuntimeError(f"index_add(): self ({x.dtype}) and source ({s.dtype}) must have the same scalar type")
    if x.ndim == 0:
        return reshape(I.IndexAdd.apply(reshape(x, (1,)), 0, i, reshape(s, (-1,)), alpha), ())
    return I.IndexAdd.apply(x, d, i, s, alpha)


def index_copy(input, dim, index, source):
    s = _t(source, "index_copy")
    x, d, i = _index_args("index_copy", input, dim, index, s)
    if s._data.dtype != x._data.dtype:
        raise RuntimeError(f"index_copy(): self ({x.dtype}) and source ({s.dtype}) must have the same scalar type")
    if x.ndim == 0:
        return reshape(I.IndexCopy.apply(reshape(x, (1,)), 0, i, reshape(s, (-1,))), ())
    return I.IndexCopy.apply(x, d, i, s)


def index_fill(input, dim, index, value):
    """out = input with every slice ``index`` along ``dim`` set to ``value`` (a number or a 0-d tensor)."""
    x, d, i = _index_args("index_fill", input, dim, index, negative=True)
    xp = x.xp
    n = x.shape[d] if x.ndim else 1
    m = xp.zeros(n, dtype=bool)
    m[i] = True
    shape = [1] * x.ndim
    if x.ndim:
        shape[d] = n
    return masked_fill(x, _const(m.reshape(shape)), value)


# --------------------------------------------------------------------------- scans, medians, nan-aware and counting

_cummax_values, _cummin_values, _median_values = (_return_type(n) for n in ("cummax", "cummin", "median"))


def _scan_input(input, dim, op, dtype=None):
    x = _t(input, op)
    if dtype is not None:
        x = x.to(dtype)
    d = norm_dim(dim, x.ndim, op)
    return x, d


def cumprod(input, dim, *, dtype=None):
    x, d = _scan_input(input, dim, "cumprod", dtype)
    if x._data.dtype.kind in "bui":
        x = x.to(_int64_dtype())  # integer products accumulate in int64, as in PyTorch
    if x.ndim == 0:
        return x.clone()
    return R.Cumprod.apply(x, d)


def _int64_dtype():
    from lamina.backend.dtypes import int64

    return int64


def _cum_extreme(cls, op, rtype):
    def fn(input, dim):
        x, d = _scan_input(input, dim, op)
        if x.ndim == 0:
            return rtype(x.clone(), _const(x.xp.zeros((), dtype="int64")))
        return rtype(*cls.apply(x, d))

    fn.__name__ = op
    fn.__doc__ = f"{op}(input, dim): running (values, indices) along dim; ties take the latest index."
    return fn


cummax = _cum_extreme(R.Cummax, "cummax", _cummax_values)
cummin = _cum_extreme(R.Cummin, "cummin", _cummin_values)


def logcumsumexp(input, dim):
    x = _float_input(input, "logcumsumexp")
    d = norm_dim(dim, x.ndim, "logcumsumexp")
    if x.ndim == 0:
        return x.clone()
    return R.Logcumsumexp.apply(x, d)


def median(input, dim=None, keepdim=False):
    """The lower median (of all elements, or (values, indices) along ``dim``); NaN propagates."""
    x = _t(input, "median")
    if dim is None:
        if x._data.size == 0:
            return _const(x.xp.asarray(float("nan"), dtype=x._data.dtype))
        return R.MedianAll.apply(x)
    d = norm_dim(dim, x.ndim, "median")
    if x.ndim == 0:
        return _median_values(x.clone(), _const(x.xp.zeros((), dtype="int64")))
    _check_nonempty(x, (d,), "median")
    return _median_values(*R.MedianDim.apply(x, d, keepdim))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    x = _t(input, "nansum")
    npd = _np_dtype_or_none(dtype)
    if npd is None and x._data.dtype.kind in "bui":
        npd = x.xp.int64
    return R.Nansum.apply(x, norm_dims(dim, x.ndim, "nansum"), keepdim, npd)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    x = _t(input, "nanmean")
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {x.dtype}")
    return R.Nanmean.apply(x, norm_dims(dim, x.ndim, "nanmean"), keepdim)


def count_nonzero(input, dim=None):
    x = _t(input, "count_nonzero")
    axes = norm_dims(dim, x.ndim, "count_nonzero")
    return _const(x.xp.asarray(x.xp.count_nonzero(x._data, axis=axes)).astype("int64"))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct elements (sorted), optionally with the inverse indices and the counts; ``dim`` for slices."""
    x = _t(input, "unique")
    xp = x.xp
    if dim is None:
        vals, inv, cnt = xp.unique(x._data.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(x.shape)
    else:
        d = norm_dim(dim, x.ndim, "unique")
        if x.shape[d] == 0:
            raise RuntimeError(f"unique: number of sizes along dim {d} is 0 (shape {tuple(x.shape)})")
        vals, inv, cnt = xp.unique(x._data, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    out = [_const(vals)]
    if return_inverse:
        out.append(_const(inv.astype("int64")))
    if return_counts:
        out.append(_const(cnt.astype("int64")))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    x = _t(input, "bincount")
    if x.ndim != 1 or x._data.dtype.kind not in "iu":
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got shape {tuple(x.shape)} "
                           f"dtype {x.dtype}")
    if x._data.size and x._data.min() < 0:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (minimum {int(x._data.min())})")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    xp = x.xp
    if weights is None:
        return _const(xp.bincount(x._data, minlength=minlength).astype("int64"))
    w = _t(weights, "bincount")
    if tuple(w.shape) != tuple(x.shape):
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input, got "
                           f"{tuple(w.shape)} for input {tuple(x.shape)}")
    dt = w._data.dtype if w._data.dtype.kind == "f" else xp.float64
    return _const(xp.bincount(x._data, weights=w._data, minlength=minlength).astype(dt))


def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """A histogram of ``bins`` equal bins over [min, max] (both 0: the data's range); outside values are ignored."""
    x = _t(input, "histc")
    if x._data.dtype.kind != "f":
        raise RuntimeError(f"histc: expected a floating point tensor, got {x.dtype}")
    if bins <= 0:
        raise RuntimeError(f"histc: bins must be > 0, got {bins}")
    xp = x.xp
    data = x._data.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi and data.size:
        lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi or not (builtins.abs(lo) < float("inf") and builtins.abs(hi) < float("inf")):
        raise RuntimeError(f"histc: range of [{lo}, {hi}] is not finite or min > max")
    inside = data[(data >= lo) & (data <= hi)]
    pos = ((inside - lo) * bins / (hi - lo)).astype(xp.int64)  # PyTorch's bin arithmetic
    pos = xp.minimum(pos, bins - 1)
    return _const(xp.bincount(pos, minlength=bins).astype(x._data.dtype))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Indices where ``input`` would be inserted into the (innermost-dim sorted) ``sorted_sequence``."""
    Tensor = _Tensor()
    seq = _t(sorted_sequence, "searchsorted")
    scalar = not isinstance(input, Tensor)
    v = _t(input, "searchsorted")
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("searchsorted(): side and right can't be set to opposites, got side of left while "
                               "right was True")
        right = side == "right"
    xp = seq.xp
    s = seq._data
    if sorter is not None:
        s = xp.take_along_axis(s, _t(sorter, "searchsorted")._data, axis=-1)
    if s.ndim == 0:
        raise RuntimeError("searchsorted(): boundaries tensor should have positive dimension")
    if s.ndim == 1:
        out = xp.searchsorted(s, v._data, side="right" if right else "left")
    else:
        if scalar or v.ndim != s.ndim or tuple(v.shape[:-1]) != tuple(s.shape[:-1]):
            raise RuntimeError(f"searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                               f"of boundaries tensor and input value tensor must match, but we got boundaries "
                               f"tensor {list(seq.shape)} and input value tensor {list(v.shape)}")
        # count the boundaries below each value, row by row: one comparison per (value, boundary) pair
        cmp = s[..., None, :] <= v._data[..., :, None] if right else s[..., None, :] < v._data[..., :, None]
        out = cmp.sum(axis=-1)
    return _const(xp.asarray(out).astype("int32" if out_int32 else "int64"))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each element: i with boundaries[i-1] < x <= boundaries[i] (right=False)."""
    b = _t(boundaries, "bucketize")
    if b.ndim != 1:
        raise RuntimeError(f"bucketize: boundaries tensor must be 1 dimension, but got dim({b.ndim})")
    return searchsorted(b, input, out_int32=out_int32, right=right)


# --------------------------------------------------------------------------- more linear algebra

def _scaled_sum(input, prod, beta, alpha):
    """beta * input + alpha * prod; beta = 0 ignores input entirely (nan and inf in it do not propagate)."""
    out = prod if alpha == 1 else mul(prod, alpha)
    if beta == 0:
        return out
    return add(input if beta == 1 else mul(input, beta), out)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), input broadcastable to (n, p)."""
    x, a, b = _t(input, "addmm"), _t(mat1, "addmm"), _t(mat2, "addmm")
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise RuntimeError(f"addmm: mat1 and mat2 shapes cannot be multiplied ({tuple(a.shape)} and "
                           f"{tuple(b.shape)})")
    return _addmm_like("addmm", x, matmul(a, b), beta, alpha)


def _addmm_like(op, x, prod, beta, alpha):
    import numpy as np  # shape arithmetic only

    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(prod.shape))
    except ValueError:
        shape = None
    if shape != tuple(prod.shape):
        raise RuntimeError(f"{op}: the input of shape {tuple(x.shape)} must broadcast to the product's shape "
                           f"{tuple(prod.shape)}")
    return _scaled_sum(x, prod, beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) for (b, n, m) and (b, m, p) batches."""
    x, a, b = _t(input, "baddbmm"), _t(batch1, "baddbmm"), _t(batch2, "baddbmm")
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"baddbmm: expected batches (b, n, m) and (b, m, p), got {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    return _addmm_like("baddbmm", x, matmul(a, b), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * Σ_b batch1[b] @ batch2[b] (the batch summed out)."""
    x, a, b = _t(input, "addbmm"), _t(batch1, "addbmm"), _t(batch2, "addbmm")
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"addbmm: expected batches (b, n, m) and (b, m, p), got {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    n, m, p = a.shape[1], a.shape[2], b.shape[2]
    # Σ_b A_b B_b = [A_0 ... A_B] (n, b m) @ [B_0; ...; B_B] (b m, p): one matrix product
    prod = matmul(reshape(permute(a, (1, 0, 2)), (n, -1)), reshape(b, (-1, p))) if m and a.shape[0] else \
        _const(a.xp.zeros((n, p), dtype=a._data.dtype))
    return _addmm_like("addbmm", x, prod, beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec) for an (n, m) matrix and an (m,) vector."""
    x, a, v = _t(input, "addmv"), _t(mat, "addmv"), _t(vec, "addmv")
    if a.ndim != 2 or v.ndim != 1 or a.shape[1] != v.shape[0]:
        raise RuntimeError(f"addmv: expected a matrix (n, m) and a vector (m,), got {tuple(a.shape)} and "
                           f"{tuple(v.shape)}")
    return _addmm_like("addmv", x, matmul(a, v), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2)."""
    x, u, v = _t(input, "addr"), _t(vec1, "addr"), _t(vec2, "addr")
    if u.ndim != 1 or v.ndim != 1:
        raise RuntimeError(f"addr: expected 1-D vectors, got {tuple(u.shape)} and {tuple(v.shape)}")
    return _addmm_like("addr", x, outer(u, v), beta, alpha)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M): (..., P, R)."""
    a, b = _float_input(x1, "cdist"), _float_input(x2, "cdist")
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must be at least 2-D with the same number of columns, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(f"cdist: X1 and X2 must have the same dtype, got {a.dtype} and {b.dtype}")
    p = float(p)
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise ValueError(f"cdist: {compute_mode} is not a valid value for compute_mode")
    import numpy as np  # shape arithmetic only

    try:
        np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
    except ValueError:
        raise RuntimeError(f"cdist: batch dimensions of {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           f"broadcast") from None
    use_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or (
        compute_mode == modes[0] and (a.shape[-2] > 25 or b.shape[-2] > 25)))
    return L.Cdist.apply(a, b, p, use_mm)


# --------------------------------------------------------------------------- exports
# Public ``lamina.<name>`` functions added beyond the first core set, and those that are also Tensor methods.

EXTRA_FUNCTIONS = (
    "sinh", "cosh", "tan", "asin", "acos", "atan", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan",
    "arcsinh", "arccosh", "arctanh", "log2", "log10", "exp2", "expm1", "erf", "erfc", "erfinv", "frac", "floor",
    "ceil", "trunc", "fix", "round", "nan_to_num", "clamp_min", "clamp_max", "atan2", "arctan2", "hypot",
    "logaddexp", "fmod", "remainder", "lerp",
    "einsum", "roll", "movedim", "moveaxis", "narrow", "diag", "diagonal", "trace", "kron", "cross",
    "repeat_interleave", "meshgrid", "take_along_dim", "scatter", "scatter_reduce", "index_add", "index_copy",
    "index_fill", "cumprod", "cummax", "cummin", "logcumsumexp", "median", "nansum", "nanmean", "count_nonzero",
    "unique", "bincount", "histc", "searchsorted", "bucketize", "addmm", "baddbmm", "addbmm", "addmv",
    "addr", "cdist",
)
EXTRA_METHODS = (
    "sinh", "cosh", "tan", "asin", "acos", "atan", "asinh", "acosh", "atanh", "arcsin", "arccos", "arctan",
    "arcsinh", "arccosh", "arctanh", "log2", "log10", "exp2", "expm1", "erf", "erfc", "erfinv", "frac", "floor",
    "ceil", "trunc", "fix", "round", "nan_to_num", "clamp_min", "clamp_max", "atan2", "arctan2", "hypot",
    "logaddexp", "fmod", "remainder", "lerp",
    "roll", "movedim", "moveaxis", "narrow", "diag", "diagonal", "trace", "kron", "cross", "repeat_interleave",
    "take_along_dim", "scatter", "scatter_reduce", "index_add", "index_copy", "index_fill",
    "cumprod", "cummax", "cummin", "logcumsumexp", "median", "nansum", "nanmean", "count_nonzero", "unique",
    "bincount", "histc",
    "addmm", "baddbmm", "addbmm", "addmv", "addr",
)
