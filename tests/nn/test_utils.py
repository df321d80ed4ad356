"""nn.utils: gradient clipping and parameter vectors against PyTorch."""

import math

import numpy as np
import pytest

import lamina
from lamina import nn
from tests.conftest import assert_close, from_torch, torch

TU = torch.nn.utils


def _models_with_grads(rng, dtype=np.float64, scale=1.0):
    ref = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3), torch.nn.Linear(3, 2))
    ref = ref.double() if dtype == np.float64 else ref
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Linear(3, 2))
    model = model.double() if dtype == np.float64 else model
    model.load_state_dict(from_torch(ref.state_dict()))
    ref[3].weight.requires_grad_(False)  # a parameter without a gradient is skipped
    model[3].weight.requires_grad_(False)
    x = rng.standard_normal((6, 4)).astype(dtype) * scale
    (model(lamina.tensor(x)) ** 2).sum().backward()
    (ref(torch.tensor(x)) ** 2).sum().backward()
    return model, ref


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, 0.5])
@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_grad_norm_matches_torch(rng, norm_type, max_norm):
    model, ref = _models_with_grads(rng)
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm, norm_type=norm_type)
    total_ref = TU.clip_grad_norm_(ref.parameters(), max_norm, norm_type=norm_type)
    assert isinstance(total, lamina.Tensor) and total.ndim == 0 and total.dtype is lamina.float64
    assert_close(total, total_ref, rtol=1e-12)
    for p, q in zip(model.parameters(), ref.parameters()):
        if q.grad is None:
            assert p.grad is None
        else:
            assert_close(p.grad, q.grad, rtol=1e-12)
    clipped = nn.utils.get_total_norm([p.grad for p in model.parameters() if p.grad is not None], norm_type)
    assert float(clipped) <= max_norm * (1 + 1e-6) or max_norm > float(total)


def test_clip_grad_norm_float32_single_tensor_and_empty(rng):
    model, ref = _models_with_grads(rng, np.float32)
    total = nn.utils.clip_grad_norm_(model[0].weight, 0.5)
    total_ref = TU.clip_grad_norm_(ref[0].weight, 0.5)
    assert total.dtype is lamina.float32 and model[0].weight.grad.dtype is lamina.float32
    assert_close(total, total_ref, rtol=1e-6)
    assert_close(model[0].weight.grad, ref[0].weight.grad, rtol=1e-5, atol=1e-7)
    assert float(nn.utils.clip_grad_norm_([], 1.0)) == 0.0
    assert float(nn.utils.clip_grad_norm_(nn.Linear(2, 2).parameters(), 1.0)) == 0.0  # no grads yet


def test_clip_grad_norm_nonfinite(rng):
    p = nn.Parameter(lamina.ones(3))
    p.grad = lamina.tensor([1.0, math.inf, 2.0])
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(float(nn.utils.clip_grad_norm_([p], 1.0)))


def test_clip_grad_value_matches_torch(rng):
    model, ref = _models_with_grads(rng, scale=3.0)
    assert nn.utils.clip_grad_value_(model.parameters(), 0.3) is None
    TU.clip_grad_value_(ref.parameters(), 0.3)
    for p, q in zip(model.parameters(), ref.parameters()):
        if q.grad is not None:
            assert_close(p.grad, q.grad)
            assert np.abs(p.grad.numpy()).max() <= 0.3


def test_parameters_to_vector_and_back(rng):
    model, ref = _models_with_grads(rng)
    vec = nn.utils.parameters_to_vector(model.parameters())
    vec_ref = TU.parameters_to_vector(ref.parameters())
    assert_close(vec, vec_ref)
    assert vec.requires_grad  # differentiable, as in PyTorch
    (vec * lamina.arange(vec.shape[0], dtype=lamina.float64)).sum().backward()
    new = rng.standard_normal(vec.shape[0])
    nn.utils.vector_to_parameters(lamina.tensor(new), model.parameters())
    TU.vector_to_parameters(torch.tensor(new), ref.parameters())
    for p, q in zip(model.parameters(), ref.parameters()):
        assert_close(p, q, rtol=0, atol=0)
    with pytest.raises(TypeError, match="expected vec to be a Tensor, but got: ndarray"):
        nn.utils.vector_to_parameters(new, model.parameters())
    with pytest.raises(ValueError, match=r"expected a 1-D vector of \d+ elements"):
        nn.utils.vector_to_parameters(lamina.zeros(3), model.parameters())
