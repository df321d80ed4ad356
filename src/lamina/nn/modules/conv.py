"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, and the im2col layers Unfold / Fold.

PyTorch's arguments, defaults, attributes, state_dict keys (weight, bias), default initialisation and repr.
"""

import math

import lamina
from lamina.nn.functional import conv as F
from lamina.nn.functional.upsampling import _pad_nonconstant
from lamina.nn.modules.module import Module
from lamina.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Fold", "Unfold"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """Shared body of the convolution layers: argument checks, parameters, initialisation, repr."""

    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, groups,
                 bias, padding_mode, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        nd = self._nd
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups, got in_channels={in_channels}, "
                             f"groups={groups}")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups, got out_channels={out_channels}, "
                             f"groups={groups}")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        kernel_size = F._tuple(kernel_size, nd, "kernel_size", name)
        stride = F._tuple(stride, nd, "stride", name)
        dilation = F._tuple(dilation, nd, "dilation", name)
        for arg, value in (("kernel_size", kernel_size), ("stride", stride), ("dilation", dilation)):
            if any(v <= 0 for v in value):
                raise ValueError(f"{name}: {arg} must be positive, got {value}")
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"{name}: Invalid padding string {padding!r}, should be one of ['valid', 'same']")
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
        else:
            padding = F._tuple(padding, nd, "padding", name)
            if any(p < 0 for p in padding):
                raise ValueError(f"{name}: padding must be non-negative, got {padding}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation
        self.transposed = self._transposed
        self.output_padding = F._tuple(output_padding, nd, "output_padding", name)
        self.groups, self.padding_mode = groups, padding_mode
        # F.pad's order (last dimension first), used when padding_mode is not 'zeros'
        if padding == "same":
            pads = []
            for k, d in zip(reversed(kernel_size), reversed(dilation)):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            self._reversed_padding_repeated_twice = tuple(pads)
        elif padding == "valid":
            self._reversed_padding_repeated_twice = (0, 0) * nd
        else:
            self._reversed_padding_repeated_twice = tuple(p for p in reversed(padding) for _ in range(2))
        if self._transposed:
            shape = (in_channels, out_channels // groups) + kernel_size
        else:
            shape = (out_channels, in_channels // groups) + kernel_size
        self.weight = Parameter(lamina.empty(*shape, dtype=dtype, device=device))
        self.bias = Parameter(lamina.empty(out_channels, dtype=dtype, device=device)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) on the weight, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        and the same bound for the bias; fan_in = weight.shape[1] * prod(kernel_size) (also for transposed)."""
        fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
        # kaiming_uniform_ with a = sqrt(5): gain sqrt(2 / (1 + a^2)) * sqrt(3 / fan_in) = 1 / sqrt(fan_in)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        with lamina.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def _check_input(self, x):
        nd, name = self._nd, type(self).__name__
        spatial = "L" if nd == 1 else "H, W"
        if not isinstance(x, lamina.Tensor):
            raise TypeError(f"{name}: expected a Tensor input, got {type(x).__name__}")
        if x.ndim not in (nd + 1, nd + 2) or x.shape[-nd - 1] != self.in_channels:
            raise RuntimeError(f"{name}: expected input of shape (N, {self.in_channels}, {spatial}) or "
                               f"({self.in_channels}, {spatial}), got {tuple(x.shape)}; the layer was built with "
                               f"in_channels={self.in_channels}")

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def forward(self, input):  # noqa: A002
        self._check_input(input)
        fn = F.conv1d if self._nd == 1 else F.conv2d
        if self.padding_mode != "zeros":
            padded = _pad_nonconstant(input, self._reversed_padding_repeated_twice, self.padding_mode)
            return fn(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_Conv):
    """Applies a 1-D convolution (cross-correlation) over (N, C_in, L).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: window length.
        stride, dilation: step and spacing of the window. Default: 1.
        padding: int, 'valid' or 'same' (stride 1 only). Default: 0.
        groups: split the channels into this many independent groups. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape:
        input (N, C_in, L) -> output (N, C_out, (L + 2 * padding - dilation * (k - 1) - 1) // stride + 1)

    Weight (C_out, C_in / groups, k) and bias start from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    fan_in = C_in / groups * k, as in PyTorch.

    Example:
        >>> nn.Conv1d(4, 8, 3, padding=1)(lamina.randn(2, 4, 10)).shape
        (2, 8, 10)
    """

    _nd = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups, bias,
                         padding_mode, device, dtype)


