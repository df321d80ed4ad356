"""Shared test helpers: conversion to/from PyTorch (the oracle) and close-comparison."""

import os

# Tests use small arrays, where BLAS threads cost more than they give (and, beside other jobs on two cores, make
# small matrix products many times slower): one BLAS thread here and in the subprocesses that tests start.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lamina  # noqa: E402

try:  # NumPy may have been imported (and its BLAS started) before this file: limit the running pool too
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
except ImportError:
    pass

torch = pytest.importorskip("torch")
torch.set_num_threads(1)


def to_np(x):
    if isinstance(x, lamina.Tensor):
        return np.asarray(x.detach()._data)
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(actual, expected, rtol=1e-7, atol=1e-9, msg=""):
    """Values (lamina or torch tensors, arrays) agree elementwise; shapes must match exactly."""
    a, e = to_np(actual), to_np(expected)
    assert a.shape == e.shape, f"{msg} shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=msg)


def from_torch(state_dict):
    """A torch state_dict as a lamina one (same keys, float64 kept)."""
    return {k: lamina.tensor(v.detach().cpu().numpy()) for k, v in state_dict.items()}


def pair(array, requires_grad=True):
    """The same data as a lamina tensor and a torch tensor (both leaves)."""
    arr = np.asarray(array)
    a = lamina.tensor(arr.copy(), requires_grad=requires_grad and arr.dtype.kind == "f")
    t = torch.tensor(arr.copy(), requires_grad=requires_grad and arr.dtype.kind == "f")
    return a, t


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _seed():
    lamina.manual_seed(0)
    torch.manual_seed(0)
    yield
