"""Functional normalisation: ``batch_norm``, ``instance_norm``, ``layer_norm``, ``group_norm``, ``local_response_norm``.

Each is one fused op (``lamina.ops.normalization``) with a hand-written backward; these functions validate the
arguments and, for batch and instance norm, keep PyTorch's running-statistics rules.
"""

import math

from lamina.ops import normalization as _ops
from lamina.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "instance_norm", "layer_norm", "local_response_norm"]


def _check_tensor(op, name, t, optional=True):
    if t is None and optional:
        return
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")


def _check_vector(op, name, t, n, dtype=None):
    """``t`` is None or a 1-D tensor of ``n`` elements (of ``dtype`` when given)."""
    if t is None:
        return
    _check_tensor(op, name, t)
    if t._data.shape != (n,):
        raise RuntimeError(f"{op}: {name} should have shape ({n},) (one value per channel), got "
                           f"{tuple(t._data.shape)}")
    if dtype is not None and t._data.dtype != dtype:
        raise RuntimeError(f"{op}: {name} dtype {t.dtype} must match the input dtype")


def _check_float_input(op, x, min_dim):
    _check_tensor(op, "input", x, optional=False)
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got {x.dtype}")
    if x._data.ndim < min_dim:
        raise ValueError(f"{op}: expected an input with at least {min_dim} dims (N, C, *), got shape "
                         f"{tuple(x._data.shape)}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over (N, *) for each channel of an input (N, C, *).

    training=True normalises with the batch's statistics (biased variance) and, when running_mean/running_var
    are given, updates them in place: r = (1 - momentum)·r + momentum·stat, with the unbiased variance.
    training=False normalises with running_mean/running_var.

    Example:
        >>> F.batch_norm(lamina.randn(8, 3), lamina.zeros(3), lamina.ones(3), training=True).shape
        (8, 3)
    """
    _check_float_input("batch_norm", input, 2)
    shape = input._data.shape
    c = shape[1]
    dt = input._data.dtype
    for name, t, want in (("running_mean", running_mean, None), ("running_var", running_var, None),
                          ("weight", weight, dt), ("bias", bias, dt)):
        if t is not None and (not isinstance(t, Tensor) or t._data.shape != (c,)
                              or want is not None and t._data.dtype != want):
            _check_vector("batch_norm", name, t, c, want)  # raises the error that names what is wrong
    if training:
        if shape[0] * math.prod(shape[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    elif running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var must be defined in evaluation mode "
                           "(training=False)")
    if momentum is None:
        raise TypeError("batch_norm: momentum must be a float (the module turns momentum=None into a cumulative "
                        "average factor)")
    return _ops.BatchNorm.apply(input, weight, bias, running_mean, running_var, training=bool(training),
                                momentum=float(momentum), eps=float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Instance normalisation: each (sample, channel) of an input (N, C, *) normalised over its spatial dims.

    With use_input_stats=True and running buffers given, they are updated with the batch average of the
    per-instance mean and unbiased variance; with use_input_stats=False the running statistics normalise.
    """
    _check_float_input("instance_norm", input, 3)
    shape = input._data.shape
    n, c = shape[:2]
    dt = input._data.dtype
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _check_vector("instance_norm", name, t, c)
    _check_vector("instance_norm", "weight", weight, c, dt)
    _check_vector("instance_norm", "bias", bias, c, dt)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: running_mean and running_var must be defined when "
                               "use_input_stats=False")
        return _ops.BatchNorm.apply(input, weight, bias, running_mean, running_var, training=False, momentum=0.0,
                                    eps=float(eps))
    spatial = math.prod(shape[2:])
    if spatial <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    if (running_mean is not None or running_var is not None) and momentum:
        # PyTorch's rule: the per-instance statistics averaged over the batch feed the running buffers
        x = input._data.reshape(n, c, spatial)
        m = float(momentum)
        if running_mean is not None:
            running_mean._data *= 1 - m
            running_mean._data += m * x.mean(axis=2).mean(axis=0)
        if running_var is not None:
            running_var._data *= 1 - m
            running_var._data += m * x.var(axis=2, ddof=1).mean(axis=0)
    # G = C group normalisation is instance normalisation (per-channel weight, per-(n, c) statistics)
    return _ops.GroupNorm.apply(input, weight, bias, num_groups=c, eps=float(eps))


def _normalized_shape(normalized_shape):
    if type(normalized_shape) is tuple and all(type(s) is int for s in normalized_shape):
        return normalized_shape  # the module's own (already checked) form: the common case, kept cheap
    if isinstance(normalized_shape, int) and not isinstance(normalized_shape, bool):
        return (normalized_shape,)
    try:
        out = tuple(int(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"layer_norm: normalized_shape must be an int or a sequence of ints, got "
                        f"{normalized_shape!r}") from None
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Layer normalisation over the trailing dims ``normalized_shape`` of the input.

    Example:
        >>> F.layer_norm(lamina.randn(4, 10, 16), (16,)).shape
        (4, 10, 16)
    """
    _check_float_input("layer_norm", input, 0)
    ns = _normalized_shape(normalized_shape)
    data = input._data
    shape = data.shape
    k = len(ns)
    if k == 0 or len(shape) < k or shape[len(shape) - k:] != ns:
        raise RuntimeError(f"layer_norm: given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size {list(shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            _check_tensor("layer_norm", name, t)
            if t._data.shape != ns:
                raise RuntimeError(f"layer_norm: {name} should have shape {ns} (normalized_shape), got "
                                   f"{tuple(t._data.shape)}")
            if t._data.dtype != data.dtype:
                raise RuntimeError(f"layer_norm: {name} dtype {t.dtype} must match the input dtype {input.dtype}")
    return _ops.LayerNorm.apply(input, weight, bias, k=k, eps=float(eps))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Group normalisation: the channels of an input (N, C, *) split into ``num_groups`` groups, each
    (sample, group) normalised over its channels and spatial dims; weight and bias are per channel."""
    _check_float_input("group_norm", input, 2)
    shape = input._data.shape
    c = shape[1]
    if not isinstance(num_groups, int) or isinstance(num_groups, bool) or num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"group_norm: expected number of channels in input to be divisible by num_groups, but "
                           f"got input of shape {list(shape)} and num_groups={num_groups}")
    _check_vector("group_norm", "weight", weight, c, input._data.dtype)
    _check_vector("group_norm", "bias", bias, c, input._data.dtype)
    return _ops.GroupNorm.apply(input, weight, bias, num_groups=num_groups, eps=float(eps))


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """Local response normalisation across channels: y_c = x_c / (k + α/size · Σ_window x²)^β."""
    _check_float_input("local_response_norm", input, 3)
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    return _ops.LocalResponseNorm.apply(input, size, alpha=float(alpha), beta=float(beta), k=float(k))
