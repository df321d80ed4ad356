"""Functional recurrent layers: the multi-layer RNN / LSTM / GRU and their cells on explicit weights.

The signatures are PyTorch's ``torch.rnn_tanh`` / ``torch.lstm`` / ``torch.gru`` / ``torch.lstm_cell``...:
``params`` is the flat weight list in PyTorch's order (per layer, per direction: w_ih, w_hh[, b_ih, b_hh][, w_hr]).
Each call is one fused op (see ``lamina.ops.rnn``).
"""

from lamina.backend.random import _rng
from lamina.ops import rnn as _ops

__all__ = ["gru", "gru_cell", "lstm", "lstm_cell", "rnn_relu", "rnn_relu_cell", "rnn_tanh", "rnn_tanh_cell"]


def _config(params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    directions = 2 if bidirectional else 1
    per = len(params) // (num_layers * directions)
    proj = per == (5 if has_biases else 3)
    return dict(num_layers=num_layers, bidirectional=bool(bidirectional), batch_first=bool(batch_first),
                has_biases=bool(has_biases), proj_size=params[per - 1].shape[0] if proj else 0,
                dropout=float(dropout), train=bool(train),
                generator=_rng(None) if train and dropout > 0 and num_layers > 1 else None)


def _run(op, input, hx, cx, params, *cfg):
    return op.apply(input, hx, cx, *params, **_config(params, *cfg))


def rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """Elman RNN with tanh over a whole sequence; returns (output, h_n)."""
    return _run(_ops.RNNTanh, input, hx, None, params, has_biases, num_layers, dropout, train, bidirectional,
                batch_first)


def rnn_relu(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """Elman RNN with ReLU over a whole sequence; returns (output, h_n)."""
    return _run(_ops.RNNReLU, input, hx, None, params, has_biases, num_layers, dropout, train, bidirectional,
                batch_first)


def lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """LSTM over a whole sequence; ``hx`` is (h_0, c_0) or None; returns (output, h_n, c_n)."""
    h0, c0 = (None, None) if hx is None else hx
    return _run(_ops.LSTM, input, h0, c0, params, has_biases, num_layers, dropout, train, bidirectional,
                batch_first)


def gru(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """GRU over a whole sequence; returns (output, h_n)."""
    return _run(_ops.GRU, input, hx, None, params, has_biases, num_layers, dropout, train, bidirectional,
                batch_first)


def _cell(op, input, hx, cx, w_ih, w_hh, b_ih, b_hh):
    if b_ih is None:
        return op.apply(input, hx, cx, w_ih, w_hh)
    return op.apply(input, hx, cx, w_ih, w_hh, b_ih, b_hh)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) for a batch (B, input_size); hx None means zeros."""
    return _cell(_ops.RNNTanhCell, input, hx, None, w_ih, w_hh, b_ih, b_hh)


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """h' = relu(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)."""
    return _cell(_ops.RNNReLUCell, input, hx, None, w_ih, w_hh, b_ih, b_hh)


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step; ``hx`` is (h, c) or None; returns (h', c')."""
    h, c = (None, None) if hx is None else hx
    return _cell(_ops.LSTMCell, input, h, c, w_ih, w_hh, b_ih, b_hh)


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (r applied to W_hn h + b_hn, as in PyTorch)."""
    return _cell(_ops.GRUCell, input, hx, None, w_ih, w_hh, b_ih, b_hh)
