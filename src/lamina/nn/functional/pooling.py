"""Functional pooling (PyTorch's names): max / average / adaptive pooling in 1-D and 2-D, max unpooling.

Arguments are validated here (messages name the function and the shapes); the work is one fused op from
``lamina.ops.pooling``. One-dimensional forms run the two-dimensional op with H = 1.
"""

from lamina.nn.functional.conv import _tuple
from lamina.ops import functions as OF
from lamina.ops import pooling as P
from lamina.ops.functions import _t

__all__ = [
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d",
    "avg_pool2d", "lp_pool1d", "lp_pool2d", "max_pool1d", "max_pool1d_with_indices", "max_pool2d",
    "max_pool2d_with_indices", "max_unpool1d", "max_unpool2d",
]


def _input(x, nd, op):
    x = _t(x, op)
    if x.ndim not in (nd + 1, nd + 2) or any(s == 0 for s in x.shape[1:]):
        layout = "(N, C, L) or (C, L)" if nd == 1 else "(N, C, H, W) or (C, H, W)"
        raise RuntimeError(f"{op}: expected a non-empty {nd + 1}D or {nd + 2}D input of shape {layout}, "
                           f"got {tuple(x.shape)}")
    return x


def _out_size(length, k, s, p, d, ceil_mode):
    """PyTorch's pooling_output_shape: the last window must start inside the input or its left padding."""
    num = length + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= length + p:
        out -= 1
    return out


def _window_geometry(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _tuple(stride, nd, "stride", op)
    pad, dil = _tuple(padding, nd, "padding", op), _tuple(dilation, nd, "dilation", op)
    for name, vals in (("kernel_size", kernel), ("stride", stride), ("dilation", dil)):
        if any(v <= 0 for v in vals):
            raise ValueError(f"{op}: {name} must be greater than zero, got {vals}")
    if any(p < 0 or p > k // 2 for p, k in zip(pad, kernel)):
        raise RuntimeError(f"{op}: pad should be at most half of effective kernel size, but got pad={pad}, "
                           f"kernel_size={kernel}")
    size = tuple(x.shape[-nd:])
    out = tuple(_out_size(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip(size, kernel, stride, pad, dil))
    if any(o < 1 for o in out):
        raise RuntimeError(f"{op}: Given input size {tuple(x.shape)}, kernel_size={kernel}, stride={stride}, "
                           f"padding={pad}, dilation={dil}: calculated output size {out} is too small")
    if nd == 1:
        kernel, stride, pad, dil, out, size = ((1,) + t for t in (kernel, stride, pad, dil, out, size))
        pad = (0, pad[1])
    geom = (kernel[0], kernel[1], stride[0], stride[1], dil[0], dil[1], out[0], out[1])
    return geom, pad, size


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):  # noqa: A002
    x = _input(input, nd, op)
    geom, pad, _ = _window_geometry(op, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    if nd == 1:
        x = x.unsqueeze(-2)
    out = P.MaxPool2d.apply(x, geom, pad, bool(return_indices))
    if nd == 1:
        out = tuple(o.squeeze(-2) for o in out) if return_indices else out.squeeze(-2)
    return out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):  # noqa: A002
    """1-D max pooling over (N, C, L); ``return_indices`` also gives the flat position of each maximum.

    Example:
        >>> F.max_pool1d(lamina.randn(2, 3, 8), 2).shape
        (2, 3, 4)
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):  # noqa: A002
    """2-D max pooling over (N, C, H, W); ``stride`` defaults to ``kernel_size``.

    ``return_indices`` also returns, per output, the flat index h * W + w of the maximum (for max_unpool2d).

    Shape:
        H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1 (rounded up with ceil_mode)

    Example:
        >>> F.max_pool2d(lamina.randn(2, 3, 8, 8), 2).shape
        (2, 3, 4, 4)
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
                            return_indices=True):
    """``max_pool1d`` that always returns (output, indices)."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,  # noqa: A002
                            return_indices=True):
    """``max_pool2d`` that always returns (output, indices)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):  # noqa: A002
    x = _input(input, nd, op)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise RuntimeError(f"{op}: divisor must be not zero, got divisor_override={divisor_override!r}")
    geom, pad, size = _window_geometry(op, x, nd, kernel_size, stride, padding, 1, ceil_mode)
    divisor = P.avg_divisor(size, geom, pad, count_include_pad, divisor_override)
    if nd == 1:
        x = x.unsqueeze(-2)
    out = P.AvgPool2d.apply(x, geom, pad, divisor)
    return out.squeeze(-2) if nd == 1 else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):  # noqa: A002
    """1-D average pooling over (N, C, L).

    Example:
        >>> F.avg_pool1d(lamina.randn(2, 3, 8), 2).shape
        (2, 3, 4)
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,  # noqa: A002
               divisor_override=None):
    """2-D average pooling over (N, C, H, W).

    ``count_include_pad`` counts the zero padding in the divisor; ``divisor_override`` replaces the divisor.

    Example:
        >>> F.avg_pool2d(lamina.randn(2, 3, 8, 8), 2).shape
        (2, 3, 4, 4)
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):  # noqa: A002
    kernel = _tuple(kernel_size, nd, "kernel_size", f"lp_pool{nd}d")
    pool = avg_pool1d if nd == 1 else avg_pool2d
    out = pool(_t(input, f"lp_pool{nd}d") ** norm_type, kernel_size, stride, 0, ceil_mode)
    size = 1
    for k in kernel:
        size *= k
    # PyTorch's form: sign(out) * relu(|out|) keeps the gradient finite where the window sums to zero
    return (OF.sign(out) * OF.relu(OF.abs(out)) * size) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling: (sum over each window of x**p) ** (1/p) over (N, C, L)."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):  # noqa: A002
    """Power-average pooling: (sum over each window of x**p) ** (1/p) over (N, C, H, W).

    Example:
        >>> F.lp_pool2d(lamina.rand(1, 2, 4, 4), 2, 2).shape
        (1, 2, 2, 2)
    """
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def _adaptive_size(op, x, nd, output_size):
    if output_size is None:
        raise TypeError(f"{op}: output_size must be given")
    if isinstance(output_size, int) or output_size is None:
        sizes = (output_size,) * nd
    else:
        sizes = tuple(output_size)
        if len(sizes) != nd:
            raise ValueError(f"{op}: output_size must be an int or a tuple of {nd} values, got {output_size!r}")
    sizes = tuple(x.shape[-nd + i] if s is None else int(s) for i, s in enumerate(sizes))
    if any(s <= 0 for s in sizes):
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 1 but got {sizes}")
    return sizes if nd == 2 else (1,) + sizes


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """Average pooling to a fixed length: window i covers [floor(i*L/O), ceil((i+1)*L/O))."""
    x = _input(input, 1, "adaptive_avg_pool1d")
    size = _adaptive_size("adaptive_avg_pool1d", x, 1, output_size)
    return P.AdaptiveAvgPool2d.apply(x.unsqueeze(-2), size).squeeze(-2)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """Average pooling to a fixed (H_out, W_out) whatever the input size (None keeps that dimension).

    Example:
        >>> F.adaptive_avg_pool2d(lamina.randn(2, 3, 7, 9), (2, 3)).shape
        (2, 3, 2, 3)
    """
    x = _input(input, 2, "adaptive_avg_pool2d")
    return P.AdaptiveAvgPool2d.apply(x, _adaptive_size("adaptive_avg_pool2d", x, 2, output_size))


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    """Max pooling to a fixed length; ``return_indices`` also gives the position of each maximum."""
    x = _input(input, 1, "adaptive_max_pool1d")
    size = _adaptive_size("adaptive_max_pool1d", x, 1, output_size)
    out, idx = P.AdaptiveMaxPool2d.apply(x.unsqueeze(-2), size)
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    """Max pooling to a fixed (H_out, W_out); ``return_indices`` also gives the flat h * W + w of each maximum."""
    x = _input(input, 2, "adaptive_max_pool2d")
    out, idx = P.AdaptiveMaxPool2d.apply(x, _adaptive_size("adaptive_max_pool2d", x, 2, output_size))
    return (out, idx) if return_indices else out


