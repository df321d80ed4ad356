"""Each callback's behaviour: early stopping, checkpoints, LR scheduling, CSV, TensorBoard, lambdas, order."""

import csv
import math

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from lamina.training import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TensorBoard,
    Trainer,
    read_checkpoint,
)
from tests.training import helpers as H


class Scripted(Callback):
    """Puts a scripted value into the logs (before EarlyStopping/ModelCheckpoint read them) and snapshots weights."""

    order = -50

    def __init__(self, name, values):
        self.name, self.values, self.snapshots = name, values, {}

    def on_epoch_end(self, trainer, epoch, logs):
        logs[self.name] = self.values[epoch - 1]
        self.snapshots[epoch] = H.weights(trainer.model)


def _trainer(callbacks, lr=0.05, **kw):
    m = H.model()
    return Trainer(m, optim.SGD(m.parameters(), lr=lr), nn.CrossEntropyLoss(), callbacks=callbacks, **kw)


def test_early_stopping_stops_at_the_right_epoch_and_restores_best_weights():
    script = Scripted("val_score", [5.0, 4.0, 3.0, 3.5, 3.2, 2.0, 1.0])
    es = EarlyStopping(monitor="val_score", patience=2, restore_best_weights=True)
    trainer = _trainer([es, script])
    trainer.fit(H.loader(32), epochs=7, verbose=0)
    assert trainer.epoch == 5 and es.stopped_epoch == 5 and es.best_epoch == 3 and es.best == 3.0
    final = H.weights(trainer.model)
    for k, v in script.snapshots[3].items():
        np.testing.assert_array_equal(final[k], v)
    assert any(not np.array_equal(final[k], script.snapshots[5][k]) for k in final)


@pytest.mark.parametrize("values,kw,stop", [
    ([0.5, 0.6, 0.6, 0.6, 0.7], {"monitor": "val_accuracy", "patience": 2}, 4),  # mode auto -> max
    ([1.0, 0.95, 0.92, 0.90, 0.5], {"monitor": "val_loss", "patience": 1, "min_delta": 0.1}, 2),
    ([1.0, 0.9, 0.95, 0.95, 0.6], {"monitor": "val_loss", "patience": 2, "baseline": 0.5}, 3),
    ([1.0, 0.9, 0.95, 0.95, 0.6], {"monitor": "val_loss", "patience": 2}, 4),
    ([1.0, 2.0, 3.0, 4.0, 5.0], {"monitor": "val_loss", "patience": 0}, 2),
    ([1.0, 2.0, 3.0, 4.0, 5.0], {"monitor": "val_loss", "patience": 1, "start_from_epoch": 2}, 4),
])
def test_early_stopping_modes_delta_baseline(values, kw, stop):
    script = Scripted(kw["monitor"], values)
    trainer = _trainer([EarlyStopping(**kw), script])
    trainer.fit(H.loader(16), epochs=5, verbose=0)
    assert trainer.epoch == stop


def test_early_stopping_without_the_monitored_value_says_what_is_there():
    trainer = _trainer([EarlyStopping(monitor="val_loss")])
    with pytest.raises(KeyError, match="'val_loss' is not in the logs; available: loss, lr .*pass val_loader"):
        trainer.fit(H.loader(16), epochs=1, verbose=0)


def test_model_checkpoint_files_and_contents(tmp_path):
    ckpt = ModelCheckpoint(tmp_path / "ckpt" / "ep{epoch:02d}-{val_loss:.3f}.safetensors", save_last=True)
    trainer = _trainer([ckpt])
    hist = trainer.fit(H.loader(32), H.loader(16), epochs=3, verbose=0)
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    expected = [f"ep{e:02d}-{v:.3f}.safetensors" for e, v in zip([1, 2, 3], hist.history["val_loss"])]
    assert names == sorted(expected + ["last.safetensors"])
    state = read_checkpoint(tmp_path / "ckpt" / expected[1])
    assert state["epoch"] == 2 and state["history"]["epoch"] == [1, 2]
    last = read_checkpoint(tmp_path / "ckpt" / "last.safetensors")
    assert last["epoch"] == 3
    for k, v in H.weights(trainer.model).items():
        np.testing.assert_array_equal(last["model"][k].numpy(), v)
    best = int(np.argmin(hist.history["val_loss"]))
    assert ckpt.best_model_path.endswith(expected[best])


def test_model_checkpoint_best_only_and_weights_only(tmp_path):
    script = Scripted("val_acc", [0.5, 0.7, 0.6, 0.8])
    ckpt = ModelCheckpoint(tmp_path / "best-{epoch}.safetensors", monitor="val_acc", save_best_only=True,
                           save_weights_only=True)
    trainer = _trainer([ckpt, script])
    trainer.fit(H.loader(16), epochs=4, verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-1.safetensors", "best-2.safetensors",
                                                           "best-4.safetensors"]
    assert ckpt.best == 0.8 and ckpt.best_model_path.endswith("best-4.safetensors")
    sd = lamina.load(tmp_path / "best-2.safetensors")
    for k, v in script.snapshots[2].items():
        np.testing.assert_array_equal(sd[k].numpy(), v)
    with pytest.raises(KeyError, match=r"uses \{val_f1\}"):
        _trainer([ModelCheckpoint(tmp_path / "{val_f1}.safetensors")]).fit(H.loader(16), epochs=1, verbose=0)


