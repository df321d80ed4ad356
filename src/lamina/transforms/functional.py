"""Image transforms as functions (torchvision.transforms.functional's names), on one image or a batch.

Every function takes an image (C, H, W), a batch (..., C, H, W) or a bare (H, W) array, as a lamina Tensor or a
NumPy array, and returns the same kind. One call applies the same parameters to every image of a batch; the
random transforms in ``lamina.transforms`` draw parameters per image and use the batched helpers below.

Geometry follows torchvision: pixel (i, j) has its centre at (j - (W-1)/2, i - (H-1)/2) relative to the image
centre, ``rotate`` turns counter-clockwise, ``affine``'s angle clockwise, and sampling is nearest or bilinear with
``fill`` outside the image.
"""

import numbers

import numpy as np

from lamina.tensor import Tensor

__all__ = ["InterpolationMode", "to_tensor", "normalize", "hflip", "vflip", "pad", "crop", "rotate", "affine",
           "erase"]


class InterpolationMode:
    """How geometric transforms sample the input: ``"nearest"`` or ``"bilinear"`` (strings work as well)."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


def _interp(mode, owner):
    mode = getattr(mode, "value", mode)
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"{owner}: interpolation must be 'nearest' or 'bilinear', got {mode!r}")
    return mode


class _Batch:
    """An image or batch as a 4-D array (N, C, H, W), and the way back to the caller's type and shape."""

    def __init__(self, img, owner):
        self.is_tensor = isinstance(img, Tensor)
        if self.is_tensor:
            self.device = img.device
            arr = np.asarray(img)  # a host copy for CUDA tensors; the result goes back to the device
        else:
            arr = np.asarray(img)
        if arr.ndim < 2:
            raise ValueError(f"{owner}: expected an image (C, H, W), a batch (N, C, H, W) or (H, W), got shape "
                             f"{tuple(arr.shape)}")
        self.ndim = arr.ndim
        self.lead = arr.shape[:-3]
        self.x = arr[None, None] if arr.ndim == 2 else arr.reshape((-1,) + arr.shape[-3:])

    def back(self, out):
        out = out[0, 0] if self.ndim == 2 else out.reshape(self.lead + out.shape[1:])
        if not self.is_tensor:
            return out
        t = Tensor._make(np.ascontiguousarray(out), False, None, 0)
        return t if self.device.type == "cpu" else t.to(self.device)


def _float_work_dtype(dtype):
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _cast_back(out, dtype):
    if dtype.kind == "f":
        return out.astype(dtype, copy=False)
    if dtype.kind == "b":
        return out > 0.5
    info = np.iinfo(dtype)
    return np.clip(np.rint(out), info.min, info.max).astype(dtype)


def _fill_array(fill, channels, dtype, owner):
    f = np.asarray(0 if fill is None else fill, dtype=np.float64).reshape(-1)
    if f.size not in (1, channels):
        raise ValueError(f"{owner}: fill needs 1 or {channels} values (one per channel), got {f.size}")
    return f.astype(_float_work_dtype(dtype)).reshape(1, -1, 1)


# ------------------------------------------------------------------------------------------- conversions

