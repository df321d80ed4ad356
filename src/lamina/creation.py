"""Tensor creation: from data, filled, random and ranges (PyTorch's names, arguments and default dtypes)."""

import math
import numbers

import numpy as np

from lamina.backend.dtypes import get_default_dtype, int64, to_numpy_dtype
from lamina.backend.random import _rng
from lamina.backend.xp import device as _device
from lamina.tensor import Tensor


def _to_array(data, dtype, device):
    """Convert Python data, NumPy arrays or Tensors to an array with PyTorch's dtype inference."""
    npd = to_numpy_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data._data
        arr = arr.astype(npd) if npd is not None and arr.dtype != npd else arr.copy()
    elif isinstance(data, np.ndarray) or (hasattr(data, "__array__") and not isinstance(data, (list, tuple))):
        arr = np.array(data, dtype=npd)
        if npd is None and arr.dtype.kind not in "fiub":
            raise TypeError(f"tensor: can't convert an array of dtype {arr.dtype} to a tensor")
    else:
        if isinstance(data, (list, tuple)) and _has_tensor(data):
            data = _tensors_to_lists(data)
        arr = np.array(data)
        if npd is not None:
            arr = arr.astype(npd)
        elif arr.dtype.kind == "f":
            arr = arr.astype(get_default_dtype().np)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        elif arr.dtype.kind == "b":
            pass
        elif arr.size == 0 and arr.dtype == np.float64:
            arr = arr.astype(get_default_dtype().np)
        else:
            raise TypeError(f"tensor: could not infer a dtype from data of type {type(data).__name__} "
                            f"(NumPy gave {arr.dtype})")
    if device is not None and _device(device).type == "cuda":
        from lamina.tensor import _move

        arr = _move(arr, _device(device))
    return arr


def _has_tensor(seq):
    for x in seq:
        if isinstance(x, Tensor):
            return True
        if isinstance(x, (list, tuple)) and _has_tensor(x):
            return True
    return False


def _tensors_to_lists(seq):
    return [x.tolist() if isinstance(x, Tensor) else (_tensors_to_lists(x) if isinstance(x, (list, tuple)) else x)
            for x in seq]