def _max_unpool(op, nd, input, indices, kernel_size, stride, padding, output_size):  # noqa: A002
    x = _input(input, nd, op)
    idx = _t(indices, op)
    if tuple(idx.shape) != tuple(x.shape):
        raise RuntimeError(f"{op}: Expected shape of indices to be same as that of the input tensor "
                           f"({tuple(x.shape)}) but got indices tensor with shape: {tuple(idx.shape)}")
    if idx.is_floating_point():
        raise RuntimeError(f"{op}: indices must be an integer tensor, got {idx.dtype}")
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else _tuple(stride, nd, "stride", op)
    pad = _tuple(padding, nd, "padding", op)
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[-nd:], stride, pad, kernel))
    if output_size is None:
        size = default
    else:
        size = tuple(output_size)[-nd:]
        if len(size) != nd:
            raise ValueError(f"{op}: output_size should be a sequence of {nd} or {nd + 2} elements, "
                             f"got {tuple(output_size)}")
        for s, d, st in zip(size, default, stride):
            if not d - st < s < d + st:
                raise ValueError(f"{op}: invalid output_size {tuple(output_size)} (it should lie between "
                                 f"{tuple(d - st for d, st in zip(default, stride))} and "
                                 f"{tuple(d + st for d, st in zip(default, stride))})")
    total = 1
    for s in size:
        total *= s
    flat = idx._data
    if flat.size and (int(flat.min()) < 0 or int(flat.max()) >= total):
        raise RuntimeError(f"{op}: Found an invalid max index {int(flat.max())} (output volume of size "
                           f"{size} holds {total} elements)")
    if nd == 1:
        out = P.MaxUnpool2d.apply(x.unsqueeze(-2), idx.unsqueeze(-2), (1,) + size)
        return out.squeeze(-2)
    return P.MaxUnpool2d.apply(x, idx, size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The partial inverse of max_pool1d: maxima put back at their indices, zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):  # noqa: A002
    """The partial inverse of max_pool2d: maxima put back at their indices, zeros elsewhere.

    Example:
        >>> out, idx = F.max_pool2d(lamina.randn(1, 1, 4, 4), 2, return_indices=True)
        >>> F.max_unpool2d(out, idx, 2).shape
        (1, 1, 4, 4)
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)
