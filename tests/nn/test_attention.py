"""scaled_dot_product_attention and MultiheadAttention against PyTorch: values, weights, every gradient, masks."""

import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, from_torch, pair, to_np, torch
from tests.nn._parity import float32_parity

TF = torch.nn.functional


def _mask_pair(m):
    return None if m is None else (lamina.tensor(m), torch.tensor(m))


def _reduce(outs, outs_ref, rng):
    loss = loss_ref = 0
    for o, r in zip(outs, outs_ref):
        if r is None:
            assert o is None
            continue
        assert_close(o, r, rtol=1e-7, atol=1e-9)
        w = rng.standard_normal(tuple(r.shape))
        finite = np.isfinite(r.detach().numpy())
        loss = loss + (o * lamina.tensor(np.where(finite, w, 0))).sum()
        loss_ref = loss_ref + (r * torch.tensor(np.where(finite, w, 0))).sum()
    return loss, loss_ref


# ----------------------------------------------------------------------------- scaled_dot_product_attention

@pytest.mark.parametrize("qs,ks,vs", [((2, 3, 5, 4), (2, 3, 6, 4), (2, 3, 6, 7)), ((5, 4), (6, 4), (6, 3)),
                                      ((4, 2, 3, 4), (1, 2, 5, 4), (2, 5, 6))])
@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
def test_sdpa_matches_torch(rng, qs, ks, vs, mask):
    (q, qt), (k, kt), (v, vt) = (pair(rng.standard_normal(s)) for s in (qs, ks, vs))
    kw, kw_ref = {}, {}
    L, S = qs[-2], ks[-2]
    if mask == "bool":
        m = rng.random((L, S)) > 0.3
        m[:, 0] = True
        kw["attn_mask"], kw_ref["attn_mask"] = _mask_pair(m)
    elif mask == "float":
        kw["attn_mask"], kw_ref["attn_mask"] = _mask_pair(rng.standard_normal((1,) * (len(qs) > 2) + (L, S)))
    elif mask == "causal":
        kw["is_causal"] = kw_ref["is_causal"] = True
    out = F.scaled_dot_product_attention(q, k, v, scale=0.3, **kw)
    ref = TF.scaled_dot_product_attention(qt, kt, vt, scale=0.3, **kw_ref)
    loss, loss_ref = _reduce([out], [ref], rng)
    loss.backward()
    loss_ref.backward()
    for a, b in ((q, qt), (k, kt), (v, vt)):
        assert_close(a.grad, b.grad, msg=str(b.shape))


def test_sdpa_fully_masked_rows_give_zeros_and_float_mask_gradient(rng):
    (q, qt), (k, kt), (v, vt) = (pair(rng.standard_normal((2, 4, 3))) for _ in range(3))
    m = np.ones((4, 4), bool)
    m[1] = False
    for mask in (m, np.where(m, 0.0, -np.inf)):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=lamina.tensor(mask))
        ref = TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=torch.tensor(mask))
        assert_close(out, ref)
        assert not np.isnan(to_np(out)).any()
    fm, fmt = pair(rng.standard_normal((4, 4)))
    F.scaled_dot_product_attention(q, k, v, attn_mask=fm).pow(2).sum().backward()
    TF.scaled_dot_product_attention(qt, kt, vt, attn_mask=fmt).pow(2).sum().backward()
    assert_close(fm.grad, fmt.grad)
    assert_close(q.grad, qt.grad)


