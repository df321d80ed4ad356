"""Conv1d / Conv2d / ConvTranspose1d / ConvTranspose2d / Unfold / Fold and their functional forms against PyTorch."""

import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, from_torch, pair, torch

TF = torch.nn.functional


def _parity(layer, ref, x_np, *args, **kwargs):
    """Forward, input gradient and every parameter gradient of a lamina layer and its torch twin agree."""
    layer.load_state_dict(from_torch(ref.state_dict()))
    x, x_ref = pair(x_np)
    out, out_ref = layer(x, *args, **kwargs), ref(x_ref, *args, **kwargs)
    assert_close(out, out_ref, msg="output")
    g = np.random.default_rng(1).standard_normal(tuple(out_ref.shape))
    (out * lamina.tensor(g)).sum().backward()
    (out_ref * torch.tensor(g)).sum().backward()
    assert_close(x.grad, x_ref.grad, msg="input grad")
    for (name, p), (_, p_ref) in zip(layer.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, p_ref.grad, msg=f"{name} grad")


CONV2D_CONFIGS = [
    dict(),
    dict(stride=2, padding=1),
    dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    dict(padding="same", dilation=2),
    dict(padding="valid"),
    dict(groups=2, padding=1, bias=False),
    dict(groups=4, stride=2),
    dict(padding=2, padding_mode="reflect"),
    dict(padding=(1, 2), padding_mode="replicate", stride=2),
    dict(padding=1, padding_mode="circular", groups=2),
    dict(padding="same", padding_mode="reflect"),
]


@pytest.mark.parametrize("cfg", CONV2D_CONFIGS)
@pytest.mark.parametrize("kernel", [3, (2, 3)])
def test_conv2d_matches_torch(rng, cfg, kernel):
    ref = torch.nn.Conv2d(4, 8, kernel, **cfg).double()
    layer = nn.Conv2d(4, 8, kernel, dtype=lamina.float64, **cfg)
    _parity(layer, ref, rng.standard_normal((2, 4, 9, 10)))


@pytest.mark.parametrize("cfg", [dict(), dict(stride=2, padding=2, dilation=2), dict(padding="same", groups=3),
                                 dict(padding=1, padding_mode="reflect", bias=False),
                                 dict(padding=2, padding_mode="circular"), dict(padding=1, padding_mode="replicate")])
def test_conv1d_matches_torch(rng, cfg):
    ref = torch.nn.Conv1d(3, 6, 3, **cfg).double()
    layer = nn.Conv1d(3, 6, 3, dtype=lamina.float64, **cfg)
    _parity(layer, ref, rng.standard_normal((2, 3, 11)))


def test_conv2d_many_channels_and_single_channel_layouts(rng):
    # both column layouts: few input channels (transposed columns) and many (window rows)
    for cin in (1, 3, 16):
        ref = torch.nn.Conv2d(cin, 5, 3, padding=1).double()
        layer = nn.Conv2d(cin, 5, 3, padding=1, dtype=lamina.float64)
        _parity(layer, ref, rng.standard_normal((3, cin, 6, 7)))


def test_conv2d_unbatched_input(rng):
    ref = torch.nn.Conv2d(3, 4, 3).double()
    layer = nn.Conv2d(3, 4, 3, dtype=lamina.float64)
    _parity(layer, ref, rng.standard_normal((3, 7, 6)))


def test_conv2d_chain_keeps_values_through_channels_last_outputs(rng):
    # conv outputs are channels-last in memory; the next conv, a pooling and a flatten must see the same values
    c1, c2 = nn.Conv2d(1, 4, 3, dtype=lamina.float64), nn.Conv2d(4, 6, 3, padding=1, dtype=lamina.float64)
    r1, r2 = torch.nn.Conv2d(1, 4, 3).double(), torch.nn.Conv2d(4, 6, 3, padding=1).double()
    c1.load_state_dict(from_torch(r1.state_dict()))
    c2.load_state_dict(from_torch(r2.state_dict()))
    x, x_ref = pair(rng.standard_normal((3, 1, 10, 10)))
    out = F.max_pool2d(lamina.relu(c2(lamina.relu(c1(x)))), 2).reshape(3, -1)
    out_ref = TF.max_pool2d(torch.relu(r2(torch.relu(r1(x_ref)))), 2).reshape(3, -1)
    assert_close(out, out_ref)
    g = rng.standard_normal(tuple(out_ref.shape))
    (out * lamina.tensor(g)).sum().backward()
    (out_ref * torch.tensor(g)).sum().backward()
    assert_close(x.grad, x_ref.grad)
    assert_close(c1.weight.grad, r1.weight.grad)
    assert_close(c2.bias.grad, r2.bias.grad)


