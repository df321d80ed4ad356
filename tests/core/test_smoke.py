import numpy as np

import lamina
from tests.conftest import assert_close, pair, torch


def test_mlp_gradients_match_torch(rng):
    x_np = rng.standard_normal((5, 4))
    w_np = rng.standard_normal((4, 3))
    x, xt = pair(x_np)
    w, wt = pair(w_np)
    y = (x @ w).tanh().sum()
    yt = (xt @ wt).tanh().sum()
    y.backward()
    yt.backward()
    assert_close(y, yt)
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)


def test_long_chain_backward_is_iterative():
    x = lamina.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 0.0
    y.backward()
    assert x.grad.item() == 1.0
    assert np.isfinite(y.item())
    assert torch is not None
