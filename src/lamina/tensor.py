"""``Tensor``: an n-dimensional array (NumPy or CuPy) plus the fields autograd needs.

Operators and methods are the functions of ``lamina.ops.functions``, bound
below; in-place methods follow PyTorch's rules (an error on a leaf that
requires grad, a rebased history on a non-leaf).
"""

import weakref

from lamina.autograd.function import ArrayFunction, _RemovableHandle
from lamina.autograd.grad_mode import state
from lamina.backend.dtypes import bool_ as _bool
from lamina.backend.dtypes import dtype as _dtype_cls
from lamina.backend.dtypes import (
    float16,
    float32,
    float64,
    from_numpy_dtype,
    get_default_dtype,
    int32,
    int64,
    to_numpy_dtype,
)
from lamina.backend.xp import device as _device
from lamina.backend.xp import device_of, get_xp, numpy_module
from lamina.ops import elementwise as E
from lamina.ops import functions as OF


class Tensor:
    """A multi-dimensional array with reverse-mode automatic differentiation.

    Create tensors with ``lamina.tensor``, ``lamina.zeros``, ``lamina.randn``...; a tensor created with
    ``requires_grad=True`` records the operations applied to it so that ``backward()`` can compute gradients.

    Example:
        >>> x = lamina.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = ("_data", "_requires_grad", "grad", "grad_fn", "_output_nr", "_hooks", "_version", "_retains_grad",
                 "__weakref__", "__dict__")

    __array_priority__ = 1000  # NumPy defers to Tensor's reflected operators

    def __init__(self, data=None, *, dtype=None, requires_grad=False):
        from lamina.creation import _to_array

        arr = _to_array([] if data is None else data, dtype if dtype is not None else get_default_dtype(), None)
        self._init(arr, requires_grad)

    def _init(self, arr, requires_grad):
        self._data = arr
        self._requires_grad = False
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._hooks = None
        self._version = 0
        self._retains_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, arr, requires_grad, grad_fn, output_nr):
        t = object.__new__(Tensor)
        t._data = arr
        t._requires_grad = requires_grad
        t.grad = None
        t.grad_fn = grad_fn
        t._output_nr = output_nr
        t._hooks = None
        t._version = 0
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ properties

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if value and self._data.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients (got {self.dtype})")
        if not value and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[OF.norm_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    ndimension = dim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    @property
    def dtype(self):
        return from_numpy_dtype(self._data.dtype)

    @property
    def device(self):
        return device_of(self._data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def xp(self):
        """The array module (NumPy or CuPy) of this tensor's data."""
        return get_xp(self._data)

    @property
    def data(self):
        """A tensor sharing this one's storage, outside the graph (PyTorch's ``.data``)."""
        return Tensor._make(self._data, False, None, 0)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else value

    def is_floating_point(self):
        return self._data.dtype.kind == "f"

    def is_contiguous(self):
        return bool(self._data.flags.c_contiguous)

    def contiguous(self):
        if self._data.flags.c_contiguous:
            return self
        return E.Clone.apply(self)

    def element_size(self):
        return self._data.itemsize

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[dim]

    def data_ptr(self):
        return self._data.__array_interface__["data"][0] if self.xp is numpy_module else self._data.data.ptr

    @property
    def T(self):  # noqa: N802
        return OF.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self):  # noqa: N802
        return OF.transpose(self, -2, -1)

    @property
    def retains_grad(self):
        return self._retains_grad

    # ------------------------------------------------------------------ conversion

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def numpy(self, *, force=False):
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.xp is not numpy_module:
            if not force:
                raise TypeError("can't convert cuda tensor to numpy. Use Tensor.cpu() to copy the tensor to host "
                                "memory first.")
            return self._data.get()
        return self._data

    def tolist(self):
        return self._data.tolist() if self.xp is numpy_module else self._data.get().tolist()

    def __array__(self, dtype=None, copy=None):
        arr = self._data if self.xp is numpy_module else self._data.get()
        return arr if dtype is None else arr.astype(dtype)

    def detach(self):
        return Tensor._make(self._data, False, None, 0)

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    def clone(self, *, memory_format=None):
        return E.Clone.apply(self)

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (_device,)) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda")):
                device = a
            elif a is not None:
                dtype = a
        out = self
        if device is not None:
            out = out._to_device(_device(device))
        if dtype is not None:
            npd = to_numpy_dtype(dtype)
            if out._data.dtype != npd:
                out = E.Cast.apply(out, npd)
        if copy and out is self:
            out = out.clone()
        return out

    def _to_device(self, dev):
        if dev == self.device:
            return self
        return _ToDevice.apply(self, dev)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def float(self):
        return self.to(float32)

    def double(self):
        return self.to(float64)

    def half(self):
        return self.to(float16)

    def long(self):
        return self.to(int64)

    def int(self):
        return self.to(int32)

    def bool(self):
        return self.to(_bool)

    def type(self, dtype=None):
        if dtype is None:
            return f"lamina.{self.dtype.name.capitalize()}Tensor"
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def new_tensor(self, data, dtype=None, requires_grad=False):
        from lamina.creation import tensor

        return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None):
        from lamina.creation import zeros

        return zeros(*size, dtype=dtype or self.dtype)

    def new_ones(self, *size, dtype=None):
        from lamina.creation import ones

        return ones(*size, dtype=dtype or self.dtype)

    def new_full(self, size, fill_value, dtype=None):
        from lamina.creation import full

        return full(size, fill_value, dtype=dtype or self.dtype)

    def new_empty(self, *size, dtype=None):
        from lamina.creation import empty

        return empty(*size, dtype=dtype or self.dtype)

    # ------------------------------------------------------------------ autograd

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor with respect to the graph's leaves (accumulated into ``.grad``)."""
        from lamina.autograd import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Run ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces the gradient."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def retain_grad(self):
        """Keep ``.grad`` of this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        ref = weakref.ref(self)

        def _store(g):
            t = ref()
            if t is not None:
                if t.grad is None:
                    t.grad = Tensor._make(g._data.copy(), False, None, 0)
                else:
                    t.grad._data = t.grad._data + g._data

        self.grad_fn._add_tensor_hook(self._output_nr, _store)
        self._retains_grad = True

    # ------------------------------------------------------------------ in place

    def _inplace_tracked(self, op, other=None):
        """True when this in-place op must be recorded (rebased history); raises for a leaf requiring grad."""
        if not state.enabled:
            return False
        other_rg = isinstance(other, Tensor) and other._requires_grad
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation. "
                               f"Wrap it in `with lamina.no_grad():` or use the out-of-place {op.rstrip('_')}.")
        return self._requires_grad or other_rg

    def _rebase(self, result):
        if result._data.dtype != self._data.dtype:
            result = result.to(self.dtype)
        if result._data.shape != self._data.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        self._data = result._data
        self.grad_fn = fn = result.grad_fn
        self._output_nr = result._output_nr
        self._requires_grad = result._requires_grad
        self._version += 1
        if fn is not None and fn._versions:  # the op that wrote self read it before: its input is now its output
            fn._versions = tuple([(r, self._version) if r() is self else (r, v) for r, v in fn._versions])
        return self

    def _inplace_array(self, op, ufunc, other):
        o = other._data if isinstance(other, Tensor) else other
        try:
            ufunc(self._data, o, out=self._data, casting="same_kind")
        except (TypeError, ValueError) as e:
            if "broadcast" in str(e):
                raise RuntimeError(f"{op}: output with shape {list(self.shape)} doesn't match the broadcast shape of "
                                   f"the operand {list(getattr(other, 'shape', ()))}") from None
            raise RuntimeError(f"{op}: result type can't be cast to the desired output type {self.dtype} "
                               f"({e})") from None
        self._version += 1
        return self

    def add_(self, other, *, alpha=1):
        if self._inplace_tracked("add_", other):
            return self._rebase(OF.add(self, other, alpha=alpha))
        if alpha != 1:
            other = (other._data if isinstance(other, Tensor) else other) * alpha
        return self._inplace_array("add_", self.xp.add, other)

    def sub_(self, other, *, alpha=1):
        if self._inplace_tracked("sub_", other):
            return self._rebase(OF.sub(self, other, alpha=alpha))
        if alpha != 1:
            other = (other._data if isinstance(other, Tensor) else other) * alpha
        return self._inplace_array("sub_", self.xp.subtract, other)

    def mul_(self, other):
        if self._inplace_tracked("mul_", other):
            return self._rebase(OF.mul(self, other))
        return self._inplace_array("mul_", self.xp.multiply, other)

    def div_(self, other):
        if self._inplace_tracked("div_", other):
            return self._rebase(OF.div(self, other))
        return self._inplace_array("div_", self.xp.true_divide, other)

    def pow_(self, exponent):
        if self._inplace_tracked("pow_", exponent):
            return self._rebase(OF.pow(self, exponent))
        return self._inplace_array("pow_", self.xp.power, exponent)

    def neg_(self):
        return self.mul_(-1)

    def clamp_(self, min=None, max=None):  # noqa: A002
        if self._inplace_tracked("clamp_"):
            return self._rebase(OF.clamp(self, min, max))
        self.xp.clip(self._data, min, max, out=self._data)
        self._version += 1
        return self

    clip_ = clamp_

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        if self._inplace_tracked("fill_", value):
            v = value if isinstance(value, Tensor) else Tensor._make(self.xp.asarray(value, self._data.dtype), False,
                                                                      None, 0)
            return self._rebase(OF.add(OF.mul(self, 0), v.expand(*self.shape)))
        self._data[...] = value._data if isinstance(value, Tensor) else value
        self._version += 1
        return self

    def copy_(self, src, non_blocking=False):
        if self._inplace_tracked("copy_", src):
            s = src if isinstance(src, Tensor) else Tensor._make(self.xp.asarray(src), False, None, 0)
            return self._rebase(OF.add(OF.mul(self, 0), s.to(self.dtype)))
        arr = src._data if isinstance(src, Tensor) else src
        if get_xp(arr) is not self.xp:
            arr = arr.get() if hasattr(arr, "get") else self.xp.asarray(arr)
        try:
            self._data[...] = arr
        except ValueError:
            raise RuntimeError(f"copy_: the size of src {tuple(getattr(src, 'shape', ()))} must be broadcastable to "
                               f"the size of self {tuple(self.shape)}") from None
        self._version += 1
        return self

    def masked_fill_(self, mask, value):
        if self._inplace_tracked("masked_fill_", value):
            return self._rebase(OF.masked_fill(self, mask, value))
        m = mask._data if isinstance(mask, Tensor) else mask
        self.xp.copyto(self._data, value._data if isinstance(value, Tensor) else value, where=m)
        self._version += 1
        return self

    def exp_(self):
        if self._inplace_tracked("exp_"):
            return self._rebase(OF.exp(self))
        self.xp.exp(self._data, out=self._data)
        self._version += 1
        return self

    def sqrt_(self):
        if self._inplace_tracked("sqrt_"):
            return self._rebase(OF.sqrt(self))
        self.xp.sqrt(self._data, out=self._data)
        self._version += 1
        return self

    def relu_(self):
        if self._inplace_tracked("relu_"):
            return self._rebase(OF.relu(self))
        self.xp.maximum(self._data, 0, out=self._data)
        self._version += 1
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from lamina.backend.random import _rng

        with _no_track(self, "uniform_"):
            self._data[...] = _rng(generator).uniform(a, b, size=self._data.shape).astype(self._data.dtype)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from lamina.backend.random import _rng

        with _no_track(self, "normal_"):
            self._data[...] = (_rng(generator).standard_normal(size=self._data.shape, dtype=numpy_module.float64) *
                               std + mean).astype(self._data.dtype)
        return self

    def bernoulli_(self, p=0.5, generator=None):
        from lamina.backend.random import _rng

        with _no_track(self, "bernoulli_"):
            self._data[...] = _rng(generator).random(size=self._data.shape) < p
        return self

    def __setitem__(self, key, value):
        k = OF._index_key(key, self)
        if self._inplace_tracked("__setitem__", value):
            v = value if isinstance(value, Tensor) else Tensor._make(self.xp.asarray(value, dtype=self._data.dtype),
                                                                      False, None, 0)
            if v._data.dtype != self._data.dtype:
                v = v.to(self.dtype)
            self._rebase(_SetItem.apply(self, k, v))
            return
        try:
            self._data[k] = value._data if isinstance(value, Tensor) else value
        except ValueError as e:
            raise RuntimeError(f"__setitem__: cannot assign a value of shape {tuple(getattr(value, 'shape', ()))} to "
                               f"index {key!r} of a tensor of shape {tuple(self.shape)} ({e})") from None
        self._version += 1

    # ------------------------------------------------------------------ python protocol

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(OF.unbind(self, 0))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous (shape "
                               f"{tuple(self.shape)})")
        return bool(self._data.reshape(()))

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __hash__(self):
        return id(self)

    def __getitem__(self, key):
        return OF.getitem(self, key)

    def __repr__(self):
        return _format(self)

    __str__ = __repr__

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return repr(self)

    def __reduce_ex__(self, protocol):
        # tensors cross process boundaries (DataLoader workers) as plain arrays; never used to load files
        return (_rebuild, (self.xp.asarray(self._data) if self.xp is numpy_module else self._data.get(),
                           self._requires_grad))

    def __deepcopy__(self, memo):
        t = Tensor._make(self._data.copy(), False, None, 0)
        t.__class__ = self.__class__
        if self._requires_grad:
            t._requires_grad = True
        if self.grad is not None:
            t.grad = Tensor._make(self.grad._data.copy(), False, None, 0)
        for k, v in getattr(self, "__dict__", {}).items():
            import copy

            t.__dict__[k] = copy.deepcopy(v, memo)
        memo[id(self)] = t
        return t


def _rebuild(arr, requires_grad):
    return Tensor._make(arr, requires_grad and arr.dtype.kind == "f", None, 0)


class _no_track:  # noqa: N801
    def __init__(self, t, op):
        if state.enabled and t._requires_grad and t.grad_fn is None:
            raise RuntimeError(f"{op}: a leaf Variable that requires grad is being used in an in-place operation.")
        self.t = t

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.t._version += 1
        return False


class Size(tuple):
    """A tensor's shape: a tuple of ints (``x.shape == (2, 3)`` holds)."""

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"lamina.Size([{', '.join(map(str, self))}])"


