"""The intra-op pool (LAMINA_INTRAOP=on) gives the serial path's results; off by default for reproducibility."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.backend import threads
from tests.conftest import assert_close

threadpoolctl = pytest.importorskip("threadpoolctl")


def _grads():
    lamina.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, padding=1)
    lstm = nn.LSTM(6, 10, batch_first=True)
    x = lamina.randn(12, 4, 10, 10, requires_grad=True)
    s = lamina.randn(5, 7, 6)
    out = nn.functional.max_pool2d(conv(x).relu(), 2)
    (out * out).sum().backward()
    o, _ = lstm(s)
    (o * o).sum().backward()
    return [out.detach().numpy(), x.grad.numpy(), conv.weight.grad.numpy(), conv.bias.grad.numpy(),
            lstm.weight_hh_l0.grad.numpy(), lstm.weight_ih_l0.grad.numpy()]


def test_pool_is_off_by_default():
    assert threads._Pool().mode == "off"


def test_pool_on_matches_the_serial_path(monkeypatch):
    if threads._pool.get_blas is None:
        pytest.skip("NumPy's BLAS is not OpenBLAS: the pool never engages")
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        monkeypatch.setattr(threads._pool, "mode", "off")
        assert threads.intraop_threads() == 1
        serial = _grads()
        monkeypatch.setattr(threads._pool, "mode", "on")
        assert threads.intraop_threads() == 2
        pooled = _grads()
    for a, b in zip(pooled, serial):
        assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert np.array_equal(pooled[0], serial[0])  # the forward has no cross-chunk sums: identical