def test_learning_rate_scheduler_per_epoch_per_batch_and_function():
    trainer = _trainer([])
    sched = optim.lr_scheduler.StepLR(trainer.optimizer, step_size=1, gamma=0.5)
    trainer.callbacks.append(LearningRateScheduler(sched))
    hist = trainer.fit(H.loader(32, batch_size=8), epochs=3, verbose=0)
    np.testing.assert_allclose(hist.history["lr"], [0.05, 0.025, 0.0125])

    trainer = _trainer([])
    sched = optim.lr_scheduler.StepLR(trainer.optimizer, step_size=1, gamma=0.5)
    cb = LearningRateScheduler(sched, interval="batch")
    trainer.callbacks.append(cb)
    hist = trainer.fit(H.loader(32, batch_size=8), epochs=2, verbose=0)  # 4 batches per epoch
    assert cb.steps == 8
    np.testing.assert_allclose(hist.history["lr"], [0.05, 0.05 * 0.5 ** 4])

    trainer = _trainer([LearningRateScheduler(lambda epoch, lr: 0.1 / epoch)])
    hist = trainer.fit(H.loader(16), epochs=3, verbose=0)
    np.testing.assert_allclose(hist.history["lr"], [0.1, 0.05, 0.1 / 3])


def test_reduce_lr_on_plateau_fed_from_the_monitored_value():
    trainer = _trainer([])
    sched = optim.lr_scheduler.ReduceLROnPlateau(trainer.optimizer, mode="min", factor=0.1, patience=1)
    trainer.callbacks += [LearningRateScheduler(sched, monitor="val_score"),
                          Scripted("val_score", [1.0, 1.0, 1.0, 1.0, 1.0])]
    hist = trainer.fit(H.loader(16), epochs=5, verbose=0)
    np.testing.assert_allclose(hist.history["lr"], [0.05, 0.05, 0.05, 0.005, 0.005])


def test_csv_logger(tmp_path):
    path = tmp_path / "log" / "history.csv"
    trainer = _trainer([CSVLogger(path)], metrics=["accuracy"])
    hist = trainer.fit(H.loader(32), H.loader(16), epochs=3, verbose=0)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr"]
    assert [r[0] for r in rows[1:]] == ["1", "2", "3"]
    for i, key in enumerate(rows[0][1:], start=1):
        assert [float(r[i]) for r in rows[1:]] == hist.history[key]  # repr(float) round-trips exactly
    trainer.callbacks[0].append = True
    trainer.fit(H.loader(32), H.loader(16), epochs=4, verbose=0)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_tensorboard_scalars_read_back(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer = _trainer([TensorBoard(tmp_path / "tb", update_freq="batch")], metrics=["accuracy"])
    hist = trainer.fit(H.loader(32, batch_size=16), H.loader(16), epochs=3, verbose=0)
    acc = EventAccumulator(str(tmp_path / "tb"))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "batch/loss"} <= tags
    for tag, key in (("loss/train", "loss"), ("loss/val", "val_loss"), ("accuracy/val", "val_accuracy")):
        events = acc.Scalars(tag)
        assert [e.step for e in events] == [1, 2, 3]
        np.testing.assert_allclose([e.value for e in events], hist.history[key], rtol=1e-6)
    assert [e.step for e in acc.Scalars("batch/loss")] == [1, 2, 3, 4, 5, 6]


def test_lambda_callback_and_order():
    calls = []
    cb = LambdaCallback(on_fit_start=lambda t: calls.append("fit_start"),
                        on_epoch_start=lambda t, e: calls.append(f"epoch_start{e}"),
                        on_batch_end=lambda t, b, logs: calls.append(f"batch{b}:{logs['size']}"),
                        on_epoch_end=lambda t, e, logs: calls.append(f"epoch_end{e}:{len(t.history)}"),
                        on_fit_end=lambda t: calls.append("fit_end"))
    trainer = _trainer([cb])
    trainer.fit(H.loader(20, batch_size=16), epochs=2, verbose=0)
    assert calls == ["fit_start", "epoch_start1", "batch0:16", "batch1:4", "epoch_end1:1",
                     "epoch_start2", "batch0:16", "batch1:4", "epoch_end2:2", "fit_end"]
    with pytest.raises(TypeError, match="on_epoch_end must be callable"):
        LambdaCallback(on_epoch_end=3)


def test_stop_training_from_a_batch_hook():
    def stop(trainer, batch, logs):
        if trainer.global_step == 3:
            trainer.stop_training = True

    trainer = _trainer([LambdaCallback(on_batch_end=stop)])
    trainer.fit(H.loader(64, batch_size=8), epochs=5, verbose=0)
    assert trainer.epoch == 1 and trainer.global_step == 3 and not math.isnan(trainer.history["loss"][0])