def test_conv2d_float32_stays_float32(rng):
    ref = torch.nn.Conv2d(3, 8, 3, padding=1)
    layer = nn.Conv2d(3, 8, 3, padding=1)
    layer.load_state_dict(from_torch(ref.state_dict()))
    x_np = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    x, x_ref = pair(x_np)
    out, out_ref = layer(x), ref(x_ref)
    assert out.dtype == lamina.float32
    assert_close(out, out_ref, rtol=1e-4, atol=1e-5)
    out.sum().backward()
    out_ref.sum().backward()
    assert x.grad.dtype == lamina.float32 and layer.weight.grad.dtype == lamina.float32
    assert layer.bias.grad.dtype == lamina.float32
    assert_close(layer.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-3)
    assert_close(x.grad, x_ref.grad, rtol=1e-4, atol=1e-5)


def test_conv2d_batch_larger_than_one_chunk(rng, monkeypatch):
    # the batch is processed in cache-sized chunks; force several chunks, uneven last one
    from lamina.ops import conv as C

    monkeypatch.setattr(C, "_CHUNK_BYTES", 1)
    ref = torch.nn.Conv2d(5, 4, 3, stride=2, groups=1).double()
    layer = nn.Conv2d(5, 4, 3, stride=2, dtype=lamina.float64)
    _parity(layer, ref, rng.standard_normal((5, 5, 7, 7)))
    ref_t = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2).double()
    layer_t = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2, dtype=lamina.float64)
    _parity(layer_t, ref_t, rng.standard_normal((3, 4, 4, 5)))


CONVT2D_CONFIGS = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 3), padding=(1, 0), output_padding=(0, 2)),
    dict(groups=2, bias=False),
    dict(stride=2, dilation=2, padding=2, output_padding=1),
    dict(padding=1, dilation=(1, 2)),
]


@pytest.mark.parametrize("cfg", CONVT2D_CONFIGS)
def test_conv_transpose2d_matches_torch(rng, cfg):
    ref = torch.nn.ConvTranspose2d(4, 6, 3, **cfg).double()
    layer = nn.ConvTranspose2d(4, 6, 3, dtype=lamina.float64, **cfg)
    _parity(layer, ref, rng.standard_normal((2, 4, 5, 6)))


@pytest.mark.parametrize("cfg", [dict(), dict(stride=3, padding=1, output_padding=2), dict(groups=2, dilation=2)])
def test_conv_transpose1d_matches_torch(rng, cfg):
    ref = torch.nn.ConvTranspose1d(4, 2, 3, **cfg).double()
    layer = nn.ConvTranspose1d(4, 2, 3, dtype=lamina.float64, **cfg)
    _parity(layer, ref, rng.standard_normal((2, 4, 7)))


@pytest.mark.parametrize("output_size", [(9, 11), (10, 12), [2, 6, 10, 11]])
def test_conv_transpose2d_output_size(rng, output_size):
    ref = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1).double()
    layer = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, dtype=lamina.float64)
    _parity(layer, ref, rng.standard_normal((2, 4, 5, 6)), output_size=output_size)