def tensor(data, *, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (nested lists, scalars, NumPy arrays or Tensors).

    Python floats become the default dtype (float32), ints int64, bools bool; NumPy arrays keep their dtype.
    """
    arr = _to_array(data, dtype, device)
    if isinstance(data, np.ndarray) and arr is data:
        arr = arr.copy()
    t = Tensor._make(arr, False, None, 0)
    if requires_grad:
        t.requires_grad = True
    return t


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor`` but shares memory with a NumPy array or Tensor when no conversion is needed."""
    npd = to_numpy_dtype(dtype)
    if isinstance(data, Tensor):
        return data if npd is None or data._data.dtype == npd else data.to(npd)
    if isinstance(data, np.ndarray) and (npd is None or data.dtype == npd) and device in (None, "cpu"):
        return Tensor._make(data, False, None, 0)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray`` (changes to one show in the other)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in "fiub":
        raise TypeError(f"from_numpy: can't convert np.ndarray of type {ndarray.dtype}. The only supported types "
                        f"are: float64, float32, float16, int64, int32, int16, int8, uint8, and bool.")
    return Tensor._make(ndarray, False, None, 0)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.item()
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"size must be a tuple of ints, but got an element of type {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(arr, requires_grad, device=None):
    if device is not None and _device(device).type == "cuda":
        from lamina.tensor import _move

        arr = _move(arr, _device(device))
    t = Tensor._make(arr, False, None, 0)
    if requires_grad:
        t.requires_grad = True
    return t


def _float_dtype(dtype):
    return to_numpy_dtype(dtype) if dtype is not None else get_default_dtype().np


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.zeros(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.ones(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _finish(np.empty(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        if isinstance(fill_value, bool):
            npd = np.bool_
        elif isinstance(fill_value, numbers.Integral):
            npd = np.int64
        else:
            npd = get_default_dtype().np
    else:
        npd = to_numpy_dtype(dtype)
    return _finish(np.full(_size((size,) if isinstance(size, int) else (tuple(size),)), fill_value, dtype=npd),
                   requires_grad, device)


def _like(fn):
    def like(input, *, dtype=None, device=None, requires_grad=False, **kw):
        d = dtype if dtype is not None else input.dtype
        return fn(*input.shape, dtype=d, device=device or input.device, requires_grad=requires_grad, **kw)

    like.__name__ = fn.__name__ + "_like"
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False):
    return full(tuple(input.shape), fill_value, dtype=dtype if dtype is not None else input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform samples on [0, 1)."""
    npd = _float_dtype(dtype)
    arr = _rng(generator).random(_size(size), dtype=np.float64 if npd != np.float32 else np.float32).astype(npd)
    return _finish(arr, requires_grad, device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    npd = _float_dtype(dtype)
    arr = _rng(generator).standard_normal(_size(size), dtype=np.float64 if npd != np.float32 else np.float32)
    return _finish(arr.astype(npd, copy=False), requires_grad, device)


def rand_like(input, *, dtype=None, generator=None):
    return rand(*input.shape, dtype=dtype or input.dtype, generator=generator)


def randn_like(input, *, dtype=None, generator=None):
    return randn(*input.shape, dtype=dtype or input.dtype, generator=generator)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers drawn uniformly from [low, high); ``randint(high, size)`` is also accepted."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    arr = _rng(generator).integers(low, high, size=_size((tuple(size),)), dtype=np.int64)
    npd = to_numpy_dtype(dtype) if dtype is not None else np.int64
    return _finish(arr.astype(npd, copy=False), requires_grad, device)


def randint_like(input, low=0, high=None, *, dtype=None, generator=None):
    return randint(low, high, tuple(input.shape), dtype=dtype or input.dtype, generator=generator)


def randperm(n, *, generator=None, dtype=int64, device=None, requires_grad=False):
    """A random permutation of 0 .. n-1."""
    if n < 0:
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    return _finish(_rng(generator).permutation(n).astype(to_numpy_dtype(dtype)), requires_grad, device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None):
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = mean._data if isinstance(mean, Tensor) else mean
        s = std._data if isinstance(std, Tensor) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dt = (mean if isinstance(mean, Tensor) else std)._data.dtype
        return _finish((_rng(generator).standard_normal(shape) * s + m).astype(dt), False)
    return _finish((_rng(generator).standard_normal(_size((tuple(size),))) * std + mean).astype(_float_dtype(dtype)),
                   False)


def bernoulli(input, p=None, *, generator=None):
    probs = input._data if p is None else np.full(input.shape, p)
    return _finish((_rng(generator).random(probs.shape) < probs).astype(input._data.dtype), False)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Draw category indices from the (unnormalised) probabilities in each row of ``input``."""
    p = np.asarray(input._data, dtype=np.float64)
    single = p.ndim == 1
    p = p.reshape(1, -1) if single else p
    if (p < 0).any() or not np.isfinite(p).all():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or element < 0")
    rng = _rng(generator)
    rows = []
    for row in p:  # one draw call per distribution (row), vectorised within the row
        s = row.sum()
        if s <= 0:
            raise RuntimeError("multinomial: invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement and num_samples > (row > 0).sum():
            raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        rows.append(rng.choice(row.size, size=num_samples, replace=replacement, p=row / s))
    out = np.stack(rows).astype(np.int64)
    return _finish(out[0] if single else out, False)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 when all arguments are integers."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(f"arange: upper bound and larger bound inconsistent with step sign "
                           f"(start={start}, end={end}, step={step})")
    if dtype is None:
        npd = np.int64 if all(isinstance(v, numbers.Integral) for v in vals) else get_default_dtype().np
    else:
        npd = to_numpy_dtype(dtype)
    n = max(math.ceil((end - start) / step), 0)
    arr = (start + np.arange(n, dtype=np.float64) * step) if np.dtype(npd).kind == "f" else \
        np.arange(start, end, step, dtype=np.int64)
    return _finish(arr.astype(npd), requires_grad, device)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    return _finish(np.linspace(start, end, steps, dtype=np.float64).astype(_float_dtype(dtype)), requires_grad,
                   device)


def logspace(start, end, steps, base=10.0, *, dtype=None):
    return _finish(np.logspace(start, end, steps, base=base).astype(_float_dtype(dtype)), False)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, n if m is None else m, dtype=_float_dtype(dtype)), requires_grad, device)


def tril(input, diagonal=0):
    from lamina.ops.functions import where

    # where, not a product with the mask: -inf * 0 would be NaN (causal masks are triu(full(-inf), 1))
    mask = Tensor._make(np.tril(np.ones(input.shape[-2:], dtype=bool), diagonal), False, None, 0)
    return where(mask, input, zeros((), dtype=input.dtype))


def triu(input, diagonal=0):
    from lamina.ops.functions import where

    # where, not a product with the mask: -inf * 0 would be NaN (causal masks are triu(full(-inf), 1))
    mask = Tensor._make(np.triu(np.ones(input.shape[-2:], dtype=bool), diagonal), False, None, 0)
    return where(mask, input, zeros((), dtype=input.dtype))
