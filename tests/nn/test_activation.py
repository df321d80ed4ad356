"""Activation modules and functional forms against PyTorch: values, input grads, parameter grads, reprs, errors."""

import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from lamina.ops.nn_activation import Erf, erf_array, erf_expansion, erfc_float32
from tests.conftest import assert_close, pair, torch
from tests.nn._parity import float32_parity, layer_parity

TF = torch.nn.functional

# (class name, constructor args, constructor kwargs): every activation module with several configurations
MODULES = [
    ("Sigmoid", (), {}), ("Tanh", (), {}), ("ReLU", (), {}), ("ReLU6", (), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2,), {}), ("LeakyReLU", (), {"negative_slope": -0.5}),
    ("ELU", (), {}), ("ELU", (0.5,), {}), ("SELU", (), {}), ("CELU", (), {}), ("CELU", (2.0,), {}),
    ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("Mish", (), {}),
    ("Softplus", (), {}), ("Softplus", (2.0, 1.5), {}), ("Softplus", (), {"beta": 0.5, "threshold": 0.7}),
    ("Softsign", (), {}), ("Hardtanh", (), {}), ("Hardtanh", (-0.5, 2.0), {}), ("Hardsigmoid", (), {}),
    ("Hardswish", (), {}), ("Softmax", (1,), {}), ("Softmax", (-1,), {}), ("LogSoftmax", (1,), {}),
    ("LogSoftmax", (0,), {}), ("Softmin", (1,), {}), ("Softmin", (2,), {}), ("Tanhshrink", (), {}),
    ("Hardshrink", (), {}), ("Hardshrink", (1.0,), {}), ("Softshrink", (), {}), ("Softshrink", (0.2,), {}),
    ("LogSigmoid", (), {}), ("Threshold", (0.1, 20.0), {}), ("Threshold", (-0.5, -2), {}), ("GLU", (), {}),
    ("GLU", (0,), {}), ("PReLU", (), {}), ("PReLU", (3,), {"init": 0.1}),
]


def _input(rng, shape=(2, 3, 4)):
    # spread values over the interesting ranges (|x| up to ~7 reaches the saturated and linear pieces),
    # keeping them away from the kinks where one-sided derivatives differ
    x = rng.standard_normal(shape) * 3
    return np.where(np.abs(np.abs(x) - np.round(np.abs(x))) < 1e-3, x + 0.01, x)


def _build(name, args, kwargs, dtype=None):
    ref = getattr(torch.nn, name)(*args, **kwargs)
    layer = getattr(nn, name)(*args, **kwargs, **({"dtype": dtype} if name == "PReLU" and dtype else {}))
    return layer, ref


@pytest.mark.parametrize("name,args,kwargs", MODULES, ids=lambda v: str(v))
def test_module_matches_torch(rng, name, args, kwargs):
    layer, ref = _build(name, args, kwargs, lamina.float64)
    layer_parity(layer, ref.double(), _input(rng))
    assert repr(layer) == repr(ref)
    assert list(layer.state_dict()) == list(ref.state_dict())