def test_conv_transpose2d_bad_output_size(rng):
    layer = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match=r"requested an output size of \[12, 11\], but valid sizes range from "
                                         r"\[9, 11\] to \[10, 12\]"):
        layer(lamina.randn(2, 4, 5, 6), output_size=(12, 11))


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 2), (1, 2, 2, 1)])
def test_functional_conv2d_and_conv1d(rng, stride, padding, dilation, groups):
    x, x_ref = pair(rng.standard_normal((2, 4, 8, 9)))
    w, w_ref = pair(rng.standard_normal((6, 4 // groups, 3, 2)))
    b, b_ref = pair(rng.standard_normal(6))
    out = F.conv2d(x, w, b, stride, padding, dilation, groups)
    out_ref = TF.conv2d(x_ref, w_ref, b_ref, stride, padding, dilation, groups)
    assert_close(out, out_ref)
    out.square().sum().backward()
    out_ref.square().sum().backward()
    for a, e in ((x, x_ref), (w, w_ref), (b, b_ref)):
        assert_close(a.grad, e.grad)
    x1, x1_ref = pair(rng.standard_normal((2, 4, 9)))
    w1, w1_ref = pair(rng.standard_normal((6, 4 // groups, 3)))
    out = F.conv1d(x1, w1, None, stride, padding, dilation, groups)
    out_ref = TF.conv1d(x1_ref, w1_ref, None, stride, padding, dilation, groups)
    assert_close(out, out_ref)
    out.sum().backward()
    out_ref.sum().backward()
    assert_close(x1.grad, x1_ref.grad)
    assert_close(w1.grad, w1_ref.grad)


def test_functional_conv_transpose(rng):
    x, x_ref = pair(rng.standard_normal((2, 4, 5, 4)))
    w, w_ref = pair(rng.standard_normal((4, 3, 2, 3)))
    out = F.conv_transpose2d(x, w, None, 2, 1, 1, 1, 2)
    out_ref = TF.conv_transpose2d(x_ref, w_ref, None, 2, 1, 1, 1, 2)
    assert_close(out, out_ref)
    out.sum().backward()
    out_ref.sum().backward()
    assert_close(x.grad, x_ref.grad)
    assert_close(w.grad, w_ref.grad)
    x1, x1_ref = pair(rng.standard_normal((4, 6)))  # unbatched
    w1, w1_ref = pair(rng.standard_normal((4, 2, 3)))
    assert_close(F.conv_transpose1d(x1, w1, stride=2), TF.conv_transpose1d(x1_ref, w1_ref, stride=2))


@pytest.mark.parametrize("kernel,dilation,padding,stride", [(2, 1, 0, 1), ((2, 3), (1, 2), 1, (2, 1)), (3, 2, 2, 3)])
def test_unfold_fold_match_torch(rng, kernel, dilation, padding, stride):
    x, x_ref = pair(rng.standard_normal((2, 3, 7, 8)))
    cols, cols_ref = F.unfold(x, kernel, dilation, padding, stride), TF.unfold(x_ref, kernel, dilation, padding,
                                                                              stride)
    assert_close(cols, cols_ref)
    g = rng.standard_normal(tuple(cols_ref.shape))
    (cols * lamina.tensor(g)).sum().backward()
    (cols_ref * torch.tensor(g)).sum().backward()
    assert_close(x.grad, x_ref.grad)
    c, c_ref = pair(rng.standard_normal(tuple(cols_ref.shape)))
    fold, fold_ref = nn.Fold((7, 8), kernel, dilation, padding, stride), torch.nn.Fold((7, 8), kernel, dilation,
                                                                                       padding, stride)
    out, out_ref = fold(c), fold_ref(c_ref)
    assert_close(out, out_ref)
    g = rng.standard_normal(tuple(out_ref.shape))
    (out * lamina.tensor(g)).sum().backward()
    (out_ref * torch.tensor(g)).sum().backward()
    assert_close(c.grad, c_ref.grad)
    assert_close(nn.Unfold(kernel, dilation, padding, stride)(x), cols_ref)


def test_gradcheck_conv_ops(rng):
    def t(*shape):
        return lamina.tensor(rng.standard_normal(shape), requires_grad=True)

    x, w, b = t(1, 2, 4, 4), t(2, 1, 2, 2), t(2)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), (x, w, b))
    assert gradcheck(lambda x, w, b: F.conv1d(x, w, b, padding=1, dilation=2), (t(1, 2, 5), t(2, 2, 2), b))
    wt = t(2, 2, 2, 3)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
                     (t(1, 2, 2, 3), wt, t(2)))
    assert gradcheck(lambda x: F.unfold(x, 2, padding=1, stride=2), (t(1, 2, 3, 3),))
    assert gradcheck(lambda c: F.fold(c, (3, 3), 2, padding=1, stride=2), (t(1, 8, 4),))


@pytest.mark.parametrize("cls,args,fan_in", [
    (nn.Conv2d, (6, 8, (3, 2)), 6 * 6), (nn.Conv2d, (6, 9, 3, 1, 0, 1, 3), 2 * 9), (nn.Conv1d, (4, 5, 3), 12),
    (nn.ConvTranspose2d, (6, 4, 3), 4 * 9), (nn.ConvTranspose1d, (6, 4, 3, 1, 0, 0, 2), 2 * 3),
])
def test_default_init_bounds(cls, args, fan_in):
    layer = cls(*args)
    bound = 1 / math.sqrt(fan_in)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.8 * bound  # a uniform draw reaches near its bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.35)
    ref = getattr(torch.nn, cls.__name__)(*args)
    assert tuple(layer.weight.shape) == tuple(ref.weight.shape)
    assert list(layer.state_dict()) == list(ref.state_dict()) == ["weight", "bias"]


def test_repr_matches_torch():
    cases = [("Conv2d", (3, 16, 3), {}),
             ("Conv2d", (4, 8, (3, 5)), dict(stride=2, padding=1, dilation=2, groups=2, bias=False,
                                             padding_mode="reflect")),
             ("Conv2d", (4, 4, 3), dict(padding="same")), ("Conv1d", (4, 8, 3), dict(padding="valid")),
             ("ConvTranspose2d", (4, 8, 3), dict(stride=2, output_padding=1)),
             ("ConvTranspose1d", (4, 8, 3), dict(groups=2, dilation=2)), ("Unfold", (2,), {}),
             ("Fold", ((4, 5), 2), {})]
    for name, args, kwargs in cases:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))


def test_bad_input_errors_name_the_layer_and_shapes():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(RuntimeError, match=r"Conv2d: expected input of shape \(N, 3, H, W\) or \(3, H, W\), got "
                                           r"\(8, 4, 32, 32\); the layer was built with in_channels=3"):
        conv(lamina.randn(8, 4, 32, 32))
    with pytest.raises(RuntimeError, match=r"Conv2d: expected input of shape .* got \(8, 3\)"):
        conv(lamina.randn(8, 3))
    with pytest.raises(RuntimeError, match=r"conv2d: Calculated padded input size per channel: \(2 x 5\)\. "
                                           r"Kernel size: \(3 x 3\)"):
        conv(lamina.randn(1, 3, 2, 5))
    with pytest.raises(RuntimeError, match=r"Conv1d: expected input of shape \(N, 2, L\)"):
        nn.Conv1d(2, 4, 3)(lamina.randn(1, 3, 10))
    with pytest.raises(RuntimeError, match=r"conv2d: Given groups=1, weight of size \[8, 3, 3, 3\], expected "
                                           r"input\[2, 4, 5, 5\] to have 3 channels, but got 4 channels instead"):
        F.conv2d(lamina.randn(2, 4, 5, 5), lamina.randn(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"conv2d: Input type \(lamina.float64\) and weight type "
                                           r"\(lamina.float32\) should be the same"):
        F.conv2d(lamina.randn(2, 3, 5, 5, dtype=lamina.float64), lamina.randn(8, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"conv2d: expected bias of shape \(8,\)"):
        F.conv2d(lamina.randn(2, 3, 5, 5), lamina.randn(8, 3, 3, 3), lamina.randn(4))
    with pytest.raises(RuntimeError, match=r"conv_transpose2d: .* expected input\[1, 3, 4, 4\] to have 4 channels"):
        F.conv_transpose2d(lamina.randn(1, 3, 4, 4), lamina.randn(4, 2, 3, 3))
    with pytest.raises(ValueError, match="conv_transpose2d: output padding must be smaller than either stride or "
                                         "dilation"):
        F.conv_transpose2d(lamina.randn(1, 4, 4, 4), lamina.randn(4, 2, 3, 3), output_padding=1)


def test_bad_hyperparameters_raise_at_construction():
    with pytest.raises(ValueError, match="Conv2d: in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="Conv2d: out_channels must be divisible by groups"):
        nn.Conv2d(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided convolutions"):
        nn.Conv2d(4, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: Invalid padding string 'full'"):
        nn.Conv2d(4, 6, 3, padding="full")
    with pytest.raises(ValueError, match="Conv1d: padding_mode must be one of"):
        nn.Conv1d(4, 6, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(4, 6, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="Conv2d: kernel_size must be positive"):
        nn.Conv2d(4, 6, 0)
    with pytest.raises(ValueError, match="Conv2d: out_channels must be a positive integer"):
        nn.Conv2d(4, 0, 3)
