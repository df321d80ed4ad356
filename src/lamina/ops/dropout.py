"""Dropout as one op: the input times a random mask drawn from lamina's seeded generator (plus a shift for alpha).

Every variant (element-wise, channel-wise, alpha) draws its Bernoulli keep-mask in the input's dtype, folds the
scale into it, and hands it to ``Dropout``: forward is one multiply (and one add), backward one multiply.
"""

from lamina.autograd.function import ArrayFunction as Function
from lamina.backend.random import _rng
from lamina.backend.xp import numpy_module as np

# SELU's negative saturation value, -scale * alpha: where alpha dropout sends the dropped units
_ALPHA = 1.7580993408473766


class Dropout(Function):
    """y = x * m (+ b);  dx = dy * m.

    ``m`` is the scaled keep-mask (1/(1-p) or 0 per element, or per channel with shape (N, C, 1, ...)); ``b`` is
    alpha dropout's shift (None for plain dropout). Both are constants drawn before the op.
    """

    @staticmethod
    def forward(ctx, x, m, b):
        y = x * m
        if b is not None:
            y += b
        ctx.save_for_backward(m)
        return y

    @staticmethod
    def backward(ctx, g):
        (m,) = ctx.saved_tensors
        return g * m, None, None


def keep_mask(xp, shape, p, dtype, generator=None):
    """A Bernoulli(1 - p) mask of 0s and 1s in ``dtype`` (drawn as float32 uniforms on the host generator)."""
    u = _rng(generator).random(shape, dtype=np.float32)
    keep = u >= np.float32(p)
    if xp is not np:
        keep = xp.asarray(keep)
    return keep.astype(dtype)


def noise_shape(shape, lead=None):
    """The mask's shape: the input's, or for channel-wise dropout its ``lead`` first dims ((N, C) or (C,)) then 1s."""
    return tuple(shape) if lead is None else tuple(shape[:lead]) + (1,) * (len(shape) - lead)


def dropout_factors(xp, shape, p, dtype, lead=None, alpha=False, generator=None):
    """(m, b) for ``Dropout``: the scaled mask and, for alpha dropout, the shift; ``0 < p < 1``."""
    keep = keep_mask(xp, noise_shape(shape, lead), p, dtype, generator)
    if not alpha:
        keep *= dtype.type(1.0 / (1.0 - p))
        return keep, None
    # PyTorch's affine correction: y = a (x m + alpha' (1 - m)) - a alpha' (1 - p) with alpha' = -_ALPHA keeps
    # zero mean and unit variance for standardised inputs; written as y = x (a m) + b
    a = 1.0 / ((_ALPHA * _ALPHA * p + 1) * (1 - p)) ** 0.5
    b = keep - dtype.type(1)
    b *= dtype.type(_ALPHA * a)
    b += dtype.type(_ALPHA * a * p)
    keep *= dtype.type(a)
    return keep, b