class _ToDevice(ArrayFunction):
    @staticmethod
    def forward(ctx, x, dev):
        ctx.src = device_of(x)
        return _move(x, dev)

    @staticmethod
    def backward(ctx, g):
        return _move(g, ctx.src), None


def _move(arr, dev):
    if dev.type == "cpu":
        return arr.get() if hasattr(arr, "get") else arr
    try:
        import cupy
    except ImportError:
        raise RuntimeError("lamina: device 'cuda' needs CuPy: pip install cupy-cuda12x (and an NVIDIA GPU)") from None
    with cupy.cuda.Device(dev.index or 0):
        return cupy.asarray(arr)


class _SetItem(ArrayFunction):
    """y = x with y[key] = v;  dx = g with g[key] = 0,  dv = g[key] (summed back to v's shape)"""

    @staticmethod
    def forward(ctx, x, key, v):
        out = x.copy()
        out[key] = v
        ctx.meta = (key, getattr(v, "shape", ()))
        return out

    @staticmethod
    def backward(ctx, g):
        key, vshape = ctx.meta
        gx = None
        if ctx.needs_input_grad[0]:
            gx = g.copy()
            gx[key] = 0
        gv = None
        if ctx.needs_input_grad[2]:
            from lamina.ops._util import unbroadcast

            gv = unbroadcast(g[key], vshape)
        return gx, None, gv


