"""Image transforms as objects (torchvision.transforms' names): compose them, apply to an image or a batch.

Random transforms draw their parameters from a ``lamina.Generator`` (``generator=``, default lamina's default
generator, so ``lamina.manual_seed`` makes them reproducible; inside ``DataLoader`` workers that generator is
seeded per worker). Given a batch (N, C, H, W) they draw parameters per image and apply them in one vectorised
pass: flips and erasing by masks, crops by one gather, rotations and affine maps by one inverse-mapping
resample of the whole batch.
"""

import math
import numbers

import numpy as np

from lamina.backend.random import _rng
from lamina.tensor import Tensor
from lamina.transforms import functional as F
from lamina.transforms.functional import InterpolationMode, _Batch

__all__ = ["Compose", "ToTensor", "Normalize", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
           "RandomCrop", "RandomAffine", "GaussianNoise", "RandomErasing", "Lambda", "InterpolationMode"]


def _check_p(p, owner):
    if not isinstance(p, numbers.Number) or not 0 <= p <= 1:
        raise ValueError(f"{owner}: probability p should be between 0 and 1, got {p!r}")
    return float(p)


def _range(value, name, owner, single_low=None):
    """A (low, high) pair from a number (``(-v, v)`` or ``(single_low, v)``) or a two-element sequence."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"{owner}: if {name} is a single number, it must be positive, got {value}")
        return (-float(value) if single_low is None else single_low, float(value))
    value = tuple(float(v) for v in value)
    if len(value) != 2:
        raise ValueError(f"{owner}: {name} should be a number or a sequence of two numbers, got {value}")
    if value[0] > value[1]:
        raise ValueError(f"{owner}: {name} should be of kind (min, max), got {value}")
    return value


def _pair(size, owner):
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    size = tuple(int(s) for s in size)
    if len(size) == 1:
        return size[0], size[0]
    if len(size) != 2:
        raise ValueError(f"{owner}: size should be an int or a sequence of 1 or 2 ints (h, w), got {size}")
    return size


class _RandomTransform:
    """A transform with per-image random parameters: ``_params(n, h, w, rng)`` then ``_apply(x, params)``."""

    def __call__(self, img):
        b = _Batch(img, type(self).__name__)
        n, _, h, w = b.x.shape
        return b.back(self._apply(b.x, self._params(n, h, w, _rng(self.generator))))


class Compose:
    """Apply transforms one after the other.

    Example:
        >>> t = Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])
    """

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class ToTensor:
    """(H, W, C) arrays (uint8 or not, or PIL images) to (C, H, W) tensors; uint8 scaled to float32 [0, 1].

    (H, W) gains a channel; a batch (N, H, W, C) becomes (N, C, H, W). Other dtypes keep values and dtype.
    """

    def __call__(self, pic):
        return F.to_tensor(pic)

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """``(x - mean[c]) / std[c]`` for each channel c of (..., C, H, W); differentiable (unless ``inplace``)."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class RandomHorizontalFlip(_RandomTransform):
    """Mirror each image left-right with probability ``p``."""

    _axis = -1

    def __init__(self, p=0.5, *, generator=None):
        self.p = _check_p(p, type(self).__name__)
        self.generator = generator

    def _params(self, n, h, w, rng):
        return {"flip": rng.random(n) < self.p}

    def _apply(self, x, params):
        out = x.copy()
        sel = params["flip"]
        out[sel] = np.flip(x[sel], axis=self._axis)
        return out

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability ``p``."""

    _axis = -2


class RandomRotation(_RandomTransform):
    """Rotate each image by an angle drawn uniformly from ``degrees`` (counter-clockwise positive).

    Args:
        degrees: a number d for (-d, d) or a (min, max) pair.
        interpolation: 'nearest' (default, as torchvision) or 'bilinear'.
        center: (x, y) pixel to rotate about. Default: the image centre.
        fill: value(s) for the corners coming from outside the image. Default: 0.
        generator: a ``lamina.Generator``. Default: lamina's default generator.
    """

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, center=None, fill=0, *, generator=None):
        self.degrees = _range(degrees, "degrees", "RandomRotation")
        self.interpolation = F._interp(interpolation, "RandomRotation")
        self.center, self.fill, self.generator = center, fill, generator

    @staticmethod
    def get_params(degrees, generator=None):
        """One angle drawn uniformly from ``degrees`` = (min, max)."""
        return float(_rng(generator).uniform(degrees[0], degrees[1]))

    def _params(self, n, h, w, rng):
        return {"angle": rng.uniform(self.degrees[0], self.degrees[1], size=n)}

    def _apply(self, x, params):
        n, _, h, w = x.shape
        cx, cy = F._center_offset(self.center, h, w)
        zero, one = np.zeros(n), np.ones(n)
        m = F._inverse_affine(-params["angle"], zero, zero, one, zero, zero, cx, cy)
        return F._warp(x, m, self.interpolation, self.fill)

    def __repr__(self):
        return (f"{type(self).__name__}(degrees={list(self.degrees)}, interpolation={self.interpolation}, "
                f"center={self.center}, fill={self.fill})")


class RandomAffine(_RandomTransform):
    """Random rotation, translation, scale and shear per image, in one resampling pass.

    Args:
        degrees: rotation range: d for (-d, d) or (min, max) (clockwise positive, as torchvision's affine).
        translate: (a, b): horizontal shift drawn in (-a*W, a*W), vertical in (-b*H, b*H), rounded to pixels.
            Default: no shift.
        scale: (min, max) scale factor range. Default: 1.
        shear: x-shear range in degrees: s for (-s, s), (min, max), or (xmin, xmax, ymin, ymax) for both axes.
            Default: none.
        interpolation: 'nearest' (default) or 'bilinear'.
        fill: value(s) for pixels coming from outside the image. Default: 0.
        center: (x, y) pixel centre of rotation/scale/shear. Default: the image centre.
        generator: a ``lamina.Generator``. Default: lamina's default generator.
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation=InterpolationMode.NEAREST,
                 fill=0, center=None, *, generator=None):
        owner = "RandomAffine"
        self.degrees = _range(degrees, "degrees", owner)
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"{owner}: translate should be two values between 0 and 1, got {translate}")
        if scale is not None:
            scale = tuple(float(s) for s in scale)
            if len(scale) != 2 or min(scale) <= 0 or scale[0] > scale[1]:
                raise ValueError(f"{owner}: scale should be (min, max) with positive values, got {scale}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _range(shear, "shear", owner)
            else:
                shear = tuple(float(s) for s in shear)
                if len(shear) not in (2, 4):
                    raise ValueError(f"{owner}: shear should be a number or a sequence of 2 or 4 numbers, got "
                                     f"{shear}")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = F._interp(interpolation, owner)
        self.fill, self.center, self.generator = fill, center, generator

    def _params(self, n, h, w, rng):
        # the order of draws follows torchvision's get_params: angle, translation, scale, shear
        p = {"angle": rng.uniform(self.degrees[0], self.degrees[1], size=n)}
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * w, self.translate[1] * h
            p["tx"] = np.rint(rng.uniform(-max_dx, max_dx, size=n))
            p["ty"] = np.rint(rng.uniform(-max_dy, max_dy, size=n))
        else:
            p["tx"] = p["ty"] = np.zeros(n)
        p["scale"] = rng.uniform(self.scale[0], self.scale[1], size=n) if self.scale is not None else np.ones(n)
        p["shear_x"] = p["shear_y"] = np.zeros(n)
        if self.shear is not None:
            p["shear_x"] = rng.uniform(self.shear[0], self.shear[1], size=n)
            if len(self.shear) == 4:
                p["shear_y"] = rng.uniform(self.shear[2], self.shear[3], size=n)
        return p

    def _apply(self, x, p):
        _, _, h, w = x.shape
        cx, cy = F._center_offset(self.center, h, w)
        m = F._inverse_affine(p["angle"], p["tx"], p["ty"], p["scale"], p["shear_x"], p["shear_y"], cx, cy)
        return F._warp(x, m, self.interpolation, self.fill)

    def __repr__(self):
        parts = [f"degrees={list(self.degrees)}"]
        for name in ("translate", "scale", "shear"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)}")
        parts.append(f"interpolation={self.interpolation}")
        return f"{type(self).__name__}({', '.join(parts)})"


