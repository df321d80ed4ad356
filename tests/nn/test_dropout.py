"""Dropout family: the exact masking rule, statistics next to PyTorch's, eval identity, seeding, errors."""

import warnings

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, to_np, torch


def _mask_rule(x_np, out, p):
    """Every output element is 0 or x/(1-p); returns the keep mask."""
    out = to_np(out)
    kept = out != 0
    np.testing.assert_allclose(out[kept], x_np[kept] / (1 - p), rtol=1e-6)
    return kept


@pytest.mark.parametrize("dtype", [lamina.float64, lamina.float32])
@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_dropout_mask_rule_gradient_and_rate(dtype, p):
    x_np = np.random.default_rng(0).uniform(0.5, 1.5, (200, 100))
    x = lamina.tensor(x_np, dtype=dtype, requires_grad=True)
    out = F.dropout(x, p)
    assert out.dtype is dtype and out.shape == x.shape
    kept = _mask_rule(x_np, out, p)
    out.backward(lamina.ones_like(out))
    assert x.grad.dtype is dtype
    assert_close(x.grad, kept / (1 - p), rtol=1e-6)
    # the zeroed fraction is p within 4 standard deviations, as PyTorch's is
    sd = 4 * np.sqrt(p * (1 - p) / x_np.size)
    ref = torch.nn.functional.dropout(torch.tensor(x_np), p)
    assert abs((1 - kept.mean()) - p) < sd
    assert abs((ref == 0).double().mean().item() - p) < sd


def test_dropout_module_eval_identity_p0_p1():
    x = lamina.randn(4, 5, requires_grad=True)
    layer = nn.Dropout(0.5)
    assert layer.training
    layer.eval()
    assert layer(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert nn.Dropout(0.0)(x) is x
    y = F.dropout(x, 1.0)
    assert_close(y, np.zeros((4, 5), np.float32))
    y.sum().backward()
    assert_close(x.grad, np.zeros((4, 5), np.float32))
    assert_close(torch.nn.functional.dropout(torch.ones(3), 1.0), np.zeros(3, np.float32))


def test_dropout_reproducible_under_manual_seed():
    x = lamina.randn(50, 40)
    lamina.manual_seed(7)
    a = F.dropout(x, 0.5)
    b = F.dropout(x, 0.5)
    lamina.manual_seed(7)
    c = F.dropout(x, 0.5)
    assert_close(a, c, rtol=0, atol=0)
    assert not np.array_equal(to_np(a), to_np(b))
    g = lamina.Generator().manual_seed(7)
    state = lamina.get_rng_state()
    d = F.dropout(x, 0.5)
    lamina.set_rng_state(state)
    assert_close(F.dropout(x, 0.5), d, rtol=0, atol=0)
    assert g.initial_seed() == 7


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_probability_error(p):
    for fn in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d, F.alpha_dropout, F.feature_alpha_dropout):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got"):
            fn(lamina.randn(2, 3, 4, 5), p)
    for cls in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.FeatureAlphaDropout):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            cls(p)
    if not np.isnan(p):  # torch lets NaN through; lamina refuses it too
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            torch.nn.Dropout(p)


def _channel_mask(out, x_np, p, lead):
    """Channel-wise rule: each of the first ``lead`` dims' slices is either all zero or all x/(1-p)."""
    kept = _mask_rule(x_np, out, p)
    per = kept.reshape(kept.shape[:lead] + (-1,))
    assert np.all(per.all(-1) | ~per.any(-1))
    return per[..., 0]


@pytest.mark.parametrize("fn,cls,shape,lead", [
    (F.dropout1d, nn.Dropout1d, (6, 8, 5), 2), (F.dropout1d, nn.Dropout1d, (8, 5), 1),
    (F.dropout2d, nn.Dropout2d, (6, 8, 3, 3), 2), (F.dropout2d, nn.Dropout2d, (6, 8, 5), 2),
    (F.dropout3d, nn.Dropout3d, (3, 8, 2, 3, 2), 2), (F.dropout3d, nn.Dropout3d, (8, 2, 3, 2), 1)])