# ---------------------------------------------------------------------- repr


_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}


class _Formatter:
    """PyTorch's element formatter: one width for all elements; integer, fixed or scientific mode for floats."""

    def __init__(self, arr):
        np = numpy_module
        self.floating = arr.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        prec = _PRINT["precision"]
        if not self.floating:
            for v in arr.reshape(-1).tolist():
                self.width = max(self.width, len(str(v)))
            return
        flat = arr.reshape(-1).astype(np.float64)
        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return
        a = np.abs(vals)
        lo, hi = float(a.min()), float(a.max())
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        vals = vals.tolist()
        if self.sci_mode:
            self.width = max(len(f"{v:.{prec}e}") for v in vals)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in vals)
        else:
            self.width = max(len(f"{v:.{prec}f}") for v in vals)

    def format(self, v):
        prec = _PRINT["precision"]
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.width}.{prec}e}"
            elif self.int_mode:
                s = f"{v:.0f}" + ("" if v != v or v in (float("inf"), float("-inf")) else ".")
            else:
                s = f"{v:.{prec}f}"
        else:
            s = str(v)
        return " " * (self.width - len(s)) + s


def _summarized(arr, edge):
    """The elements a summarised print shows (first and last ``edge`` along every dimension)."""
    np = numpy_module
    for d in range(arr.ndim):
        if arr.shape[d] > 2 * edge:
            arr = np.concatenate([arr.take(range(edge), axis=d), arr.take(range(arr.shape[d] - edge, arr.shape[d]),
                                                                           axis=d)], axis=d)
    return arr


