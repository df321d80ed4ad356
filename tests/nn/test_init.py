"""nn.init: gains and fans equal PyTorch's, deterministic initialisers equal PyTorch's output, random ones have
the stated bounds and moments, generators make them reproducible."""

import math

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import init
from tests.conftest import assert_close, torch

TI = torch.nn.init


def _np(t):
    return t.detach().numpy().astype(np.float64)


@pytest.mark.parametrize("name,param", [("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
                                        ("conv_transpose1d", None), ("conv_transpose2d", None),
                                        ("conv_transpose3d", None), ("sigmoid", None), ("tanh", None),
                                        ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                        ("leaky_relu", 3), ("selu", None)])
def test_calculate_gain_matches_torch(name, param):
    assert init.calculate_gain(name, param) == TI.calculate_gain(name, param)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(3, 4), (6, 3, 5, 5), (2, 3, 4), (4, 2, 1, 3, 2), (0, 3)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(lamina.empty(*shape)) == \
        TI._calculate_fan_in_and_fan_out(torch.empty(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(lamina.empty(5))


def test_deterministic_initialisers_match_torch():
    for shape, groups in [((3, 16, 5), 1), ((6, 4, 3, 3), 2), ((4, 4, 3, 3, 3), 4), ((8, 2, 2, 3), 1)]:
        assert_close(init.dirac_(lamina.empty(*shape), groups), TI.dirac_(torch.empty(*shape), groups), atol=0)
    for shape in [(3, 5), (5, 3), (4, 4)]:
        assert_close(init.eye_(lamina.empty(*shape)), TI.eye_(torch.empty(*shape)), atol=0)
    t = lamina.empty(2, 3)
    assert init.constant_(t, 0.3) is t
    assert np.all(t.numpy() == np.float32(0.3))
    assert np.all(init.ones_(t).numpy() == 1) and np.all(init.zeros_(t).numpy() == 0)
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(lamina.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions are supported"):
        init.dirac_(lamina.empty(2, 2))
    with pytest.raises(ValueError, match="dim 0 must be divisible by groups"):
        init.dirac_(lamina.empty(3, 2, 3), groups=2)


def test_uniform_and_normal_moments():
    t = lamina.empty(200, 300)
    init.uniform_(t, -2.0, 3.0)
    a = _np(t)
    assert a.min() >= -2 and a.max() <= 3 and abs(a.mean() - 0.5) < 0.02 and abs(a.var() - 25 / 12) < 0.03
    init.normal_(t, 1.5, 0.5)
    a = _np(t)
    assert abs(a.mean() - 1.5) < 0.005 and abs(a.std() - 0.5) < 0.005
    assert t.dtype is lamina.float32


@pytest.mark.parametrize("fn,kwargs,shape,std", [
    (init.xavier_uniform_, {}, (300, 200), math.sqrt(2 / 500)),
    (init.xavier_uniform_, {"gain": 2.0}, (30, 20, 3, 3), 2 * math.sqrt(2 / (50 * 9))),
    (init.xavier_normal_, {}, (300, 200), math.sqrt(2 / 500)),
    (init.kaiming_uniform_, {}, (300, 200), math.sqrt(2 / (1 + 0.0)) / math.sqrt(200)),
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, (300, 200), 1 / math.sqrt(3 * 200)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, (300, 200), math.sqrt(2 / 300)),
    (init.kaiming_normal_, {}, (300, 200), math.sqrt(2 / 200)),
    (init.kaiming_normal_, {"a": 0.1, "mode": "fan_out"}, (40, 30, 3, 3),
     math.sqrt(2 / 1.01) / math.sqrt(40 * 9)),
    (init.kaiming_normal_, {"nonlinearity": "tanh"}, (300, 200), 5 / 3 / math.sqrt(200)),
])
def test_scaled_initialisers_std_and_bounds(fn, kwargs, shape, std):
    t = lamina.empty(*shape)
    assert fn(t, **kwargs) is t
    a = _np(t)
    assert abs(a.std() / std - 1) < 0.03
    assert abs(a.mean()) < 0.03 * std
    if "uniform" in fn.__name__:
        bound = math.sqrt(3) * std
        assert np.abs(a).max() <= bound * (1 + 1e-6) and np.abs(a).max() > 0.99 * bound
    # the same std as PyTorch gets for the same arguments
    r = fn.__name__
    ref = getattr(TI, r)(torch.empty(*shape), **kwargs).numpy()
    assert abs(ref.std() / a.std() - 1) < 0.05


def test_kaiming_errors_and_zero_element():
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(lamina.empty(3, 4), mode="fan_avg")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_normal_(lamina.empty(0, 4))


@pytest.mark.parametrize("shape,gain", [((5, 8), 1.0), ((8, 5), 1.0), ((6, 6), 2.0), ((4, 3, 2, 2), 0.5)])
def test_orthogonal(shape, gain):
    t = lamina.empty(*shape, dtype=lamina.float64)
    init.orthogonal_(t, gain=gain)
    w = _np(t).reshape(shape[0], -1)
    if w.shape[0] <= w.shape[1]:
        assert_close(w @ w.T, gain ** 2 * np.eye(w.shape[0]), atol=1e-12)
    else:
        assert_close(w.T @ w, gain ** 2 * np.eye(w.shape[1]), atol=1e-12)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(lamina.empty(3))


def _truncnorm_moments(mean, std, a, b):
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    m = mean + std * (pdf(alpha) - pdf(beta)) / z
    v = std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - ((pdf(alpha) - pdf(beta)) / z) ** 2)
    return m, math.sqrt(v)


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -2.0, 2.0), (1.0, 2.0, 0.0, 1.5),
                                          (0.0, 1.0, 3.0, 5.0), (0.0, 1.0, -7.0, -4.0), (0.0, 1.0, 2.0, 2.05)])
