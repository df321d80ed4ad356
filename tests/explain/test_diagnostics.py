"""Diagnostics on deliberately broken trainings (vanishing, exploding/NaN, dead, saturated, overfitting) and on a
healthy digits CNN (no warning); the measured statistics; the report and its plots."""

import math
import warnings

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.explain import Diagnostics, TrainingWarning
from lamina.training import Trainer
from lamina.utils.data import DataLoader, TensorDataset


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 16).astype(np.float32)[:, None], d.target.astype(np.int64)


def _loader(x, y, batch_size=32, shuffle=True):
    return DataLoader(TensorDataset(lamina.tensor(x), lamina.tensor(y)), batch_size=batch_size, shuffle=shuffle,
                      generator=lamina.Generator().manual_seed(0))


def _fit(model, opt, train, val=None, epochs=1, **kw):
    diag = Diagnostics(warn=False, **kw)
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy"], callbacks=[diag])
    history = trainer.fit(train, val, epochs=epochs, verbose=False)
    return diag, trainer, history


def _kinds(diag):
    return [f.kind for f in diag.findings]


def test_deep_sigmoid_mlp_is_flagged_vanishing_in_its_early_layers(digits):
    x, y = digits
    lamina.manual_seed(0)
    layers = []
    for i in range(20):
        layers += [nn.Linear(64 if i == 0 else 32, 32), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(32, 10))
    diag = Diagnostics()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), callbacks=[diag])
    with pytest.warns(TrainingWarning, match=r"Vanishing gradients in layer\(s\) 0 \(Linear\), 2 \(Linear\)"):
        trainer.fit(_loader(x[:256].reshape(256, 64), y[:256]), epochs=1, verbose=False)
    (finding,) = [f for f in diag.findings if f.kind == "vanishing"]
    assert finding.layers[:3] == ("0 (Linear)", "2 (Linear)", "4 (Linear)")  # the early layers
    assert "40 (Linear)" not in finding.layers  # the output layer still learns
    assert any("Xavier" in r or "He (Kaiming)" in r for r in finding.remedies)
    assert any("batch normalisation" in r for r in finding.remedies)
    grads = diag.epoch_stats["grad_norm"]
    assert grads["0 (Linear)"][0] < 1e-6 * grads["40 (Linear)"][0]
    assert "nan" not in _kinds(diag) and "exploding" not in _kinds(diag)


def test_sgd_with_lr_10_is_flagged_exploding_or_nan(digits):
    x, y = digits
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    diag, _, _ = _fit(model, optim.SGD(model.parameters(), lr=10), _loader(x[:256], y[:256]), epochs=2)
    flagged = [f for f in diag.findings if f.kind in ("exploding", "nan")]
    assert flagged, diag.report()
    assert any("learning rate" in r for r in flagged[0].remedies)
    assert any("clip" in r for r in flagged[0].remedies)


def test_relu_net_with_biases_minus_10_is_flagged_dead(digits):
    x, y = digits
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 48), nn.ReLU(), nn.Linear(48, 10))
    for i in (1, 3):
        model[i].bias.data.fill_(-10.0)
    diag, _, _ = _fit(model, optim.SGD(model.parameters(), lr=0.05), _loader(x[:256], y[:256]))
    dead = [f for f in diag.findings if f.kind == "dead"]
    assert [f.layers for f in dead] == [("2 (ReLU)",), ("4 (ReLU)",)]
    assert "100% of its units output zero" in dead[0].message
    assert any("LeakyReLU or ELU" in r for r in dead[0].remedies)
    assert diag.activation_stats["2 (ReLU)"]["dead"] == [1.0]


def test_nan_loss_names_the_op_and_layer_and_stops():
    class Log(nn.Module):
        def forward(self, x):
            return x.log()

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 6)).astype(np.float32), rng.integers(0, 3, 64)
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), Log(), nn.Linear(8, 3))
    with np.errstate(invalid="ignore"):
        diag, trainer, _ = _fit(model, optim.SGD(model.parameters(), lr=0.1), _loader(x, y, shuffle=False),
                                epochs=3)
    (finding,) = diag.findings
    assert finding.kind == "nan" and finding.layers == ("1 (Log)",)
    assert "traced it to the op 'Log' (forward) in layer 1 (Log)" in finding.message
    assert trainer.global_step == 1 and trainer.stop_training
    assert trainer.loss_fn is diag._loss_fn  # the trainer's loss function is given back


