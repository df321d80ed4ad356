"""``lamina.nn.init``: fill a tensor in place with an initial distribution (PyTorch's names, arguments and formulas).

Every function works under ``no_grad`` on the tensor's array, returns the tensor, and draws from ``generator`` or,
when none is given, from lamina's default generator (seeded by ``lamina.manual_seed``).

Example:
    >>> w = lamina.empty(256, 784)
    >>> nn.init.kaiming_uniform_(w, a=math.sqrt(5))   # nn.Linear's default
"""

import math
import warnings

from lamina.backend.random import _rng
from lamina.backend.xp import numpy_module as np

__all__ = ["calculate_gain", "constant_", "dirac_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_",
           "ones_", "orthogonal_", "sparse_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_",
           "zeros_"]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")


def _store(tensor, arr):
    """Write a NumPy array into the tensor's storage (on its device, in its dtype); no autograd record."""
    data = tensor._data
    if type(data) is not np.ndarray:  # CuPy storage: move the host draw to the device
        arr = tensor.xp.asarray(arr)
    data[...] = arr
    tensor._version += 1
    return tensor


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for a nonlinearity: 1 (linear, conv, sigmoid), 5/3 (tanh), √2 (relu),
    √(2 / (1 + slope²)) (leaky_relu, slope = param or 0.01), 3/4 (selu)."""
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif (isinstance(param, int) and not isinstance(param, bool)) or isinstance(param, float):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight: shape[1] and shape[0] times the receptive field (product of shape[2:])."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill with U(a, b)."""
    return _store(tensor, _rng(generator).uniform(a, b, size=tuple(tensor.shape)))


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill with N(mean, std²)."""
    return _store(tensor, _rng(generator).normal(mean, std, size=tuple(tensor.shape)))


def constant_(tensor, val):
    """Fill with the value ``val``."""
    return _store(tensor, val)


def ones_(tensor):
    """Fill with 1."""
    return _store(tensor, 1)


def zeros_(tensor):
    """Fill with 0."""
    return _store(tensor, 0)


def eye_(tensor):
    """Fill a 2-D tensor with the identity matrix (ones on the main diagonal)."""
    if tensor.dim() != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}")
    return _store(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: each group keeps as many input channels
    as it can unchanged."""
    shape = tuple(tensor.shape)
    if len(shape) not in (3, 4, 5):
        raise ValueError(f"Only tensors with 3, 4, or 5 dimensions are supported, got shape {shape}")
    if shape[0] % groups != 0:
        raise ValueError(f"dim 0 must be divisible by groups (dim 0 = {shape[0]}, groups = {groups})")
    per_group = shape[0] // groups
    d = np.arange(min(per_group, shape[1]))
    out_idx = (np.arange(groups)[:, None] * per_group + d[None, :]).ravel()
    in_idx = np.tile(d, groups)
    arr = np.zeros(shape)
    arr[(out_idx, in_idx) + tuple(s // 2 for s in shape[2:])] = 1
    return _store(tensor, arr)


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a), a = gain √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std²), std = gain √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    if 0 in tuple(tensor.shape):
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-b, b), b = gain √(3 / fan), gain = calculate_gain(nonlinearity, a), fan by ``mode``."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std²), std = gain / √fan, gain = calculate_gain(nonlinearity, a), fan by ``mode``."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain=1, generator=None):
    """A (semi-)orthogonal matrix (the tensor viewed as shape[0] x rest), scaled by ``gain``: the Q of the QR
    factorisation of a Gaussian matrix, with the signs made uniform."""
    if tensor.dim() < 2:
        raise ValueError(f"Only tensors with 2 or more dimensions are supported, got shape {tuple(tensor.shape)}")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _store(tensor, (q * gain).reshape(tuple(tensor.shape)))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """A 2-D matrix whose every column has ceil(sparsity * rows) zeros at random rows, the rest N(0, std²)."""
    if tensor.dim() != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got shape {tuple(tensor.shape)}")
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    rng = _rng(generator)
    arr = rng.normal(0.0, std, size=(rows, cols))
    # an independent random permutation of the rows per column: argsort of uniform keys along axis 0
    perm = np.argsort(rng.random((rows, cols)), axis=0)
    np.put_along_axis(arr, perm[:num_zeros], 0.0, axis=0)
    return _store(tensor, arr)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """N(mean, std²) restricted to [a, b] (values outside are redrawn)."""
    if not std > 0:
        raise ValueError(f"trunc_normal_: std must be positive, got {std}")
    if not a < b:
        raise ValueError(f"trunc_normal_: a ({a}) must be less than b ({b})")
    lo, hi = (a - mean) / std, (b - mean) / std
    z = _truncated_standard_normal(_rng(generator), tensor.numel(), lo, hi)
    return _store(tensor, (z * std + mean).clip(a, b).reshape(tuple(tensor.shape)))


def _phi(x):
    from lamina.ops.nn_activation import erf_array

    return 0.5 * (1 + float(erf_array(np, np.asarray(x / math.sqrt(2.0)))))


def _truncated_standard_normal(rng, n, lo, hi):
    """n draws of N(0, 1) conditioned on [lo, hi], by rejection from the proposal that accepts most often:
    N(0, 1) itself for a wide interval, U(lo, hi) for a narrow one, and a shifted exponential (Robert, 1995)
    for a far one-sided tail."""
    flip = False
    if hi < 0:  # the tail samplers below work on the positive side; mirror a negative interval
        lo, hi, flip = -hi, -lo, True
    mass = _phi(hi) - _phi(lo)
    m = min(max(lo, 0.0), hi)  # the point of the interval nearest 0 (largest density)
    if mass >= 0.05:
        def propose(k):
            z = rng.standard_normal(k)
            return z[(z >= lo) & (z <= hi)]
        rate = mass
    elif (hi - lo) * max(m, 1.0) <= 2.0:
        def propose(k):
            z = rng.uniform(lo, hi, k)
            return z[rng.random(k) <= np.exp((m * m - z * z) / 2)]
        rate = 0.3
    else:
        lam = (lo + math.sqrt(lo * lo + 4)) / 2

        def propose(k):
            z = lo + rng.exponential(1 / lam, k)
            return z[(z <= hi) & (rng.random(k) <= np.exp(-((z - lam) ** 2) / 2))]
        rate = 0.3
    parts, have = [], 0
    while have < n:
        k = n - have
        z = propose(max(int(k / rate * 1.2) + 16, 16))[:k]
        parts.append(z)
        have += z.size
    out = np.concatenate(parts) if parts else np.empty(0)
    return -out if flip else out