def test_sdpa_gqa_dropout_and_float32(rng):
    (q, qt), (k, kt), (v, vt) = pair(rng.standard_normal((2, 4, 3, 5))), pair(rng.standard_normal((2, 2, 6, 5))), \
        pair(rng.standard_normal((2, 2, 6, 5)))
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    ref = TF.scaled_dot_product_attention(qt, kt, vt, enable_gqa=True)
    assert_close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    assert_close(k.grad, kt.grad)
    # dropout: reproducible under manual_seed, each weight kept (scaled by 1/(1-p)) or zeroed; p = 1 gives zeros
    lamina.manual_seed(5)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, enable_gqa=True)
    lamina.manual_seed(5)
    assert_close(F.scaled_dot_product_attention(q, k, v, dropout_p=0.5, enable_gqa=True), a, rtol=0, atol=0)
    assert not np.allclose(to_np(a), to_np(out))
    assert_close(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0, enable_gqa=True), np.zeros((2, 4, 3, 5)))
    x32 = lamina.randn(2, 3, 4, requires_grad=True)
    o32 = F.scaled_dot_product_attention(x32, x32, x32, attn_mask=lamina.ones(3, 3, dtype=lamina.bool))
    o32.sum().backward()
    assert o32.dtype is lamina.float32 and x32.grad.dtype is lamina.float32
    x = x32.detach().numpy()
    assert_close(o32, TF.scaled_dot_product_attention(*(torch.tensor(x),) * 3), rtol=1e-5, atol=1e-6)


def test_sdpa_gradcheck(rng):
    q, k, v = (lamina.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    m = lamina.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    assert gradcheck(lambda a, b, c, d: F.scaled_dot_product_attention(a, b, c, attn_mask=d), (q, k, v, m))
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), (q, k, v))


def test_sdpa_errors():
    x = lamina.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=lamina.ones(3, 3, dtype=lamina.bool), is_causal=True)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: expected query \(..., L, E\)"):
        F.scaled_dot_product_attention(x, lamina.randn(2, 3, 5), x)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same dtype"):
        F.scaled_dot_product_attention(x, x, x.double())
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=lamina.ones(3, 3, dtype=lamina.int64))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 3\) does not broadcast"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=lamina.ones(4, 3))


# ----------------------------------------------------------------------------- MultiheadAttention

def mha_parity(rng, ctor, shapes, self_attn=False, kv_same=False, masks=None, train=False, **fkw):
    """A lamina MHA and its torch twin with the same weights: outputs, weights, input and parameter gradients."""
    ref = torch.nn.MultiheadAttention(**ctor).double().train(train)
    layer = nn.MultiheadAttention(**ctor, dtype=lamina.float64).train(train)
    assert list(layer.state_dict()) == list(ref.state_dict())
    layer.load_state_dict(from_torch(ref.state_dict()))
    pairs = [pair(rng.standard_normal(s)) for s in shapes]
    if self_attn:
        pairs = pairs[:1] * 3
    elif kv_same:
        pairs = [pairs[0], pairs[1], pairs[1]]
    kw, kw_ref = dict(fkw), dict(fkw)
    for name, m in (masks or {}).items():
        kw[name], kw_ref[name] = _mask_pair(m)
    outs = layer(*[p[0] for p in pairs], **kw)
    outs_ref = ref(*[p[1] for p in pairs], **kw_ref)
    loss, loss_ref = _reduce(outs, outs_ref, rng)
    loss.backward()
    loss_ref.backward()
    for i, (a, t) in enumerate(pairs):
        assert_close(a.grad, t.grad, msg=f"grad of input {i}")
    for name, p in layer.named_parameters():
        assert_close(p.grad, dict(ref.named_parameters())[name].grad, msg=f"grad of {name}")
    return outs, outs_ref


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("inputs", ["self", "kv_same", "distinct"])
def test_mha_matches_torch(rng, batch_first, need_weights, average, inputs):
    shapes = [(2, 5, 8), (2, 4, 8), (2, 4, 8)] if batch_first else [(5, 2, 8), (4, 2, 8), (4, 2, 8)]
    if inputs == "self":
        shapes = shapes[:1]
    outs, _ = mha_parity(rng, dict(embed_dim=8, num_heads=2, batch_first=batch_first), shapes,
                         self_attn=inputs == "self", kv_same=inputs == "kv_same", need_weights=need_weights,
                         average_attn_weights=average)
    assert (outs[1] is None) == (not need_weights)


