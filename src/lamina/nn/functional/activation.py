"""Functional activations (PyTorch's names, arguments and defaults); each is one op with a hand-written backward.

``inplace=True`` overwrites the input with the result, as in PyTorch (refused for a leaf that requires grad).
"""

from lamina.ops import elementwise as _E
from lamina.ops import functions as _fn
from lamina.ops import nn_activation as _A
from lamina.ops._util import norm_dim

__all__ = ["celu", "celu_", "elu", "elu_", "gelu", "glu", "hardshrink", "hardsigmoid", "hardswish",
           "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_", "log_softmax", "logsigmoid", "mish", "prelu",
           "relu", "relu6", "relu_", "rrelu", "rrelu_", "selu", "selu_", "sigmoid", "silu", "softmax", "softmin",
           "softplus", "softshrink", "softsign", "tanh", "tanhshrink", "threshold", "threshold_"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float(x, op):
    return _fn._float_input(x, op)


def _apply(op, fn, x, inplace, *args):
    """Apply ``fn`` (an op class) to x, or (inplace) write the result into x as PyTorch's in-place forms do."""
    x = _float(x, op)
    if not inplace:
        return fn.apply(x, *args)
    if x._inplace_tracked(op + "_"):
        return x._rebase(fn.apply(x, *args))
    from lamina.autograd.grad_mode import no_grad

    with no_grad():
        out = fn.apply(x, *args)
    x._data[...] = out._data
    x._version += 1
    return x


# --------------------------------------------------------------------------- re-exported core activations

def relu(input, inplace=False):
    """max(x, 0) element-wise."""
    return _apply("relu", _E.Relu, input, inplace) if inplace else _fn.relu(input)


def relu_(input):
    return relu(input, inplace=True)


def sigmoid(input):
    """1 / (1 + exp(-x)) element-wise."""
    return _fn.sigmoid(input)


def tanh(input):
    """tanh(x) element-wise."""
    return _fn.tanh(input)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``."""
    return _fn.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    return _fn.log_softmax(input, dim, dtype=dtype)


# --------------------------------------------------------------------------- piecewise-linear

def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """clamp(x, min_val, max_val); gradient 1 strictly between them."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return _apply("hardtanh", _A.Hardtanh, input, inplace, min_val, max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(x, 0), 6)."""
    return _apply("relu6", _A.Hardtanh, input, inplace, 0.0, 6.0)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x if x > 0 else negative_slope * x."""
    return _apply("leaky_relu", _A.LeakyReLU, input, inplace, float(negative_slope))


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input, weight):
    """x if x > 0 else w x, with one learnable w per channel (dim 1) or one shared.

    Shape: weight has 1 element or input.shape[1] elements.
    """
    x = _float(input, "prelu")
    if x.ndim == 0:
        raise ValueError("prelu: zero-dim input tensors are not allowed")
    n = weight.numel()
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.ndim > 1 or (n != 1 and n != channels):
        raise ValueError(f"prelu: the number of weight parameters ({n}, weight shape {tuple(weight.shape)}) must be "
                         f"1 or the number of channels (input.shape[1] = {channels}, input shape {tuple(x.shape)})")
    if weight.dtype != x.dtype:
        raise TypeError(f"prelu: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    return _A.PReLU.apply(x, weight)


def threshold(input, threshold, value, inplace=False):
    """x if x > threshold else value."""
    return _apply("threshold", _A.Threshold, input, inplace, threshold, value)


_threshold = threshold


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


def hardshrink(input, lambd=0.5):
    """x if |x| > lambd else 0."""
    return _A.Hardshrink.apply(_float(input, "hardshrink"), lambd)


def softshrink(input, lambd=0.5):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}")
    return _A.Softshrink.apply(_float(input, "softshrink"), lambd)


def hardsigmoid(input, inplace=False):
    """clamp(x / 6 + 1/2, 0, 1)."""
    return _apply("hardsigmoid", _A.Hardsigmoid, input, inplace)


def hardswish(input, inplace=False):
    """x * clamp(x + 3, 0, 6) / 6."""
    return _apply("hardswish", _A.Hardswish, input, inplace)


# --------------------------------------------------------------------------- exponential family

def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha (exp(x) - 1)."""
    return _apply("elu", _A.ELU, input, inplace, float(alpha), 1.0, 1.0)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """scale * (x if x > 0 else alpha (exp(x) - 1)), alpha ≈ 1.6733, scale ≈ 1.0507."""
    return _apply("selu", _A.ELU, input, inplace, _SELU_ALPHA, _SELU_SCALE, 1.0)


def selu_(input):
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha (exp(x / alpha) - 1)."""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (the input is divided by alpha)")
    return _apply("celu", _A.ELU, input, inplace, float(alpha), 1.0, 1.0 / alpha)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta; x itself where beta x > threshold."""
    return _A.Softplus.apply(_float(input, "softplus"), beta, threshold)


def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow."""
    return _A.LogSigmoid.apply(_float(input, "logsigmoid"))


def silu(input, inplace=False):
    """x * sigmoid(x) (Swish)."""
    return _apply("silu", _A.SiLU, input, inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _apply("mish", _A.Mish, input, inplace)


def gelu(input, approximate="none"):
    """x Φ(x), Φ the standard normal CDF (exact erf), or its tanh approximation with ``approximate='tanh'``."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _A.GELU.apply(_float(input, "gelu"), approximate)


# --------------------------------------------------------------------------- others

def softsign(input):
    """x / (1 + |x|)."""
    return _A.Softsign.apply(_float(input, "softsign"))


def tanhshrink(input):
    """x - tanh(x)."""
    return _A.Tanhshrink.apply(_float(input, "tanhshrink"))


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``."""
    x = _float(input, "softmin")
    if dtype is not None:
        x = x.to(dtype)
    if dim is None:
        dim = 0 if x.ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit choice
    d = norm_dim(dim, x.ndim, "softmin")
    if x.ndim == 0:
        return _A.Softmin.apply(x.reshape(1), 0).reshape(())
    return _A.Softmin.apply(x, d)


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the two halves of the input along ``dim``."""
    x = _float(input, "glu")
    if x.ndim == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    d = norm_dim(dim, x.ndim, "glu")
    if x.shape[d] % 2:
        raise RuntimeError(f"glu: halving dimension must be even, but dimension {d} is size {x.shape[d]} "
                           f"(input shape {tuple(x.shape)})")
    return _A.GLU.apply(x, d)



def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: x for x >= 0, a x below, a ~ U(lower, upper) per element (drawn from lamina's
    generator) when ``training``, else the mean slope (lower + upper) / 2."""
    if not lower <= upper:
        raise ValueError(f"rrelu: lower bound {lower} must not exceed the upper bound {upper}")
    x = _float(input, "rrelu")
    if not training:
        return leaky_relu(x, (lower + upper) / 2, inplace=inplace)
    from lamina.backend.random import _rng

    slopes = _rng(None).uniform(lower, upper, size=x._data.shape).astype(x._data.dtype)
    if x.xp is not _np():
        slopes = x.xp.asarray(slopes)
    return _apply("rrelu", _E.SlopeRelu, x, inplace, slopes)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def _np():
    from lamina.backend.xp import numpy_module

    return numpy_module