class Conv2d(_Conv):
    """Applies a 2-D convolution (cross-correlation) over (N, C_in, H, W).

    Args:
        in_channels, out_channels: channel counts.
        kernel_size: int or (kH, kW).
        stride, dilation: int or pair. Default: 1.
        padding: int, pair, 'valid' or 'same' (stride 1 only). Default: 0.
        groups: split the channels into this many independent groups. Default: 1.
        bias: learn an additive bias. Default: True.
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'. Default: 'zeros'.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = (H + 2 * padding - dilation * (kH - 1) - 1) // stride + 1

    Weight (C_out, C_in / groups, kH, kW) and bias start from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
    fan_in = C_in / groups * kH * kW, as in PyTorch.

    Example:
        >>> nn.Conv2d(3, 16, 3, padding=1)(lamina.randn(2, 3, 32, 32)).shape
        (2, 16, 32, 32)
    """

    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, 0, groups, bias,
                         padding_mode, device, dtype)


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                 dilation, padding_mode, device, dtype):
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {name}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of ints, got {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, output_padding, groups,
                         bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):  # noqa: A002
        """The output_padding that makes the output ``output_size`` (PyTorch's rule and message)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = tuple(int(s) for s in output_size)
        if len(size) == nd + 2 or (len(size) == nd + 1 and input.ndim == nd + 1):
            size = size[-nd:]
        if len(size) != nd:
            raise ValueError(f"{type(self).__name__}: output_size must have {nd} or {nd + 2} elements "
                             f"(got {len(size)})")
        spatial = tuple(input.shape[-nd:])
        mins = tuple((i - 1) * s - 2 * p + d * (k - 1) + 1 for i, s, p, d, k in
                     zip(spatial, self.stride, self.padding, self.dilation, self.kernel_size))
        maxs = tuple(m + s - 1 for m, s in zip(mins, self.stride))
        if any(not lo <= s <= hi for s, lo, hi in zip(size, mins, maxs)):
            raise ValueError(f"{type(self).__name__}: requested an output size of {list(size)}, but valid sizes range "
                             f"from {list(mins)} to {list(maxs)} (for an input of {list(spatial)})")
        return tuple(s - m for s, m in zip(size, mins))

    def forward(self, input, output_size=None):  # noqa: A002
        self._check_input(input)
        out_pad = self._output_padding(input, output_size)
        fn = F.conv_transpose1d if self._nd == 1 else F.conv_transpose2d
        return fn(input, self.weight, self.bias, self.stride, self.padding, out_pad, self.groups, self.dilation)


class ConvTranspose1d(_ConvTranspose):
    """Applies a 1-D transposed convolution over (N, C_in, L) (the gradient of Conv1d with respect to its input).

    Shape:
        input (N, C_in, L) -> output (N, C_out, (L - 1) * stride - 2 * padding + dilation * (k - 1)
        + output_padding + 1)

    Weight (C_in, C_out / groups, k); init U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_out / groups * k,
    as in PyTorch.

    Example:
        >>> nn.ConvTranspose1d(4, 2, 3, stride=2)(lamina.randn(1, 4, 5)).shape
        (1, 2, 11)
    """

    _nd = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)


class ConvTranspose2d(_ConvTranspose):
    """Applies a 2-D transposed convolution over (N, C_in, H, W) (the gradient of Conv2d with respect to its input).

    ``forward(input, output_size=None)``: ``output_size`` picks the output_padding that gives that size.

    Shape:
        input (N, C_in, H, W) -> output (N, C_out, H_out, W_out),
        H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1

    Weight (C_in, C_out / groups, kH, kW); init U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = C_out / groups * kH * kW, as in PyTorch.

    Example:
        >>> nn.ConvTranspose2d(16, 8, 2, stride=2)(lamina.randn(1, 16, 7, 7)).shape
        (1, 8, 14, 14)
    """

    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, output_padding, groups, bias,
                         dilation, padding_mode, device, dtype)


class Unfold(Module):
    """Extracts sliding local blocks (im2col): (N, C, H, W) -> (N, C * kH * kW, L).

    Example:
        >>> nn.Unfold(kernel_size=(2, 3))(lamina.randn(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, input):  # noqa: A002
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Combines sliding local blocks into an image (col2im), summing overlaps: (N, C*kH*kW, L) -> (N, C, H, W).

    Example:
        >>> nn.Fold(output_size=(3, 4), kernel_size=(2, 3))(lamina.randn(2, 30, 4)).shape
        (2, 5, 3, 4)
    """

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):  # noqa: A002
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
