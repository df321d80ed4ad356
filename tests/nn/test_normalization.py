"""BatchNorm / InstanceNorm / LayerNorm / GroupNorm / LocalResponseNorm and their functional forms against PyTorch."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, from_torch, pair, torch
from tests.nn._parity import float32_parity, layer_parity


def _randomize(ref):
    """Non-trivial affine parameters (the defaults, ones and zeros, would hide a transposed weight)."""
    with torch.no_grad():
        if getattr(ref, "weight", None) is not None:
            ref.weight.uniform_(0.5, 1.5)
        if getattr(ref, "bias", None) is not None:
            ref.bias.normal_()
    return ref


def _buffers_equal(layer, ref):
    bufs, bufs_ref = dict(layer.named_buffers()), dict(ref.named_buffers())
    assert bufs.keys() == bufs_ref.keys()
    for k, v in bufs.items():
        assert v.dtype == {torch.int64: lamina.int64, torch.float64: lamina.float64,
                           torch.float32: lamina.float32}[bufs_ref[k].dtype], k
        assert_close(v, bufs_ref[k], msg=k)


# ----------------------------------------------------------------------------------------------- batch norm

BN_CASES = [
    ("BatchNorm1d", (6, 4), {}),
    ("BatchNorm1d", (5, 4, 7), {}),
    ("BatchNorm1d", (6, 4), {"affine": False}),
    ("BatchNorm1d", (6, 4, 2), {"bias": False}),
    ("BatchNorm2d", (4, 4, 5, 3), {}),
    ("BatchNorm2d", (3, 4, 2, 2), {"momentum": None}),
    ("BatchNorm2d", (3, 4, 3, 3), {"track_running_stats": False}),
    ("BatchNorm2d", (3, 4, 3, 3), {"affine": False, "track_running_stats": False}),
    ("BatchNorm3d", (2, 4, 3, 2, 3), {"momentum": 0.3}),
]


@pytest.mark.parametrize("name,shape,kw", BN_CASES)
def test_batchnorm_train_then_eval_matches_torch(rng, name, shape, kw):
    ref = _randomize(getattr(torch.nn, name)(4, **kw).double())
    layer = getattr(nn, name)(4, dtype=lamina.float64, **kw)
    layer_parity(layer, ref, rng.standard_normal(shape) * 2 + 0.5)
    for _ in range(2):  # two more training steps: the running buffers follow torch's
        x = rng.standard_normal(shape) * 3 - 1
        assert_close(layer(lamina.tensor(x)), ref(torch.tensor(x)))
    _buffers_equal(layer, ref)
    if kw.get("track_running_stats", True):
        assert layer.num_batches_tracked.item() == 3
    layer.eval()
    ref.eval()
    layer_parity(layer, ref, rng.standard_normal(shape))  # eval: running statistics (or batch ones untracked)
    _buffers_equal(layer, ref)


def test_batchnorm_eval_weight_grad_without_input_grad(rng):
    ref = _randomize(torch.nn.BatchNorm2d(3).double())
    layer = nn.BatchNorm2d(3, dtype=lamina.float64)
    with torch.no_grad():
        ref.running_mean.normal_()
        ref.running_var.uniform_(0.5, 2)
    layer.load_state_dict(from_torch(ref.state_dict()))
    layer.eval()
    ref.eval()
    x = rng.standard_normal((2, 3, 4, 4))
    (layer(lamina.tensor(x)) ** 2).sum().backward()
    (ref(torch.tensor(x)) ** 2).sum().backward()
    assert_close(layer.weight.grad, ref.weight.grad)
    assert_close(layer.bias.grad, ref.bias.grad)


def test_batchnorm2d_channels_last_input(rng):
    """A conv output is a channels-last view; the result and the gradients are the same, the layout is kept."""
    ref = _randomize(torch.nn.BatchNorm2d(5).double())
    layer = nn.BatchNorm2d(5, dtype=lamina.float64)
    layer.load_state_dict(from_torch(ref.state_dict()))
    x = rng.standard_normal((3, 5, 4, 6))
    xl = lamina.from_numpy(np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)).requires_grad_()
    assert not xl.is_contiguous()
    xt = torch.tensor(x, requires_grad=True)
    y, yt = layer(xl), ref(xt)
    assert_close(y, yt)
    assert y._data.transpose(0, 2, 3, 1).flags.c_contiguous
    w = rng.standard_normal(x.shape)
    (y * lamina.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    assert_close(xl.grad, xt.grad)
    assert xl.grad._data.transpose(0, 2, 3, 1).flags.c_contiguous  # the gradient keeps the input's layout
    assert_close(layer.weight.grad, ref.weight.grad)
    assert_close(layer.bias.grad, ref.bias.grad)
    conv = nn.Conv2d(2, 5, 3, dtype=lamina.float64)  # the real producer of such views
    out = layer(conv(lamina.tensor(rng.standard_normal((2, 2, 6, 6)))))
    assert_close(out.mean(dim=(0, 2, 3)), layer.bias, atol=1e-12)


@pytest.mark.parametrize("training,with_running", [(True, True), (True, False), (False, True)])
def test_functional_batch_norm_matches_torch(rng, training, with_running):
    x_np = rng.standard_normal((5, 3, 4))
    rm_np, rv_np = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    w_np, b_np = rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)
    (x, xt), (w, wt), (b, bt) = pair(x_np), pair(w_np), pair(b_np)
    rm, rmt = (lamina.tensor(rm_np), torch.tensor(rm_np)) if with_running else (None, None)
    rv, rvt = (lamina.tensor(rv_np), torch.tensor(rv_np)) if with_running else (None, None)
    y = F.batch_norm(x, rm, rv, w, b, training=training, momentum=0.2, eps=1e-3)
    yt = torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training=training, momentum=0.2, eps=1e-3)
    assert_close(y, yt)
    g = rng.standard_normal(x_np.shape)
    (y * lamina.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    for a, t in ((x, xt), (w, wt), (b, bt)):
        assert_close(a.grad, t.grad)
    if with_running:
        assert_close(rm, rmt)
        assert_close(rv, rvt)


def test_batchnorm_defaults_keys_repr():
    layer, ref = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    assert list(layer.state_dict()) == list(ref.state_dict())
    assert_close(layer.weight, np.ones(3, np.float32))
    assert_close(layer.bias, np.zeros(3, np.float32))
    assert layer.weight.dtype is lamina.float32 and layer.running_mean.dtype is lamina.float32
    assert layer.num_batches_tracked.dtype is lamina.int64 and layer.num_batches_tracked.shape == ()
    assert repr(layer) == repr(ref)
    assert repr(nn.BatchNorm1d(4, momentum=None, affine=False)) == repr(torch.nn.BatchNorm1d(4, momentum=None,
                                                                                            affine=False))
    assert list(nn.BatchNorm1d(4, affine=False).state_dict()) == list(torch.nn.BatchNorm1d(4, affine=False)
                                                                      .state_dict())
    assert list(nn.BatchNorm1d(4, track_running_stats=False).state_dict()) == ["weight", "bias"]
    assert layer.running_mean is not None and nn.BatchNorm1d(4, track_running_stats=False).running_var is None


def test_batchnorm_reset():
    layer = nn.BatchNorm1d(3)
    for _ in range(2):
        layer(lamina.randn(4, 3) * 3 + 1)
    with lamina.no_grad():
        layer.weight.mul_(2)
    layer.reset_running_stats()
    assert_close(layer.running_mean, np.zeros(3))
    assert_close(layer.running_var, np.ones(3))
    assert layer.num_batches_tracked.item() == 0
    assert_close(layer.weight, 2 * np.ones(3))
    layer.reset_parameters()
    assert_close(layer.weight, np.ones(3))


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training, got input size "
                                         r"lamina.Size\(\[1, 3\]\)"):
        nn.BatchNorm1d(3)(lamina.randn(1, 3))
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(3)(lamina.randn(1, 3, 1, 1))
    layer = nn.BatchNorm1d(3).eval()
    assert layer(lamina.randn(1, 3)).shape == (1, 3)  # eval mode takes a single sample
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input \(N, C, H, W\), got 3D input of shape "
                                         r"\(2, 3, 4\)"):
        nn.BatchNorm2d(3)(lamina.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input"):
        nn.BatchNorm1d(3)(lamina.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected input of shape \(N, C, H, W\) with C=3, got "
                                         r"\(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(lamina.randn(2, 4, 5, 5))
    with pytest.raises(RuntimeError, match=r"batch_norm: running_mean should have shape \(3,\)"):
        F.batch_norm(lamina.randn(4, 3), lamina.zeros(4), lamina.ones(3))
    with pytest.raises(RuntimeError, match=r"must be defined in evaluation mode"):
        F.batch_norm(lamina.randn(4, 3), None, None)
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.BatchNorm1d(0)


@pytest.mark.parametrize("layout", ["cf", "cl", "2d"])
def test_batchnorm_float32_matches_torch(rng, layout):
    shape = (3, 4) if layout == "2d" else (16, 8, 12, 11)  # 2112 rows per channel: 8 blocks of 256 and a tail
    ref = _randomize(torch.nn.BatchNorm1d(shape[1]) if layout == "2d" else torch.nn.BatchNorm2d(shape[1]))
    layer = nn.BatchNorm1d(shape[1]) if layout == "2d" else nn.BatchNorm2d(shape[1])
    layer.load_state_dict({k: lamina.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x_np = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    if layout == "cl":
        x = lamina.from_numpy(np.ascontiguousarray(x_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))
    else:
        x = lamina.tensor(x_np)
    x.requires_grad_()
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = layer(x), ref(xt)
    assert y.dtype is lamina.float32
    assert_close(y, yt, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(shape).astype(np.float32)
    (y * lamina.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    for a, t in ((x.grad, xt.grad), (layer.weight.grad, ref.weight.grad), (layer.bias.grad, ref.bias.grad)):
        assert a.dtype is lamina.float32
        assert_close(a, t, rtol=1e-5, atol=1e-4 if a.ndim == 1 else 1e-5)
    for k in ("running_mean", "running_var"):
        assert getattr(layer, k).dtype is lamina.float32
        assert_close(getattr(layer, k), getattr(ref, k), rtol=1e-5, atol=1e-6)
    # eval: a float32 state_dict exported from torch (num_batches_tracked stays int64) reproduces torch's output
    layer.eval()
    ref.eval()
    layer.load_state_dict({k: lamina.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    assert layer.num_batches_tracked.dtype is lamina.int64 and layer.num_batches_tracked.item() == 1
    with torch.no_grad():
        assert_close(layer(lamina.tensor(x_np)), ref(torch.tensor(x_np)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("channels_last", [False, True])
def test_batchnorm_float32_large_mean(rng, channels_last):
    """mean ≫ std: the one-pass variance would cancel to garbage; the two-pass fallback keeps torch's result."""
    x_np = (rng.standard_normal((8, 3, 6, 7)) * 0.5 + 1000).astype(np.float32)
    x = lamina.tensor(x_np)
    if channels_last:
        x = lamina.from_numpy(np.ascontiguousarray(x_np.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))
    layer, ref = nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    y, yt = layer(x.requires_grad_()), ref(torch.tensor(x_np))
    assert_close(y, yt, rtol=0, atol=2e-3)  # x itself is only known to ±3e-5 (float32 near 1000)
    assert_close(y.std(dim=(0, 2, 3), correction=0), np.ones(3), atol=1e-3)
    assert_close(layer.running_var, ref.running_var, rtol=1e-4)


