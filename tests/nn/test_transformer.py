"""Transformer, TransformerEncoder(Layer), TransformerDecoder(Layer) against PyTorch."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, torch
from tests.nn._parity import float32_parity, layer_parity

pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning",
                                        "ignore:enable_nested_tensor is True:UserWarning")

E, H, FF = 8, 2, 12  # d_model, heads, feed-forward width
F64 = lamina.float64


class _With:
    """A layer called with fixed keyword arguments (masks), so layer_parity can drive it positionally."""

    def __init__(self, module, **kwargs):
        self.module, self.kwargs = module, kwargs

    def __call__(self, *args):
        return self.module(*args, **self.kwargs)

    def __getattr__(self, name):
        return getattr(self.module, name)


def _masks(rng, n, t, s, kinds):
    """The named masks as (lamina kwargs, torch kwargs)."""
    lam, ref = {}, {}

    def put(name, arr):
        lam[name], ref[name] = lamina.tensor(arr), torch.tensor(arr)

    for kind in kinds:
        if kind == "causal":
            put("mask", np.triu(np.full((t, t), -np.inf), 1))
        elif kind == "causal_bool":
            put("mask", np.triu(np.ones((t, t), dtype=bool), 1))
        elif kind == "float":
            put("mask", rng.standard_normal((t, s)))
        elif kind == "bool":
            m = rng.random((t, s)) < 0.3
            m[:, 0] = False  # every query keeps one key: no all-masked row
            put("mask", m)
        elif kind == "padding":
            m = np.zeros((n, s), dtype=bool)
            m[0, -2:] = True
            put("key_padding_mask", m)
        elif kind == "padding_float":
            m = np.zeros((n, s))
            m[-1, -1:] = -np.inf
            put("key_padding_mask", m)
    return lam, ref


def _inputs(rng, n, length, batch_first, unbatched=False):
    if unbatched:
        return rng.standard_normal((length, E))
    return rng.standard_normal((n, length, E) if batch_first else (length, n, E))


def _eval(*mods):
    for m in mods:
        m.eval()


ENC_KW = {"src_mask": "mask", "src_key_padding_mask": "key_padding_mask"}


@pytest.mark.parametrize("norm_first,activation,batch_first,masks", [
    (False, "relu", False, ()),
    (True, "gelu", True, ("padding",)),
    (False, "gelu", True, ("causal",)),
    (True, "relu", False, ("bool", "padding")),
    (False, "relu", True, ("float", "padding_float")),
])
def test_encoder_layer_matches_torch(rng, norm_first, activation, batch_first, masks):
    kw = {"dim_feedforward": FF, "activation": activation, "batch_first": batch_first, "norm_first": norm_first}
    ref = torch.nn.TransformerEncoderLayer(E, H, dropout=0.1, **kw).double()
    layer = nn.TransformerEncoderLayer(E, H, dropout=0.1, dtype=F64, **kw)
    _eval(ref, layer)
    n, t = 3, 5
    lam, tor = _masks(rng, n, t, t, masks)
    names = {v: k for k, v in ENC_KW.items()}
    lam = {names[k]: v for k, v in lam.items()}
    tor = {names[k]: v for k, v in tor.items()}
    if "causal" in masks:
        lam["is_causal"] = tor["is_causal"] = True
    layer_parity(_With(layer, **lam), _With(ref, **tor), _inputs(rng, n, t, batch_first))


@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_train_mode_without_dropout_and_unbatched(rng, batch_first):
    ref = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=batch_first).double()
    layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, batch_first=batch_first, dtype=F64)
    layer_parity(layer, ref, _inputs(rng, 2, 4, batch_first))
    layer_parity(layer, ref, _inputs(rng, 2, 4, batch_first, unbatched=True))


def test_encoder_layer_callable_activation_and_no_bias(rng):
    ref = torch.nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=torch.nn.functional.silu,
                                           bias=False).double()
    layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, activation=F.silu, bias=False, dtype=F64)
    assert list(layer.state_dict()) == list(ref.state_dict())
    layer_parity(layer, ref, _inputs(rng, 2, 4, False))


@pytest.mark.parametrize("norm_first,activation,batch_first,tgt_masks,mem_masks", [
    (False, "relu", False, (), ()),
    (True, "gelu", True, ("causal", "padding"), ("padding",)),
    (False, "gelu", False, ("causal_bool",), ("float",)),
    (True, "relu", True, ("bool",), ("bool", "padding_float")),
])
def test_decoder_layer_matches_torch(rng, norm_first, activation, batch_first, tgt_masks, mem_masks):
    kw = {"dim_feedforward": FF, "activation": activation, "batch_first": batch_first, "norm_first": norm_first}
    ref = torch.nn.TransformerDecoderLayer(E, H, dropout=0.1, **kw).double()
    layer = nn.TransformerDecoderLayer(E, H, dropout=0.1, dtype=F64, **kw)
    _eval(ref, layer)
    n, t, s = 2, 4, 6
    lam_t, tor_t = _masks(rng, n, t, t, tgt_masks)
    lam_m, tor_m = _masks(rng, n, t, s, mem_masks)
    lam, tor = {}, {}
    for prefix, (a, b) in (("tgt", (lam_t, tor_t)), ("memory", (lam_m, tor_m))):
        for k in a:
            lam[f"{prefix}_{k}"], tor[f"{prefix}_{k}"] = a[k], b[k]
    if "causal" in tgt_masks:
        lam["tgt_is_causal"] = tor["tgt_is_causal"] = True
    layer_parity(_With(layer, **lam), _With(ref, **tor), _inputs(rng, n, t, batch_first),
                 _inputs(rng, n, s, batch_first))


def test_decoder_layer_unbatched_and_module_activation(rng):
    ref = torch.nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation=torch.nn.GELU()).double()
    layer = nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, activation=nn.GELU(), dtype=F64)
    assert list(layer.state_dict()) == list(ref.state_dict())
    layer_parity(layer, ref, _inputs(rng, 1, 4, False, unbatched=True), _inputs(rng, 1, 3, False, unbatched=True))


@pytest.mark.parametrize("norm_first,batch_first", [(False, False), (True, True)])
def test_encoder_stack_with_final_norm(rng, norm_first, batch_first):
    kw = {"dim_feedforward": FF, "dropout": 0.0, "batch_first": batch_first, "norm_first": norm_first}
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kw), 3, torch.nn.LayerNorm(E),
                                      enable_nested_tensor=False).double()
    layer = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, dtype=F64, **kw), 3, nn.LayerNorm(E, dtype=F64))
    assert list(layer.state_dict()) == list(ref.state_dict())
    n, t = 2, 5
    causal = np.triu(np.full((t, t), -np.inf), 1)
    pad = np.zeros((n, t), dtype=bool)
    pad[1, -1] = True
    layer_parity(_With(layer, mask=lamina.tensor(causal), src_key_padding_mask=lamina.tensor(pad)),
                 _With(ref, mask=torch.tensor(causal), src_key_padding_mask=torch.tensor(pad)),
                 _inputs(rng, n, t, batch_first))
    layer_parity(layer, ref, _inputs(rng, n, t, batch_first))


def test_decoder_stack_with_final_norm(rng):
    kw = {"dim_feedforward": FF, "dropout": 0.0}
    ref = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, **kw), 2, torch.nn.LayerNorm(E)).double()
    layer = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, dtype=F64, **kw), 2, nn.LayerNorm(E, dtype=F64))
    assert list(layer.state_dict()) == list(ref.state_dict())
    mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=F64)
    mask_ref = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    layer_parity(_With(layer, tgt_mask=mask), _With(ref, tgt_mask=mask_ref), _inputs(rng, 2, 4, False),
                 _inputs(rng, 2, 3, False))


@pytest.mark.parametrize("batch_first,norm_first", [(False, False), (True, True)])
def test_full_transformer_matches_torch(rng, batch_first, norm_first):
    kw = {"d_model": E, "nhead": H, "num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": FF,
          "batch_first": batch_first, "norm_first": norm_first}
    ref = torch.nn.Transformer(**kw).double()
    model = nn.Transformer(dtype=F64, **kw)
    _eval(ref, model)
    assert list(model.state_dict()) == list(ref.state_dict())
    n, s, t = 2, 5, 4
    src_pad = np.zeros((n, s), dtype=bool)
    src_pad[0, -2:] = True
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(t, dtype=F64)
    tgt_mask_ref = torch.nn.Transformer.generate_square_subsequent_mask(t, dtype=torch.float64)
    layer_parity(
        _With(model, tgt_mask=tgt_mask, src_key_padding_mask=lamina.tensor(src_pad),
              memory_key_padding_mask=lamina.tensor(src_pad)),
        _With(ref, tgt_mask=tgt_mask_ref, src_key_padding_mask=torch.tensor(src_pad),
              memory_key_padding_mask=torch.tensor(src_pad)),
        _inputs(rng, n, s, batch_first), _inputs(rng, n, t, batch_first))


def test_custom_encoder_and_decoder_are_used(rng):
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF, dropout=0.0, dtype=F64), 1)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, FF, dropout=0.0, dtype=F64), 1)
    model = nn.Transformer(E, H, dim_feedforward=FF, custom_encoder=enc, custom_decoder=dec, dtype=F64)
    assert model.encoder is enc and model.decoder is dec
    src, tgt = lamina.tensor(_inputs(rng, 2, 5, False)), lamina.tensor(_inputs(rng, 2, 4, False))
    assert_close(model(src, tgt), dec(tgt, enc(src)))


def test_float32_state_dict_from_torch(rng):
    ref = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2,
                                      torch.nn.LayerNorm(16), enable_nested_tensor=False).eval()
    layer = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2, nn.LayerNorm(16)).eval()
    float32_parity(layer, ref, rng.standard_normal((3, 7, 16)), rtol=1e-5, atol=1e-5)
    ref = torch.nn.Transformer(16, 4, 1, 2, 32).eval()
    model = nn.Transformer(16, 4, 1, 2, 32).eval()
    float32_parity(model, ref, rng.standard_normal((6, 2, 16)), rng.standard_normal((5, 2, 16)), rtol=1e-5,
                   atol=1e-5)


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(5)
    assert m.dtype is lamina.float32
    assert_close(m, torch.nn.Transformer.generate_square_subsequent_mask(5))
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=F64).dtype is F64
    assert tuple(nn.Transformer.generate_square_subsequent_mask(0).shape) == (0, 0)


def test_causal_mask_detection():
    from lamina.nn.modules.transformer import _detect_is_causal_mask

    causal = nn.Transformer.generate_square_subsequent_mask(4)
    assert _detect_is_causal_mask(causal)
    assert _detect_is_causal_mask(lamina.tensor(np.triu(np.ones((4, 4), dtype=bool), 1)))
    assert not _detect_is_causal_mask(causal, size=3)
    assert not _detect_is_causal_mask(lamina.zeros(4, 4))
    assert not _detect_is_causal_mask(causal, is_causal=False)
    assert _detect_is_causal_mask(None, is_causal=True)
    assert not _detect_is_causal_mask(None)


def test_dropout_in_train_mode_only():
    layer = nn.TransformerEncoderLayer(E, H, FF, dropout=0.5)
    x = lamina.randn(4, 2, E)
    a, b = layer(x), layer(x)
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    layer.eval()
    assert_close(layer(x), layer(x), rtol=0, atol=0)


def test_gradcheck_encoder_and_decoder_layers():
    rng = np.random.default_rng(3)
    enc = nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, dtype=F64)
    x = lamina.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    assert gradcheck(lambda x: enc(x), (x,))
    dec = nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, norm_first=True, activation="gelu", dtype=F64)
    mem = lamina.tensor(rng.standard_normal((2, 2, 4)), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=F64)
    assert gradcheck(lambda x, m: dec(x, m, tgt_mask=mask), (x, mem))


def test_layers_are_independent_copies():
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 2)
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    assert_close(enc.layers[0].linear1.weight, enc.layers[1].linear1.weight)  # deep copies, as in PyTorch
    assert len(enc.layers) == enc.num_layers == 2


def test_repr_lists_submodules():
    r = repr(nn.TransformerEncoderLayer(E, H, FF))
    for name in ("self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2"):
        assert f"({name}):" in r


def test_errors():
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: d_model \(10\) must be divisible by nhead \(3\)"):
        nn.TransformerEncoderLayer(10, 3)
    with pytest.raises(RuntimeError, match="TransformerDecoderLayer: activation should be relu/gelu, not tanh"):
        nn.TransformerDecoderLayer(E, H, activation="tanh")
    with pytest.raises(ValueError, match="dropout must be a probability"):
        nn.TransformerEncoderLayer(E, H, dropout=1.5)
    with pytest.raises(ValueError, match="num_layers must be a positive int"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, FF), 0)
    layer = nn.TransformerEncoderLayer(E, H, FF, batch_first=True)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer: expected src of shape \(N, L, E\) or \(L, E\) "
                                         r"with E = d_model = 8, got \(2, 3, 5\)"):
        layer(lamina.randn(2, 3, 5))
    dec = nn.TransformerDecoderLayer(E, H, FF)
    with pytest.raises(ValueError, match="both be batched or both unbatched"):
        dec(lamina.randn(3, 2, E), lamina.randn(4, E))
    model = nn.Transformer(E, H, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(lamina.randn(5, 2, E), lamina.randn(4, 3, E))
    with pytest.raises(RuntimeError, match=r"the feature number of src and tgt must be equal to d_model \(8\)"):
        model(lamina.randn(5, 2, E), lamina.randn(4, 2, E + 1))
    with pytest.raises(ValueError, match="sz must be a non-negative int"):
        nn.Transformer.generate_square_subsequent_mask(-1)
