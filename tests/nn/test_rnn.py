"""RNN / LSTM / GRU, their cells and functional forms, pad_sequence, against PyTorch."""

import math

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from lamina.backend.random import _rng
from tests.conftest import assert_close, from_torch, torch

T_, B_, I_, H_ = 5, 3, 4, 5
KINDS = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}), ("GRU", {})]


def _states(kind, shape_h, shape_c, rng):
    """Initial states as (lamina args, torch args, leaves to compare grads of)."""
    h = rng.standard_normal(shape_h)
    hl, ht = lamina.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    if kind != "LSTM":
        return (hl,), (ht,), [(hl, ht)]
    c = rng.standard_normal(shape_c)
    cl, ct = lamina.tensor(c, requires_grad=True), torch.tensor(c, requires_grad=True)
    return ((hl, cl),), ((ht, ct),), [(hl, ht), (cl, ct)]


def _weighted_sum(tensors, weights, lib):
    total = None
    for t, w in zip(tensors, weights):
        term = (t * lib.tensor(w)).sum()
        total = term if total is None else total + term
    return total


def _parity(kind, kw, rng, num_layers=1, bidirectional=False, batch_first=False, with_state=False, bias=True,
            unbatched=False, T=T_, B=B_):
    ref = getattr(torch.nn, kind)(I_, H_, num_layers=num_layers, bias=bias, batch_first=batch_first,
                                  bidirectional=bidirectional, **kw).double()
    layer = getattr(nn, kind)(I_, H_, num_layers=num_layers, bias=bias, batch_first=batch_first,
                              bidirectional=bidirectional, dtype=lamina.float64, **kw)
    layer.load_state_dict(from_torch(ref.state_dict()))
    assert list(layer.state_dict()) == list(ref.state_dict())
    D = 2 if bidirectional else 1
    P = kw.get("proj_size", 0) or H_
    x_np = rng.standard_normal((T, I_) if unbatched else ((B, T, I_) if batch_first else (T, B, I_)))
    x, x_ref = lamina.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    args, args_ref, leaves = (), (), []
    if with_state:
        lead = (num_layers * D,) if unbatched else (num_layers * D, B)
        args, args_ref, leaves = _states(kind, lead + (P,), lead + (H_,), rng)
    out, state = layer(x, *args)
    out_ref, state_ref = ref(x_ref, *args_ref)
    outs = [out] + (list(state) if kind == "LSTM" else [state])
    outs_ref = [out_ref] + (list(state_ref) if kind == "LSTM" else [state_ref])
    for name, a, e in zip(["output", "h_n", "c_n"], outs, outs_ref):
        assert_close(a, e, msg=name)
    weights = [rng.standard_normal(tuple(e.shape)) for e in outs_ref]
    _weighted_sum(outs, weights, lamina).backward()
    _weighted_sum(outs_ref, weights, torch).backward()
    assert_close(x.grad, x_ref.grad, msg="input grad")
    for i, (a, e) in enumerate(leaves):
        assert_close(a.grad, e.grad, msg=f"initial state {i} grad")
    for (name, p), (_, p_ref) in zip(layer.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, p_ref.grad, msg=f"{name} grad")


