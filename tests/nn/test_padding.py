"""F.pad's reflect / replicate / circular modes (and Conv padding_mode through them) against PyTorch."""

import pytest

import lamina
import lamina.nn.functional as F
from lamina.autograd import gradcheck
from tests.conftest import assert_close, pair, torch

TF = torch.nn.functional

CASES = [
    ((2, 3, 5, 7), (2, 1, 1, 3), "reflect"),
    ((2, 3, 5, 7), (2, 1, 1, 3), "replicate"),
    ((2, 3, 5, 7), (2, 1, 5, 3), "circular"),
    ((3, 6), (2, 5), "reflect"),
    ((2, 3, 6), (4, 0), "replicate"),
    ((2, 3, 6), (2, 5), "circular"),
    ((3, 5, 7), (1, 2, 3, 4), "reflect"),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2), "replicate"),
    ((1, 2, 3, 4, 5), (1, 1, 2, 0, 1, 2), "reflect"),
    ((2, 3, 4, 5, 6), (2, 1, 0, 3, 1, 1), "circular"),
    ((2, 3, 5, 7), (-1, 2, 1, -2), "circular"),
    ((2, 3, 5, 7), (-1, 2, 1, -2), "replicate"),
    ((2, 3, 5, 7), (2, -1, -2, 1), "reflect"),
]


@pytest.mark.parametrize("shape,pad,mode", CASES)
def test_pad_matches_torch(rng, shape, pad, mode):
    x, x_ref = pair(rng.standard_normal(shape))
    out, out_ref = F.pad(x, pad, mode), TF.pad(x_ref, pad, mode)
    assert_close(out, out_ref)
    g = rng.standard_normal(tuple(out_ref.shape))
    (out * lamina.tensor(g)).sum().backward()
    (out_ref * torch.tensor(g)).sum().backward()
    assert_close(x.grad, x_ref.grad)


def test_pad_keeps_float32(rng):
    x = lamina.tensor(rng.standard_normal((1, 2, 4, 4)).astype("float32"), requires_grad=True)
    out = F.pad(x, (1, 1, 2, 2), mode="reflect")
    assert out.dtype == lamina.float32 and tuple(out.shape) == (1, 2, 8, 6)
    out.sum().backward()
    assert x.grad.dtype == lamina.float32


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_gradcheck_pad(rng, mode):
    x = lamina.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda v: F.pad(v, (2, 1, 1, 2), mode=mode), (x,))


def test_pad_errors_name_the_shapes():
    x = lamina.randn(1, 1, 3, 3)
    with pytest.raises(RuntimeError, match=r"pad: Padding size should be less than the corresponding input dimension, "
                                           r"but got: padding \(3, 3\) at dimension 3 of input \(1, 1, 3, 3\)"):
        F.pad(x, (3, 3, 0, 0), mode="reflect")
    with pytest.raises(RuntimeError, match=r"pad: Padding value causes wrapping around more than once"):
        F.pad(x, (4, 0, 0, 0), mode="circular")
    with pytest.raises(NotImplementedError, match=r"pad: replicate padding of 2 dimension\(s\) needs a 3D or 4D input, "
                                                  r"got shape \(3, 3\)"):
        F.pad(lamina.randn(3, 3), (1, 1, 1, 1), mode="replicate")
    with pytest.raises(NotImplementedError, match="pad: unknown padding mode 'mirror'"):
        F.pad(x, (1, 1, 0, 0), mode="mirror")
    with pytest.raises(ValueError, match="pad: padding length must be even"):
        F.pad(x, (1, 1, 1), mode="reflect")
