"""Padding layers against PyTorch (float64 values and input gradients), reprs, float32, errors."""

import numpy as np
import pytest

import lamina
from lamina import nn
from tests.conftest import torch
from tests.nn._parity import layer_parity

CASES = [
    ("ZeroPad1d", (2,), (2, 3, 5)),
    ("ZeroPad1d", ((1, 0),), (3, 4)),
    ("ZeroPad2d", ((1, 2, 0, 3),), (2, 2, 3, 4)),
    ("ZeroPad2d", ((-1, 2, 1, -1),), (1, 3, 4)),
    ("ZeroPad3d", (1,), (1, 2, 2, 3, 2)),
    ("ConstantPad1d", ((1, 2), 3.5), (2, 3, 4)),
    ("ConstantPad2d", (1, -0.5), (2, 2, 3, 3)),
    ("ConstantPad3d", ((1, 0, 0, 1, 2, 0), 1.0), (2, 2, 2, 2)),
    ("ReflectionPad1d", (2,), (2, 3, 5)),
    ("ReflectionPad1d", ((3, 1),), (3, 4)),
    ("ReflectionPad2d", ((1, 2, 2, 0),), (2, 2, 3, 4)),
    ("ReflectionPad2d", (1,), (1, 3, 3)),
    ("ReflectionPad3d", (1,), (1, 1, 2, 3, 3)),
    ("ReplicationPad1d", ((2, 3),), (2, 3, 4)),
    ("ReplicationPad2d", ((0, 2, 3, 1),), (2, 2, 3, 4)),
    ("ReplicationPad3d", ((1, 1, 0, 2, 1, 0),), (1, 2, 2, 3, 2)),
    ("CircularPad1d", (2,), (2, 3, 4)),
    ("CircularPad2d", ((1, 2, 2, 1),), (2, 2, 3, 4)),
    ("CircularPad3d", (1,), (1, 1, 2, 3, 3)),
]


@pytest.mark.parametrize("name,args,shape", CASES)
def test_padding_matches_torch(name, args, shape, rng):
    layer, ref = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(layer) == repr(ref)
    assert layer.padding == tuple(ref.padding)
    layer_parity(layer, ref, rng.standard_normal(shape))


def test_padding_gradcheck(rng):
    for layer in (nn.ReflectionPad2d((1, 2, 1, 0)), nn.ReplicationPad1d(2), nn.CircularPad2d(1),
                  nn.ConstantPad1d((1, 1), 2.0)):
        x = lamina.tensor(rng.standard_normal((1, 2, 3, 3) if "2d" in type(layer).__name__ else (1, 2, 4)),
                          requires_grad=True)
        assert lamina.autograd.gradcheck(layer, [x], eps=1e-6, atol=1e-5, rtol=1e-4)


def test_padding_float32_and_exports():
    x = lamina.randn(2, 3, 4, 5)
    for name in ("ZeroPad2d", "ReflectionPad2d", "ReplicationPad2d", "CircularPad2d"):
        out = getattr(nn, name)(1)(x)
        assert out.dtype is lamina.float32 and tuple(out.shape) == (2, 3, 6, 7)
        assert name in nn.__all__
    assert nn.ConstantPad2d(1, 7.0)(x)[0, 0, 0, 0].item() == 7.0


def test_padding_errors():
    with pytest.raises(ValueError, match=r"ReflectionPad2d: expected a 3D or 4D input, got shape \(5,\)"):
        nn.ReflectionPad2d(1)(lamina.randn(5))
    with pytest.raises(ValueError, match=r"ZeroPad2d: padding must be an int or a tuple of 4 ints, got 2"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(RuntimeError, match=r"Padding size should be less than.*\(1, 2, 3\)"):
        nn.ReflectionPad1d(3)(lamina.randn(1, 2, 3))
    with pytest.raises(TypeError, match="CircularPad1d: padding must be an int or a tuple"):
        nn.CircularPad1d("a")
    np.testing.assert_array_equal(nn.ZeroPad1d(1)(lamina.ones(1, 1, 2)).numpy(), [[[0.0, 1.0, 1.0, 0.0]]])