def test_nan_gradient_names_the_backward_op():
    class Sqrt0(nn.Module):
        def forward(self, x):
            return (x * 0).sqrt() + x  # finite forward, infinite derivative of sqrt at 0

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((64, 6)).astype(np.float32), rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(6, 8), Sqrt0(), nn.Linear(8, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        diag, _, _ = _fit(model, optim.SGD(model.parameters(), lr=0.1), _loader(x, y, shuffle=False))
    assert _kinds(diag) == ["nan"]
    assert "The gradients became NaN/Inf" in diag.findings[0].message and "'Sqrt" in diag.findings[0].message


def test_large_sigmoid_weights_are_flagged_saturated(digits):
    x, y = digits
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10))
    model[1].weight.data.mul_(30.0)
    diag, _, _ = _fit(model, optim.SGD(model.parameters(), lr=0.01), _loader(x[:256], y[:256]))
    (finding,) = [f for f in diag.findings if f.kind == "saturated"]
    assert finding.layers == ("2 (Sigmoid)",) and diag.activation_stats["2 (Sigmoid)"]["saturated"][0] > 0.5


def test_large_net_on_100_samples_is_flagged_overfitting(digits):
    x, y = digits
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    diag, _, history = _fit(model, optim.Adam(model.parameters(), lr=1e-2), _loader(x[:100], y[:100], 50),
                            _loader(x[1000:1200], y[1000:1200], 200, shuffle=False), epochs=16)
    (finding,) = [f for f in diag.findings if f.kind == "overfitting"]
    assert "the validation loss rose from" in finding.message and "while the training loss fell" in finding.message
    assert any("EarlyStopping" in r for r in finding.remedies) and any("dropout" in r for r in finding.remedies)
    assert any("weight decay" in r for r in finding.remedies)
    val, train = history.history["val_loss"], history.history["loss"]
    best = int(np.argmin(val[:finding.epoch]))
    assert val[finding.epoch - 1] > val[best] and train[finding.epoch - 1] < train[best]


def test_healthy_digits_cnn_gives_no_warning_and_writes_the_report(digits, tmp_path):
    x, y = digits
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    diag = Diagnostics(out_dir=tmp_path)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=5e-3), nn.CrossEntropyLoss(), metrics=["accuracy"],
                      callbacks=[diag])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingWarning)
        history = trainer.fit(_loader(x[:1000], y[:1000]), _loader(x[1200:1500], y[1200:1500], 300, False),
                              epochs=5, verbose=False)
    assert diag.findings == []
    assert history.history["val_accuracy"][-1] > 0.8
    report = (tmp_path / "diagnostics.txt").read_text()
    assert "No problems found" in report and "0 (Conv2d)" in report and "9 (Linear)" in report
    assert (tmp_path / "diagnostics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(diag.steps) == 5 * 32 and len(diag.step_stats["grad_norm"]["0 (Conv2d)"]) == 5 * 32
    assert set(diag.activation_stats) == {"1 (ReLU)", "4 (ReLU)", "8 (ReLU)"}


def test_update_ratio_and_norms_are_what_sgd_did():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 5)).astype(np.float32), rng.integers(0, 3, 16)
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))
    before = [p.detach().numpy().copy() for p in model[0].parameters()]
    grads = []

    class Grab(lamina.training.Callback):
        def on_batch_end(self, trainer, batch, logs):
            grads.append([p.grad.numpy().copy() for p in model[0].parameters()])

    diag = Diagnostics(warn=False)
    Trainer(model, optim.SGD(model.parameters(), lr=0.5), nn.CrossEntropyLoss(), callbacks=[diag, Grab()]).fit(
        _loader(x, y, 16, False), epochs=1, verbose=False)
    gnorm = math.sqrt(sum(float((g ** 2).sum()) for g in grads[0]))
    wnorm = math.sqrt(sum(float((w ** 2).sum()) for w in before))
    after = math.sqrt(sum(float((p.detach().numpy() ** 2).sum()) for p in model[0].parameters()))
    assert diag.step_stats["grad_norm"]["0 (Linear)"][0] == pytest.approx(gnorm, rel=1e-5)
    assert diag.step_stats["update_ratio"]["0 (Linear)"][0] == pytest.approx(0.5 * gnorm / wnorm, rel=1e-4)
    assert diag.step_stats["weight_norm"]["0 (Linear)"][0] == pytest.approx(after, rel=1e-5)
    assert diag.epoch_stats["grad_norm"]["0 (Linear)"][0] == pytest.approx(gnorm / math.sqrt(5 * 4 + 4), rel=1e-5)


def test_every_n_batches_and_bad_options():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((64, 5)).astype(np.float32), rng.integers(0, 3, 64)
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    diag, _, _ = _fit(model, optim.SGD(model.parameters(), lr=0.1), _loader(x, y, 8), every_n_batches=3, epochs=1)
    assert diag.steps == [3, 6]
    for kw, msg in (({"every_n_batches": 0}, "every_n_batches must be a positive int"),
                    ({"dead_fraction": 1.5}, r"dead_fraction must be in \[0, 1\)"),
                    ({"vanishing_ratio": 0}, "vanishing_ratio must be > 0"),
                    ({"overfit_patience": 0}, "overfit_patience must be a positive int")):
        with pytest.raises(ValueError, match="Diagnostics: " + msg):
            Diagnostics(**kw)