def test_batchnorm_gradcheck(rng):
    x = lamina.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    w = lamina.tensor(rng.uniform(0.5, 1.5, 2), requires_grad=True)
    b = lamina.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    rm, rv = lamina.tensor(rng.standard_normal(2)), lamina.tensor(rng.uniform(0.5, 2, 2))
    assert gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), (x, w, b))
    xl = lamina.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda x: F.batch_norm(x, None, None, training=True), (xl,))


# ----------------------------------------------------------------------------------------------- layer norm

@pytest.mark.parametrize("shape,ns,kw", [
    ((4, 6), 6, {}),
    ((2, 3, 5), (5,), {}),
    ((2, 3, 4, 5), (4, 5), {}),
    ((3, 7), [7], {"elementwise_affine": False}),
    ((2, 3, 5), 5, {"bias": False}),
    ((2, 4), (2, 4), {"eps": 1e-3}),
])
def test_layernorm_matches_torch(rng, shape, ns, kw):
    ref = _randomize(torch.nn.LayerNorm(ns, **kw).double())
    layer = nn.LayerNorm(ns, dtype=lamina.float64, **kw)
    assert list(layer.state_dict()) == list(ref.state_dict())
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(shape) * 3 + 1)


def test_layernorm_defaults_float32_and_functional(rng):
    layer, ref = nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))
    assert layer.normalized_shape == (3, 4) and layer.weight.shape == (3, 4)
    assert_close(layer.weight, np.ones((3, 4)))
    assert_close(layer.bias, np.zeros((3, 4)))
    _randomize(ref)
    float32_parity(layer, ref, rng.standard_normal((2, 5, 3, 4)) * 4 + 2)
    x_np = (rng.standard_normal((16, 64, 128)) * 2 + 5).astype(np.float32)
    x, xt = pair(x_np)
    w, wt = pair(rng.uniform(0.5, 1.5, 128).astype(np.float32))
    y = F.layer_norm(x, (128,), w, None, 1e-5)
    yt = torch.nn.functional.layer_norm(xt, (128,), wt, None, 1e-5)
    assert y.dtype is lamina.float32
    assert_close(y, yt, rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(x_np.shape).astype(np.float32)
    (y * lamina.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    assert x.grad.dtype is lamina.float32 and w.grad.dtype is lamina.float32
    assert_close(x.grad, xt.grad, rtol=1e-5, atol=1e-5)
    assert_close(w.grad, wt.grad, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("name", ["LayerNorm", "GroupNorm"])
@pytest.mark.parametrize("loc,scale", [(0.3, 1.0), (1000.0, 0.5)])
def test_row_norm_float32_statistics_match_torch(rng, name, loc, scale):
    """float32 row statistics: the one-pass sums (small mean) and the centred fallback (mean ≫ std) both keep
    torch's values and gradients; with x near 1000 x itself is only known to ±3e-5, hence the wider tolerance."""
    shape = (4, 8, 6, 5)
    ref = torch.nn.LayerNorm((6, 5)) if name == "LayerNorm" else torch.nn.GroupNorm(2, 8)
    layer = nn.LayerNorm((6, 5)) if name == "LayerNorm" else nn.GroupNorm(2, 8)
    _randomize(ref)
    layer.load_state_dict({k: lamina.tensor(v.detach().numpy()) for k, v in ref.state_dict().items()})
    x_np = (rng.standard_normal(shape) * scale + loc).astype(np.float32)
    g_np = rng.standard_normal(shape).astype(np.float32)
    (x, xt) = pair(x_np)
    y, yt = layer(x), ref(xt)
    tol = 2e-3 if loc > 100 else 1e-5
    assert y.dtype is lamina.float32
    assert_close(y, yt, rtol=tol, atol=tol)
    y.backward(lamina.tensor(g_np))
    yt.backward(torch.tensor(g_np))
    assert x.grad.dtype is lamina.float32
    assert_close(x.grad, xt.grad, rtol=tol, atol=tol * (1 if loc < 100 else 10))
    assert_close(layer.weight.grad, ref.weight.grad, rtol=1e-4, atol=tol * 100)
    assert_close(layer.bias.grad, ref.bias.grad, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name", ["LayerNorm", "GroupNorm", "BatchNorm2d"])
def test_without_scipy_blas_matches_torch(rng, monkeypatch, name):
    """SciPy's BLAS is an optional accelerator: the NumPy-only path gives the same values and gradients."""
    from lamina.ops import normalization as ops

    monkeypatch.setattr(ops, "_scipy_blas", None)
    ref = _randomize({"LayerNorm": lambda: torch.nn.LayerNorm(5), "GroupNorm": lambda: torch.nn.GroupNorm(2, 4),
                      "BatchNorm2d": lambda: torch.nn.BatchNorm2d(4)}[name]().double())
    layer = {"LayerNorm": lambda: nn.LayerNorm(5, dtype=lamina.float64),
             "GroupNorm": lambda: nn.GroupNorm(2, 4, dtype=lamina.float64),
             "BatchNorm2d": lambda: nn.BatchNorm2d(4, dtype=lamina.float64)}[name]()
    layer_parity(layer, ref, rng.standard_normal((3, 4, 2, 5)) * 2 + 1)


def test_layernorm_gradcheck_and_errors(rng):
    x = lamina.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = lamina.tensor(rng.uniform(0.5, 1.5, (3, 4)), requires_grad=True)
    b = lamina.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), (x, w, b))
    assert gradcheck(lambda x: F.layer_norm(x, 4), (x,))
    with pytest.raises(RuntimeError, match=r"LayerNorm: expected input of shape \(\*, 8\) \(normalized_shape=\(8,\)"
                                           r"\), got \(2, 7\)"):
        nn.LayerNorm(8)(lamina.randn(2, 7))
    with pytest.raises(RuntimeError, match=r"layer_norm: given normalized_shape=\[3, 4\], expected input with shape "
                                           r"\[\*, 3, 4\], but got input of size \[2, 4, 3\]"):
        F.layer_norm(lamina.randn(2, 4, 3), (3, 4))
    with pytest.raises(RuntimeError, match=r"layer_norm: weight should have shape \(4,\)"):
        F.layer_norm(lamina.randn(2, 4), (4,), lamina.ones(3))


# ----------------------------------------------------------------------------------------------- group norm

@pytest.mark.parametrize("groups,shape,affine", [(2, (3, 6, 5), True), (3, (2, 6, 3, 3), True), (1, (4, 6), True),
                                                 (6, (2, 6, 4), True), (2, (2, 6, 2, 2, 2), False),
                                                 (3, (2, 6, 600), True)])  # long rows: the other output path
@pytest.mark.parametrize("bias", [True, False])
def test_groupnorm_matches_torch(rng, groups, shape, affine, bias):
    ref = _randomize(torch.nn.GroupNorm(groups, 6, affine=affine, bias=bias).double())
    layer = nn.GroupNorm(groups, 6, affine=affine, dtype=lamina.float64, bias=bias)
    assert list(layer.state_dict()) == list(ref.state_dict())
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(shape) * 2 - 1)


def test_groupnorm_zero_weight_matches_torch(rng):
    """A channel with weight 0 (no factoring by rstd·w): values and every gradient still match."""
    ref = _randomize(torch.nn.GroupNorm(2, 6).double())
    with torch.no_grad():
        ref.weight[1] = 0
    layer = nn.GroupNorm(2, 6, dtype=lamina.float64)
    layer_parity(layer, ref, rng.standard_normal((3, 6, 4, 2)) * 2 + 1)


def test_groupnorm_float32_gradcheck_errors(rng):
    layer, ref = nn.GroupNorm(2, 4), _randomize(torch.nn.GroupNorm(2, 4))
    assert_close(layer.weight, np.ones(4))
    float32_parity(layer, ref, rng.standard_normal((3, 4, 5, 5)) * 3 + 2)
    x = lamina.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True)
    w = lamina.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True)
    b = lamina.tensor(rng.standard_normal(4), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))
    with pytest.raises(ValueError, match="GroupNorm: num_channels must be divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match=r"GroupNorm: expected input of shape \(N, 4, \*\), got \(2, 6, 3\)"):
        layer(lamina.randn(2, 6, 3))
    with pytest.raises(RuntimeError, match=r"divisible by num_groups, but got input of shape \[2, 6, 3\] and "
                                           r"num_groups=4"):
        F.group_norm(lamina.randn(2, 6, 3), 4)


# ----------------------------------------------------------------------------------------------- instance norm

@pytest.mark.parametrize("name,shape,kw", [
    ("InstanceNorm1d", (3, 4, 6), {}),
    ("InstanceNorm1d", (4, 6), {"affine": True}),
    ("InstanceNorm2d", (2, 4, 3, 5), {"affine": True, "track_running_stats": True}),
    ("InstanceNorm2d", (4, 3, 3), {"track_running_stats": True, "momentum": 0.5}),
    ("InstanceNorm3d", (2, 4, 2, 3, 2), {"affine": True}),
])
def test_instancenorm_matches_torch(rng, name, shape, kw):
    ref = _randomize(getattr(torch.nn, name)(4, **kw).double())
    layer = getattr(nn, name)(4, dtype=lamina.float64, **kw)
    assert list(layer.state_dict()) == list(ref.state_dict())
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(shape) * 2 + 1)
    x = rng.standard_normal(shape)
    assert_close(layer(lamina.tensor(x)), ref(torch.tensor(x)))
    _buffers_equal(layer, ref)
    layer.eval()
    ref.eval()
    layer_parity(layer, ref, rng.standard_normal(shape))


