"""Recurrent models: RNN/LSTM/GRU sequence classifiers (an image read row by row) and an LSTM forecaster."""

import math

import lamina
from lamina import nn
from lamina.models.registry import register_model

__all__ = ["SequenceClassifier", "LSTMForecaster", "rnn", "lstm", "gru", "lstm_forecaster"]

_CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _check_dropout(owner, dropout):
    if not 0 <= dropout < 1:
        raise ValueError(f"{owner}: dropout must be in [0, 1), got {dropout}")


class SequenceClassifier(nn.Module):
    """A recurrent network (``nn.RNN``, ``nn.LSTM`` or ``nn.GRU``) whose last hidden state is classified.

    Images (N, C, H, W) are read as sequences of H steps of C * W features (MNIST: 28 rows of 28 pixels);
    sequences (N, L, input_size) are taken as they are. The output at the last step (both directions' final
    states when bidirectional) goes through optional dropout to ``Linear(hidden, num_classes)``.

    Args:
        mode: ``"rnn"``, ``"lstm"`` or ``"gru"``.
        input_size: features per step.
        num_classes: number of classes.
        hidden_size: features of the hidden state. Default: 128.
        num_layers: stacked recurrent layers. Default: 1.
        bidirectional: also read the sequence backwards. Default: False.
        dropout: dropout between recurrent layers and before the classifier. Default: 0.
        nonlinearity: ``"tanh"`` or ``"relu"``, for ``mode="rnn"`` only. Default: ``"tanh"``.

    Shape:
        input (N, L, input_size) or (N, C, L, W) with C * W = input_size -> output (N, num_classes)

    Example:
        >>> SequenceClassifier("lstm", 28, 10)(lamina.randn(4, 1, 28, 28)).shape
        (4, 10)
    """

    def __init__(self, mode, input_size, num_classes, hidden_size=128, num_layers=1, bidirectional=False,
                 dropout=0.0, nonlinearity="tanh"):
        super().__init__()
        if mode not in _CELLS:
            raise ValueError(f"SequenceClassifier: mode must be one of {', '.join(map(repr, _CELLS))}, got {mode!r}")
        _check_dropout("SequenceClassifier", dropout)
        if nonlinearity != "tanh" and mode != "rnn":
            raise ValueError(f"SequenceClassifier: nonlinearity is an option of mode='rnn' only, got mode={mode!r} "
                             f"and nonlinearity={nonlinearity!r}")
        self.mode, self.input_size = mode, int(input_size)
        extra = {"nonlinearity": nonlinearity} if mode == "rnn" else {}
        self.rnn = getattr(nn, _CELLS[mode])(self.input_size, int(hidden_size), int(num_layers), batch_first=True,
                                            dropout=dropout if num_layers > 1 else 0.0, bidirectional=bidirectional,
                                            **extra)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.fc = nn.Linear(int(hidden_size) * (2 if bidirectional else 1), int(num_classes))

    def forward(self, x):
        if x.ndim == 4 and x.shape[1] * x.shape[3] == self.input_size:
            n, c, length, w = x.shape
            x = x.permute(0, 2, 1, 3).reshape(n, length, c * w) if c > 1 else x.reshape(n, length, w)
        elif x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"SequenceClassifier: expected input of shape (N, L, {self.input_size}) or images "
                             f"(N, C, L, W) with C * W = {self.input_size}, got {tuple(x.shape)}")
        out, _ = self.rnn(x)
        h = self.rnn.hidden_size
        if self.rnn.bidirectional:
            # forward direction ends at the last step, the backward one at the first
            last = lamina.cat([out[:, -1, :h], out[:, 0, h:]], 1)
        else:
            last = out[:, -1]
        if self.dropout is not None:
            last = self.dropout(last)
        return self.fc(last)


class LSTMForecaster(nn.Module):
    """An LSTM over a window of past values and a linear head that forecasts the next ``horizon`` values.

    Args:
        input_size: features per time step (1 for a univariate series). Default: 1.
        horizon: values to forecast. Default: 1.
        hidden_size: features of the LSTM's hidden state. Default: 32.
        num_layers: stacked LSTM layers. Default: 1.
        dropout: dropout between LSTM layers and before the head. Default: 0.

    Shape:
        input (N, window, input_size) -> output (N, horizon)

    Example:
        >>> LSTMForecaster(1, horizon=3)(lamina.randn(8, 20, 1)).shape
        (8, 3)
    """

    def __init__(self, input_size=1, horizon=1, hidden_size=32, num_layers=1, dropout=0.0):
        super().__init__()
        _check_dropout("LSTMForecaster", dropout)
        self.input_size, self.horizon = int(input_size), int(horizon)
        self.lstm = nn.LSTM(self.input_size, int(hidden_size), int(num_layers), batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        self.head = nn.Linear(int(hidden_size), self.horizon)

    def forward(self, x):
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"LSTMForecaster: expected input of shape (N, window, {self.input_size}), got "
                             f"{tuple(x.shape)}")
        out, _ = self.lstm(x)
        last = out[:, -1]
        if self.dropout is not None:
            last = self.dropout(last)
        return self.head(last)


def _sequence_shape(owner, input_shape):
    """(steps, features per step) of an input shape: (L, F) sequences or (C, H, W) images read row by row."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:
        return shape
    if len(shape) == 3:
        return shape[1], shape[0] * shape[2]
    raise ValueError(f"{owner}: input_shape must be (L, features) or images (C, H, W), got {shape}")


@register_model("rnn")
def rnn(input_shape=(1, 28, 28), num_classes=10, hidden_size=128, num_layers=1, bidirectional=False, dropout=0.0,
        nonlinearity="tanh"):
    """An Elman RNN sequence classifier; (C, H, W) images are read as H steps of C * W features."""
    _, features = _sequence_shape("rnn", input_shape)
    return SequenceClassifier("rnn", features, num_classes, hidden_size, num_layers, bidirectional, dropout,
                              nonlinearity)


@register_model("lstm")
def lstm(input_shape=(1, 28, 28), num_classes=10, hidden_size=128, num_layers=1, bidirectional=False, dropout=0.0):
    """An LSTM sequence classifier; (C, H, W) images are read as H steps of C * W features (MNIST: 28 rows)."""
    _, features = _sequence_shape("lstm", input_shape)
    return SequenceClassifier("lstm", features, num_classes, hidden_size, num_layers, bidirectional, dropout)


@register_model("gru")
def gru(input_shape=(1, 28, 28), num_classes=10, hidden_size=128, num_layers=1, bidirectional=False, dropout=0.0):
    """A GRU sequence classifier; (C, H, W) images are read as H steps of C * W features (MNIST: 28 rows)."""
    _, features = _sequence_shape("gru", input_shape)
    return SequenceClassifier("gru", features, num_classes, hidden_size, num_layers, bidirectional, dropout)


@register_model("lstm_forecaster")
def lstm_forecaster(input_shape=(20, 1), horizon=1, hidden_size=32, num_layers=1, dropout=0.0):
    """An LSTM forecaster over windows of shape (window, features), e.g. ``lamina.datasets.Sunspots``."""
    if len(input_shape) != 2 or math.prod(input_shape) < 1:
        raise ValueError(f"lstm_forecaster: input_shape must be (window, features), got {tuple(input_shape)}")
    return LSTMForecaster(int(input_shape[1]), horizon, hidden_size, num_layers, dropout)
