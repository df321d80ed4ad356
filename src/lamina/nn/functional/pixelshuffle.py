"""Pixel and channel shuffles (PyTorch's ``pixel_shuffle``, ``pixel_unshuffle``, ``channel_shuffle``): one
reshape, one permute and one copy each, so the gradient is the same rearrangement backwards."""

from lamina.ops import functions as _fn

__all__ = ["channel_shuffle", "pixel_shuffle", "pixel_unshuffle"]


def _factor(v, op, name):
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise RuntimeError(f"{op}: expected {name} to be a positive integer, got {v!r}")
    return v


def pixel_shuffle(input, upscale_factor):
    """(*, C r², H, W) -> (*, C, H r, W r).

    Example:
        >>> F.pixel_shuffle(lamina.zeros(1, 8, 3, 3), 2).shape
        lamina.Size([1, 2, 6, 6])
    """
    r = _factor(upscale_factor, "pixel_shuffle", "upscale_factor")
    x = _fn._t(input, "pixel_shuffle")
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                           f"of upscale_factor ({r * r}) and at least 3 dims, but input has shape {tuple(x.shape)}")
    *lead, c, h, w = x.shape
    k = len(lead)
    y = _fn.reshape(x, (*lead, c // (r * r), r, r, h, w))
    y = _fn.permute(y, (*range(k), k, k + 3, k + 1, k + 4, k + 2))
    return _fn.reshape(y, (*lead, c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r², H, W), the inverse of ``pixel_shuffle``."""
    r = _factor(downscale_factor, "pixel_unshuffle", "downscale_factor")
    x = _fn._t(input, "pixel_unshuffle")
    if x.ndim < 3 or x.shape[-1] % r or x.shape[-2] % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor ({r}) "
                           f"and at least 3 dims, but input has shape {tuple(x.shape)}")
    *lead, c, h, w = x.shape
    k = len(lead)
    y = _fn.reshape(x, (*lead, c, h // r, r, w // r, r))
    y = _fn.permute(y, (*range(k), k, k + 2, k + 4, k + 1, k + 3))
    return _fn.reshape(y, (*lead, c * r * r, h // r, w // r))


def channel_shuffle(input, groups):
    """(N, C, *) with the channels regrouped: (N, g, C/g, *) transposed to (N, C/g, g, *) and flattened back."""
    g = _factor(groups, "channel_shuffle", "groups")
    x = _fn._t(input, "channel_shuffle")
    if x.ndim < 3 or x.shape[1] % g:
        raise RuntimeError(f"channel_shuffle: expected an input of at least 3 dims (N, C, *) with C divisible by "
                           f"groups ({g}), got shape {tuple(x.shape)}")
    n, c, *rest = x.shape
    y = _fn.reshape(x, (n, g, c // g, *rest))
    return _fn.reshape(_fn.transpose(y, 1, 2), (n, c, *rest))