def _body(arr, indent, summarize, fmt):
    edge = _PRINT["edgeitems"]
    if arr.ndim == 0:
        return fmt.format(arr.item())
    n = arr.shape[0]
    cut = summarize and n > 2 * edge
    if arr.ndim == 1:
        per_line = max(1, (_PRINT["linewidth"] - indent) // (fmt.width + 2))
        if cut:
            items = [fmt.format(v) for v in arr[:edge].tolist()] + [" ..."] + [
                fmt.format(v) for v in arr[n - edge:].tolist()]
        else:
            items = [fmt.format(v) for v in arr.tolist()]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(edge)) + [None] + list(range(n - edge, n)) if cut else range(n)
    parts = ["..." if i is None else _body(arr[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _format(t):
    """``repr(tensor)`` in PyTorch's layout (same widths, modes, line breaks, summarisation and suffixes)."""
    arr = t._data if t.xp is numpy_module else t._data.get()
    np = numpy_module
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if arr.dtype != get_default_dtype().np:
            suffixes.append(f"dtype={t.dtype!r}")
        body = "[]"
    else:
        if arr.dtype not in (get_default_dtype().np, np.dtype("int64"), np.dtype("bool")):
            suffixes.append(f"dtype={t.dtype!r}")
        summarize = arr.size > _PRINT["threshold"]
        fmt = _Formatter(_summarized(arr, _PRINT["edgeitems"]) if summarize else arr)
        body = _body(arr, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    out = [prefix + body]
    last = len(out[0]) - out[0].rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > _PRINT["linewidth"]:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    return "".join(out) + ")"


# ---------------------------------------------------------------------- methods and operators

def _inplace_method(fn, name):
    """``x.name_(...)``: the out-of-place op's result written into x (a rebased history when autograd records)."""

    def method(self, *args, **kwargs):
        other = next((a for a in list(args) + list(kwargs.values()) if isinstance(a, Tensor) and a._requires_grad),
                     None)
        if self._inplace_tracked(name, other):
            return self._rebase(fn(self, *args, **kwargs))
        from lamina.autograd.grad_mode import no_grad

        with no_grad():
            out = fn(self, *args, **kwargs)
        try:
            self._data[...] = out._data
        except ValueError:
            raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(out.shape)}") from None
        self._version += 1
        return self

    method.__name__ = name
    method.__doc__ = f"In-place form of ``{fn.__name__}``."
    return method


def _bind():
    def r(fn):
        return lambda self, other: fn(other, self)

    T = Tensor
    T.__add__ = T.add = OF.add
    T.__radd__ = lambda self, other: OF.add(self, other)
    T.__sub__ = T.sub = OF.sub
    T.__rsub__ = lambda self, other: OF.sub(other, self)
    T.__mul__ = T.__rmul__ = T.mul = OF.mul
    T.__truediv__ = T.div = T.divide = OF.div
    T.__rtruediv__ = r(OF.div)
    T.__floordiv__ = lambda self, other: OF.div(self, other, rounding_mode="floor")
    T.__rfloordiv__ = lambda self, other: OF.div(other, self, rounding_mode="floor")
    T.__mod__ = lambda self, other: OF.sub(self, OF.mul(OF.div(self, other, rounding_mode="floor"), other))
    T.__neg__ = T.neg = OF.neg
    T.__pos__ = lambda self: self
    T.__pow__ = T.pow = OF.pow
    T.__rpow__ = r(OF.pow)
    T.__matmul__ = T.matmul = OF.matmul
    T.__rmatmul__ = r(OF.matmul)
    T.__abs__ = T.abs = OF.abs
    T.__eq__, T.__ne__, T.__lt__, T.__le__, T.__gt__, T.__ge__ = OF.eq, OF.ne, OF.lt, OF.le, OF.gt, OF.ge
    T.eq, T.ne, T.lt, T.le, T.gt, T.ge = OF.eq, OF.ne, OF.lt, OF.le, OF.gt, OF.ge
    T.__and__ = T.logical_and = OF.logical_and
    T.__or__ = T.logical_or = OF.logical_or
    T.__xor__ = T.logical_xor = OF.logical_xor
    T.__invert__ = T.logical_not = OF.logical_not
    for name in ("exp", "log", "log1p", "sqrt", "rsqrt", "sin", "cos", "tanh", "sigmoid", "sign", "relu", "clamp",
                 "clip", "maximum", "minimum", "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax",
                 "argmin", "prod", "norm", "logsumexp", "softmax", "log_softmax", "reshape", "view", "flatten",
                 "unflatten", "squeeze", "unsqueeze", "transpose", "swapaxes", "permute", "t", "expand", "split",
                 "chunk", "unbind", "flip", "repeat", "tile", "gather", "scatter_add", "index_select", "masked_fill",
                 "masked_select", "nonzero", "topk", "sort", "argsort", "all", "any", "isnan", "isinf", "isfinite",
                 "mm", "bmm", "dot", "outer", "cumsum", "equal", "allclose", "isclose"):
        setattr(T, name, getattr(OF, name))
    for name in OF.EXTRA_METHODS:
        setattr(T, name, getattr(OF, name))
    for name in ("scatter", "scatter_reduce", "index_add", "index_copy", "index_fill", "clamp_min", "clamp_max",
                 "nan_to_num", "floor", "ceil", "round", "trunc", "frac", "lerp", "fmod", "remainder"):
        setattr(T, name + "_", _inplace_method(getattr(OF, name), name + "_"))
    T.where = lambda self, condition, other: OF.where(condition, self, other)
    T.__iadd__ = lambda self, other: self.add_(other)
    T.__isub__ = lambda self, other: self.sub_(other)
    T.__imul__ = lambda self, other: self.mul_(other)
    T.__itruediv__ = lambda self, other: self.div_(other)
    T.expand_as = lambda self, other: OF.expand(self, tuple(other.shape))
    T.view_as = lambda self, other: OF.view(self, tuple(other.shape))
    T.reshape_as = lambda self, other: OF.reshape(self, tuple(other.shape))
    T.broadcast_to = lambda self, shape: OF.broadcast_to(self, shape)
    T.square = OF.square
    T.reciprocal = OF.reciprocal
    T.dim_order = lambda self: tuple(range(self.ndim))


_bind()


def is_tensor(obj):
    return isinstance(obj, Tensor)


__all__ = ["Size", "Tensor", "is_tensor", "_dtype_cls"]