def test_channel_dropout(fn, cls, shape, lead):
    x_np = np.random.default_rng(1).uniform(0.5, 1.5, shape)
    x = lamina.tensor(x_np, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(x, 0.5)
        out_ref = getattr(torch.nn.functional, fn.__name__)(torch.tensor(x_np), 0.5)
    chan = _channel_mask(out, x_np, 0.5, lead)
    _channel_mask(out_ref, x_np, 0.5, lead)  # torch's output follows the same rule
    out.backward(lamina.ones_like(out))
    assert_close(x.grad, np.broadcast_to(chan.reshape(chan.shape + (1,) * (len(shape) - lead)) * 2.0, shape))
    layer = cls(0.5).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert layer(x) is x
    assert repr(layer) == f"{cls.__name__}(p=0.5, inplace=False)"


def test_channel_dropout_shape_errors_and_warnings():
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(lamina.randn(2, 3, 4, 5))
    with pytest.warns(UserWarning, match="dropout2d: Received a 5-D input to dropout2d"):
        F.dropout2d(lamina.randn(2, 3, 4, 5, 6))
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        F.dropout2d(lamina.randn(2, 3, 4))
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input to dropout3d"):
        F.dropout3d(lamina.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions"):
        F.feature_alpha_dropout(lamina.randn(5), 0.5, True)


@pytest.mark.parametrize("fn", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_values_match_torch(fn):
    """On x = 0 and x = 1 the two possible outputs (kept, dropped) are PyTorch's two values."""
    ours, ref = getattr(F, fn), getattr(torch.nn.functional, fn)
    for value in (0.0, 1.0):
        x = np.full((40, 30, 2), value)
        out = np.unique(to_np(ours(lamina.tensor(x), 0.3, True)))
        expected = np.unique(ref(torch.tensor(x), 0.3, True).numpy())
        assert_close(out, expected)
    x = lamina.randn(2, 3)
    assert F.alpha_dropout(x, 0.3) is x  # PyTorch's default training=False
    assert nn.AlphaDropout(0.3).eval()(x) is x


def test_alpha_dropout_keeps_standard_statistics_and_gradient():
    x = lamina.randn(400, 250, dtype=lamina.float64, requires_grad=True)
    out = nn.AlphaDropout(0.2)(x)
    y = to_np(out)
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    out.backward(lamina.ones_like(out))
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.2 + 1) * 0.8)
    g = to_np(x.grad)
    assert set(np.unique(g).round(12)) == {0.0, round(a, 12)}
    assert abs((g == 0).mean() - 0.2) < 0.01
    assert out.dtype is lamina.float64
    assert nn.AlphaDropout(0.2)(lamina.randn(3, 4)).dtype is lamina.float32


def test_dropout_inplace():
    x = lamina.randn(30, 20)
    before = to_np(x).copy()
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x
    kept = _mask_rule(before, x, 0.5)
    assert 0 < kept.mean() < 1
    leaf = lamina.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        nn.Dropout(0.5, inplace=True)(leaf)
    h = leaf * 2
    out = nn.Dropout(0.5, inplace=True)(h)
    assert out is h
    out.sum().backward()
    assert_close(leaf.grad, (to_np(out) != 0) * 4.0)
    z = lamina.ones(16, 4, 5)
    with pytest.warns(UserWarning, match="dropout3d"):
        assert F.dropout3d(z, 0.5, inplace=True) is z
    _channel_mask(z, np.ones((16, 4, 5)), 0.5, 1)
    assert repr(nn.Dropout2d(0.1, inplace=True)) == "Dropout2d(p=0.1, inplace=True)"


def test_dropout_gradcheck():
    x = lamina.randn(3, 4, 2, 1, dtype=lamina.float64, requires_grad=True)

    def seeded(fn):
        def f(t):
            lamina.manual_seed(3)
            return fn(t)
        return f

    assert gradcheck(seeded(lambda t: F.dropout(t, 0.4)), (x,))
    assert gradcheck(seeded(lambda t: F.dropout2d(t, 0.4)), (x,))
    assert gradcheck(seeded(lambda t: F.alpha_dropout(t, 0.4, True)), (x,))
