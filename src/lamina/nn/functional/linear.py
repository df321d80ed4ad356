"""Functional linear layers: ``linear`` (y = x Wᵀ + b) and ``bilinear`` (y = x1ᵀ W x2 + b), one fused op each."""

from lamina.ops import linear as _ops
from lamina.tensor import Tensor

__all__ = ["bilinear", "linear"]


def _check_linear(op, x, weight, bias):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    ws, xs = weight._data.shape, x._data.shape
    if len(ws) != 2:
        raise RuntimeError(f"{op}: weight must be 2-D (out_features, in_features), got shape {ws}")
    if not xs or xs[-1] != ws[1]:
        raise RuntimeError(f"{op}: expected input with last dimension {ws[1]} (in_features), got shape {xs}; "
                           f"weight shape {ws}")
    if bias is not None and bias._data.shape != (ws[0],):
        raise RuntimeError(f"{op}: bias must have shape ({ws[0]},) (out_features), got {bias._data.shape}")
    if x._data.dtype != weight._data.dtype or (bias is not None and bias._data.dtype != weight._data.dtype):
        raise RuntimeError(f"{op}: input dtype {x.dtype} must match weight dtype {weight.dtype}"
                           + (f" and bias dtype {bias.dtype}" if bias is not None else ""))


def linear(input, weight, bias=None):
    """y = x Wᵀ + b, for input (*, in_features), weight (out_features, in_features), bias (out_features,).

    One op: the leading dims are folded into rows, so forward and each gradient is a single GEMM.

    Example:
        >>> F.linear(lamina.randn(32, 784), lamina.randn(10, 784)).shape
        (32, 10)
    """
    _check_linear("linear", input, weight, bias)
    return _ops.Linear.apply(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """y[..., k] = x1ᵀ W[k] x2 + b[k], for x1 (*, in1), x2 (*, in2), weight (out, in1, in2), bias (out,)."""
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"bilinear: {name} must be a Tensor, got {type(t).__name__}")
    s1, s2, sw = input1._data.shape, input2._data.shape, weight._data.shape
    if len(sw) != 3:
        raise RuntimeError(f"bilinear: weight must be 3-D (out_features, in1_features, in2_features), got {sw}")
    if not s1 or not s2 or s1[:-1] != s2[:-1]:
        raise RuntimeError(f"bilinear: input1 and input2 must have the same leading (batch) dims, got shapes "
                           f"{s1} and {s2}")
    if s1[-1] != sw[1] or s2[-1] != sw[2]:
        raise RuntimeError(f"bilinear: expected inputs with last dimensions {sw[1]} (in1_features) and {sw[2]} "
                           f"(in2_features), got shapes {s1} and {s2}")
    if bias is not None and bias._data.shape != (sw[0],):
        raise RuntimeError(f"bilinear: bias must have shape ({sw[0]},) (out_features), got {bias._data.shape}")
    dtypes = {t._data.dtype for t in (input1, input2, weight) + ((bias,) if bias is not None else ())}
    if len(dtypes) != 1:
        raise RuntimeError(f"bilinear: inputs, weight and bias must share one dtype, got "
                           f"{input1.dtype}, {input2.dtype}, {weight.dtype}")
    return _ops.Bilinear.apply(input1, input2, weight, bias)
