"""The classic catalogue (LeNet-5, RNN/LSTM/GRU sequence classifiers, LSTM forecaster): each model equals a
PyTorch twin built from the paper's description (same weights -> same outputs and gradients, float64), sizes
itself from the input, and rejects bad inputs with a clear message."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.models import LeNet5, LSTMForecaster, SequenceClassifier, get_model, list_models
from tests.conftest import torch
from tests.nn._parity import layer_parity

tnn = torch.nn


class _TorchLeNet(tnn.Module):
    def __init__(self, in_channels, num_classes, pad2, feat, act=tnn.ReLU, pool=tnn.MaxPool2d):
        super().__init__()
        self.features = tnn.Sequential(tnn.Conv2d(in_channels, 6, 5, padding=2), act(), pool(2),
                                       tnn.Conv2d(6, 16, 5, padding=pad2), act(), pool(2))
        self.classifier = tnn.Sequential(tnn.Linear(16 * feat * feat, 120), act(), tnn.Linear(120, 84), act(),
                                         tnn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class _TorchSequenceClassifier(tnn.Module):
    def __init__(self, cls, input_size, hidden, num_classes, num_layers=1, bidirectional=False, **kw):
        super().__init__()
        self.rnn = cls(input_size, hidden, num_layers, batch_first=True, bidirectional=bidirectional, **kw)
        self.fc = tnn.Linear(hidden * (2 if bidirectional else 1), num_classes)

    def forward(self, x):
        if x.dim() == 4:  # images: rows are the steps, each row holds every channel's pixels
            x = x.permute(0, 2, 1, 3).flatten(2)
        _, h = self.rnn(x)
        h = h[0] if isinstance(h, tuple) else h  # h_n: (layers * directions, N, hidden)
        last = torch.cat([h[-2], h[-1]], 1) if self.rnn.bidirectional else h[-1]
        return self.fc(last)


class _TorchForecaster(tnn.Module):
    def __init__(self, input_size, hidden, horizon, num_layers):
        super().__init__()
        self.lstm = tnn.LSTM(input_size, hidden, num_layers, batch_first=True)
        self.head = tnn.Linear(hidden, horizon)

    def forward(self, x):
        return self.head(self.lstm(x)[0][:, -1])


def test_registered():
    assert {"lenet5", "rnn", "lstm", "gru", "lstm_forecaster"} <= set(list_models())


@pytest.mark.parametrize("shape,pad2,feat,kind", [((1, 28, 28), 0, 5, "max"), ((1, 8, 8), 2, 2, "max"),
                                                   ((3, 12, 12), 2, 3, "avg")])
def test_lenet5_matches_torch(rng, shape, pad2, feat, kind):
    act = "tanh" if kind == "avg" else "relu"
    model = get_model("lenet5", input_shape=shape, num_classes=7, activation=act, pool=kind).double()
    assert isinstance(model, LeNet5) and model.num_features == 16 * feat * feat
    ref = _TorchLeNet(shape[0], 7, pad2, feat, tnn.Tanh if act == "tanh" else tnn.ReLU,
                      tnn.AvgPool2d if kind == "avg" else tnn.MaxPool2d).double()
    layer_parity(model, ref, rng.standard_normal((3, *shape)), rtol=1e-6)


def test_lenet5_options_and_errors():
    m = get_model("lenet5", input_shape=(1, 8, 8), dropout=0.5)
    assert [type(x).__name__ for x in m.classifier] == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
                                                        "Linear"]
    m.eval()
    x = lamina.randn(4, 1, 8, 8)
    assert np.array_equal(m(x).detach().numpy(), m(x).detach().numpy())  # no dropout in eval mode
    with pytest.raises(ValueError, match=r"LeNet5: expected input of shape \(N, 1, 8, 8\), got \(4, 1, 9, 8\)"):
        m(lamina.randn(4, 1, 9, 8))
    with pytest.raises(ValueError, match="LeNet5: pool must be 'max' or 'avg', got 'min'"):
        get_model("lenet5", pool="min")
    with pytest.raises(ValueError, match="lenet5: input_shape must be"):
        get_model("lenet5", input_shape=(28, 28))
    with pytest.raises(ValueError, match="LeNet5: input_size must be"):
        get_model("lenet5", input_shape=(1, 3, 3))


@pytest.mark.parametrize("mode,layers,bidirectional,image", [
    ("rnn", 1, False, (1, 6, 5)), ("lstm", 2, False, None), ("gru", 1, True, (2, 6, 3)), ("lstm", 1, True, (1, 4, 5))])
def test_sequence_classifier_matches_torch(rng, mode, layers, bidirectional, image):
    shape = image or (6, 5)  # (C, H, W) images are read row by row as H steps of C * W features
    model = get_model(mode, input_shape=shape, num_classes=4, hidden_size=7, num_layers=layers,
                      bidirectional=bidirectional).double()
    assert isinstance(model, SequenceClassifier)
    cls = {"rnn": tnn.RNN, "lstm": tnn.LSTM, "gru": tnn.GRU}[mode]
    ref = _TorchSequenceClassifier(cls, 5 if image is None else image[0] * image[2], 7, 4, layers,
                                   bidirectional).double()
    layer_parity(model, ref, rng.standard_normal((3, *shape)), rtol=1e-6)


def test_sequence_classifier_relu_dropout_and_errors(rng):
    model = get_model("rnn", input_shape=(1, 5, 4), num_classes=3, hidden_size=6, nonlinearity="relu",
                      num_layers=2, dropout=0.3).double()
    assert model.rnn.nonlinearity == "relu" and model.rnn.dropout == 0.3 and model.dropout.p == 0.3
    model.eval()  # dropout off: the torch twin without dropout gives the same result
    ref = _TorchSequenceClassifier(tnn.RNN, 4, 6, 3, 2, nonlinearity="relu").double()
    model.load_state_dict({k: lamina.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    x = rng.standard_normal((2, 1, 5, 4))
    expected = ref(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(model(lamina.tensor(x)).detach().numpy(), expected, rtol=1e-7)
    with pytest.raises(ValueError, match=r"SequenceClassifier: expected input of shape \(N, L, 4\) or images"):
        model(lamina.randn(2, 5, 3, dtype=lamina.float64))
    with pytest.raises(ValueError, match="nonlinearity is an option of mode='rnn' only"):
        SequenceClassifier("lstm", 4, 3, nonlinearity="relu")
    with pytest.raises(ValueError, match="mode must be one of 'rnn', 'lstm', 'gru', got 'transformer'"):
        SequenceClassifier("transformer", 4, 3)
    with pytest.raises(ValueError, match="lstm: input_shape must be"):
        get_model("lstm", input_shape=(28,))


def test_lstm_forecaster_matches_torch(rng):
    model = get_model("lstm_forecaster", input_shape=(9, 2), horizon=3, hidden_size=5, num_layers=2).double()
    assert isinstance(model, LSTMForecaster)
    layer_parity(model, _TorchForecaster(2, 5, 3, 2).double(), rng.standard_normal((4, 9, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match=r"LSTMForecaster: expected input of shape \(N, window, 2\), got \(4, 9\)"):
        model(lamina.randn(4, 9, dtype=lamina.float64))
    with pytest.raises(ValueError, match="lstm_forecaster: input_shape must be"):
        get_model("lstm_forecaster", input_shape=(1, 28, 28))


def test_models_train_float32_end_to_end():
    """One Adam step on each model keeps float32 and lowers the loss on a fixed batch."""
    from lamina import optim

    lamina.manual_seed(0)
    x_img = lamina.rand(16, 1, 8, 8)
    y_img = lamina.randint(0, 10, (16,))
    cases = [(get_model("lenet5", input_shape=(1, 8, 8)), x_img, y_img, nn.CrossEntropyLoss()),
             (get_model("gru", input_shape=(1, 8, 8), hidden_size=16), x_img, y_img, nn.CrossEntropyLoss()),
             (get_model("lstm_forecaster", input_shape=(6, 1), hidden_size=8), lamina.randn(16, 6, 1),
              lamina.randn(16, 1), nn.MSELoss())]
    for model, x, y, loss_fn in cases:
        opt = optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(5):
            opt.zero_grad()
            out = model(x)
            assert out.dtype is lamina.float32
            loss = loss_fn(out, y)
            loss.backward()
            assert all(p.grad is not None and p.grad.dtype is lamina.float32 for p in model.parameters())
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < losses[0], (type(model).__name__, losses)
