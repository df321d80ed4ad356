"""lamina.transforms: shapes, value ranges, geometry (torch.grid_sample as oracle), seeding, batch == per-sample."""

import math

import numpy as np
import pytest

import lamina
from lamina import transforms as T
from lamina.transforms import functional as F
from tests.conftest import torch


def _gen(seed=0):
    return lamina.Generator().manual_seed(seed)


def _img(shape=(3, 6, 7), seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


# ------------------------------------------------------------------------------------------- conversions

def test_to_tensor():
    hwc = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    t = T.ToTensor()(hwc)
    assert isinstance(t, lamina.Tensor) and t.shape == (3, 5, 4) and t.dtype == lamina.float32
    np.testing.assert_array_equal(t.numpy(), hwc.transpose(2, 0, 1).astype(np.float32) / np.float32(255))
    assert t.numpy().max() <= 1 and t.numpy().min() >= 0
    assert T.ToTensor()(hwc[:, :, 0]).shape == (1, 5, 4)
    f64 = T.ToTensor()(np.full((2, 2, 1), 7.0))  # non-uint8 keeps values and dtype, as torchvision
    assert f64.dtype == lamina.float64 and f64.numpy().max() == 7.0
    assert T.ToTensor()(np.zeros((8, 5, 4, 3), np.uint8)).shape == (8, 3, 5, 4)
    with pytest.raises(TypeError, match="got a Tensor"):
        T.ToTensor()(t)


def test_normalize_values_grad_and_errors():
    x = lamina.tensor(_img((2, 3, 4, 4)), requires_grad=True)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    y = T.Normalize(mean, std)(x)
    ref = (x.detach().numpy() - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(y.numpy(force=True), ref, rtol=1e-6)
    assert y.dtype == lamina.float32
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[0, :, 0, 0], 1 / np.array(std), rtol=1e-6)
    with pytest.raises(ValueError, match="mean has 2 values, the image has 3 channels"):
        T.Normalize((0.1, 0.2), (1.0, 1.0))(x)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(0.0, 0.0)(x)
    with pytest.raises(TypeError, match="should be a float tensor"):
        T.Normalize(0.0, 1.0)(lamina.zeros(1, 2, 2, dtype=lamina.uint8))
    z = lamina.tensor(_img((1, 2, 2)))
    assert T.Normalize(0.5, 0.5, inplace=True)(z) is z


# ------------------------------------------------------------------------------------------- flips

@pytest.mark.parametrize("cls,axis", [(T.RandomHorizontalFlip, -1), (T.RandomVerticalFlip, -2)])
def test_flips_batch_per_sample_and_seeded(cls, axis):
    x = _img((16, 2, 5, 6))
    out = cls(p=0.5, generator=_gen(3))(x)
    assert isinstance(out, np.ndarray) and out.shape == x.shape
    flipped = [np.array_equal(out[k], np.flip(x[k], axis)) for k in range(16)]
    kept = [np.array_equal(out[k], x[k]) for k in range(16)]
    assert all(f or k for f, k in zip(flipped, kept)) and 0 < sum(flipped) < 16  # per-image decisions
    np.testing.assert_array_equal(cls(p=0.5, generator=_gen(3))(x), out)
    single = lamina.tensor(x[0])
    np.testing.assert_array_equal(cls(p=1.0)(single).numpy(), np.flip(x[0], axis))
    np.testing.assert_array_equal(cls(p=0.0)(single).numpy(), x[0])
    with pytest.raises(ValueError, match="between 0 and 1"):
        cls(p=1.5)


# ------------------------------------------------------------------------------------------- geometry

def _torch_warp(x, m, mode, h, w):
    """The oracle: the same inverse map through torch's affine_grid + grid_sample (zeros outside)."""
    theta = np.empty((len(m), 2, 3))
    theta[:, 0] = np.stack([m[:, 0, 0], m[:, 0, 1] * h / w, m[:, 0, 2] * 2 / w], -1)
    theta[:, 1] = np.stack([m[:, 1, 0] * w / h, m[:, 1, 1], m[:, 1, 2] * 2 / h], -1)
    grid = torch.nn.functional.affine_grid(torch.tensor(theta), (len(m), x.shape[1], h, w), align_corners=False)
    return torch.nn.functional.grid_sample(torch.tensor(x), grid, mode=mode, padding_mode="zeros",
                                           align_corners=False).numpy()


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("hw", [(7, 7), (6, 9)])
def test_warp_matches_torch_grid_sample(mode, hw):
    h, w = hw
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, h, w))
    n = 4
    m = F._inverse_affine(rng.uniform(-40, 40, n), rng.uniform(-2, 2, n), rng.uniform(-2, 2, n),
                          rng.uniform(0.7, 1.3, n), rng.uniform(-15, 15, n), rng.uniform(-10, 10, n),
                          np.zeros(n), np.zeros(n))
    ours = F._warp(x, m, mode, 0)
    ref = _torch_warp(x, m, mode, h, w)
    if mode == "bilinear":
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)
    else:  # nearest rounds half to even, as grid_sample does
        np.testing.assert_array_equal(ours, ref)