def to_tensor(pic):
    """An (H, W, C) or (H, W) array (or anything ``np.asarray`` takes, e.g. a PIL image) as a (C, H, W) tensor.

    uint8 becomes float32 in [0, 1] (divided by 255); other dtypes keep their values and dtype, as in
    torchvision. A batch (N, H, W, C) becomes (N, C, H, W).
    """
    if isinstance(pic, Tensor):
        raise TypeError("to_tensor: pic should be an ndarray or PIL image (HWC), got a Tensor; use it as it is")
    arr = np.asarray(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim not in (3, 4):
        raise ValueError(f"to_tensor: expected an (H, W), (H, W, C) or (N, H, W, C) array, got shape {arr.shape}")
    arr = np.moveaxis(arr, -1, -3)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / np.float32(255)
    return Tensor._make(np.ascontiguousarray(arr), False, None, 0)


def normalize(tensor, mean, std, inplace=False):
    """(x - mean[c]) / std[c] per channel c of (..., C, H, W); differentiable unless ``inplace``."""
    arr = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if arr.dtype.kind != "f":
        raise TypeError(f"normalize: input tensor should be a float tensor, got {arr.dtype}")
    if arr.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image of shape (..., C, H, W), got {tuple(arr.shape)}")
    m = np.asarray(mean, dtype=arr.dtype).reshape(-1)
    s = np.asarray(std, dtype=arr.dtype).reshape(-1)
    c = arr.shape[-3]
    for name, v in (("mean", m), ("std", s)):
        if v.size not in (1, c):
            raise ValueError(f"normalize: {name} has {v.size} values, the image has {c} channels (shape "
                             f"{tuple(arr.shape)})")
    if (s == 0).any():
        raise ValueError(f"normalize: std evaluated to zero after conversion to {arr.dtype}, leading to division "
                         f"by zero")
    m, s = m.reshape(-1, 1, 1), s.reshape(-1, 1, 1)
    if inplace:
        arr -= m
        arr /= s
        return tensor
    if isinstance(tensor, Tensor):
        return (tensor - Tensor._make(tensor.xp.asarray(m), False, None, 0)) / Tensor._make(tensor.xp.asarray(s),
                                                                                           False, None, 0)
    return (arr - m) / s


# ------------------------------------------------------------------------------------------- flips, pad, crop

def hflip(img):
    """Mirror left-right."""
    b = _Batch(img, "hflip")
    return b.back(b.x[..., ::-1])


def vflip(img):
    """Mirror top-bottom."""
    b = _Batch(img, "vflip")
    return b.back(b.x[..., ::-1, :])


def _padding4(padding, owner):
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        p = (int(padding),) * 4
    else:
        p = tuple(int(v) for v in padding)
        if len(p) == 1:
            p = p * 4
        elif len(p) == 2:
            p = (p[0], p[1], p[0], p[1])
        elif len(p) != 4:
            raise ValueError(f"{owner}: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    if min(p) < 0:
        raise ValueError(f"{owner}: padding must be non-negative, got {padding!r}")
    return p


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def _pad4(x, p, fill, mode, owner):
    if mode not in _PAD_MODES:
        raise ValueError(f"{owner}: padding_mode must be one of {', '.join(_PAD_MODES)}, got {mode!r}")
    left, top, right, bottom = p
    width = ((0, 0), (0, 0), (top, bottom), (left, right))
    if mode == "constant":
        return np.pad(x, width, mode="constant", constant_values=fill)
    return np.pad(x, width, mode=_PAD_MODES[mode])


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad the borders: ``padding`` is an int, (left/right, top/bottom) or (left, top, right, bottom)."""
    b = _Batch(img, "pad")
    return b.back(_pad4(b.x, _padding4(padding, "pad"), fill, padding_mode, "pad"))


def crop(img, top, left, height, width):
    """The (height, width) window at (top, left); parts outside the image are zero (as torchvision)."""
    b = _Batch(img, "crop")
    _, _, H, W = b.x.shape
    p = (max(0, -left), max(0, -top), max(0, left + width - W), max(0, top + height - H))
    x = _pad4(b.x, p, 0, "constant", "crop") if any(p) else b.x
    t, l = top + p[1], left + p[0]
    return b.back(x[..., t:t + height, l:l + width])


def _crop_batch(x, tops, lefts, height, width):
    """Per-image windows in one gather: image k gives x[k, :, tops[k]:+height, lefts[k]:+width]."""
    rows = tops[:, None] + np.arange(height)
    cols = lefts[:, None] + np.arange(width)
    n = np.arange(x.shape[0])[:, None, None]
    out = x[n, :, rows[:, :, None], cols[:, None, :]]  # (N, h, w, C): advanced indices come first
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


# ------------------------------------------------------------------------------------------- geometry

def _inverse_affine(angle, tx, ty, scale, shear_x, shear_y, cx, cy):
    """torchvision's _get_inverse_affine_matrix, over arrays: (N, 2, 3) maps output to input coordinates.

    All arguments are arrays of shape (N,) (angles in degrees); (cx, cy) is the centre relative to the image
    centre. The forward map is T * C * R * S * Sh * C^-1; this returns its inverse.
    """
    rot = np.radians(angle)
    sx, sy = np.radians(shear_x), np.radians(shear_y)
    a = np.cos(rot - sy) / np.cos(sy)
    b = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c = np.sin(rot - sy) / np.cos(sy)
    d = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    m = np.stack([np.stack([d, -b, np.zeros_like(a)], -1), np.stack([-c, a, np.zeros_like(a)], -1)], 1)
    m = m / np.asarray(scale, dtype=np.float64)[:, None, None]
    m[:, 0, 2] += m[:, 0, 0] * (-cx - tx) + m[:, 0, 1] * (-cy - ty)
    m[:, 1, 2] += m[:, 1, 0] * (-cx - tx) + m[:, 1, 1] * (-cy - ty)
    m[:, 0, 2] += cx
    m[:, 1, 2] += cy
    return m


def _warp(x, m, interpolation, fill):
    """Resample a batch (N, C, H, W) through per-image inverse maps ``m`` (N, 2, 3), vectorised over the batch.

    Output pixel (i, j) reads the input at m @ (j - (W-1)/2, i - (H-1)/2, 1) + ((W-1)/2, (H-1)/2): nearest
    (rounding half to even, as grid_sample) or bilinear, with ``fill`` (1 or C values) for taps outside.
    """
    n, c, h, w = x.shape
    work = _float_work_dtype(x.dtype)
    xs = np.arange(w) - (w - 1) / 2
    ys = np.arange(h) - (h - 1) / 2
    ix = m[:, 0, 0, None, None] * xs + m[:, 0, 1, None, None] * ys[:, None] + m[:, 0, 2, None, None] + (w - 1) / 2
    iy = m[:, 1, 0, None, None] * xs + m[:, 1, 1, None, None] * ys[:, None] + m[:, 1, 2, None, None] + (h - 1) / 2
    ix, iy = ix.reshape(n, -1), iy.reshape(n, -1)  # (N, H*W) source coordinates of every output pixel
    flat = x.reshape(n, c, h * w)
    fill = _fill_array(fill, c, x.dtype, "warp")
    has_fill = bool(np.any(fill != 0))

    def tap(xi, yi):
        valid = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        idx = np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1)
        return np.take_along_axis(flat, idx[:, None, :], axis=2).astype(work, copy=False), valid

    if interpolation == "nearest":
        vals, valid = tap(np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64))
        out = np.where(valid[:, None, :], vals, fill)
    else:
        x0, y0 = np.floor(ix), np.floor(iy)
        wx1, wy1 = (ix - x0).astype(work), (iy - y0).astype(work)
        wx0, wy0 = 1 - wx1, 1 - wy1
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out = np.zeros((n, c, h * w), dtype=work)
        outside = np.zeros((n, h * w), dtype=work) if has_fill else None
        for dx, dy, wt in ((0, 0, wx0 * wy0), (1, 0, wx1 * wy0), (0, 1, wx0 * wy1), (1, 1, wx1 * wy1)):
            vals, valid = tap(x0 + dx, y0 + dy)
            out += (wt * valid)[:, None, :] * vals
            if has_fill:
                outside += wt * ~valid
        if has_fill:
            out += outside[:, None, :] * fill
    return _cast_back(out.reshape(n, c, h, w), x.dtype)


def _center_offset(center, h, w):
    if center is None:
        return 0.0, 0.0
    return center[0] - w * 0.5, center[1] - h * 0.5  # torchvision: pixel coordinates relative to the image centre


def rotate(img, angle, interpolation="nearest", center=None, fill=0):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (x, y) (default: the image centre).

    The output keeps the input's size; corners that come from outside the image take ``fill``.
    """
    b = _Batch(img, "rotate")
    n, _, h, w = b.x.shape
    cx, cy = _center_offset(center, h, w)
    one = np.ones(n)
    m = _inverse_affine(-angle * one, 0 * one, 0 * one, one, 0 * one, 0 * one, cx, cy)
    return b.back(_warp(b.x, m, _interp(interpolation, "rotate"), fill))


def affine(img, angle, translate, scale, shear, interpolation="nearest", fill=0, center=None):
    """Rotate (``angle`` degrees, clockwise), scale, shear (degrees, x then y) and translate (pixels) an image."""
    b = _Batch(img, "affine")
    n, _, h, w = b.x.shape
    if isinstance(shear, numbers.Number):
        shear = (shear, 0.0)
    shear = tuple(shear) + (0.0,) * (2 - len(shear))
    if scale <= 0:
        raise ValueError(f"affine: scale must be positive, got {scale}")
    cx, cy = _center_offset(center, h, w)
    one = np.ones(n)
    m = _inverse_affine(angle * one, translate[0] * one, translate[1] * one, scale * one, shear[0] * one,
                        shear[1] * one, cx, cy)
    return b.back(_warp(b.x, m, _interp(interpolation, "affine"), fill))


def erase(img, i, j, h, w, v, inplace=False):
    """Set the (h, w) window at (i, j) to ``v`` (a scalar, per-channel values or an array of the window's shape)."""
    if inplace and isinstance(img, Tensor):
        img._data[..., i:i + h, j:j + w] = v._data if isinstance(v, Tensor) else v
        return img
    b = _Batch(img, "erase")
    out = b.x.copy()
    out[..., i:i + h, j:j + w] = np.asarray(v._data if isinstance(v, Tensor) else v)
    return b.back(out)