def test_instancenorm_gradcheck_errors(rng):
    x = lamina.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = lamina.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    assert gradcheck(lambda x, w: F.instance_norm(x, weight=w), (x, w))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        nn.InstanceNorm1d(3)(lamina.randn(2, 3, 1))
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected 3D or 4D input"):
        nn.InstanceNorm2d(3)(lamina.randn(2, 3))
    with pytest.raises(ValueError, match=r"InstanceNorm1d: expected input of shape \(N, C, L\) or \(C, L\) with C=3"):
        nn.InstanceNorm1d(3, affine=True)(lamina.randn(2, 4, 5))


# ----------------------------------------------------------------------------------------------- local response norm

@pytest.mark.parametrize("size,shape", [(3, (2, 7, 4)), (4, (2, 6, 3, 3)), (2, (1, 5, 2, 2, 2)), (9, (2, 4, 3))])
def test_local_response_norm_matches_torch(rng, size, shape):
    ref = torch.nn.LocalResponseNorm(size, alpha=0.3, beta=0.6, k=1.5)
    layer = nn.LocalResponseNorm(size, alpha=0.3, beta=0.6, k=1.5)
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(shape))
    x = lamina.tensor(rng.standard_normal((1, 5, 2)), requires_grad=True)
    assert gradcheck(lambda x: F.local_response_norm(x, size, alpha=0.5, beta=0.7, k=1.2), (x,))
