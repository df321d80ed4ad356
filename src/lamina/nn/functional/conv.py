"""Functional convolutions: conv1d, conv2d, conv_transpose1d, conv_transpose2d, unfold, fold (PyTorch's names).

Each validates its arguments here, with messages naming the function and the shapes, and runs one fused op
from ``lamina.ops.conv`` (hand-written backward).
"""

from lamina.ops import conv as C
from lamina.ops.functions import _t

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "fold", "unfold"]


def _tuple(value, n, name, op):
    """An int or a length-n sequence of ints as an n-tuple."""
    if isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    if isinstance(value, int):
        return (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}") from None
    if len(out) == 1 and n > 1:
        out = out * n
    if len(out) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return out


def _positive(values, name, op):
    if any(v <= 0 for v in values):
        raise ValueError(f"{op}: {name} must be positive, got {values if len(values) > 1 else values[0]}")


def _conv_padding(padding, kernel, dilation, stride, nd, op):
    """((before, after), ...) per spatial dim, from an int, a tuple, 'valid' or 'same' (extra on the right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        raise ValueError(f"{op}: Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    pad = _tuple(padding, nd, "padding", op)
    if any(p < 0 for p in pad):
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    return tuple((p, p) for p in pad)


def _check_dtypes(op, x, weight, bias):
    if weight.dtype != x.dtype or (bias is not None and bias.dtype != x.dtype):
        other = weight.dtype if weight.dtype != x.dtype else bias.dtype
        what = "weight" if weight.dtype != x.dtype else "bias"
        raise RuntimeError(f"{op}: Input type ({x.dtype}) and {what} type ({other}) should be the same")
    if not x.is_floating_point():
        raise RuntimeError(f"{op}: expected a floating-point input, got {x.dtype}")


def _batched(x, nd, op):
    """The input with a batch axis (unbatched (C, *spatial) inputs get one, removed again afterwards)."""
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    if x.ndim == nd + 2:
        return x, False
    spatial = {1: "(N, C, L)", 2: "(N, C, H, W)"}[nd]
    raise RuntimeError(f"{op}: Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input of shape {spatial}, "
                       f"but got input of size: {list(x.shape)}")


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):  # noqa: A002
    x, w = _t(input, op), _t(weight, op)
    b = None if bias is None else _t(bias, op)
    if w.ndim != nd + 2:
        raise RuntimeError(f"{op}: weight must have {nd + 2} dimensions (out_channels, in_channels / groups, "
                           f"{'kL' if nd == 1 else 'kH, kW'}), got shape {tuple(w.shape)}")
    x, unbatched = _batched(x, nd, op)
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    stride, dilation = _tuple(stride, nd, "stride", op), _tuple(dilation, nd, "dilation", op)
    _positive(stride, "stride", op)
    _positive(dilation, "dilation", op)
    kernel = tuple(w.shape[2:])
    pads = _conv_padding(padding, kernel, dilation, stride, nd, op)
    o, cg = w.shape[0], w.shape[1]
    if o % groups:
        raise RuntimeError(f"{op}: Given groups={groups}, expected weight to be divisible by {groups} at dimension "
                           f"0, but got weight of size {list(w.shape)} instead")
    if x.shape[1] != cg * groups:
        raise RuntimeError(f"{op}: Given groups={groups}, weight of size {list(w.shape)}, expected input"
                           f"{list(x.shape)} to have {cg * groups} channels, but got {x.shape[1]} channels instead")
    if b is not None and tuple(b.shape) != (o,):
        raise RuntimeError(f"{op}: expected bias of shape ({o},) for weight of size {list(w.shape)}, "
                           f"got {tuple(b.shape)}")
    _check_dtypes(op, x, w, b)
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(p < e for p, e in zip(padded, effective)):
        raise RuntimeError(f"{op}: Calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
                           f"Kernel size: ({' x '.join(map(str, effective))}). "
                           f"Kernel size can't be greater than actual input size")
    if nd == 1:
        stride, dilation, pads = (1,) + stride, (1,) + dilation, ((0, 0),) + pads
    out = C.ConvNd.apply(x, w, b, stride, pads, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """1-D cross-correlation over (N, C_in, L) with weight (C_out, C_in / groups, kL).

    Args: as ``torch.nn.functional.conv1d``; ``padding`` may be an int, a 1-tuple, 'valid' or 'same'.

    Shape:
        input (N, C_in, L) or (C_in, L) -> output (N, C_out, L_out)

    Example:
        >>> F.conv1d(lamina.randn(2, 4, 10), lamina.randn(6, 4, 3)).shape
        (2, 6, 8)
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):  # noqa: A002
    """2-D cross-correlation over (N, C_in, H, W) with weight (C_out, C_in / groups, kH, kW).

    Args: as ``torch.nn.functional.conv2d``; ``padding`` may be an int, a pair, 'valid' or 'same'.

    Shape:
        input (N, C_in, H, W) or (C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1

    Example:
        >>> F.conv2d(lamina.randn(2, 3, 8, 8), lamina.randn(4, 3, 3, 3), padding=1).shape
        (2, 4, 8, 8)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):  # noqa: A002
    x, w = _t(input, op), _t(weight, op)
    b = None if bias is None else _t(bias, op)
    if w.ndim != nd + 2:
        raise RuntimeError(f"{op}: weight must have {nd + 2} dimensions (in_channels, out_channels / groups, "
                           f"{'kL' if nd == 1 else 'kH, kW'}), got shape {tuple(w.shape)}")
    x, unbatched = _batched(x, nd, op)
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    stride, dilation = _tuple(stride, nd, "stride", op), _tuple(dilation, nd, "dilation", op)
    pad, out_pad = _tuple(padding, nd, "padding", op), _tuple(output_padding, nd, "output_padding", op)
    _positive(stride, "stride", op)
    _positive(dilation, "dilation", op)
    if any(p < 0 for p in pad) or any(p < 0 for p in out_pad):
        raise ValueError(f"{op}: padding and output_padding must be non-negative, got {pad} and {out_pad}")
    if any(op_ >= s and op_ >= d for op_, s, d in zip(out_pad, stride, dilation)):
        raise ValueError(f"{op}: output padding must be smaller than either stride or dilation, but got "
                         f"output_padding={out_pad}, stride={stride}, dilation={dilation}")
    if x.shape[1] != w.shape[0]:
        raise RuntimeError(f"{op}: Given transposed=1, weight of size {list(w.shape)}, expected input"
                           f"{list(x.shape)} to have {w.shape[0]} channels, but got {x.shape[1]} channels instead")
    if w.shape[0] % groups:
        raise RuntimeError(f"{op}: Given groups={groups}, expected weight to be divisible by {groups} at "
                           f"dimension 0, but got weight of size {list(w.shape)} instead")
    o = w.shape[1] * groups
    if b is not None and tuple(b.shape) != (o,):
        raise RuntimeError(f"{op}: expected bias of shape ({o},) for weight of size {list(w.shape)}, "
                           f"got {tuple(b.shape)}")
    _check_dtypes(op, x, w, b)
    kernel = tuple(w.shape[2:])
    size = tuple((i - 1) * s - 2 * p + d * (k - 1) + op_ + 1
                 for i, s, p, d, k, op_ in zip(x.shape[2:], stride, pad, dilation, kernel, out_pad))
    if any(s <= 0 for s in size):
        raise RuntimeError(f"{op}: Given input size per channel {tuple(x.shape[2:])}, the calculated output size "
                           f"{size} is too small")
    if nd == 1:
        stride, dilation, pad, out_pad = (1,) + stride, (1,) + dilation, (0,) + pad, (0,) + out_pad
    out = C.ConvTransposeNd.apply(x, w, b, stride, pad, out_pad, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):  # noqa: A002
    """1-D transposed convolution ("deconvolution") with weight (C_in, C_out / groups, kL).

    Shape:
        input (N, C_in, L) -> output (N, C_out, (L - 1) * stride - 2 * padding + dilation * (kL - 1)
        + output_padding + 1)
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):  # noqa: A002
    """2-D transposed convolution ("deconvolution") with weight (C_in, C_out / groups, kH, kW).

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1

    Example:
        >>> F.conv_transpose2d(lamina.randn(1, 4, 5, 5), lamina.randn(4, 2, 3, 3), stride=2).shape
        (1, 2, 11, 11)
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def _block_geometry(op, spatial, kernel_size, dilation, padding, stride):
    kernel = _tuple(kernel_size, 2, "kernel_size", op)
    dil, pad, st = (_tuple(v, 2, n, op) for v, n in ((dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    _positive(kernel, "kernel_size", op)
    _positive(dil, "dilation", op)
    _positive(st, "stride", op)
    if any(p < 0 for p in pad):
        raise ValueError(f"{op}: padding must be non-negative, got {padding}")
    counts = tuple((s + 2 * p - d * (k - 1) - 1) // t + 1 for s, p, d, k, t in zip(spatial, pad, dil, kernel, st))
    return (kernel[0], kernel[1], st[0], st[1], dil[0], dil[1], counts[0], counts[1]), pad


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """Extracts sliding local blocks (im2col): (N, C, H, W) -> (N, C * kH * kW, L), L = number of blocks.

    Example:
        >>> F.unfold(lamina.randn(1, 2, 4, 4), 2).shape
        (1, 8, 9)
    """
    x = _t(input, "unfold")
    if x.ndim not in (3, 4):
        raise RuntimeError(f"unfold: expected 3D or 4D input (N, C, H, W), got shape {tuple(x.shape)}")
    x, unbatched = (x.unsqueeze(0), True) if x.ndim == 3 else (x, False)
    geom, pad = _block_geometry("unfold", x.shape[2:], kernel_size, dilation, padding, stride)
    if geom[6] <= 0 or geom[7] <= 0:
        raise RuntimeError(f"unfold: Given input with spatial size {tuple(x.shape[2:])}, kernel_size="
                           f"{kernel_size}, dilation={dilation}, padding={padding}, calculated shape of the "
                           f"array of sliding blocks as ({geom[6]}, {geom[7]}), which is too small")
    out = C.Unfold.apply(x, geom, pad)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: A002
    """Combines sliding local blocks into an image (col2im), summing overlaps: (N, C*kH*kW, L) -> (N, C, H, W).

    Example:
        >>> F.fold(lamina.randn(1, 8, 9), (4, 4), 2).shape
        (1, 2, 4, 4)
    """
    cols = _t(input, "fold")
    if cols.ndim not in (2, 3):
        raise RuntimeError(f"fold: expected 2D or 3D input (N, C * kH * kW, L), got shape {tuple(cols.shape)}")
    cols, unbatched = (cols.unsqueeze(0), True) if cols.ndim == 2 else (cols, False)
    size = _tuple(output_size, 2, "output_size", "fold")
    geom, pad = _block_geometry("fold", size, kernel_size, dilation, padding, stride)
    kk = geom[0] * geom[1]
    if cols.shape[1] % kk:
        raise RuntimeError(f"fold: Expected size of input's dimension 1 to be divisible by the product of "
                           f"kernel_size ({kk}), but got input.size(1)={cols.shape[1]} (input shape "
                           f"{tuple(cols.shape)})")
    if geom[6] * geom[7] != cols.shape[2]:
        raise RuntimeError(f"fold: Given output_size={size}, kernel_size={kernel_size}, dilation={dilation}, "
                           f"padding={padding}, stride={stride}, expected size of input's dimension 2 to match the "
                           f"calculated number of sliding blocks {geom[6]} * {geom[7]} = {geom[6] * geom[7]}, "
                           f"but got input.size(2)={cols.shape[2]}")
    out = C.Fold.apply(cols, geom, pad, size)
    return out.squeeze(0) if unbatched else out
