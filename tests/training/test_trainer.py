"""Trainer: per-sample loss averaging, whole-epoch metrics, train/eval modes, predict, grad clipping, errors."""

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.training import LambdaCallback, Trainer
from lamina.training import metrics as M
from tests.training import helpers as H


def test_fit_learns_and_history_has_train_and_val_side_by_side():
    m = H.model()
    trainer = Trainer(m, optim.Adam(m.parameters(), lr=0.05), nn.CrossEntropyLoss(), metrics=["accuracy", "f1"])
    hist = trainer.fit(H.loader(shuffle=True), H.loader(48, seed=1), epochs=5, verbose=0)
    assert hist is trainer.history and hist.epoch == [1, 2, 3, 4, 5] and trainer.epoch == 5
    assert list(hist.history) == ["loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1", "lr"]
    assert all(len(v) == 5 for v in hist.history.values())
    assert hist.history["lr"] == [0.05] * 5
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["val_accuracy"][-1] > 0.9
    assert trainer.global_step == 5 * 6


def test_evaluate_averages_loss_per_sample_and_metrics_over_the_epoch():
    m = H.model()
    trainer = Trainer(m, None, nn.CrossEntropyLoss(), metrics=["accuracy", "top2_accuracy"])
    ds = H.dataset(50)  # batches of 16, 16, 16, 2: an average of batch means would be wrong
    got = trainer.evaluate(lamina.utils.data.DataLoader(ds, batch_size=16))
    x, y = ds.tensors
    with lamina.no_grad():
        out = m(x)
        full = nn.CrossEntropyLoss()(out, y).item()
    assert got["loss"] == pytest.approx(full, rel=1e-6)
    assert got["accuracy"] == M.accuracy(out, y)
    assert got["top2_accuracy"] == M.top_k_accuracy(out, y, k=2)
    assert list(got) == ["loss", "accuracy", "top2_accuracy"]


def test_training_metrics_are_computed_over_all_epoch_outputs():
    seen = []

    def spy(y_pred, y_true):
        seen.append(len(y_true))
        return float(len(y_true))

    m = H.model()
    trainer = Trainer(m, optim.SGD(m.parameters(), lr=0.01), nn.CrossEntropyLoss(), metrics=[spy])
    hist = trainer.fit(H.loader(50), H.loader(20), epochs=1, verbose=0)
    assert hist.history["spy"] == [50.0] and hist.history["val_spy"] == [20.0]
    assert seen == [50, 20]


def test_train_and_eval_modes():
    m = H.model(dropout=0.5)
    modes = []
    trainer = Trainer(m, optim.SGD(m.parameters(), lr=0.01), nn.CrossEntropyLoss(),
                      callbacks=[LambdaCallback(on_batch_start=lambda t, b: modes.append(t.model.training))])
    trainer.fit(H.loader(32), H.loader(32), epochs=2, verbose=0)
    assert modes and all(modes)
    x = H.dataset(32).tensors[0]
    p1, p2 = trainer.predict(H.loader(32)), trainer.predict(x, batch_size=10)
    assert p1.shape == (32, 3) and not p1.requires_grad
    np.testing.assert_array_equal(p1.numpy(), p2.numpy())  # eval mode: dropout off, deterministic
    m.eval()
    with lamina.no_grad():
        np.testing.assert_allclose(p1.numpy(), m(x).numpy(), rtol=1e-6)
    m.train()
    trainer.evaluate(H.loader(32))
    assert m.training  # evaluate and predict restore the mode they found


def test_grad_clip_limits_the_step():
    m = H.model()
    before = H.weights(m)
    opt = optim.SGD(m.parameters(), lr=1.0)
    loss = nn.CrossEntropyLoss()
    trainer = Trainer(m, opt, lambda out, y: loss(out, y) * 1000.0, grad_clip=0.5)
    trainer.fit(H.loader(16, batch_size=16), epochs=1, verbose=0)  # one step
    after = H.weights(m)
    step = np.sqrt(sum(float(np.sum((after[k] - before[k]) ** 2)) for k in before))
    assert step == pytest.approx(0.5, rel=1e-4)


def test_scheduler_stepped_per_epoch_and_logged():
    m = H.model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    trainer = Trainer(m, opt, nn.CrossEntropyLoss(), scheduler=sched)
    hist = trainer.fit(H.loader(32), epochs=3, verbose=0)
    np.testing.assert_allclose(hist.history["lr"], [0.1, 0.05, 0.025])
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0125)


def test_fit_continues_to_the_total_epoch_count():
    m = H.model()
    trainer = Trainer(m, optim.SGD(m.parameters(), lr=0.1), nn.CrossEntropyLoss())
    trainer.fit(H.loader(32), epochs=2, verbose=0)
    trainer.fit(H.loader(32), epochs=3, verbose=0)
    assert trainer.history.epoch == [1, 2, 3]
    with pytest.warns(UserWarning, match="nothing to do"):
        trainer.fit(H.loader(32), epochs=3, verbose=0)


def test_progress_summary_lines_without_a_terminal(capsys):
    m = H.model()
    trainer = Trainer(m, optim.SGD(m.parameters(), lr=0.1), nn.CrossEntropyLoss(), metrics=["accuracy"])
    trainer.fit(H.loader(32), H.loader(16), epochs=2, verbose=True)  # stdout is captured: not a TTY
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 - ") and "loss: " in lines[0] and "val_accuracy: " in lines[0]
    trainer.fit(H.loader(32), epochs=3, verbose=0)
    assert capsys.readouterr().out == ""


def test_progress_bar_forced_on(tmp_path):
    import io

    from lamina.training import ProgressBar

    buf = io.StringIO()
    m = H.model()
    trainer = Trainer(m, optim.SGD(m.parameters(), lr=0.1), nn.CrossEntropyLoss(), metrics=["accuracy"],
                      callbacks=[ProgressBar(enabled=True, file=buf)])
    trainer.fit(H.loader(32, batch_size=8), epochs=2, verbose=0)
    text = buf.getvalue()
    assert "Epoch 1/2" in text and "batch" in text and "accuracy" in text  # the live bar
    assert text.count("Epoch 2/2 - ") == 1  # the summary line


def test_errors():
    m = H.model()
    opt = optim.SGD(m.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        Trainer(m, opt, nn.CrossEntropyLoss(), metrics=["acuracy"])
    with pytest.raises(TypeError, match="model must be a lamina.nn.Module"):
        Trainer(lambda x: x, opt, nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match="callbacks must be Callback"):
        Trainer(m, opt, nn.CrossEntropyLoss(), callbacks=[print])
    trainer = Trainer(m, opt, nn.CrossEntropyLoss(reduction="none"))
    with pytest.raises(ValueError, match="loss_fn must return a scalar Tensor"):
        trainer.fit(H.loader(16), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="no optimizer"):
        Trainer(m, None, nn.CrossEntropyLoss()).fit(H.loader(16), epochs=1)
