"""Linear layers: ``Linear``, ``Bilinear``, and the shape helpers ``Identity``, ``Flatten``, ``Unflatten``."""

import math

import lamina
from lamina.nn import init
from lamina.nn.functional.linear import bilinear as _bilinear
from lamina.nn.modules.module import Module
from lamina.nn.parameter import Parameter
from lamina.ops import linear as _ops

__all__ = ["Bilinear", "Flatten", "Identity", "Linear", "Unflatten"]


def _require_nonneg_int(layer, **kwargs):
    for k, v in kwargs.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{layer}: {k} must be a non-negative int, got {v!r}")


class Identity(Module):
    """Returns its input unchanged; accepts (and ignores) any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """Applies y = x Wᵀ + b.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias. Default: True.

    Shape:
        input (*, in_features) -> output (*, out_features)

    Weight and bias start from U(-1/sqrt(in_features), 1/sqrt(in_features)), as in PyTorch.

    Example:
        >>> nn.Linear(784, 10)(lamina.randn(32, 784)).shape
        (32, 10)
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _require_nonneg_int("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(lamina.empty(out_features, in_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(lamina.empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        p = self._parameters
        w, b = p["weight"], p["bias"]
        try:
            shape, dtype = input._data.shape, input._data.dtype
        except AttributeError:
            raise TypeError(f"Linear: input must be a Tensor, got {type(input).__name__}") from None
        if not shape or shape[-1] != self.in_features:
            raise RuntimeError(f"Linear: expected input with last dimension {self.in_features} (in_features), "
                               f"got shape {tuple(shape)}")
        if dtype != w._data.dtype:
            raise RuntimeError(f"Linear: expected input of dtype {w.dtype} (the layer's dtype), got {input.dtype}; "
                               f"convert the input or the layer with .to(dtype)")
        return _ops.Linear.apply(input, w, b)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Bilinear(Module):
    """Applies y = x1ᵀ A x2 + b, one matrix A[k] per output feature.

    Args:
        in1_features: size of each first input sample.
        in2_features: size of each second input sample.
        out_features: size of each output sample.
        bias: learn an additive bias. Default: True.

    Shape:
        input1 (*, in1_features), input2 (*, in2_features) -> output (*, out_features)

    Weight and bias start from U(-1/sqrt(in1_features), 1/sqrt(in1_features)), as in PyTorch.
    """

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        _require_nonneg_int("Bilinear", in1_features=in1_features, in2_features=in2_features,
                            out_features=out_features)
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = Parameter(lamina.empty(out_features, in1_features, in2_features, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(lamina.empty(out_features, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.weight.shape[1]) if self.weight.shape[1] > 0 else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        s1, s2 = tuple(input1.shape), tuple(input2.shape)
        if not s1 or s1[-1] != self.in1_features or not s2 or s2[-1] != self.in2_features:
            raise RuntimeError(f"Bilinear: expected inputs with last dimensions {self.in1_features} (in1_features) "
                               f"and {self.in2_features} (in2_features), got shapes {s1} and {s2}")
        return _bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one.

    Args:
        start_dim: first dim to flatten. Default: 1.
        end_dim: last dim to flatten. Default: -1.

    Example:
        >>> nn.Flatten()(lamina.zeros(32, 1, 28, 28)).shape
        (32, 784)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into the shape ``unflattened_size``.

    Example:
        >>> nn.Unflatten(1, (1, 28, 28))(lamina.zeros(32, 784)).shape
        (32, 1, 28, 28)
    """

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool):
            raise TypeError(f"Unflatten: dim must be an int, got {type(dim).__name__}")
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
