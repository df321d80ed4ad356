"""PixelShuffle, PixelUnshuffle, ChannelShuffle against PyTorch (float64 values and gradients), reprs, errors."""

import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from tests.conftest import torch
from tests.nn._parity import layer_parity


@pytest.mark.parametrize("name,arg,shape", [
    ("PixelShuffle", 2, (2, 8, 3, 4)), ("PixelShuffle", 3, (9, 2, 2)), ("PixelShuffle", 1, (1, 2, 3, 3)),
    ("PixelShuffle", 2, (2, 1, 4, 2, 3)), ("PixelUnshuffle", 2, (2, 2, 4, 6)), ("PixelUnshuffle", 3, (1, 3, 3)),
    ("ChannelShuffle", 2, (2, 6, 3)), ("ChannelShuffle", 3, (1, 6, 2, 2)),
])
def test_shuffles_match_torch(name, arg, shape, rng):
    layer, ref = getattr(nn, name)(arg), getattr(torch.nn, name)(arg)
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(shape))


def test_shuffle_roundtrip_and_gradcheck(rng):
    x = lamina.tensor(rng.standard_normal((1, 8, 2, 3)), requires_grad=True)
    assert lamina.equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2), x)
    assert lamina.autograd.gradcheck(lambda t: F.pixel_shuffle(t, 2), [x], eps=1e-6, atol=1e-5)
    assert lamina.autograd.gradcheck(lambda t: F.channel_shuffle(t, 4), [x], eps=1e-6, atol=1e-5)
    assert F.pixel_shuffle(lamina.randn(1, 4, 2, 2), 2).dtype is lamina.float32


def test_shuffle_errors():
    with pytest.raises(RuntimeError, match=r"pixel_shuffle.*divisible by the square of upscale_factor \(4\).*"
                                           r"\(1, 6, 2, 2\)"):
        F.pixel_shuffle(lamina.randn(1, 6, 2, 2), 2)
    with pytest.raises(RuntimeError, match=r"pixel_unshuffle.*\(1, 1, 3, 4\)"):
        F.pixel_unshuffle(lamina.randn(1, 1, 3, 4), 2)
    with pytest.raises(RuntimeError, match=r"channel_shuffle.*groups \(4\).*\(1, 6, 2\)"):
        F.channel_shuffle(lamina.randn(1, 6, 2), 4)
    with pytest.raises(RuntimeError, match="pixel_shuffle: expected upscale_factor to be a positive integer"):
        F.pixel_shuffle(lamina.randn(1, 4, 2, 2), 0)
