"""Normalisation layers: ``BatchNorm1d/2d/3d``, ``InstanceNorm1d/2d/3d``, ``LayerNorm``, ``GroupNorm``,
``LocalResponseNorm``, with PyTorch's arguments, defaults, initialisation and state_dict keys."""

import numbers

import lamina
from lamina.backend.dtypes import int64
from lamina.nn import init
from lamina.nn.functional import normalization as F
from lamina.nn.modules.module import Module
from lamina.nn.parameter import Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "LayerNorm", "LocalResponseNorm"]


def _require_positive_int(layer, **kwargs):
    for k, v in kwargs.items():
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{layer}: {k} must be a positive int, got {v!r}")


class _NormBase(Module):
    """Shared state of batch and instance norm: per-channel weight/bias and running statistics buffers."""

    _dims = ()          # accepted input ranks
    _shape_text = ""    # the expected shape, for error messages

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        _require_positive_int(type(self).__name__, num_features=num_features)
        if momentum is not None and not isinstance(momentum, numbers.Real):
            raise TypeError(f"{type(self).__name__}: momentum must be a float or None, got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(lamina.empty(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(lamina.empty(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", lamina.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var", lamina.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked", lamina.tensor(0, dtype=int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input(self, input):
        name = type(self).__name__
        try:
            shape = tuple(input._data.shape)
        except AttributeError:
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}") from None
        if len(shape) not in self._dims:
            dims = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{name}: expected {dims} input {self._shape_text}, got {len(shape)}D input of shape "
                             f"{shape}")
        return shape

    def _average_factor(self):
        """PyTorch's momentum rule: counts batches in training; momentum=None is a cumulative average."""
        factor = 0.0 if self.momentum is None else self.momentum
        nbt = self.num_batches_tracked
        if self.training and self.track_running_stats and nbt is not None:
            nbt._data += 1  # a buffer outside autograd: the array itself, without a Tensor op per step
            nbt._version += 1
            if self.momentum is None:
                factor = 1.0 / float(nbt._data)
        return factor

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        shape = self._check_input(input)
        if shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected input of shape {self._shape_text} with "
                             f"C={self.num_features}, got {shape}; the layer was built with "
                             f"num_features={self.num_features}")
        factor = self._average_factor()
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_buffers = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if use_buffers else None,
                            self.running_var if use_buffers else None, self.weight, self.bias, bn_training, factor,
                            self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over a 2-D (N, C) or 3-D (N, C, L) input: per channel,
    y = (x - E[x]) / sqrt(Var[x] + eps) · γ + β, with batch statistics in training and running ones in eval.

    Args:
        num_features: C.
        eps: added to the variance. Default: 1e-5.
        momentum: running-statistics factor; None for a cumulative average. Default: 0.1.
        affine: learn γ (ones) and β (zeros). Default: True.
        track_running_stats: keep running_mean/running_var/num_batches_tracked buffers. Default: True.
        bias: (keyword) also learn β when affine. Default: True.

    Example:
        >>> nn.BatchNorm1d(16)(lamina.randn(8, 16)).shape
        (8, 16)
    """

    _dims = (2, 3)
    _shape_text = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over a 4-D input (N, C, H, W); arguments as ``BatchNorm1d``.

    Example:
        >>> nn.BatchNorm2d(16)(lamina.randn(8, 16, 5, 5)).shape
        (8, 16, 5, 5)
    """

    _dims = (4,)
    _shape_text = "(N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch normalisation over a 5-D input (N, C, D, H, W); arguments as ``BatchNorm1d``."""

    _dims = (5,)
    _shape_text = "(N, C, D, H, W)"


