"""Linear / Bilinear / Identity / Flatten / Unflatten and F.linear / F.bilinear against PyTorch."""

import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, pair, torch
from tests.nn._parity import float32_parity, layer_parity


@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 3, 4), (2, 1, 3, 4), (0, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(rng, shape, bias):
    ref = torch.nn.Linear(4, 3, bias=bias).double()
    layer = nn.Linear(4, 3, bias=bias, dtype=lamina.float64)
    out = layer_parity(layer, ref, rng.standard_normal(shape))
    assert tuple(out[0].shape) == shape[:-1] + (3,)


def test_linear_weight_grad_only(rng):
    layer = nn.Linear(4, 3, dtype=lamina.float64)
    ref = torch.nn.Linear(4, 3).double()
    x = rng.standard_normal((6, 4))
    layer_parity(layer, ref, x)  # input does require grad here; now without it:
    layer.zero_grad()
    ref.zero_grad()
    layer(lamina.tensor(x)).pow(2).sum().backward()
    ref(torch.tensor(x)).pow(2).sum().backward()
    assert_close(layer.weight.grad, ref.weight.grad)
    assert_close(layer.bias.grad, ref.bias.grad)


def test_linear_frozen_weight_gives_input_grad_only(rng):
    layer = nn.Linear(4, 3, dtype=lamina.float64).requires_grad_(False)
    x = lamina.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    layer(x).sum().backward()
    assert_close(x.grad, np.tile(layer.weight.detach().numpy().sum(0), (2, 1)))
    assert layer.weight.grad is None


def test_linear_float32_stays_float32_and_loads_torch_float32(rng):
    layer = nn.Linear(7, 5)
    assert layer.weight.dtype is lamina.float32
    x = lamina.randn(3, 7, requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype is lamina.float32 and x.grad.dtype is lamina.float32 and layer.weight.grad.dtype is lamina.float32
    float32_parity(nn.Linear(7, 5), torch.nn.Linear(7, 5), rng.standard_normal((3, 2, 7)))


def test_f_linear_matches_torch(rng):
    x, xt = pair(rng.standard_normal((2, 3, 5)))
    w, wt = pair(rng.standard_normal((4, 5)))
    b, bt = pair(rng.standard_normal(4))
    g = rng.standard_normal((2, 3, 4))
    (F.linear(x, w, b) * lamina.tensor(g)).sum().backward()
    (torch.nn.functional.linear(xt, wt, bt) * torch.tensor(g)).sum().backward()
    for a, t in ((x, xt), (w, wt), (b, bt)):
        assert_close(a.grad, t.grad)
    assert_close(F.linear(x, w), torch.nn.functional.linear(xt, wt))


def test_linear_gradcheck(rng):
    x = lamina.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = lamina.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = lamina.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(F.linear, (x, w, b))
    x3 = lamina.tensor(rng.standard_normal((2, 1, 3)), requires_grad=True)
    assert gradcheck(F.linear, (x3, w, b))


def test_linear_default_init_distribution():
    layer = nn.Linear(400, 300)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    bound = 1 / math.sqrt(400)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.var() - bound ** 2 / 3) < 0.03 * bound ** 2 / 3  # var of U(-a, a) is a²/3
    assert abs(w.mean()) < 0.01 * bound


def test_linear_init_is_seeded():
    lamina.manual_seed(3)
    a = nn.Linear(5, 4).weight.detach().numpy()
    lamina.manual_seed(3)
    assert np.array_equal(a, nn.Linear(5, 4).weight.detach().numpy())


def test_linear_errors():
    layer = nn.Linear(784, 10)
    with pytest.raises(RuntimeError, match=r"Linear: expected input with last dimension 784 \(in_features\), "
                                           r"got shape \(32, 100\)"):
        layer(lamina.zeros(32, 100))
    with pytest.raises(RuntimeError, match=r"Linear: expected input of dtype lamina.float32.*float64"):
        layer(lamina.zeros(2, 784, dtype=lamina.float64))
    with pytest.raises(TypeError, match="Linear: input must be a Tensor"):
        layer([1.0] * 784)
    with pytest.raises(ValueError, match="Linear: in_features must be a non-negative int"):
        nn.Linear(-1, 3)
    with pytest.raises(RuntimeError, match=r"linear: expected input with last dimension 3 .* got shape \(2, 4\)"):
        F.linear(lamina.zeros(2, 4), lamina.zeros(5, 3))
    with pytest.raises(RuntimeError, match=r"linear: bias must have shape \(5,\)"):
        F.linear(lamina.zeros(2, 3), lamina.zeros(5, 3), lamina.zeros(4))


def test_linear_repr_and_state_dict_keys():
    for args in [(3, 4), (3, 4, False)]:
        assert repr(nn.Linear(*args)) == repr(torch.nn.Linear(*args))
        assert list(nn.Linear(*args).state_dict()) == list(torch.nn.Linear(*args).state_dict())


@pytest.mark.parametrize("lead", [(5,), (2, 3), ()])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(rng, lead, bias):
    ref = torch.nn.Bilinear(3, 4, 2, bias=bias).double()
    layer = nn.Bilinear(3, 4, 2, bias=bias, dtype=lamina.float64)
    layer_parity(layer, ref, rng.standard_normal(lead + (3,)), rng.standard_normal(lead + (4,)))
    assert repr(layer) == repr(ref)


def test_bilinear_gradcheck_and_errors(rng):
    a = lamina.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    c = lamina.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    w = lamina.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    b = lamina.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(F.bilinear, (a, c, w, b))
    with pytest.raises(RuntimeError, match=r"Bilinear: expected inputs with last dimensions 2 \(in1_features\) and "
                                           r"3 \(in2_features\), got shapes \(2, 3\) and \(2, 3\)"):
        nn.Bilinear(2, 3, 4)(lamina.zeros(2, 3), lamina.zeros(2, 3))
    with pytest.raises(RuntimeError, match="bilinear: input1 and input2 must have the same leading"):
        F.bilinear(lamina.zeros(2, 2), lamina.zeros(3, 3), lamina.zeros(4, 2, 3))


def test_bilinear_float32_and_init(rng):
    float32_parity(nn.Bilinear(3, 4, 5), torch.nn.Bilinear(3, 4, 5), rng.standard_normal((6, 3)),
                   rng.standard_normal((6, 4)))
    w = nn.Bilinear(100, 20, 30).weight.detach().numpy()
    assert np.abs(w).max() <= 0.1 and np.abs(w).max() > 0.099


def test_identity_flatten_unflatten(rng):
    x, xt = pair(rng.standard_normal((2, 3, 4, 5)))
    assert nn.Identity(3, foo=1)(x) is x
    for args in [(), (0, 2), (2, -1), (1, 1)]:
        assert_close(nn.Flatten(*args)(x), torch.nn.Flatten(*args)(xt))
        assert repr(nn.Flatten(*args)) == repr(torch.nn.Flatten(*args))
    y, yt = pair(rng.standard_normal((2, 12)))
    for dim, size in [(1, (3, 4)), (-1, (2, 2, 3)), (1, (-1, 4))]:
        out = nn.Unflatten(dim, size)(y)
        out_t = torch.nn.Unflatten(dim, size)(yt)
        assert_close(out, out_t)
        assert repr(nn.Unflatten(dim, size)) == repr(torch.nn.Unflatten(dim, size))
    nn.Unflatten(1, (3, 4))(y).sum().backward()
    assert_close(y.grad, np.ones((2, 12)))
    with pytest.raises(TypeError, match="Unflatten: unflattened_size must be a tuple of ints"):
        nn.Unflatten(1, 3)
    assert repr(nn.Identity()) == "Identity()"


def test_mlp_matches_torch(rng):
    ref = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    layer_parity(model, ref, rng.standard_normal((5, 6)))
