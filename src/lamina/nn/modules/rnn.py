"""Recurrent layers: RNN, LSTM, GRU and the cells RNNCell, LSTMCell, GRUCell.

PyTorch's arguments, defaults, attributes, state_dict keys (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0,
weight_hr_l0, ..._reverse), default initialisation U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) and repr.
Each forward is one fused op over all layers, directions and time steps (``lamina.ops.rnn``).
"""

import math
import numbers
import warnings

import lamina
from lamina.nn.functional import rnn as F
from lamina.nn.modules.module import Module
from lamina.nn.parameter import Parameter

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_size(name, arg, value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: {arg} should be of type int, got: {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name}: {arg} must be greater than zero")


class RNNBase(Module):
    """Shared body of RNN, LSTM and GRU: arguments, parameters, initialisation, input checks, repr."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        for arg, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(f"{name}: {arg} should be of type bool, got: {type(value).__name__}")
        _check_size(name, "input_size", input_size)
        _check_size(name, "hidden_size", hidden_size)
        _check_size(name, "num_layers", num_layers)
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"{name}: proj_size should be a positive integer or zero to disable projections, "
                             f"got {proj_size!r}")
        if proj_size >= hidden_size:
            raise ValueError(f"{name}: proj_size has to be smaller than hidden_size, got proj_size={proj_size}, "
                             f"hidden_size={hidden_size}")
        self.mode = mode
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)), ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for base, shape in shapes:
                    pname = f"{base}_l{layer}{suffix}"
                    setattr(self, pname, Parameter(lamina.empty(*shape, dtype=dtype, device=device)))
                    names.append(pname)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self):
        """A no-op, as in PyTorch on the CPU (the fused op reads the weights where they are)."""

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        with lamina.no_grad():
            for weight in self.parameters():
                weight.uniform_(-stdv, stdv)

    def check_input(self, input, batch_sizes=None):
        name = type(self).__name__
        w = self._flat_weights[0]
        if input.dtype != w.dtype:
            raise ValueError(f"{name}: input dtype ({input.dtype}) does not match weight dtype ({w.dtype}). Convert "
                             f"input: input.to({w.dtype}), or convert model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"{name}: input must have {expected} dimensions, got {input.dim()}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.shape[-1]}")

    def get_expected_hidden_size(self, input, batch_sizes=None):
        if batch_sizes is not None:
            batch = int(batch_sizes[0])
        else:
            batch = input.shape[0] if self.batch_first else input.shape[1]
        directions = 2 if self.bidirectional else 1
        return (self.num_layers * directions, batch, self.proj_size if self.proj_size > 0 else self.hidden_size)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.shape) != tuple(expected_hidden_size):
            raise RuntimeError(f"{type(self).__name__}: " + msg.format(tuple(expected_hidden_size), list(hx.shape)))
        if hx.dtype != self._flat_weights[0].dtype:
            raise ValueError(f"{type(self).__name__}: hidden state dtype ({hx.dtype}) does not match weight dtype "
                             f"({self._flat_weights[0].dtype})")

    def check_forward_args(self, input, hidden, batch_sizes=None):
        self.check_input(input, batch_sizes)
        if hidden is not None:
            self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))

    def _prepare(self, input, hx, n_states):
        """Validate; add the batch dimension to unbatched input; return (input, states, batched)."""
        name = type(self).__name__
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D tensor instead")
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        states = (None,) * n_states
        if hx is not None:
            states = (hx,) if n_states == 1 else tuple(hx)
            if len(states) != n_states:
                raise ValueError(f"{name}: hx should be a tuple (h_0, c_0), got {len(states)} tensors")
            want = 3 if batched else 2
            if any(s.dim() != want for s in states):
                what = "hx" if n_states == 1 else "hx and cx"
                dims = ", ".join(f"{s.dim()}-D" for s in states)
                got = f"{dims} tensor" if n_states == 1 else f"({dims}) tensors"
                raise RuntimeError(f"{name}: For {'batched 3-D' if batched else 'unbatched 2-D'} input, {what} should "
                                   f"also be {want}-D but got {got}")
            if not batched:
                states = tuple(s.unsqueeze(1) for s in states)
        self.check_input(input)
        if input.shape[1 if self.batch_first else 0] == 0:
            raise RuntimeError(f"{name}: Expected sequence length to be larger than 0 in RNN, got input of shape "
                               f"{tuple(input.shape)}")
        expected = self.get_expected_hidden_size(input)
        if n_states == 1:
            if states[0] is not None:
                self.check_hidden_size(states[0], expected)
        elif states[0] is not None:
            self.check_hidden_size(states[0], expected, "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(states[1], expected[:2] + (self.hidden_size,), "Expected hidden[1] size {}, got {}")
        return input, states, batched

    def _finish(self, output, states, batched):
        if batched:
            return output, states
        return output.squeeze(0 if self.batch_first else 1), tuple(s.squeeze(1) for s in states)

    def _args(self):
        return (self._flat_weights, self.bias, self.num_layers, self.dropout, self.training, self.bidirectional,
                self.batch_first)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """A multi-layer Elman RNN: h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh) (or ReLU).

    Args:
        input_size: features of the input x.
        hidden_size: features of the hidden state h.
        num_layers: stacked recurrent layers. Default: 1.
        nonlinearity: 'tanh' or 'relu'. Default: 'tanh'.
        bias: learn b_ih and b_hh. Default: True.
        batch_first: input and output as (N, L, H_in) instead of (L, N, H_in). Default: False.
        dropout: dropout on the outputs of every layer but the last, in training. Default: 0.
        bidirectional: also run the sequence backwards and concatenate. Default: False.

    Shape:
        input (L, N, H_in), (N, L, H_in) with batch_first, or unbatched (L, H_in); h_0 (D * num_layers, N, H_out)
        -> output (L, N, D * H_out), h_n (D * num_layers, N, H_out), D = 2 if bidirectional else 1.

    Example:
        >>> out, h_n = nn.RNN(10, 20, 2)(lamina.randn(5, 3, 10))
        >>> out.shape, h_n.shape
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("RNN: proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"RNN: unexpected keyword argument(s) {', '.join(kwargs)}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, (h0,), batched = self._prepare(input, hx, 1)
        fn = F.rnn_tanh if self.nonlinearity == "tanh" else F.rnn_relu
        output, h_n = fn(input, h0, *self._args())
        output, (h_n,) = self._finish(output, (h_n,), batched)
        return output, h_n


class LSTM(RNNBase):
    """A multi-layer LSTM (gates i, f, g, o as in PyTorch); with proj_size > 0, h_t = W_hr (o * tanh(c_t)).

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as for ``RNN``.
        proj_size: size of the projected hidden state (0: no projection). Default: 0.

    Shape:
        input (L, N, H_in) (or batch_first / unbatched), (h_0, c_0) -> output (L, N, D * H_out), (h_n, c_n) with
        h_n (D * num_layers, N, H_out), c_n (D * num_layers, N, hidden_size), H_out = proj_size or hidden_size.

    Example:
        >>> out, (h_n, c_n) = nn.LSTM(32, 128, batch_first=True)(lamina.randn(4, 50, 32))
        >>> out.shape
        (4, 50, 128)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, (h0, c0), batched = self._prepare(input, hx, 2)
        output, h_n, c_n = F.lstm(input, None if h0 is None else (h0, c0), *self._args())
        return self._finish(output, (h_n, c_n), batched)


class GRU(RNNBase):
    """A multi-layer GRU: r, z = σ(...), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional: as for ``RNN``.

    Example:
        >>> out, h_n = nn.GRU(10, 20, bidirectional=True)(lamina.randn(5, 3, 10))
        >>> out.shape, h_n.shape
        ((5, 3, 40), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("GRU: proj_size argument is only supported for LSTM, not RNN or GRU")
        if kwargs:
            raise TypeError(f"GRU: unexpected keyword argument(s) {', '.join(kwargs)}")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, (h0,), batched = self._prepare(input, hx, 1)
        output, h_n = F.gru(input, h0, *self._args())
        output, (h_n,) = self._finish(output, (h_n,), batched)
        return output, h_n


# ----------------------------------------------------------------------------- cells


class RNNCellBase(Module):
    """Shared body of the cells: weight_ih (chunks * hidden, input), weight_hh, bias_ih, bias_hh."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        _check_size(name, "input_size", input_size)
        _check_size(name, "hidden_size", hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        g = num_chunks * hidden_size
        self.weight_ih = Parameter(lamina.empty(g, input_size, dtype=dtype, device=device))
        self.weight_hh = Parameter(lamina.empty(g, hidden_size, dtype=dtype, device=device))
        if bias:
            self.bias_ih = Parameter(lamina.empty(g, dtype=dtype, device=device))
            self.bias_hh = Parameter(lamina.empty(g, dtype=dtype, device=device))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size)
        with lamina.no_grad():
            for weight in self.parameters():
                weight.uniform_(-stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, states):
        """Validate; add the batch dimension to unbatched input; return (input, states, batched)."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        for i, s in enumerate(states):
            if s is not None and s.dim() not in (1, 2):
                what = "hidden" if len(states) == 1 else f"hx[{i}]"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {s.dim()}D instead")
        if input.dtype != self.weight_ih.dtype:
            raise ValueError(f"{name}: input dtype ({input.dtype}) does not match weight dtype "
                             f"({self.weight_ih.dtype})")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
            states = tuple(None if s is None else s.unsqueeze(0) for s in states)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got {input.shape[1]} expected "
                               f"{self.input_size}")
        for i, s in enumerate(states):
            if s is None:
                continue
            if s.dim() != 2 or s.shape[1] != self.hidden_size:
                raise RuntimeError(f"{name}: hidden{i} has inconsistent hidden_size: got {s.shape[-1]}, expected "
                                   f"{self.hidden_size}")
            if s.shape[0] != input.shape[0]:
                raise RuntimeError(f"{name}: Input batch size {input.shape[0]} doesn't match hidden{i} batch size "
                                   f"{s.shape[0]}")
            if s.dtype != input.dtype:
                raise ValueError(f"{name}: hidden{i} dtype ({s.dtype}) does not match input dtype ({input.dtype})")
        return input, states, batched

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh) (or ReLU).

    Args:
        input_size: features of the input x.
        hidden_size: features of the hidden state h.
        bias: learn b_ih and b_hh. Default: True.
        nonlinearity: 'tanh' or 'relu'. Default: 'tanh'.

    Shape:
        input (N, input_size) or (input_size), hidden (N, hidden_size) or None -> h' (N, hidden_size).

    Example:
        >>> nn.RNNCell(10, 20)(lamina.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        input, (h,), batched = self._prepare(input, (hx,))
        fn = F.rnn_tanh_cell if self.nonlinearity == "tanh" else F.rnn_relu_cell
        out = fn(input, h, *self._weights())
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: i, f, o = σ(...), g = tanh(...), c' = f * c + i * g, h' = o * tanh(c').

    Shape:
        input (N, input_size) or (input_size), (h, c) or None -> (h', c'), each (N, hidden_size).

    Example:
        >>> h, c = nn.LSTMCell(10, 20)(lamina.randn(3, 10))
        >>> h.shape
        (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        states = (None, None) if hx is None else tuple(hx)
        input, (h, c), batched = self._prepare(input, states)
        if (h is None) != (c is None):
            raise ValueError("LSTMCell: hx must be a pair (h, c)")
        h2, c2 = F.lstm_cell(input, None if h is None else (h, c), *self._weights())
        return (h2, c2) if batched else (h2.squeeze(0), c2.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: r, z = σ(...), n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) * n + z * h.

    Shape:
        input (N, input_size) or (input_size), hidden (N, hidden_size) or None -> h' (N, hidden_size).

    Example:
        >>> nn.GRUCell(10, 20)(lamina.randn(3, 10)).shape
        (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        input, (h,), batched = self._prepare(input, (hx,))
        out = F.gru_cell(input, h, *self._weights())
        return out if batched else out.squeeze(0)