@pytest.mark.parametrize("kind,kw", KINDS, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch(rng, kind, kw, num_layers, bidirectional, batch_first, with_state, bias):
    _parity(kind, kw, rng, num_layers, bidirectional, batch_first, with_state, bias)


@pytest.mark.parametrize("num_layers,bidirectional,with_state,bias",
                         [(1, False, False, True), (2, True, True, True), (2, False, True, False)])
def test_lstm_proj_size_matches_torch(rng, num_layers, bidirectional, with_state, bias):
    _parity("LSTM", {"proj_size": 3}, rng, num_layers, bidirectional, False, with_state, bias)


@pytest.mark.parametrize("kind,kw", KINDS, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_unbatched_input_matches_torch(rng, kind, kw, batch_first, with_state):
    _parity(kind, kw, rng, num_layers=2, bidirectional=True, batch_first=batch_first, with_state=with_state,
            unbatched=True)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_single_step_and_single_item(rng, kind):
    _parity(kind, {}, rng, num_layers=2, bidirectional=True, T=1, B=1, with_state=True)


def test_gradient_of_output_only_and_of_state_only(rng):
    ref = torch.nn.LSTM(I_, H_, num_layers=2).double()
    layer = nn.LSTM(I_, H_, num_layers=2, dtype=lamina.float64)
    layer.load_state_dict(from_torch(ref.state_dict()))
    x_np = rng.standard_normal((T_, B_, I_))
    for pick in (lambda o, s: o[-1].sum(), lambda o, s: s[1].sum()):
        x, x_ref = lamina.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        pick(*layer(x)).backward()
        pick(*ref(x_ref)).backward()
        assert_close(x.grad, x_ref.grad)
        for (name, p), (_, p_ref) in zip(layer.named_parameters(), ref.named_parameters()):
            assert_close(p.grad, p_ref.grad, msg=name)
            p.grad = None
            p_ref.grad = None


def test_float32_default_and_no_grad(rng):
    layer = nn.LSTM(I_, H_, batch_first=True)
    assert all(p.dtype == lamina.float32 for p in layer.parameters())
    x = lamina.tensor(rng.standard_normal((B_, T_, I_)).astype(np.float32))
    out, (h, c) = layer(x)
    assert out.dtype == h.dtype == c.dtype == lamina.float32
    assert out.requires_grad
    with lamina.no_grad():
        out2, _ = layer(x)
    assert not out2.requires_grad
    assert_close(out2, out)
    # the last step of the output is the final hidden state
    assert_close(out[:, -1], h[0])


def test_held_outputs_survive_later_calls(rng):
    """Scratch memory is reused between calls only once nothing views it: held outputs and grads stay intact."""
    layer = nn.GRU(8, 64, num_layers=2, bidirectional=True)
    x1 = lamina.tensor(rng.standard_normal((20, 16, 8)).astype(np.float32), requires_grad=True)
    out1, h1 = layer(x1)
    out1.sum().backward()
    kept = out1.detach().numpy().copy(), h1.detach().numpy().copy(), x1.grad.numpy().copy()
    for _ in range(3):
        x2 = lamina.tensor(rng.standard_normal((20, 16, 8)).astype(np.float32), requires_grad=True)
        out2, _ = layer(x2)
        (out2 * 2).sum().backward()
        with lamina.no_grad():
            layer(x2)
    for a, b in zip((out1, h1, x1.grad), kept):
        np.testing.assert_array_equal(a.detach().numpy(), b)


def test_empty_sequence_error():
    with pytest.raises(RuntimeError, match="LSTM: Expected sequence length to be larger than 0"):
        nn.LSTM(3, 4)(lamina.randn(0, 2, 3))


def test_empty_batch(rng):
    layer = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    x = lamina.randn(5, 0, 3, requires_grad=True)
    out, (h, c) = layer(x)
    assert tuple(out.shape) == (5, 0, 8) and tuple(h.shape) == (4, 0, 4)
    out.sum().backward()
    assert tuple(x.grad.shape) == (5, 0, 3)


# ----------------------------------------------------------------------------- cells


CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}), ("GRUCell", {})]


@pytest.mark.parametrize("kind,kw", CELLS, ids=["rnn_tanh", "rnn_relu", "lstm", "gru"])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("unbatched", [False, True])
def test_cell_matches_torch(rng, kind, kw, with_state, bias, unbatched):
    ref = getattr(torch.nn, kind)(I_, H_, bias=bias, **kw).double()
    cell = getattr(nn, kind)(I_, H_, bias=bias, dtype=lamina.float64, **kw)
    cell.load_state_dict(from_torch(ref.state_dict()))
    assert list(cell.state_dict()) == list(ref.state_dict())
    lead = () if unbatched else (B_,)
    x_np = rng.standard_normal(lead + (I_,))
    x, x_ref = lamina.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    args, args_ref, leaves = (), (), []
    if with_state:
        lstm = kind == "LSTMCell"
        args, args_ref, leaves = _states("LSTM" if lstm else kind, lead + (H_,), lead + (H_,), rng)
    out, out_ref = cell(x, *args), ref(x_ref, *args_ref)
    outs = list(out) if kind == "LSTMCell" else [out]
    outs_ref = list(out_ref) if kind == "LSTMCell" else [out_ref]
    for a, e in zip(outs, outs_ref):
        assert_close(a, e)
    weights = [rng.standard_normal(tuple(e.shape)) for e in outs_ref]
    _weighted_sum(outs, weights, lamina).backward()
    _weighted_sum(outs_ref, weights, torch).backward()
    assert_close(x.grad, x_ref.grad, msg="input grad")
    for i, (a, e) in enumerate(leaves):
        assert_close(a.grad, e.grad, msg=f"state {i} grad")
    for (name, p), (_, p_ref) in zip(cell.named_parameters(), ref.named_parameters()):
        assert_close(p.grad, p_ref.grad, msg=f"{name} grad")