class RandomCrop(_RandomTransform):
    """Crop a (h, w) window at a random position of each image (after optional padding).

    Args:
        size: int or (h, w).
        padding: pad every image first: int, (left/right, top/bottom) or (left, top, right, bottom).
        pad_if_needed: pad an image smaller than ``size`` (both sides of a short dimension by the deficit, as
            torchvision) instead of raising.
        fill: value for constant padding. Default: 0.
        padding_mode: 'constant', 'edge', 'reflect' or 'symmetric'. Default: 'constant'.
        generator: a ``lamina.Generator``. Default: lamina's default generator.
    """

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant", *,
                 generator=None):
        self.size = _pair(size, "RandomCrop")
        self.padding = None if padding is None else F._padding4(padding, "RandomCrop")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        self.generator = generator

    @staticmethod
    def get_params(img, output_size, generator=None):
        """(top, left, h, w) of a random ``output_size`` window of ``img``."""
        h, w = img.shape[-2:]
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input image size {(h, w)}")
        rng = _rng(generator)
        return int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1)), th, tw

    def _padded(self, x):
        if self.padding is not None:
            x = F._pad4(x, self.padding, self.fill, self.padding_mode, "RandomCrop")
        th, tw = self.size
        if self.pad_if_needed and (x.shape[-1] < tw or x.shape[-2] < th):
            dw, dh = max(0, tw - x.shape[-1]), max(0, th - x.shape[-2])
            x = F._pad4(x, (dw, dh, dw, dh), self.fill, self.padding_mode, "RandomCrop")
        return x

    def __call__(self, img):
        b = _Batch(img, "RandomCrop")
        x = self._padded(b.x)
        n, _, h, w = x.shape
        return b.back(self._apply(x, self._params(n, h, w, _rng(self.generator)), padded=True))

    def _params(self, n, h, w, rng):
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input image size {(h, w)}"
                             f"{' after padding' if self.padding else ''}; use pad_if_needed=True or padding")
        return {"top": rng.integers(0, h - th + 1, size=n), "left": rng.integers(0, w - tw + 1, size=n)}

    def _apply(self, x, params, padded=False):
        x = x if padded else self._padded(x)
        return F._crop_batch(x, params["top"], params["left"], *self.size)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class GaussianNoise(_RandomTransform):
    """Add independent N(mean, std²) noise to every pixel of a float image; ``clip`` keeps the result in [0, 1]."""

    def __init__(self, mean=0.0, std=0.1, clip=False, *, generator=None):
        if std < 0:
            raise ValueError(f"GaussianNoise: std should be non-negative, got {std}")
        self.mean, self.std, self.clip, self.generator = float(mean), float(std), clip, generator

    def __call__(self, img):
        b = _Batch(img, "GaussianNoise")
        if b.x.dtype.kind != "f":
            raise TypeError(f"GaussianNoise: input should be a float image, got {b.x.dtype}; use ToTensor first")
        n, _, h, w = b.x.shape
        return b.back(self._apply(b.x, self._params(n, h, w, _rng(self.generator), b.x.shape, b.x.dtype)))

    def _params(self, n, h, w, rng, shape=None, dtype=np.float32):
        gen_dtype = np.float32 if dtype == np.float32 else np.float64
        return {"noise": rng.standard_normal(shape, dtype=gen_dtype)}

    def _apply(self, x, params):
        out = x + (params["noise"] * self.std + self.mean).astype(x.dtype, copy=False)
        return np.clip(out, 0, 1, out=out) if self.clip else out

    def __repr__(self):
        return f"{type(self).__name__}(mean={self.mean}, std={self.std}, clip={self.clip})"


