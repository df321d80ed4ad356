"""F.interpolate / Upsample / UpsamplingNearest2d / UpsamplingBilinear2d against PyTorch."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, pair, torch

TF = torch.nn.functional


def _check(fn, fn_ref, x_np, rng):
    x, x_ref = pair(x_np)
    out, out_ref = fn(x), fn_ref(x_ref)
    assert_close(out, out_ref, msg="output")
    g = rng.standard_normal(tuple(out_ref.shape))
    (out * lamina.tensor(g)).sum().backward()
    (out_ref * torch.tensor(g)).sum().backward()
    assert_close(x.grad, x_ref.grad, msg="input grad")


CASES_2D = [
    dict(size=(8, 4), mode="nearest"),
    dict(scale_factor=2),
    dict(scale_factor=(1.7, 0.6), mode="nearest"),
    dict(scale_factor=3, mode="nearest", recompute_scale_factor=True),
    dict(size=(9, 3), mode="nearest-exact"),
    dict(size=(9, 3), mode="bilinear"),
    dict(size=(9, 13), mode="bilinear", align_corners=True),
    dict(size=(3, 2), mode="bilinear", align_corners=False),
    dict(scale_factor=2.5, mode="bilinear"),
    dict(scale_factor=2.5, mode="bilinear", recompute_scale_factor=True),
    dict(size=(5, 7), mode="bilinear"),
    dict(size=(9, 4), mode="bicubic"),
    dict(size=(9, 4), mode="bicubic", align_corners=True),
    dict(size=(2, 3), mode="area"),
    dict(size=(1, 1), mode="bilinear", align_corners=True),
]


@pytest.mark.parametrize("kwargs", CASES_2D)
def test_interpolate_2d_matches_torch(rng, kwargs):
    _check(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
           rng.standard_normal((2, 3, 5, 7)), rng)


@pytest.mark.parametrize("kwargs", [dict(size=11, mode="linear"), dict(size=4, mode="linear", align_corners=True),
                                    dict(scale_factor=2, mode="nearest"), dict(size=4, mode="area"),
                                    dict(scale_factor=1.5, mode="nearest-exact")])
def test_interpolate_1d_matches_torch(rng, kwargs):
    _check(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs), rng.standard_normal((2, 3, 6)),
           rng)


@pytest.mark.parametrize("kwargs", [dict(size=(5, 6, 2), mode="trilinear"),
                                    dict(scale_factor=2, mode="trilinear", align_corners=True),
                                    dict(size=(2, 5, 3), mode="nearest")])
def test_interpolate_3d_matches_torch(rng, kwargs):
    _check(lambda x: F.interpolate(x, **kwargs), lambda x: TF.interpolate(x, **kwargs),
           rng.standard_normal((1, 2, 3, 4, 5)), rng)


@pytest.mark.parametrize("layer,args", [("Upsample", dict(scale_factor=2)),
                                        ("Upsample", dict(size=(6, 9), mode="bilinear")),
                                        ("Upsample", dict(scale_factor=(2, 3), mode="bicubic", align_corners=True)),
                                        ("UpsamplingNearest2d", dict(scale_factor=3)),
                                        ("UpsamplingBilinear2d", dict(size=(7, 5)))])
def test_upsample_layers_match_torch(rng, layer, args):
    mod, ref = getattr(nn, layer)(**args), getattr(torch.nn, layer)(**args)
    assert repr(mod) == repr(ref)
    _check(mod, ref, rng.standard_normal((2, 3, 4, 5)), rng)


def test_interpolate_float32_and_channels_last(rng):
    x_np = np.ascontiguousarray(rng.standard_normal((2, 4, 5, 3)).astype(np.float32)).transpose(0, 3, 1, 2)
    x = lamina.tensor(x_np, requires_grad=True)
    out = F.interpolate(x, scale_factor=2, mode="bilinear")
    assert out.dtype == lamina.float32
    assert_close(out, TF.interpolate(torch.tensor(x_np), scale_factor=2, mode="bilinear"), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert x.grad.dtype == lamina.float32


def test_gradcheck_interpolate(rng):
    x = lamina.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda v: F.interpolate(v, size=(5, 3), mode="bilinear"), (x,))
    assert gradcheck(lambda v: F.interpolate(v, size=(4, 6), mode="bicubic", align_corners=True), (x,))
    assert gradcheck(lambda v: F.interpolate(v, scale_factor=(1.5, 0.5), mode="nearest"), (x,))


def test_bad_arguments_raise():
    x = lamina.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="interpolate: only one of size or scale_factor should be defined"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="interpolate: either size or scale_factor should be defined"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set with the interpolating modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="interpolate: Got 4D input, but trilinear mode needs 5D input"):
        F.interpolate(x, scale_factor=2, mode="trilinear")
    with pytest.raises(NotImplementedError, match="interpolate: unknown mode 'cubic'"):
        F.interpolate(x, scale_factor=2, mode="cubic")
    with pytest.raises(ValueError, match=r"Input and output must have the same number of spatial dimensions.*"
                                         r"\[4, 4\] and output size of \[3\]"):
        F.interpolate(x, size=(3,))


@pytest.mark.parametrize("dense_max,max_runs", [(0, 8), (512, 0)])
def test_every_evaluation_strategy_gives_the_same_map(rng, monkeypatch, dense_max, max_runs):
    # long axes use gathers + add.at, short ones a dense matrix, padding-like maps slices: all must agree
    from lamina.ops import upsampling as U

    monkeypatch.setattr(U, "_DENSE_MAX", dense_max)
    monkeypatch.setattr(U, "_MAX_RUNS", max_runs)
    x_np = rng.standard_normal((2, 3, 5, 6))
    for kwargs in (dict(size=(9, 4), mode="bilinear"), dict(scale_factor=2, mode="nearest"),
                   dict(size=(7, 8), mode="bicubic", align_corners=True)):
        _check(lambda x, kw=kwargs: F.interpolate(x, **kw), lambda x, kw=kwargs: TF.interpolate(x, **kw), x_np, rng)
    for pad, mode in (((2, 1, 3, 0), "reflect"), ((2, 1, 3, 0), "replicate"), ((-1, 3, 2, -2), "circular")):
        _check(lambda x, p=pad, m=mode: F.pad(x, p, m), lambda x, p=pad, m=mode: TF.pad(x, p, m), x_np, rng)
