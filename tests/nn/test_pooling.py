"""Max / average / adaptive pooling and max unpooling (layers and functional forms) against PyTorch."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, pair, torch

TF = torch.nn.functional


def _check(fn, fn_ref, x_np, rng, n_out=None):
    """Values and input gradient (under a random upstream gradient) agree; returns both outputs."""
    x, x_ref = pair(x_np)
    out, out_ref = fn(x), fn_ref(x_ref)
    y, y_ref = (out[0], out_ref[0]) if isinstance(out, tuple) else (out, out_ref)
    assert_close(y, y_ref, msg="output")
    g = rng.standard_normal(tuple(y_ref.shape))
    (y * lamina.tensor(g)).sum().backward()
    (y_ref * torch.tensor(g)).sum().backward()
    assert_close(x.grad, x_ref.grad, msg="input grad")
    return out, out_ref


MAXPOOL2D_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1), dilation=(2, 1)),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=2, stride=3, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=1),
    dict(kernel_size=(1, 3), dilation=2),
]


@pytest.mark.parametrize("cfg", MAXPOOL2D_CONFIGS)
def test_max_pool2d_matches_torch_with_indices(rng, cfg):
    out, out_ref = _check(lambda x: nn.MaxPool2d(return_indices=True, **cfg)(x),
                          lambda x: torch.nn.MaxPool2d(return_indices=True, **cfg)(x),
                          rng.standard_normal((2, 3, 9, 10)), rng)
    assert out[1].dtype == lamina.int64
    np.testing.assert_array_equal(out[1].numpy(), out_ref[1].numpy())


@pytest.mark.parametrize("cfg", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                 dict(kernel_size=2, stride=1, dilation=2)])
def test_max_pool2d_ties_pick_the_first_maximum_like_torch(rng, cfg):
    # integer-valued inputs have many ties (as ReLU zeros and 8-bit images do); the winner must be torch's
    x_np = rng.integers(0, 3, (2, 3, 8, 9)).astype(np.float64)
    out, out_ref = _check(lambda x: F.max_pool2d(x, return_indices=True, **cfg),
                          lambda x: TF.max_pool2d(x, return_indices=True, **cfg), x_np, rng)
    np.testing.assert_array_equal(out[1].numpy(), out_ref[1].numpy())


@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 2), (3, 1)])
def test_max_pool2d_propagates_nan_and_routes_to_torchs_index(rng, kernel, stride):
    x_np = rng.standard_normal((1, 2, 6, 6))
    x_np[0, 0, 1, 0] = x_np[0, 0, 3, 4] = x_np[0, 1, 2, 2] = x_np[0, 1, 2, 3] = np.nan
    out, idx = F.max_pool2d(lamina.tensor(x_np), kernel, stride, return_indices=True)
    out_ref, idx_ref = TF.max_pool2d(torch.tensor(x_np), kernel, stride, return_indices=True)
    np.testing.assert_array_equal(np.isnan(out.numpy()), np.isnan(out_ref.numpy()))
    assert_close(out.numpy()[~np.isnan(out.numpy())], out_ref.numpy()[~np.isnan(out_ref.numpy())])
    np.testing.assert_array_equal(idx.numpy(), idx_ref.numpy())


@pytest.mark.parametrize("cfg", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1),
                                 dict(kernel_size=2, stride=3, ceil_mode=True, dilation=2)])
def test_max_pool1d_matches_torch(rng, cfg):
    out, out_ref = _check(lambda x: nn.MaxPool1d(return_indices=True, **cfg)(x),
                          lambda x: torch.nn.MaxPool1d(return_indices=True, **cfg)(x),
                          rng.standard_normal((2, 3, 11)), rng)
    np.testing.assert_array_equal(out[1].numpy(), out_ref[1].numpy())


def test_max_pool_on_channels_last_memory_and_unbatched(rng):
    x_np = np.ascontiguousarray(rng.standard_normal((2, 6, 8, 3))).transpose(0, 3, 1, 2)  # NHWC memory
    _check(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), x_np, rng)
    _check(lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1), x_np, rng)
    _check(lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1), rng.standard_normal((3, 7, 7)),
           rng)


AVGPOOL2D_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 1), ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=2, stride=1, divisor_override=3),
    dict(kernel_size=3, padding=1, ceil_mode=True, divisor_override=2),
]


@pytest.mark.parametrize("cfg", AVGPOOL2D_CONFIGS)
def test_avg_pool2d_matches_torch(rng, cfg):
    _check(lambda x: nn.AvgPool2d(**cfg)(x), lambda x: torch.nn.AvgPool2d(**cfg)(x),
           rng.standard_normal((2, 3, 9, 10)), rng)


@pytest.mark.parametrize("cfg", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
                                 dict(kernel_size=4, stride=2, padding=2, count_include_pad=False)])
def test_avg_pool1d_matches_torch(rng, cfg):
    _check(lambda x: nn.AvgPool1d(**cfg)(x), lambda x: torch.nn.AvgPool1d(**cfg)(x), rng.standard_normal((2, 3, 11)),
           rng)


@pytest.mark.parametrize("size", [(1, 1), (3, 4), (5, None), (9, 10), (4, 13), 2])
def test_adaptive_pool2d_matches_torch(rng, size):
    x_np = rng.standard_normal((2, 3, 9, 10))
    _check(lambda x: nn.AdaptiveAvgPool2d(size)(x), lambda x: torch.nn.AdaptiveAvgPool2d(size)(x), x_np, rng)
    out, out_ref = _check(lambda x: nn.AdaptiveMaxPool2d(size, return_indices=True)(x),
                          lambda x: torch.nn.AdaptiveMaxPool2d(size, return_indices=True)(x), x_np, rng)
    np.testing.assert_array_equal(out[1].numpy(), out_ref[1].numpy())


@pytest.mark.parametrize("size", [1, 4, 7, 15])
def test_adaptive_pool1d_matches_torch(rng, size):
    x_np = rng.standard_normal((2, 3, 11))
    _check(lambda x: F.adaptive_avg_pool1d(x, size), lambda x: TF.adaptive_avg_pool1d(x, size), x_np, rng)
    out, out_ref = _check(lambda x: F.adaptive_max_pool1d(x, size, True),
                          lambda x: TF.adaptive_max_pool1d(x, size, True), x_np, rng)
    np.testing.assert_array_equal(out[1].numpy(), out_ref[1].numpy())


@pytest.mark.parametrize("kernel,stride,padding,output_size", [(2, None, 0, (9, 11)), (3, 2, 1, None),
                                                               (2, 2, 0, (8, 11)), (3, 3, 1, [2, 3, 9, 11])])
def test_max_unpool2d_matches_torch(rng, kernel, stride, padding, output_size):
    x_ref = torch.tensor(rng.standard_normal((2, 3, 9, 11)))
    pooled, idx = TF.max_pool2d(x_ref, kernel, stride, padding, return_indices=True)
    unpool, unpool_ref = nn.MaxUnpool2d(kernel, stride, padding), torch.nn.MaxUnpool2d(kernel, stride, padding)
    idx_l = lamina.tensor(idx.numpy())
    _check(lambda v: unpool(v, idx_l, output_size), lambda v: unpool_ref(v, idx, output_size), pooled.numpy(), rng)


def test_max_pool_unpool_round_trip_1d(rng):
    x = lamina.tensor(rng.standard_normal((2, 3, 10)))
    out, idx = nn.MaxPool1d(2, return_indices=True)(x)
    back = nn.MaxUnpool1d(2)(out, idx)
    ref_out, ref_idx = TF.max_pool1d(torch.tensor(x.numpy()), 2, return_indices=True)
    assert_close(back, TF.max_unpool1d(ref_out, ref_idx, 2))


def test_pooling_float32_stays_float32(rng):
    x = lamina.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    for fn in (lambda v: F.max_pool2d(v, 2), lambda v: F.avg_pool2d(v, 3, 2, 1), lambda v: F.adaptive_avg_pool2d(v, 3),
               lambda v: F.adaptive_max_pool2d(v, 3)):
        x.grad = None
        out = fn(x)
        out.sum().backward()
        assert out.dtype == lamina.float32 and x.grad.dtype == lamina.float32


def test_gradcheck_pooling(rng):
    def t(*shape):
        return lamina.tensor(rng.standard_normal(shape), requires_grad=True)

    assert gradcheck(lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), (t(1, 2, 5, 4),))
    assert gradcheck(lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False, ceil_mode=True), (t(1, 2, 5, 4),))
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 2)), (t(1, 2, 5, 4),))
    assert gradcheck(lambda x: F.adaptive_max_pool2d(x, (3, 2)), (t(1, 2, 5, 4),))
    assert gradcheck(lambda x: F.avg_pool1d(x, 2), (t(1, 2, 6),))
    idx = lamina.tensor(np.array([[[[0, 3], [9, 14]]]]))
    assert gradcheck(lambda v: F.max_unpool2d(v, idx, 2), (t(1, 1, 2, 2),))


def test_repr_matches_torch():
    cases = [("MaxPool2d", (2,), {}), ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True)), ("MaxPool1d", (3,), {}),
             ("AvgPool2d", (2,), {}), ("AvgPool1d", (3, 2), {}), ("AdaptiveAvgPool2d", ((1, 1),), {}),
             ("AdaptiveAvgPool2d", ((3, None),), {}), ("AdaptiveMaxPool2d", (2,), {}), ("AdaptiveAvgPool1d", (4,), {}),
             ("MaxUnpool2d", (2,), {}), ("MaxUnpool1d", (3, 2), {})]
    for name, args, kwargs in cases:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_bad_input_errors_name_the_function_and_shapes():
    with pytest.raises(RuntimeError, match=r"max_pool2d: expected a non-empty 3D or 4D input .* got \(2, 3\)"):
        nn.MaxPool2d(2)(lamina.randn(2, 3))
    with pytest.raises(RuntimeError, match=r"max_pool2d: Given input size \(1, 1, 2, 2\), kernel_size=\(3, 3\).*"
                                           r"too small"):
        F.max_pool2d(lamina.randn(1, 1, 2, 2), 3)
    with pytest.raises(RuntimeError, match=r"avg_pool2d: pad should be at most half of effective kernel size"):
        F.avg_pool2d(lamina.randn(1, 1, 8, 8), 2, padding=2)
    with pytest.raises(RuntimeError, match=r"avg_pool1d: expected a non-empty 2D or 3D input"):
        F.avg_pool1d(lamina.randn(1, 1, 8, 8), 2)
    with pytest.raises(RuntimeError, match="adaptive_avg_pool2d: elements of output_size must be greater than"):
        F.adaptive_avg_pool2d(lamina.randn(1, 1, 8, 8), (0, 2))
    with pytest.raises(RuntimeError, match=r"max_unpool2d: Expected shape of indices to be same as that of the input"):
        F.max_unpool2d(lamina.randn(1, 1, 2, 2), lamina.zeros(1, 1, 2, 3, dtype=lamina.int64), 2)
    with pytest.raises(RuntimeError, match=r"max_unpool2d: Found an invalid max index 7"):
        F.max_unpool2d(lamina.randn(1, 1, 1, 1), lamina.full((1, 1, 1, 1), 7, dtype=lamina.int64), 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: invalid output_size \(9, 9\)"):
        F.max_unpool2d(lamina.randn(1, 1, 2, 2), lamina.zeros(1, 1, 2, 2, dtype=lamina.int64), 2, output_size=(9, 9))


@pytest.mark.parametrize("norm_type,kernel,stride,ceil_mode", [(2, 2, None, False), (3, (3, 2), (2, 1), True),
                                                               (1.5, 3, 2, False)])
def test_lp_pool_matches_torch(rng, norm_type, kernel, stride, ceil_mode):
    x_np = rng.random((2, 3, 7, 8)) + 0.1
    layer, ref = nn.LPPool2d(norm_type, kernel, stride, ceil_mode), torch.nn.LPPool2d(norm_type, kernel, stride,
                                                                                      ceil_mode)
    assert repr(layer) == repr(ref)
    _check(layer, ref, x_np, rng)
    k1 = kernel if isinstance(kernel, int) else kernel[0]
    s1 = stride if stride is None or isinstance(stride, int) else stride[0]
    _check(nn.LPPool1d(norm_type, k1, s1, ceil_mode), torch.nn.LPPool1d(norm_type, k1, s1, ceil_mode),
           x_np[:, :, 0], rng)


def test_max_pool_with_indices_aliases(rng):
    x_np = rng.standard_normal((2, 3, 6, 6))
    out, idx = F.max_pool2d_with_indices(lamina.tensor(x_np), 3, 2, 1)
    out_ref, idx_ref = TF.max_pool2d_with_indices(torch.tensor(x_np), 3, 2, 1)
    assert_close(out, out_ref)
    np.testing.assert_array_equal(idx.numpy(), idx_ref.numpy())
    out, idx = F.max_pool1d_with_indices(lamina.tensor(x_np[:, :, 0]), 2)
    np.testing.assert_array_equal(idx.numpy(), TF.max_pool1d_with_indices(torch.tensor(x_np[:, :, 0]), 2)[1].numpy())
