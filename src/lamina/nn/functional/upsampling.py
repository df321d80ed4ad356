"""Functional resampling (PyTorch's names): interpolate / upsample, and pad's reflect, replicate, circular modes.

Both are one separable op (``lamina.ops.upsampling.Resample``): per spatial axis, a few gathers with weights,
and a scatter back in backward.
"""

from lamina.ops import upsampling as U
from lamina.ops.functions import _t

__all__ = ["interpolate", "upsample", "upsample_bilinear", "upsample_nearest"]

_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear", "area")
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,  # noqa: A002
                recompute_scale_factor=None, antialias=False):
    """Resizes (N, C, *spatial) to ``size`` or by ``scale_factor`` with PyTorch's index rules.

    Modes: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' / 'bicubic' (4-D), 'trilinear' (5-D),
    'area' (adaptive average pooling). ``align_corners`` (linear modes only) maps the corner pixels' centres
    onto each other. With ``scale_factor`` the output length is floor(L * scale_factor), and the source index
    uses 1 / scale_factor unless ``recompute_scale_factor`` is True.

    Example:
        >>> F.interpolate(lamina.randn(1, 3, 4, 4), scale_factor=2, mode="bilinear").shape
        (1, 3, 8, 8)
    """
    x = _t(input, "interpolate")
    if mode not in _MODES:
        raise NotImplementedError(f"interpolate: unknown mode {mode!r}; expected one of {', '.join(_MODES)}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    nd = x.ndim - 2
    if nd < 1 or nd > 3:
        raise ValueError(f"interpolate: expected a 3D, 4D or 5D input (N, C, *spatial), got shape {tuple(x.shape)}")
    if mode in _LINEAR_DIMS and _LINEAR_DIMS[mode] != nd:
        raise NotImplementedError(f"interpolate: Got {x.ndim}D input, but {mode} mode needs "
                                  f"{_LINEAR_DIMS[mode] + 2}D input")
    if align_corners is not None and mode not in _LINEAR_DIMS:
        raise ValueError("interpolate: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    align = bool(align_corners)
    spatial = tuple(x.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: " + ("only one of size or scale_factor should be defined" if size is not None
                                            else "either size or scale_factor should be defined"))
    if size is not None:
        sizes = (size,) * nd if isinstance(size, int) else tuple(size)
        if len(sizes) != nd:
            raise ValueError(f"interpolate: Input and output must have the same number of spatial dimensions, "
                             f"but got input with spatial dimensions of {list(spatial)} and output size of "
                             f"{list(sizes)}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                             f"output size in (o1, o2, ...,oK) format.")
        sizes = tuple(int(s) for s in sizes)
        scales = (None,) * nd
    else:
        scales = (float(scale_factor),) * nd if isinstance(scale_factor, (int, float)) else \
            tuple(float(s) for s in scale_factor)
        if len(scales) != nd:
            raise ValueError(f"interpolate: Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {list(spatial)} and "
                             f"scale_factor of shape {list(scales)}.")
        sizes = tuple(U.output_length(n, None, s) for n, s in zip(spatial, scales))
        if recompute_scale_factor:
            scales = (None,) * nd
    if any(s <= 0 for s in sizes):
        raise ValueError(f"interpolate: output size must be positive, got {sizes} for input of shape "
                         f"{tuple(x.shape)}")
    if mode == "area":
        from lamina.nn.functional import pooling

        fn = {1: pooling.adaptive_avg_pool1d, 2: pooling.adaptive_avg_pool2d}.get(nd)
        if fn is None:
            raise NotImplementedError("interpolate: mode='area' supports 3D and 4D inputs")
        return fn(x, sizes)
    dtype = x._data.dtype
    plan = []
    for axis, (n, o, s) in enumerate(zip(spatial, sizes, scales), start=2):
        if mode in ("nearest", "nearest-exact"):
            taps = U.nearest_taps(n, o, s, exact=mode == "nearest-exact")
        elif mode == "bicubic":
            taps = U.cubic_taps(n, o, align, s, dtype)
        else:
            taps = U.linear_taps(n, o, align, s, dtype)
        if o != n or len(taps) > 1 or mode == "bicubic":
            plan.append((axis, n, taps))
    return U.Resample.apply(x, tuple(plan)) if plan else x.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):  # noqa: A002
    """Deprecated alias of ``interpolate`` (kept for PyTorch compatibility)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):  # noqa: A002
    """Nearest-neighbour upsampling (alias of ``interpolate(..., mode='nearest')``)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):  # noqa: A002
    """Bilinear upsampling with align_corners=True (alias of ``interpolate``)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _pad_nonconstant(x, pad, mode):
    """``F.pad`` with mode 'reflect', 'replicate' or 'circular' (PyTorch's order: last dimension first)."""
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unknown padding mode {mode!r}; expected 'constant', 'reflect', "
                                  f"'replicate' or 'circular'")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or not pad:
        raise ValueError(f"pad: padding length must be even and non-zero, got {len(pad)} ({pad})")
    nd = len(pad) // 2
    if nd > 3 or x.ndim not in (nd + 1, nd + 2):
        raise NotImplementedError(f"pad: {mode} padding of {nd} dimension(s) needs a {nd + 1}D or {nd + 2}D input, "
                                  f"got shape {tuple(x.shape)} (only 2D, 3D, 4D, 5D padding with non-constant "
                                  f"padding are supported)")
    plan = []
    for i in range(nd):
        axis = x.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        n = x.shape[axis]
        if mode == "reflect" and (before >= n or after >= n):
            raise RuntimeError(f"pad: Padding size should be less than the corresponding input dimension, but got: "
                               f"padding ({before}, {after}) at dimension {axis} of input {tuple(x.shape)}")
        if mode == "circular" and (before > n or after > n):
            raise RuntimeError(f"pad: Padding value causes wrapping around more than once: padding "
                               f"({before}, {after}) at dimension {axis} of input {tuple(x.shape)}")
        if n + before + after <= 0 or n == 0:
            raise RuntimeError(f"pad: input of shape {tuple(x.shape)} with padding ({before}, {after}) at "
                               f"dimension {axis} gives an empty output")
        if before or after:
            plan.append((axis, n, U.pad_taps(n, before, after, mode)))
    return U.Resample.apply(x, tuple(plan)) if plan else x.clone()