class RandomErasing(_RandomTransform):
    """With probability ``p``, erase a random rectangle of each image (Zhong et al., 2017).

    The rectangle's area is a ``scale`` share of the image and its aspect ratio log-uniform in ``ratio``; as in
    torchvision, up to 10 draws are tried per image and an image where none fits is left as it is.

    Args:
        p: probability to erase. Default: 0.5.
        scale: (min, max) share of the area. Default: (0.02, 0.33).
        ratio: (min, max) aspect ratio. Default: (0.3, 3.3).
        value: fill value: a number, one value per channel, or 'random' for N(0, 1) noise. Default: 0.
        inplace: write into the input (a single image or batch tensor). Default: False.
        generator: a ``lamina.Generator``. Default: lamina's default generator.
    """

    _ATTEMPTS = 10

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False, *, generator=None):
        owner = "RandomErasing"
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError(f"{owner}: argument value should be either a number, str or a sequence, got {value!r}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"{owner}: if value is str, it should be 'random', got {value!r}")
        if not isinstance(scale, (tuple, list)) or not isinstance(ratio, (tuple, list)):
            raise TypeError(f"{owner}: scale and ratio should be sequences")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"{owner}: scale and ratio should be of kind (min, max), got {scale} and {ratio}")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError(f"{owner}: scale should be between 0 and 1, got {scale}")
        self.p = _check_p(p, owner)
        self.scale, self.ratio, self.value, self.inplace, self.generator = scale, ratio, value, inplace, generator

    def _params(self, n, h, w, rng):
        k = self._ATTEMPTS
        area = h * w
        erase_area = area * rng.uniform(self.scale[0], self.scale[1], size=(n, k))
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = np.exp(rng.uniform(log_ratio[0], log_ratio[1], size=(n, k)))
        eh = np.rint(np.sqrt(erase_area * aspect)).astype(np.int64)
        ew = np.rint(np.sqrt(erase_area / aspect)).astype(np.int64)
        fits = (eh < h) & (ew < w)
        first = np.argmax(fits, axis=1)  # the first attempt that fits, as torchvision's loop
        rows = np.arange(n)
        eh, ew = eh[rows, first], ew[rows, first]
        erase = (rng.random(n) < self.p) & fits.any(axis=1)
        eh, ew = np.where(erase, eh, 0), np.where(erase, ew, 0)
        top = np.floor(rng.random(n) * (h - eh + 1)).astype(np.int64)
        left = np.floor(rng.random(n) * (w - ew + 1)).astype(np.int64)
        return {"top": top, "left": left, "h": eh, "w": ew, "noise_seed": int(rng.integers(0, 2**63 - 1))}

    def _apply(self, x, p, out=None):
        n, c, h, w = x.shape
        r, q = np.arange(h), np.arange(w)
        rmask = (r >= p["top"][:, None]) & (r < (p["top"] + p["h"])[:, None])
        cmask = (q >= p["left"][:, None]) & (q < (p["left"] + p["w"])[:, None])
        mask = rmask[:, None, :, None] & cmask[:, None, None, :]
        if isinstance(self.value, str):
            value = np.random.default_rng(p["noise_seed"]).standard_normal(x.shape).astype(x.dtype)
        else:
            value = np.asarray(self.value, dtype=x.dtype).reshape(-1)
            if value.size not in (1, c):
                raise ValueError(f"RandomErasing: value needs 1 or {c} numbers (one per channel), got {value.size}")
            value = value.reshape(1, -1, 1, 1)
        if out is None:
            return np.where(mask, value, x)
        np.copyto(out, np.broadcast_to(value, x.shape), where=np.broadcast_to(mask, x.shape))
        return out

    def __call__(self, img):
        b = _Batch(img, "RandomErasing")
        n, _, h, w = b.x.shape
        params = self._params(n, h, w, _rng(self.generator))
        if self.inplace and isinstance(img, Tensor) and np.shares_memory(b.x, img._data):
            self._apply(b.x, params, out=b.x)
            return img
        return b.back(self._apply(b.x, params))

    def __repr__(self):
        return (f"{type(self).__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value}, "
                f"inplace={self.inplace})")


class Lambda:
    """Wrap a function as a transform."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{type(self).__name__}()"