def test_inverse_affine_is_the_inverse_of_torchvisions_forward_map():
    angle, tx, ty, s, shx, shy, cx, cy = 23.0, 3.0, -2.0, 1.4, 11.0, -7.0, 1.5, -0.5
    a, sx, sy = math.radians(angle), math.radians(shx), math.radians(shy)
    R = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    S = np.diag([s, s, 1.0])
    SHx = np.array([[1, -math.tan(sx), 0], [0, 1, 0], [0, 0, 1]])
    SHy = np.array([[1, 0, 0], [-math.tan(sy), 1, 0], [0, 0, 1]])
    C = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1.0]])
    Tr = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1.0]])
    forward = Tr @ C @ R @ S @ SHy @ SHx @ np.linalg.inv(C)
    m = F._inverse_affine(*(np.array([v]) for v in (angle, tx, ty, s, shx, shy, cx, cy)))
    np.testing.assert_allclose(m[0], np.linalg.inv(forward)[:2], atol=1e-12)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_rotate_directions_and_identity(mode):
    x = _img((2, 5, 5))
    np.testing.assert_allclose(F.rotate(x, 90.0, mode), np.rot90(x, 1, axes=(1, 2)), atol=1e-6)  # counter-clockwise
    np.testing.assert_allclose(F.affine(x, 90.0, (0, 0), 1.0, 0.0, mode), np.rot90(x, -1, axes=(1, 2)), atol=1e-6)
    np.testing.assert_allclose(F.rotate(x, 0.0, mode), x, atol=1e-6)
    shifted = F.affine(x, 0.0, (2, 1), 1.0, 0.0, mode)  # 2 pixels right, 1 down; zeros come in
    expect = np.zeros_like(x)
    expect[:, 1:, 2:] = x[:, :-1, :-2]
    np.testing.assert_allclose(shifted, expect, atol=1e-6)
    filled = F.affine(x, 0.0, (2, 0), 1.0, 0.0, mode, fill=[5.0, 6.0])
    np.testing.assert_allclose(filled[:, :, :2], np.broadcast_to(np.array([5.0, 6.0])[:, None, None], (2, 5, 2)))


def test_rotation_batch_equals_per_sample_and_seeding():
    x = lamina.tensor(_img((6, 1, 9, 9)))
    t = T.RandomRotation(30, interpolation="bilinear", generator=_gen(4))
    out = t(x)
    assert isinstance(out, lamina.Tensor) and out.shape == (6, 1, 9, 9) and out.dtype == lamina.float32
    angles = T.RandomRotation(30)._params(6, 9, 9, _gen(4).np)["angle"]
    assert np.all(np.abs(angles) <= 30) and np.ptp(angles) > 0
    for k in range(6):
        np.testing.assert_allclose(out.numpy()[k], F.rotate(x.numpy()[k], angles[k], "bilinear"), atol=1e-6)
    lamina.manual_seed(9)
    a = T.RandomRotation(30)(x)
    lamina.manual_seed(9)
    np.testing.assert_array_equal(T.RandomRotation(30)(x).numpy(), a.numpy())
    assert T.RandomRotation((10, 20)).degrees == (10.0, 20.0)
    with pytest.raises(ValueError, match="must be positive"):
        T.RandomRotation(-5)