def test_trunc_normal(mean, std, a, b):
    t = lamina.empty(200, 250, dtype=lamina.float64)
    init.trunc_normal_(t, mean, std, a, b)
    x = _np(t)
    assert x.min() >= a and x.max() <= b
    m, s = _truncnorm_moments(mean, std, a, b)
    assert abs(x.mean() - m) < 0.01 * s + 1e-12
    assert abs(x.std() / s - 1) < 0.02


def test_sparse():
    t = lamina.empty(40, 30)
    init.sparse_(t, 0.25, std=0.5)
    a = _np(t)
    assert np.all((a == 0).sum(axis=0) == math.ceil(0.25 * 40))
    assert abs(a[a != 0].std() - 0.5) < 0.03
    assert len({tuple(np.flatnonzero(a[:, j] == 0)) for j in range(30)}) > 20  # different rows per column
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.sparse_(lamina.empty(2, 2, 2), 0.1)


@pytest.mark.parametrize("fn,args", [(init.uniform_, ()), (init.normal_, ()), (init.xavier_uniform_, ()),
                                     (init.xavier_normal_, ()), (init.kaiming_uniform_, ()),
                                     (init.kaiming_normal_, ()), (init.orthogonal_, ()), (init.trunc_normal_, ()),
                                     (init.sparse_, (0.3,))])
def test_generator_and_default_seed_reproducible(fn, args):
    g1, g2 = lamina.Generator().manual_seed(7), lamina.Generator().manual_seed(7)
    a, b = lamina.empty(6, 5), lamina.empty(6, 5)
    fn(a, *args, generator=g1)
    fn(b, *args, generator=g2)
    assert np.array_equal(_np(a), _np(b))
    lamina.manual_seed(11)
    fn(a, *args)
    lamina.manual_seed(11)
    fn(b, *args)
    assert np.array_equal(_np(a), _np(b))
    fn(b, *args)
    assert not np.array_equal(_np(a), _np(b))


def test_init_on_parameters_records_nothing():
    p = nn.Parameter(lamina.empty(4, 3))
    out = init.kaiming_uniform_(p)
    assert out is p and p.is_leaf and p.grad_fn is None and p.requires_grad
    (p * 2).sum().backward()
    assert_close(p.grad, np.full((4, 3), 2.0))
