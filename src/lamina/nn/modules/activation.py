"""Activation layers: PyTorch's classes, arguments, defaults and reprs; each forward is one fused op."""

import lamina
from lamina.nn import functional as F
from lamina.nn import init as _init
from lamina.nn.modules.module import Module
from lamina.nn.parameter import Parameter

__all__ = ["CELU", "ELU", "GELU", "GLU", "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "LeakyReLU",
           "LogSigmoid", "LogSoftmax", "Mish", "PReLU", "RReLU", "ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Softmax",
           "Softmax2d", "Softmin", "Softplus", "Softshrink", "Softsign", "Swish", "Tanh", "Tanhshrink", "Threshold"]


def _inplace_str(inplace, lead=", "):
    return f"{lead}inplace=True" if inplace else ""


class _Inplace(Module):
    """An activation whose only option is ``inplace``; subclasses name their functional form in ``_fn``."""

    _fn = None
    _show_inplace = True

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self)._fn(input, inplace=self.inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, "") if self._show_inplace else ""


class ReLU(_Inplace):
    """max(x, 0) element-wise.

    Example:
        >>> nn.ReLU()(lamina.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    _fn = staticmethod(F.relu)


class SELU(_Inplace):
    """scale * ELU(x, alpha) with the self-normalising constants alpha ≈ 1.6733, scale ≈ 1.0507."""

    _fn = staticmethod(F.selu)


class SiLU(_Inplace):
    """x * sigmoid(x) (also known as Swish)."""

    _fn = staticmethod(F.silu)


Swish = SiLU


class Mish(_Inplace):
    """x * tanh(softplus(x))."""

    _fn = staticmethod(F.mish)


class Hardsigmoid(_Inplace):
    """clamp(x / 6 + 1/2, 0, 1)."""

    _fn = staticmethod(F.hardsigmoid)
    _show_inplace = False


class Hardswish(_Inplace):
    """x * clamp(x + 3, 0, 6) / 6."""

    _fn = staticmethod(F.hardswish)
    _show_inplace = False


class _NoArg(Module):
    _fn = None

    def forward(self, input):
        return type(self)._fn(input)


class Sigmoid(_NoArg):
    """1 / (1 + exp(-x))."""

    _fn = staticmethod(F.sigmoid)


class Tanh(_NoArg):
    """tanh(x)."""

    _fn = staticmethod(F.tanh)


class Softsign(_NoArg):
    """x / (1 + |x|)."""

    _fn = staticmethod(F.softsign)


class Tanhshrink(_NoArg):
    """x - tanh(x)."""

    _fn = staticmethod(F.tanhshrink)


class LogSigmoid(_NoArg):
    """log(sigmoid(x)), computed without overflow."""

    _fn = staticmethod(F.logsigmoid)


class Hardtanh(Module):
    """clamp(x, min_val, max_val).

    Args:
        min_val: lower end of the linear region. Default: -1.
        max_val: upper end of the linear region. Default: 1.
        inplace: overwrite the input. Default: False.
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False):
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace_str(self.inplace)}"


class ReLU6(Hardtanh):
    """min(max(x, 0), 6)."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_str(self.inplace, "")


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x.

    Args:
        negative_slope: slope for negative inputs. Default: 0.01.
        inplace: overwrite the input. Default: False.
    """

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_str(self.inplace)}"


class PReLU(Module):
    """x if x > 0 else a * x, with a learnable slope ``a`` shared or one per channel (dim 1).

    Args:
        num_parameters: 1, or the number of input channels. Default: 1.
        init: the initial slope. Default: 0.25.

    Shape:
        input (N, C, *) or (*) -> same shape
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(lamina.empty(num_parameters, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        _init.constant_(self.weight, self.init)

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"



class ELU(Module):
    """x if x > 0 else alpha (exp(x) - 1).

    Args:
        alpha: the saturation value for negative inputs. Default: 1.
        inplace: overwrite the input. Default: False.
    """

    _fn = staticmethod(F.elu)

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return type(self)._fn(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_str(self.inplace)}"


class CELU(ELU):
    """x if x > 0 else alpha (exp(x / alpha) - 1)."""

    _fn = staticmethod(F.celu)


class GELU(Module):
    """x Φ(x), Φ the standard normal CDF; ``approximate='tanh'`` uses the tanh approximation.

    Args:
        approximate: 'none' (exact, with erf) or 'tanh'. Default: 'none'.
    """

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear where beta x > threshold.

    Args:
        beta: sharpness. Default: 1.
        threshold: above beta x > threshold the output is x. Default: 20.
    """

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardshrink(Module):
    """x if |x| > lambd else 0.  Args: lambd (default 0.5)."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Module):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0.  Args: lambd (default 0.5, >= 0)."""

    def __init__(self, lambd=0.5):
        super().__init__()
        if lambd < 0:
            raise ValueError(f"Softshrink: lambd must be greater or equal to 0, got {lambd}")
        self.lambd = lambd

    def forward(self, input):
        return F.softshrink(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class Threshold(Module):
    """x if x > threshold else value.

    Args:
        threshold: the value to threshold at.
        value: the value that replaces inputs at or below the threshold.
        inplace: overwrite the input. Default: False.
    """

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}{_inplace_str(self.inplace)}"


class _DimActivation(Module):
    _fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self)._fn(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmax(_DimActivation):
    """exp(x) / sum(exp(x)) along ``dim``.

    Example:
        >>> nn.Softmax(dim=1)(lamina.zeros(2, 4))[0]
        tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """

    _fn = staticmethod(F.softmax)


class LogSoftmax(_DimActivation):
    """log(softmax(x)) along ``dim``."""

    _fn = staticmethod(F.log_softmax)


class Softmin(_DimActivation):
    """softmax(-x) along ``dim``."""

    _fn = staticmethod(F.softmin)


class GLU(_DimActivation):
    """a * sigmoid(b), a and b the two halves of the input along ``dim`` (default -1)."""

    _fn = staticmethod(F.glu)

    def __init__(self, dim=-1):
        super().__init__(dim)


class RReLU(Module):
    """Randomized leaky ReLU: x for x >= 0, a x below; in training a ~ U(lower, upper) per element (lamina's
    generator), in evaluation the mean slope (lower + upper) / 2.

    Args:
        lower: lower bound of the slope. Default: 1/8.
        upper: upper bound of the slope. Default: 1/3.
        inplace: overwrite the input. Default: False.

    Example:
        >>> nn.RReLU().eval()(lamina.tensor([-2.0, 1.0]))
        tensor([-0.4583,  1.0000])
    """

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        if not lower <= upper:
            raise ValueError(f"RReLU: lower bound {lower} must not exceed the upper bound {upper}")
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}" + _inplace_str(self.inplace)


class Softmax2d(Module):
    """Softmax over the channels at every spatial location.

    Shape:
        input (N, C, H, W) or (C, H, W) -> output of the same shape

    Example:
        >>> nn.Softmax2d()(lamina.zeros(1, 2, 1, 1)).flatten()
        tensor([0.5000, 0.5000])
    """

    def forward(self, input):
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input of shape (N, C, H, W) or (C, H, W), got "
                             f"{tuple(input.shape)}")
        return F.softmax(input, -3)