@pytest.mark.parametrize("ctor", [dict(bias=False), dict(add_bias_kv=True), dict(add_zero_attn=True),
                                  dict(add_bias_kv=True, add_zero_attn=True, bias=False), dict(kdim=3, vdim=5),
                                  dict(kdim=3, vdim=3, add_bias_kv=True)])
@pytest.mark.parametrize("masked", [False, True])
def test_mha_options_match_torch(rng, ctor, masked):
    kd, vd = ctor.get("kdim", 6), ctor.get("vdim", 6)
    masks = {}
    if masked:
        kpm = rng.random((2, 4)) > 0.7
        kpm[:, 0] = False
        masks = dict(key_padding_mask=np.where(kpm, -np.inf, 0.0), attn_mask=rng.standard_normal((5, 4)))
    mha_parity(rng, dict(embed_dim=6, num_heads=3, **ctor), [(5, 2, 6), (4, 2, kd), (4, 2, vd)], masks=masks,
               average_attn_weights=False)


@pytest.mark.parametrize("kind", ["bool2d", "float2d", "bool3d", "float3d", "kpm_bool", "kpm_float", "causal"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks_match_torch(rng, kind, need_weights):
    L = S = 4
    masks, fkw = {}, {}
    if kind.startswith("bool") or kind.startswith("float"):
        shape = (L, S) if kind.endswith("2d") else (2 * 2, L, S)
        masks["attn_mask"] = rng.random(shape) > 0.6 if kind.startswith("bool") else rng.standard_normal(shape)
        if kind.startswith("bool"):
            masks["attn_mask"][..., 0] = False
    elif kind.startswith("kpm"):
        kpm = rng.random((2, S)) > 0.5
        kpm[:, 1] = False
        masks["key_padding_mask"] = kpm if kind == "kpm_bool" else np.where(kpm, -1e9, 0.5)
    else:
        masks["attn_mask"] = np.triu(np.ones((L, S), bool), 1)
        fkw["is_causal"] = True
    mha_parity(rng, dict(embed_dim=8, num_heads=2, batch_first=True), [(2, L, 8)], self_attn=True, masks=masks,
               need_weights=need_weights, **fkw)


def test_mha_unbatched_matches_torch(rng):
    mha_parity(rng, dict(embed_dim=8, num_heads=2), [(5, 8), (3, 8), (3, 8)],
               masks=dict(key_padding_mask=np.array([False, True, False]),
                          attn_mask=rng.random((2, 5, 3)) > 0.8), average_attn_weights=False)
    mha_parity(rng, dict(embed_dim=8, num_heads=2, batch_first=True), [(5, 8)], self_attn=True,
               masks=dict(attn_mask=rng.standard_normal((5, 5))))


def test_mha_fully_masked_rows_like_torch(rng):
    """A query that may attend to nothing gives NaN with need_weights (PyTorch's softmax) and 0 without (SDPA)."""
    kpm = np.array([[True, True, True], [False, False, True]])
    for need_weights in (True, False):
        ref = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
        layer = nn.MultiheadAttention(4, 2, batch_first=True, dtype=lamina.float64)
        layer.load_state_dict(from_torch(ref.state_dict()))
        x = rng.standard_normal((2, 3, 4))
        out = layer(lamina.tensor(x), lamina.tensor(x), lamina.tensor(x), key_padding_mask=lamina.tensor(kpm),
                    need_weights=need_weights)
        out_ref = ref(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(kpm), need_weights=need_weights)
        assert_close(out[0], out_ref[0])
        assert np.isnan(to_np(out[0])[0]).all() == need_weights
        if need_weights:
            assert_close(out[1], out_ref[1])


def test_mha_dropout_eval_parity_and_training_rule(rng):
    mha_parity(rng, dict(embed_dim=8, num_heads=4, dropout=0.3), [(3, 2, 8)], self_attn=True)
    layer = nn.MultiheadAttention(8, 4, dropout=0.5, batch_first=True, dtype=lamina.float64)
    x = lamina.tensor(rng.standard_normal((2, 6, 8)))
    lamina.manual_seed(1)
    _, w1 = layer(x, x, x, average_attn_weights=False)
    lamina.manual_seed(1)
    out2, w2 = layer(x, x, x, average_attn_weights=False)
    assert_close(w1, w2, rtol=0, atol=0)
    _, w_eval = layer.eval()(x, x, x, average_attn_weights=False)
    w, we = to_np(w1), to_np(w_eval)
    kept = w != 0
    assert 0.3 < kept.mean() < 0.7
    assert_close(w[kept], 2 * we[kept])


def test_mha_float32_state_dict_and_dtype(rng):
    float32_parity(nn.MultiheadAttention(8, 2, batch_first=True), torch.nn.MultiheadAttention(8, 2, batch_first=True),
                   rng.standard_normal((2, 3, 8)), rng.standard_normal((2, 4, 8)), rng.standard_normal((2, 4, 8)))
    layer = nn.MultiheadAttention(8, 2, kdim=4, vdim=4)
    x, kv = lamina.randn(3, 2, 8, requires_grad=True), lamina.randn(5, 2, 4)
    out, w = layer(x, kv, kv)
    out.sum().backward()
    assert out.dtype is w.dtype is x.grad.dtype is layer.q_proj_weight.grad.dtype is lamina.float32


def test_mha_default_init():
    layer = nn.MultiheadAttention(64, 4, add_bias_kv=True)
    bound = math.sqrt(6 / (64 + 192))
    w = to_np(layer.in_proj_weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert not to_np(layer.in_proj_bias).any() and not to_np(layer.out_proj.bias).any()
    assert abs(to_np(layer.bias_k).std() - 1 / 8) < 0.03  # xavier_normal_ on (1, 1, E): both fans are E
    assert type(layer.out_proj).__name__ == "NonDynamicallyQuantizableLinear"
    assert isinstance(layer.out_proj, nn.Linear)
    assert list(nn.MultiheadAttention(4, 2, kdim=3).state_dict()) == \
        list(torch.nn.MultiheadAttention(4, 2, kdim=3).state_dict())


def test_mha_gradcheck(rng):
    layer = nn.MultiheadAttention(4, 2, add_bias_kv=True, dtype=lamina.float64)
    q = lamina.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    kv = lamina.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    mask = lamina.tensor(np.array([[False, True], [False, False]]))
    assert gradcheck(lambda a, b: layer(a, b, b, key_padding_mask=mask)[0], (q, kv))
    assert gradcheck(lambda w: F.multi_head_attention_forward(
        q, kv, kv, 4, 2, w, layer.in_proj_bias, None, None, True, 0.0, layer.out_proj.weight, layer.out_proj.bias,
        need_weights=False)[0], (layer.in_proj_weight,))


def test_mha_errors():
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    layer = nn.MultiheadAttention(8, 2)
    x = lamina.randn(5, 2, 8)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(4, 5\), but should be \(5, 5\)"):
        layer(x, x, x, attn_mask=lamina.ones(4, 5, dtype=lamina.bool))
    with pytest.raises(RuntimeError, match=r"The shape of the 3D attn_mask is \(2, 5, 5\), but should be \(4, 5, 5\)"):
        layer(x, x, x, attn_mask=lamina.ones(2, 5, 5, dtype=lamina.bool))
    with pytest.raises(AssertionError, match=r"Expected key_padded_mask.shape\[1\] to be 5, but got 4"):
        layer(x, x, x, key_padding_mask=lamina.ones(2, 4, dtype=lamina.bool))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        layer(x, x, x, is_causal=True)
    with pytest.raises(AssertionError, match="query should be unbatched 2D or batched 3D tensor"):
        layer(lamina.randn(1, 5, 2, 8), x, x)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8, but got 6"):
        layer(lamina.randn(5, 2, 6), x, x)
    with pytest.raises(RuntimeError, match=r"expected key with last dimension 8, got shape \(5, 2, 3\)"):
        nn.MultiheadAttention(8, 2)(x, lamina.randn(5, 2, 3), lamina.randn(5, 2, 3))