def test_cell_unrolled_equals_layer(rng):
    """An LSTMCell stepped over a sequence gives the LSTM layer's output (same weights)."""
    layer = nn.LSTM(I_, H_, dtype=lamina.float64)
    cell = nn.LSTMCell(I_, H_, dtype=lamina.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = lamina.tensor(rng.standard_normal((T_, B_, I_)))
    out, (h_n, c_n) = layer(x)
    h = c = lamina.zeros(B_, H_, dtype=lamina.float64)
    for t in range(T_):
        h, c = cell(x[t], (h, c))
        assert_close(h, out[t])
    assert_close(c, c_n[0])


# ----------------------------------------------------------------------------- finite differences


def _flat(layer):
    return [p.detach().requires_grad_() for p in layer._flat_weights]


@pytest.mark.parametrize("kind,fn", [("RNN", F.rnn_tanh), ("RNN", F.rnn_relu), ("LSTM", F.lstm), ("GRU", F.gru)])
def test_gradcheck(rng, kind, fn):
    layer = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, dtype=lamina.float64)
    params = _flat(layer)
    x = lamina.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)  # batch_first: (B, T, I)
    h0 = lamina.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    if kind == "LSTM":
        c0 = lamina.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)

        def f(x, h0, c0, *w):
            return fn(x, (h0, c0), list(w), True, 2, 0.0, False, True, True)

        assert gradcheck(f, (x, h0, c0, *params))
    else:
        def f(x, h0, *w):
            return fn(x, h0, list(w), True, 2, 0.0, False, True, True)

        assert gradcheck(f, (x, h0, *params))


def test_gradcheck_lstm_projection(rng):
    layer = nn.LSTM(2, 4, proj_size=2, bias=False, dtype=lamina.float64)
    params = _flat(layer)
    x = lamina.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)

    def f(x, *w):
        return F.lstm(x, None, list(w), False, 1, 0.0, False, False, False)

    assert gradcheck(f, (x, *params))


@pytest.mark.parametrize("fn,n_chunks", [(F.lstm_cell, 4), (F.gru_cell, 3), (F.rnn_tanh_cell, 1)])
def test_gradcheck_cells(rng, fn, n_chunks):
    x = lamina.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = lamina.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    w_ih = lamina.tensor(rng.standard_normal((n_chunks * 4, 3)) * 0.5, requires_grad=True)
    w_hh = lamina.tensor(rng.standard_normal((n_chunks * 4, 4)) * 0.5, requires_grad=True)
    b_ih = lamina.tensor(rng.standard_normal(n_chunks * 4), requires_grad=True)
    b_hh = lamina.tensor(rng.standard_normal(n_chunks * 4), requires_grad=True)
    if fn is F.lstm_cell:
        c = lamina.tensor(rng.standard_normal((2, 4)), requires_grad=True)
        assert gradcheck(lambda x, h, c, *w: fn(x, (h, c), *w), (x, h, c, w_ih, w_hh, b_ih, b_hh))
    else:
        assert gradcheck(lambda x, h, *w: fn(x, h, *w), (x, h, w_ih, w_hh, b_ih, b_hh))


# ----------------------------------------------------------------------------- dropout between layers


def test_dropout_between_layers(rng):
    layer = nn.LSTM(I_, H_, num_layers=2, dropout=0.5, dtype=lamina.float64)
    x = lamina.tensor(rng.standard_normal((T_, B_, I_)))
    layer.eval()
    out_eval, _ = layer(x)
    layer.train()
    lamina.manual_seed(3)
    out_a, _ = layer(x)
    lamina.manual_seed(3)
    out_b, _ = layer(x)
    out_c, _ = layer(x)
    assert_close(out_a, out_b)
    assert not np.allclose(out_a.detach().numpy(), out_eval.detach().numpy())
    assert not np.allclose(out_a.detach().numpy(), out_c.detach().numpy())
    # the same as layer 0, a dropout mask (drawn from lamina's generator, scaled by 1 / (1 - p)), then layer 1
    first, second = nn.LSTM(I_, H_, dtype=lamina.float64), nn.LSTM(H_, H_, dtype=lamina.float64)
    sd = layer.state_dict()
    first.load_state_dict({k.replace("_l0", "_l0"): v for k, v in sd.items() if k.endswith("_l0")})
    second.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items() if k.endswith("_l1")})
    lamina.manual_seed(3)
    keep = _rng(None).random((T_, B_, H_), dtype=np.float32) >= 0.5
    mid, _ = first(x)
    expected, _ = second(mid * lamina.tensor(keep * 2.0))
    assert_close(out_a, expected)