class _InstanceNorm(_NormBase):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, device=None,
                 dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        shape = self._check_input(input)
        batched = len(shape) == self._dims[-1]
        if not batched:
            input = input.unsqueeze(0)
        if input._data.shape[1] != self.num_features and (self.affine or self.track_running_stats):
            raise ValueError(f"{type(self).__name__}: expected input of shape {self._shape_text} with "
                             f"C={self.num_features}, got {shape}; the layer was built with "
                             f"num_features={self.num_features}")
        use_input_stats = self.training or not self.track_running_stats
        factor = 0.0 if self.momentum is None else self.momentum
        out = F.instance_norm(input, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                              factor, self.eps)
        return out if batched else out.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L): each (sample, channel) over L.

    Defaults as PyTorch: affine=False, track_running_stats=False.
    """

    _dims = (2, 3)
    _shape_text = "(N, C, L) or (C, L)"


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W): each (sample, channel) over H, W."""

    _dims = (3, 4)
    _shape_text = "(N, C, H, W) or (C, H, W)"


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation of (N, C, D, H, W) or unbatched (C, D, H, W)."""

    _dims = (4, 5)
    _shape_text = "(N, C, D, H, W) or (C, D, H, W)"


class LayerNorm(Module):
    """Layer normalisation over the trailing dims ``normalized_shape``: y = (x - E[x]) / sqrt(Var[x] + eps) · γ + β.

    Args:
        normalized_shape: int or tuple, the trailing dims to normalise over.
        eps: added to the variance. Default: 1e-5.
        elementwise_affine: learn γ (ones) of shape normalized_shape. Default: True.
        bias: also learn β (zeros), when elementwise_affine. Default: True.

    Example:
        >>> nn.LayerNorm(16)(lamina.randn(4, 10, 16)).shape
        (4, 10, 16)
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        super().__init__()
        ns = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        for s in ns:
            if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 0:
                raise ValueError(f"LayerNorm: normalized_shape must be non-negative ints, got {normalized_shape!r}")
        self.normalized_shape = tuple(int(s) for s in ns)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(lamina.empty(*self.normalized_shape, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(lamina.empty(*self.normalized_shape, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        try:
            shape = input._data.shape
        except AttributeError:
            raise TypeError(f"LayerNorm: input must be a Tensor, got {type(input).__name__}") from None
        ns = self.normalized_shape
        if len(shape) < len(ns) or shape[len(shape) - len(ns):] != ns:
            raise RuntimeError(f"LayerNorm: expected input of shape (*, {', '.join(map(str, ns))}) "
                               f"(normalized_shape={ns}), got {shape}")
        return F.layer_norm(input, ns, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation: the C channels split into num_groups groups, each (sample, group) normalised.

    Args:
        num_groups: number of groups; must divide num_channels.
        num_channels: C.
        eps: added to the variance. Default: 1e-5.
        affine: learn per-channel γ (ones) and β (zeros). Default: True.
        bias: (keyword) also learn β when affine. Default: True.

    Example:
        >>> nn.GroupNorm(2, 6)(lamina.randn(4, 6, 5)).shape
        (4, 6, 5)
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        _require_positive_int("GroupNorm", num_groups=num_groups, num_channels=num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups, got num_channels="
                             f"{num_channels} and num_groups={num_groups}")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps = eps
        self.affine = affine
        if affine:
            self.weight = Parameter(lamina.empty(num_channels, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(lamina.empty(num_channels, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        try:
            shape = tuple(input._data.shape)
        except AttributeError:
            raise TypeError(f"GroupNorm: input must be a Tensor, got {type(input).__name__}") from None
        if len(shape) < 2 or shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected input of shape (N, {self.num_channels}, *), got {shape}; the "
                             f"layer was built with num_channels={self.num_channels}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LocalResponseNorm(Module):
    """Local response normalisation across channels: y_c = x_c / (k + α/size · Σ_{window} x²)^β.

    Args:
        size: number of neighbouring channels in the window.
        alpha: scale. Default: 1e-4.
        beta: exponent. Default: 0.75.
        k: additive constant. Default: 1.
    """

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        _require_positive_int("LocalResponseNorm", size=size)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