def test_affine_batch_equals_per_sample_and_uint8():
    x = _img((5, 3, 8, 10))
    t = T.RandomAffine(20, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -3, 3), interpolation="bilinear",
                       generator=_gen(2))
    out = t(x)
    p = t._params(5, 8, 10, _gen(2).np)
    assert np.all(np.abs(p["tx"]) <= 2) and np.all(p["tx"] == np.rint(p["tx"])) and np.all(p["scale"] >= 0.8)
    for k in range(5):
        ref = F.affine(x[k], p["angle"][k], (p["tx"][k], p["ty"][k]), p["scale"][k],
                       (p["shear_x"][k], p["shear_y"][k]), "bilinear")
        np.testing.assert_allclose(out[k], ref, atol=1e-6)
    u8 = (x * 255).astype(np.uint8)
    o8 = T.RandomAffine(15, generator=_gen(0))(u8)
    assert o8.dtype == np.uint8 and o8.shape == u8.shape
    with pytest.raises(ValueError, match="translate should be two values between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 2))
    with pytest.raises(ValueError, match="interpolation must be"):
        T.RandomAffine(0, interpolation="cubic")


# ------------------------------------------------------------------------------------------- crops

def test_random_crop_windows_padding_and_errors():
    x = _img((7, 2, 6, 6))
    t = T.RandomCrop(4, padding=2, generator=_gen(5))
    out = t(x)
    assert out.shape == (7, 2, 4, 4)
    p = t._params(7, 10, 10, _gen(5).np)
    padded = F.pad(x, 2)
    assert padded.shape == (7, 2, 10, 10)
    for k in range(7):
        np.testing.assert_array_equal(out[k], F.crop(padded[k], int(p["top"][k]), int(p["left"][k]), 4, 4))
    assert len({(a, b) for a, b in zip(p["top"], p["left"])}) > 1
    np.testing.assert_array_equal(T.RandomCrop((6, 6))(x), x)
    small = T.RandomCrop((8, 5), pad_if_needed=True, padding_mode="edge", generator=_gen(0))(x[0])
    assert small.shape == (2, 8, 5)
    with pytest.raises(ValueError, match=r"required crop size \(8, 8\) is larger than input image size \(6, 6\)"):
        T.RandomCrop(8)(x)
    reflect = F.pad(x[0, 0], (1, 2), padding_mode="reflect")
    np.testing.assert_array_equal(reflect, np.pad(x[0, 0], ((2, 2), (1, 1)), mode="reflect"))
    np.testing.assert_array_equal(F.crop(x[0], -1, 0, 2, 2)[:, 0], np.zeros((2, 2)))  # outside: zeros


# ------------------------------------------------------------------------------------------- noise and erasing

def test_gaussian_noise_statistics_and_clip():
    x = lamina.full((4, 1, 50, 50), 0.5)
    y = T.GaussianNoise(mean=0.1, std=0.2, generator=_gen(0))(x).numpy()
    assert y.dtype == np.float32
    d = y - 0.5
    assert abs(d.mean() - 0.1) < 0.01 and abs(d.std() - 0.2) < 0.01
    c = T.GaussianNoise(std=1.0, clip=True, generator=_gen(0))(x).numpy()
    assert c.min() == 0.0 and c.max() == 1.0
    np.testing.assert_array_equal(T.GaussianNoise(generator=_gen(7))(x).numpy(),
                                  T.GaussianNoise(generator=_gen(7))(x).numpy())
    with pytest.raises(TypeError, match="float image"):
        T.GaussianNoise()(np.zeros((1, 2, 2), np.uint8))


def test_random_erasing_rectangles():
    x = np.ones((40, 3, 20, 16), np.float32)
    t = T.RandomErasing(p=1.0, value=(0.0, -1.0, -2.0), generator=_gen(1))
    out = t(x)
    area_ok = 0
    for k in range(40):
        erased = out[k, 0] == 0.0
        rows, cols = np.nonzero(erased)
        if rows.size == 0:
            continue
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert erased.sum() == h * w  # one rectangle
        np.testing.assert_array_equal(out[k, 1][erased], -1.0)
        np.testing.assert_array_equal(out[k, 2][erased], -2.0)
        assert 0.02 * 320 * 0.5 <= h * w <= 0.33 * 320 * 1.5 and 0.3 / 2 <= h / w <= 3.3 * 2
        area_ok += 1
    assert area_ok >= 36  # up to 10 attempts each: nearly all images get a rectangle
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(x), x)
    p = t._params(40, 20, 16, _gen(1).np)
    np.testing.assert_array_equal(t._apply(x[3:4], {**p, **{k: p[k][3:4] for k in ("top", "left", "h", "w")}})[0],
                                  out[3])
    r = T.RandomErasing(p=1.0, value="random", generator=_gen(2))(lamina.tensor(x))
    assert isinstance(r, lamina.Tensor) and (r.numpy() != 1.0).any() and r.numpy().std() > 0.1
    xt = lamina.tensor(x[:2].copy())
    assert T.RandomErasing(p=1.0, inplace=True, generator=_gen(3))(xt) is xt and (xt.numpy() == 0).any()
    with pytest.raises(ValueError, match="should be 'random'"):
        T.RandomErasing(value="noise")


# ------------------------------------------------------------------------------------------- composition

def test_compose_lambda_and_pipeline():
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda t: t * 2), T.Normalize((0.5,), (0.5,))])
    out = pipeline(np.full((4, 4), 255, np.uint8))
    assert out.shape == (1, 4, 4) and np.allclose(out.numpy(), 3.0)
    assert "ToTensor()" in repr(pipeline) and "Normalize(mean=(0.5,), std=(0.5,))" in repr(pipeline)
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)


def test_augmenting_a_dataset_in_a_loader():
    from lamina.datasets import Digits
    from lamina.utils.data import DataLoader

    aug = T.Compose([T.RandomRotation(10), T.RandomCrop(8, padding=1), T.RandomErasing(p=0.5)])
    lamina.manual_seed(0)
    a = [b[0].numpy() for b in DataLoader(Digits(train=False, transform=aug), batch_size=64)]
    lamina.manual_seed(0)
    b = [b[0].numpy() for b in DataLoader(Digits(train=False, transform=aug), batch_size=64)]
    assert all(np.array_equal(u, v) for u, v in zip(a, b)) and a[0].shape == (64, 1, 8, 8)
    assert 0.0 <= a[0].min() and a[0].max() <= 1.0
