"""L1/L2 penalties (values and gradients) and the max-norm constraint against PyTorch formulas."""

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from tests.conftest import assert_close, torch


class Affine(nn.Module):
    """y = x W^T + b: a stand-in for nn.Linear that these tests build from Parameters alone."""

    def __init__(self, n_in, n_out, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(lamina.randn(n_out, n_in, dtype=dtype) * (1 / n_in) ** 0.5)
        self.bias = nn.Parameter(lamina.zeros(n_out, dtype=dtype))

    def forward(self, x):
        return x @ self.weight.T + self.bias


def _model_pair():
    lamina.manual_seed(0)
    model = nn.Sequential(Affine(4, 3, dtype=lamina.float64), Affine(3, 2, dtype=lamina.float64))
    ref = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2)).double()
    with torch.no_grad():
        for p, q in zip(model.parameters(), ref.parameters()):
            q.copy_(torch.tensor(np.asarray(p._data)))
    return model, ref


@pytest.mark.parametrize("which", ["l1", "l2"])
def test_penalty_value_and_gradient(which):
    model, ref = _model_pair()
    fn = optim.l1_penalty if which == "l1" else optim.l2_penalty
    pen = fn(model, 0.3)
    expected = 0.3 * sum((q.abs() if which == "l1" else q * q).sum() for q in ref.parameters())
    assert_close(pen, expected.detach(), rtol=1e-12)
    pen.backward()
    expected.backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-12)


def test_penalty_over_a_list_and_a_tensor():
    a = nn.Parameter(lamina.tensor([1.0, -2.0], dtype=lamina.float64))
    b = nn.Parameter(lamina.tensor([[3.0]], dtype=lamina.float64))
    assert float(optim.l1_penalty([a, b], 0.5)) == 3.0
    assert float(optim.l2_penalty(a, 2.0)) == 10.0
    optim.l2_penalty([a, b], 0.5).backward()
    np.testing.assert_allclose(np.asarray(a.grad._data), [1.0, -2.0])


def test_l2_penalty_equals_sgd_weight_decay():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal(5)
    w1, w2 = nn.Parameter(lamina.tensor(w0.copy())), nn.Parameter(lamina.tensor(w0.copy()))
    o1, o2 = optim.SGD([w1], lr=0.1, weight_decay=0.2), optim.SGD([w2], lr=0.1)
    for _ in range(5):
        o1.zero_grad()
        (w1 * w1).sum().backward()
        o1.step()
        o2.zero_grad()
        ((w2 * w2).sum() + optim.l2_penalty(w2, 0.2 / 2)).backward()
        o2.step()
    np.testing.assert_allclose(np.asarray(w1._data), np.asarray(w2._data), rtol=1e-14)


def test_penalty_errors():
    with pytest.raises(ValueError, match="l1_penalty: weight must be non-negative, got -1"):
        optim.l1_penalty(Affine(2, 2), -1)
    with pytest.raises(TypeError, match="l2_penalty: expected a Module, a Tensor or an iterable of Tensors"):
        optim.l2_penalty([1.0], 0.1)
    with pytest.raises(ValueError, match="l2_penalty: got no parameters"):
        optim.l2_penalty([], 0.1)


@pytest.mark.parametrize("dim,norm_type", [(0, 2.0), (1, 2.0), (0, 1.0)])
def test_max_norm_matches_torch_renorm(dim, norm_type):
    rng = np.random.default_rng(dim)
    w = rng.standard_normal((6, 5, 3))
    p = nn.Parameter(lamina.tensor(w.copy()))
    optim.apply_max_norm_([p], 2.5, dim=dim, norm_type=norm_type)
    expected = torch.renorm(torch.tensor(w), norm_type, dim, 2.5)
    assert_close(p, expected, rtol=1e-12)
    assert not np.array_equal(np.asarray(p._data), w)  # some slices were too long


def test_max_norm_on_a_module_constrains_weights_not_biases():
    model = nn.Sequential(Affine(10, 8), nn.Conv2d(2, 4, 3))
    with lamina.no_grad():
        for p in model.parameters():
            p.mul_(10.0)
    biases = [np.asarray(m.bias._data).copy() for m in (model[0], model[1])]
    optim.apply_max_norm_(model, 1.0)
    for m, b in zip((model[0], model[1]), biases):
        w = np.asarray(m.weight._data)
        norms = np.sqrt((w.reshape(w.shape[0], -1) ** 2).sum(1))
        np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
        assert w.dtype == np.float32
        np.testing.assert_array_equal(np.asarray(m.bias._data), b)


def test_max_norm_errors():
    with pytest.raises(ValueError, match="apply_max_norm_: max_norm must be non-negative"):
        optim.apply_max_norm_(Affine(2, 2), -1.0)
    with pytest.raises(IndexError, match="apply_max_norm_: dim 2 is out of range for a tensor of shape \\(3, 2\\)"):
        optim.apply_max_norm_([nn.Parameter(lamina.zeros(3, 2))], 1.0, dim=2)