def test_dropout_gradcheck(rng):
    layer = nn.GRU(2, 3, num_layers=3, dropout=0.4, bidirectional=True, dtype=lamina.float64)
    params = _flat(layer)
    x = lamina.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)

    def f(x, *w):
        lamina.manual_seed(5)
        return F.gru(x, None, list(w), True, 3, 0.4, True, True, False)

    assert gradcheck(f, (x, *params))


def test_dropout_warns_for_one_layer():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)


# ----------------------------------------------------------------------------- construction, init, repr


@pytest.mark.parametrize("kind,kw", [("RNN", dict(num_layers=2, nonlinearity="relu", bias=False)),
                                     ("LSTM", dict(proj_size=2, batch_first=True, bidirectional=True)),
                                     ("GRU", dict(num_layers=3, dropout=0.25)), ("LSTM", {})])
def test_repr_state_dict_and_attributes_match_torch(kind, kw):
    ref = getattr(torch.nn, kind)(6, 4, **kw)
    layer = getattr(nn, kind)(6, 4, **kw)
    assert repr(layer) == repr(ref)
    assert [(k, tuple(v.shape)) for k, v in layer.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert layer._flat_weights_names == ref._flat_weights_names
    assert [[tuple(w.shape) for w in ws] for ws in layer.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in ref.all_weights]
    for attr in ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                 "bidirectional", "proj_size"):
        assert getattr(layer, attr) == getattr(ref, attr), attr


@pytest.mark.parametrize("kind,kw", [("RNNCell", dict(nonlinearity="relu")), ("LSTMCell", dict(bias=False)),
                                     ("GRUCell", {})])
def test_cell_repr_matches_torch(kind, kw):
    assert repr(getattr(nn, kind)(6, 4, **kw)) == repr(getattr(torch.nn, kind)(6, 4, **kw))


@pytest.mark.parametrize("make", [lambda: nn.LSTM(8, 16, num_layers=2, bidirectional=True), lambda: nn.GRUCell(8, 16)])
def test_default_init_is_uniform_in_one_over_sqrt_hidden(make):
    layer = make()
    bound = 1 / math.sqrt(16)
    values = np.concatenate([p.detach().numpy().ravel() for p in layer.parameters()])
    assert values.min() >= -bound and values.max() <= bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound
    assert abs(values.mean()) < 0.05 * bound


# ----------------------------------------------------------------------------- errors


def test_input_size_error():
    with pytest.raises(RuntimeError, match=r"LSTM: input.size\(-1\) must be equal to input_size. Expected 32, got 16"):
        nn.LSTM(32, 8)(lamina.randn(5, 2, 16))


def test_hidden_shape_errors():
    with pytest.raises(RuntimeError, match=r"GRU: Expected hidden size \(2, 3, 4\), got \[2, 2, 4\]"):
        nn.GRU(5, 4, num_layers=2)(lamina.randn(7, 3, 5), lamina.randn(2, 2, 4))
    with pytest.raises(RuntimeError, match=r"LSTM: Expected hidden\[0\] size \(1, 3, 4\), got \[1, 3, 5\]"):
        nn.LSTM(5, 4)(lamina.randn(7, 3, 5), (lamina.randn(1, 3, 5), lamina.randn(1, 3, 4)))
    with pytest.raises(RuntimeError, match=r"LSTM: Expected hidden\[1\] size \(2, 3, 6\), got \[2, 3, 3\]"):
        nn.LSTM(5, 6, proj_size=3, bidirectional=True)(lamina.randn(7, 3, 5),
                                                         (lamina.randn(2, 3, 3), lamina.randn(2, 3, 3)))
    with pytest.raises(RuntimeError, match="RNN: For batched 3-D input, hx should also be 3-D but got 2-D tensor"):
        nn.RNN(5, 4)(lamina.randn(7, 3, 5), lamina.randn(3, 4))
    with pytest.raises(RuntimeError, match=r"LSTM: For unbatched 2-D input, hx and cx should also be 2-D but got "
                                           r"\(3-D, 3-D\) tensors"):
        nn.LSTM(5, 4)(lamina.randn(7, 5), (lamina.randn(1, 1, 4), lamina.randn(1, 1, 4)))


