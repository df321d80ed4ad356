"""Padding layers (PyTorch's ``ZeroPad*``, ``ConstantPad*``, ``ReflectionPad*``, ``ReplicationPad*``,
``CircularPad*``, 1d/2d/3d): thin layers over ``F.pad``, whose non-constant modes are one resampling op."""

from lamina.nn.modules.module import Module
from lamina.ops.functions import pad as _pad

__all__ = ["CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
           "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
           "ReplicationPad3d", "ZeroPad1d", "ZeroPad2d", "ZeroPad3d"]


def _padding(padding, n, name):
    """An int or a 2n-tuple (left, right, top, bottom, front, back) as a 2n-tuple of ints."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return (padding,) * (2 * n)
    try:
        out = tuple(int(p) for p in padding)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: padding must be an int or a tuple of {2 * n} ints, got {padding!r}") from None
    if len(out) != 2 * n:
        raise ValueError(f"{name}: padding must be an int or a tuple of {2 * n} ints, got {len(out)}: {out}")
    return out


class _PadNd(Module):
    """Pads the last ``_n`` dims by ``padding`` (last dim first, PyTorch's order) with mode ``_mode``.

    Shape:
        1d: (C, W) or (N, C, W);  2d: (C, H, W) or (N, C, H, W);  3d: (C, D, H, W) or (N, C, D, H, W)
        -> each padded dim grows by its two widths
    """

    _n = 1
    _mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = _padding(padding, self._n, type(self).__name__)

    def forward(self, input):
        if input.dim() not in (self._n + 1, self._n + 2):
            raise ValueError(f"{type(self).__name__}: expected a {self._n + 1}D or {self._n + 2}D input, got shape "
                             f"{tuple(input.shape)}")
        return _pad(input, self.padding, self._mode) if self._mode != "constant" else \
            _pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with ``value``.  Example: ``nn.ConstantPad1d((1, 2), 3.5)``."""
    _n = 1


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with ``value``: padding (left, right, top, bottom) or an int."""
    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with ``value``: padding (left, right, top, bottom, front, back) or an int."""
    _n = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros.

    Example:
        >>> nn.ZeroPad1d(1)(lamina.ones(1, 1, 2))
        tensor([[[0., 1., 1., 0.]]])
    """
    _n = 1


class ZeroPad2d(_ZeroPadNd):
    """Pads the last two dims with zeros: padding (left, right, top, bottom) or an int."""
    _n = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last three dims with zeros: padding (left, right, top, bottom, front, back) or an int."""
    _n = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its reflection (the edge not repeated); each width < that dim's size."""
    _n, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Reflection padding of the last two dims."""
    _n, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """Reflection padding of the last three dims."""
    _n, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating its edge values."""
    _n, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Replication padding of the last two dims."""
    _n, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """Replication padding of the last three dims."""
    _n, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """Pads the last dim by wrapping around (periodic boundary)."""
    _n, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Circular padding of the last two dims."""
    _n, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """Circular padding of the last three dims."""
    _n, _mode = 3, "circular"