@pytest.mark.parametrize("name,args,kwargs", MODULES, ids=lambda v: str(v))
def test_module_float32(rng, name, args, kwargs):
    layer, ref = _build(name, args, kwargs)
    float32_parity(layer, ref, _input(rng), rtol=2e-6, atol=2e-6)
    x = lamina.tensor(_input(rng).astype(np.float32), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.dtype is lamina.float32 and x.grad.dtype is lamina.float32
    assert all(p.grad.dtype is lamina.float32 for p in layer.parameters())


# the functional forms, on a tiny input for the finite-difference gradcheck
FUNCTIONAL = [
    ("relu", {}), ("relu6", {}), ("elu", {"alpha": 0.7}), ("selu", {}), ("celu", {"alpha": 1.3}), ("gelu", {}),
    ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("softplus", {"beta": 2.0}), ("softsign", {}),
    ("hardtanh", {"min_val": -2.0, "max_val": 0.5}), ("hardsigmoid", {}), ("hardswish", {}),
    ("leaky_relu", {"negative_slope": 0.3}), ("softmax", {"dim": 1}), ("log_softmax", {"dim": 0}),
    ("softmin", {"dim": 1}), ("tanhshrink", {}), ("hardshrink", {"lambd": 0.3}), ("softshrink", {"lambd": 0.3}),
    ("logsigmoid", {}), ("threshold", {"threshold": 0.2, "value": -1.0}), ("glu", {"dim": 1}), ("sigmoid", {}),
    ("tanh", {}),
]


@pytest.mark.parametrize("name,kwargs", FUNCTIONAL, ids=lambda v: str(v))
def test_functional_matches_torch_and_gradcheck(rng, name, kwargs):
    x_np = _input(rng, (3, 4))
    x, xt = pair(x_np)
    out, out_t = getattr(F, name)(x, **kwargs), getattr(TF, name)(xt, **kwargs)
    assert_close(out, out_t)
    g = rng.standard_normal(tuple(out_t.shape))
    (out * lamina.tensor(g)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    assert_close(x.grad, xt.grad)
    small = lamina.tensor(_input(rng, (2, 4)), requires_grad=True)
    assert gradcheck(lambda t: getattr(F, name)(t, **kwargs), (small,))


@pytest.mark.parametrize("shape,num", [((4, 3), 3), ((2, 3, 5), 3), ((2, 3, 2, 2), 1), ((5,), 1), ((2, 3), 1)])
def test_prelu_shapes_and_gradcheck(rng, shape, num):
    ref = torch.nn.PReLU(num, init=0.3).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(rng.uniform(-1, 1, num)))
    layer_parity(nn.PReLU(num, dtype=lamina.float64), ref, _input(rng, shape))
    x = lamina.tensor(_input(rng, shape), requires_grad=True)
    w = lamina.tensor(rng.uniform(-1, 1, num), requires_grad=True)
    assert gradcheck(F.prelu, (x, w))


def test_prelu_errors():
    with pytest.raises(ValueError, match=r"prelu: the number of weight parameters \(3.*input.shape\[1\] = 4"):
        nn.PReLU(3)(lamina.zeros(2, 4))
    with pytest.raises(ValueError, match="PReLU: num_parameters must be a positive int"):
        nn.PReLU(0)
    assert np.all(nn.PReLU(5, init=0.1).weight.detach().numpy() == np.float32(0.1))


def test_glu_errors():
    with pytest.raises(RuntimeError, match=r"glu: halving dimension must be even, but dimension 1 is size 3"):
        F.glu(lamina.zeros(2, 3))
    with pytest.raises(RuntimeError, match="glu: does not support scalars"):
        F.glu(lamina.tensor(1.0))


def test_hyperparameter_errors():
    with pytest.raises(ValueError, match=r"softshrink: lambda must be greater or equal to 0"):
        F.softshrink(lamina.zeros(2), -0.5)
    with pytest.raises(ValueError, match=r"Hardtanh: max_val \(-2\) must be greater than min_val \(1\)"):
        nn.Hardtanh(1, -2)
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh'"):
        nn.GELU("exact")
    with pytest.raises(IndexError, match="softmin"):
        F.softmin(lamina.zeros(2, 3), dim=2)


@pytest.mark.parametrize("name,kwargs", [("relu", {}), ("elu", {}), ("leaky_relu", {"negative_slope": 0.2}),
                                         ("hardtanh", {}), ("relu6", {}), ("selu", {}), ("celu", {}), ("silu", {}),
                                         ("mish", {}), ("hardswish", {}), ("hardsigmoid", {}),
                                         ("threshold", {"threshold": 0.0, "value": 5.0})])
def test_inplace(rng, name, kwargs):
    x_np = _input(rng, (3, 4))
    x = lamina.tensor(x_np.copy())
    out = getattr(F, name)(x, inplace=True, **kwargs)
    assert out is x
    assert_close(x, getattr(TF, name)(torch.tensor(x_np), **kwargs))
    # on a non-leaf inside a graph the in-place result is differentiable, as in PyTorch
    a, at = pair(x_np)
    y = getattr(F, name)(a * 1.0, inplace=True, **kwargs)
    yt = getattr(TF, name)(at * 1.0, inplace=True, **kwargs)
    y.pow(2).sum().backward()
    yt.pow(2).sum().backward()
    assert_close(a.grad, at.grad)
    leaf = lamina.tensor(x_np, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        getattr(F, name)(leaf, inplace=True, **kwargs)


def test_module_inplace_flag(rng):
    x_np = _input(rng, (2, 5))
    x = lamina.tensor(x_np.copy())
    nn.ReLU(inplace=True)(x)
    assert_close(x, np.maximum(x_np, 0))
    x = lamina.tensor(x_np.copy())
    nn.ReLU()(x)
    assert_close(x, x_np)


@pytest.mark.parametrize("erf_array", [erf_array, erf_expansion], ids=["default", "own-expansion"])
def test_erf_matches_math_erf(erf_array):
    x = np.concatenate([np.linspace(-8, 8, 4001), np.geomspace(1e-300, 1e-2, 50), [0.0, -0.0, 2.0, -2.0, 6.0]])
    ref = np.array([math.erf(v) for v in x])
    got = erf_array(np, x)
    ulps = np.abs(got - ref) / np.spacing(np.abs(ref) + 1e-300)
    assert ulps.max() <= 4
    assert np.isnan(erf_array(np, np.array([np.nan]))[0])
    assert_close(erf_array(np, np.array([np.inf, -np.inf])), [1.0, -1.0], atol=0)
    x32 = x.astype(np.float32)
    got32 = erf_array(np, x32)
    assert got32.dtype == np.float32
    assert np.abs(got32 - np.array([math.erf(v) for v in x32.astype(float)])).max() < 2e-7


def test_float32_erfc_behind_exact_gelu():
    z = np.concatenate([np.linspace(-9, 9, 20001), [1e20, -1e20, np.inf, -np.inf, 0.0]]).astype(np.float32)
    ref = np.array([math.erfc(float(v)) for v in z])
    got = erfc_float32(np, z)
    assert got.dtype == np.float32
    assert (np.abs(got[:-5] - ref[:-5]) / ref[:-5]).max() < 1e-5  # -z² (up to 81) rounded to float32 in exp
    assert_close(got[-5:], [0.0, 2.0, 0.0, 2.0, 1.0], atol=0)
    x = np.linspace(-8, 8, 1001).astype(np.float32)
    a, t = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lamina.nn.functional.gelu(a).sum().backward()
    torch.nn.functional.gelu(t).sum().backward()
    assert_close(lamina.nn.functional.gelu(a.detach()), torch.nn.functional.gelu(t.detach()), rtol=2e-6, atol=1e-6)
    assert_close(a.grad, t.grad, rtol=2e-6, atol=1e-6)


def test_erf_op_and_grad(rng):
    x, xt = pair(rng.standard_normal(20) * 2)
    Erf.apply(x).sum().backward()
    torch.erf(xt).sum().backward()
    assert_close(Erf.apply(x), torch.erf(xt), rtol=1e-15, atol=1e-16)
    assert_close(x.grad, xt.grad)


def test_gelu_far_tails_match_torch():
    x_np = np.array([-40.0, -12.0, -8.5, -3.0, 0.0, 3.0, 8.5, 40.0])
    x, xt = pair(x_np)
    for approx in ("none", "tanh"):
        assert_close(F.gelu(x, approximate=approx), TF.gelu(xt, approximate=approx), rtol=1e-12, atol=1e-300)


def test_softplus_and_logsigmoid_do_not_overflow():
    x, xt = pair(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]))
    assert_close(F.softplus(x, beta=0.01), TF.softplus(xt, beta=0.01))
    assert_close(F.logsigmoid(x), TF.logsigmoid(xt))
    F.logsigmoid(x).sum().backward()
    TF.logsigmoid(xt).sum().backward()
    assert_close(x.grad, xt.grad)


def test_softmax_default_dim_and_swish_alias(rng):
    x, xt = pair(rng.standard_normal((2, 3)))
    assert_close(nn.Softmax()(x), torch.nn.Softmax(dim=1)(xt))
    assert_close(F.softmin(x), TF.softmin(xt, dim=1))
    assert nn.Swish is nn.SiLU