def test_input_rank_and_dtype_errors():
    with pytest.raises(ValueError, match="RNN: Expected input to be 2D or 3D, got 4D tensor instead"):
        nn.RNN(5, 4)(lamina.randn(2, 7, 3, 5))
    with pytest.raises(ValueError, match=r"GRU: input dtype \(lamina.float64\) does not match weight dtype "
                                         r"\(lamina.float32\)"):
        nn.GRU(5, 4)(lamina.randn(7, 3, 5, dtype=lamina.float64))


def test_cell_errors():
    with pytest.raises(RuntimeError, match="LSTMCell: input has inconsistent input_size: got 3 expected 5"):
        nn.LSTMCell(5, 4)(lamina.randn(2, 3))
    with pytest.raises(RuntimeError, match="GRUCell: hidden0 has inconsistent hidden_size: got 3, expected 4"):
        nn.GRUCell(5, 4)(lamina.randn(2, 5), lamina.randn(2, 3))
    with pytest.raises(RuntimeError, match="RNNCell: Input batch size 2 doesn't match hidden0 batch size 3"):
        nn.RNNCell(5, 4)(lamina.randn(2, 5), lamina.randn(3, 4))
    with pytest.raises(ValueError, match="RNNCell: Expected input to be 1D or 2D, got 3D instead"):
        nn.RNNCell(5, 4)(lamina.randn(1, 2, 5))


@pytest.mark.parametrize("make,err,match", [
    (lambda: nn.LSTM(4, 3, proj_size=3), ValueError, "LSTM: proj_size has to be smaller than hidden_size"),
    (lambda: nn.GRU(4, 3, proj_size=1), ValueError, "proj_size argument is only supported for LSTM"),
    (lambda: nn.RNN(4, 3, nonlinearity="gelu"), ValueError, "RNN: Unknown nonlinearity 'gelu'"),
    (lambda: nn.RNNCell(4, 3, nonlinearity="gelu"), ValueError, "RNNCell: Unknown nonlinearity 'gelu'"),
    (lambda: nn.LSTM(4, 3, num_layers=2, dropout=1.5), ValueError, "LSTM: dropout should be a number in range"),
    (lambda: nn.LSTM(4, 0), ValueError, "LSTM: hidden_size must be greater than zero"),
    (lambda: nn.GRU(4, 3, num_layers=0), ValueError, "GRU: num_layers must be greater than zero"),
    (lambda: nn.RNN(4.0, 3), TypeError, "RNN: input_size should be of type int, got: float"),
    (lambda: nn.RNN(4, 3, bias=1), TypeError, "RNN: bias should be of type bool"),
])
def test_constructor_errors(make, err, match):
    with pytest.raises(err, match=match):
        make()


# ----------------------------------------------------------------------------- pad_sequence / unpad_sequence


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(rng, batch_first, padding_side):
    arrays = [rng.standard_normal((n, 2, 3)) for n in (4, 1, 3)]
    seqs = [lamina.tensor(a, requires_grad=True) for a in arrays]
    refs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = nn.utils.rnn.pad_sequence(seqs, batch_first=batch_first, padding_value=-1.5, padding_side=padding_side)
    ref = torch.nn.utils.rnn.pad_sequence(refs, batch_first=batch_first, padding_value=-1.5,
                                          padding_side=padding_side)
    assert_close(out, ref)
    w = rng.standard_normal(tuple(ref.shape))
    (out * lamina.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for a, e in zip(seqs, refs):
        assert_close(a.grad, e.grad)


def test_unpad_sequence_inverts_pad_sequence(rng):
    arrays = [rng.standard_normal((n, 3)) for n in (2, 5, 1)]
    padded = nn.utils.rnn.pad_sequence([lamina.tensor(a) for a in arrays], batch_first=True)
    for a, s in zip(arrays, nn.utils.rnn.unpad_sequence(padded, lamina.tensor([2, 5, 1]), batch_first=True)):
        assert_close(s, a)


def test_pad_sequence_errors():
    with pytest.raises(RuntimeError, match="pad_sequence: received an empty list"):
        nn.utils.rnn.pad_sequence([])
    with pytest.raises(RuntimeError, match=r"pad_sequence: every sequence must have the trailing shape .* sequence 1 "
                                           r"has \(4,\)"):
        nn.utils.rnn.pad_sequence([lamina.ones(2, 3), lamina.ones(2, 4)])
