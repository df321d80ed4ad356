"""RReLU and Softmax2d: PyTorch parity (eval mode and Softmax2d exactly; training mode by its defining properties,
since the random slopes come from lamina's own generator), gradchecks, reprs, errors."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from tests.conftest import assert_close, torch
from tests.nn._parity import layer_parity


@pytest.mark.parametrize("args,shape", [((), (4, 5)), ((0.1, 0.3), (2, 3, 4)), ((0.2, 0.2), ()), ((), (0, 3))])
def test_rrelu_eval_matches_torch(args, shape, rng):
    layer, ref = nn.RReLU(*args).eval(), torch.nn.RReLU(*args).eval()
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(shape))


def test_rrelu_training_slopes_and_gradient(rng):
    lower, upper = 0.1, 0.4
    x_np = rng.standard_normal((50, 40))
    x = lamina.tensor(x_np, requires_grad=True)
    y = nn.RReLU(lower, upper)(x)
    y.sum().backward()
    neg = x_np < 0
    slopes = y.detach().numpy()[neg] / x_np[neg]
    assert slopes.min() >= lower and slopes.max() <= upper
    assert abs(slopes.mean() - (lower + upper) / 2) < 0.01  # U(0.1, 0.4): 1000 draws, std of the mean ~0.003
    assert np.unique(slopes).size > 900  # one slope per element
    assert_close(y.detach()[~lamina.tensor(neg)], x_np[~neg])
    assert_close(x.grad.numpy()[neg], slopes)  # the gradient is the slope drawn
    assert_close(x.grad.numpy()[~neg], np.ones((~neg).sum()))


def test_rrelu_training_is_seeded_and_inplace():
    x = lamina.randn(6, 7)
    lamina.manual_seed(3)
    a = F.rrelu(x, training=True)
    lamina.manual_seed(3)
    b = F.rrelu(x, training=True)
    assert lamina.equal(a, b)
    c = x.clone()
    lamina.manual_seed(3)
    assert F.rrelu_(c, training=True) is c and lamina.equal(c, a)
    assert a.dtype is lamina.float32
    assert repr(nn.RReLU(0.1, 0.3, inplace=True)) == repr(torch.nn.RReLU(0.1, 0.3, inplace=True))


def test_rrelu_gradcheck_with_fixed_slopes(rng):
    x = lamina.tensor(rng.standard_normal((3, 4)), requires_grad=True)

    def f(t):
        lamina.manual_seed(7)
        return F.rrelu(t, training=True)

    assert lamina.autograd.gradcheck(f, [x], eps=1e-6, atol=1e-5)
    assert lamina.autograd.gradcheck(lambda t: F.rrelu(t), [x], eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 2, 2), (1, 1, 3, 3)])
def test_softmax2d_matches_torch(shape, rng):
    layer, ref = nn.Softmax2d(), torch.nn.Softmax2d()
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(shape))
    x = lamina.tensor(rng.standard_normal(shape), requires_grad=True)
    assert lamina.autograd.gradcheck(layer, [x], eps=1e-6, atol=1e-5)


def test_activation_extra_errors():
    with pytest.raises(ValueError, match=r"Softmax2d: expected input of shape \(N, C, H, W\) or \(C, H, W\), got "
                                         r"\(2, 3\)"):
        nn.Softmax2d()(lamina.randn(2, 3))
    with pytest.raises(ValueError, match="RReLU: lower bound 0.5 must not exceed the upper bound 0.1"):
        nn.RReLU(0.5, 0.1)
    with pytest.raises(ValueError, match="rrelu: lower bound"):
        F.rrelu(lamina.randn(2), 0.5, 0.1)
