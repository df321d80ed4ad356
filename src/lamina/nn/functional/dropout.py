"""Functional dropout (PyTorch's names, arguments and defaults): one op each, masks from lamina's seeded generator.

``lamina.manual_seed(s)`` makes every mask reproducible. In evaluation (``training=False``), for ``p=0`` and for
empty inputs the input itself is returned, as in PyTorch; ``p=1`` gives zeros.
"""

import warnings

from lamina.ops import dropout as _ops
from lamina.ops import functions as _fn

__all__ = ["alpha_dropout", "dropout", "dropout1d", "dropout2d", "dropout3d", "feature_alpha_dropout"]


def _check_p(p):
    if not 0.0 <= p <= 1.0:  # also refuses NaN
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout(op, x, p, training, inplace, lead=None, alpha=False):
    """Shared body; ``lead`` = 2 (N, C) or 1 (C) masks whole channels, None masks elements."""
    _check_p(p)
    x = _fn._float_input(x, op)
    if not training or p == 0 or x._data.size == 0:
        return x
    if lead is not None and x.ndim < 2:
        raise RuntimeError(f"{op}: Feature dropout requires at least 2 dimensions in the input, got shape "
                           f"{tuple(x.shape)}")
    data = x._data
    xp, dtype = x.xp, data.dtype
    if p == 1:
        m, b = xp.zeros(_ops.noise_shape(data.shape, lead), dtype=dtype), None
    else:
        m, b = _ops.dropout_factors(xp, data.shape, float(p), dtype, lead=lead, alpha=alpha)
    if not inplace:
        return _ops.Dropout.apply(x, m, b)
    if x._inplace_tracked(op + "_"):
        return x._rebase(_ops.Dropout.apply(x, m, b))
    data *= m
    if b is not None:
        data += b
    x._version += 1
    return x


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p).

    Example:
        >>> F.dropout(lamina.ones(2, 4), p=0.5)        # entries are 0 or 2
    """
    return _dropout("dropout", input, p, training, inplace)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units take SELU's saturation value, then an affine map restores zero
    mean and unit variance. Note PyTorch's default ``training=False``."""
    return _dropout("alpha_dropout", input, p, training, inplace, alpha=True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels (input (N, C, *))."""
    return _dropout("feature_alpha_dropout", input, p, training, inplace, lead=2, alpha=True)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability p, scaling the rest by 1/(1-p)."""
    _check_p(p)
    ndim = _fn._float_input(input, "dropout1d").ndim
    if ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input. Note that dropout1d exists to "
            f"provide channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
            f"batch dimension (i.e. 2D or 3D inputs).")
    return _dropout("dropout1d", input, p, training, inplace, lead=ndim - 1)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input with probability p, scaling the rest by 1/(1-p).

    As in PyTorch, a 3-D input is read as (N, C, L) (channel-wise 1-D dropout), with a warning.
    """
    _check_p(p)
    ndim = _fn._float_input(input, "dropout2d").ndim
    if ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated and will result in an error in "
            f"a future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            f"that dropout2d exists to provide channel-wise dropout on inputs with 2 spatial dimensions, a channel "
            f"dimension, and an optional batch dimension (i.e. 3D or 4D inputs).", stacklevel=2)
    if ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
            "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
            "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
            "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
            "instead.", stacklevel=2)
    return _dropout("dropout2d", input, p, training, inplace, lead=2)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability p, scaling the rest."""
    _check_p(p)
    ndim = _fn._float_input(input, "dropout3d").ndim
    if ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated and will result in an error in "
            f"a future release. To retain the behavior and silence this warning, please use dropout instead. Note "
            f"that dropout3d exists to provide channel-wise dropout on inputs with 3 spatial dimensions, a channel "
            f"dimension, and an optional batch dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    return _dropout("dropout3d", input, p, training, inplace, lead=2 if ndim == 5 else 1)
