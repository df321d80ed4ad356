"""Callbacks: code that runs at fixed points of ``Trainer.fit`` (start/end of the fit, of each epoch, of each batch).

Epochs are numbered from 1. Every hook receives the trainer first; ``logs`` holds the epoch's values
(``loss``, metrics, ``val_loss``, ``val_<metric>``, ``lr``) or, for batch hooks, the batch's (``loss``, ``size``).
A callback stops training by setting ``trainer.stop_training = True``.

Callbacks run in ascending ``order`` (stable for equal orders): ``History`` first (-100) so that every other
callback sees the epoch recorded, ``ModelCheckpoint`` last (100) so that a checkpoint captures the state after
every other callback (a learning-rate step, an early-stopping counter) and a run resumed from it continues exactly.
A callback with state worth resuming returns it from ``state_dict()``; the trainer stores it in checkpoints.
"""

import csv
import math
import os

import numpy as np

__all__ = ["Callback", "LambdaCallback", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "CSVLogger", "TensorBoard", "step_scheduler"]


class Callback:
    """Base class: override the hooks you need; each receives the ``Trainer``."""

    order = 0

    def on_fit_start(self, trainer):
        pass

    def on_fit_end(self, trainer):
        pass

    def on_epoch_start(self, trainer, epoch):
        pass

    def on_epoch_end(self, trainer, epoch, logs):
        pass

    def on_batch_start(self, trainer, batch):
        pass

    def on_batch_end(self, trainer, batch, logs):
        pass

    def state_dict(self):
        """State to store in training checkpoints (JSON-like data and tensors); ``{}`` when stateless."""
        return {}

    def load_state_dict(self, state):
        pass


class LambdaCallback(Callback):
    """A callback from plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda trainer, epoch, logs: ...)``."""

    def __init__(self, on_fit_start=None, on_fit_end=None, on_epoch_start=None, on_epoch_end=None,
                 on_batch_start=None, on_batch_end=None):
        for name, fn in (("on_fit_start", on_fit_start), ("on_fit_end", on_fit_end),
                         ("on_epoch_start", on_epoch_start), ("on_epoch_end", on_epoch_end),
                         ("on_batch_start", on_batch_start), ("on_batch_end", on_batch_end)):
            if fn is not None:
                if not callable(fn):
                    raise TypeError(f"LambdaCallback: {name} must be callable, got {type(fn).__name__}")
                setattr(self, name, fn)


def _resolve_mode(mode, monitor, who):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor[4:] if monitor.startswith("val_") else monitor
    higher = ("acc", "accuracy", "precision", "recall", "f1", "r2", "auc")
    return "max" if name.startswith(higher) or "accuracy" in name or name.endswith(higher) else "min"


def _monitored(logs, monitor, who):
    if monitor not in logs:
        hint = " (pass val_loader to fit, or monitor a training value)" if monitor.startswith("val_") else ""
        raise KeyError(f"{who}: monitored value {monitor!r} is not in the logs; available: "
                       f"{', '.join(logs) or 'none'}{hint}")
    return float(logs[monitor])


def _is_better(current, best, mode, min_delta):
    if math.isnan(current):
        return False
    if mode == "min":
        return current < best - min_delta
    return current > best + min_delta


def _copy_state(model):
    from lamina.tensor import Tensor

    return {k: Tensor._make(v._data.copy(), False, None, 0) for k, v in model.state_dict().items()}


class EarlyStopping(Callback):
    """Stop training when a monitored value has stopped improving for ``patience`` epochs (Keras semantics).

    Args:
        monitor: the log to watch. Default: ``"val_loss"``.
        min_delta: smallest change that counts as an improvement. Default: 0.
        patience: epochs without improvement after which training stops. Default: 0.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracy/precision/recall/f1/r2, min otherwise).
        baseline: the value to beat; the wait counter restarts only on epochs that beat it.
        restore_best_weights: when fit ends (stopped early or not), load the weights of the best epoch.
        start_from_epoch: epochs to wait (warm-up) before watching.
        verbose: print a line when stopping.

    Example:
        >>> trainer = Trainer(model, opt, loss, callbacks=[EarlyStopping(patience=3, restore_best_weights=True)])
    """

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0, verbose=False):
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self._reset()

    def _reset(self):
        self.wait = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.stopped_epoch = 0
        self.best_weights = None

    def on_fit_start(self, trainer):
        if not trainer.resumed:
            self._reset()

    def on_epoch_end(self, trainer, epoch, logs):
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if epoch <= self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_state(trainer.model)  # as Keras: the first watched epoch is the fallback
        self.wait += 1
        if _is_better(current, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _copy_state(trainer.model)
            if self.baseline is None or _is_better(current, self.baseline, self.mode, self.min_delta):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 1:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            if self.verbose:
                print(f"EarlyStopping: {self.monitor} has not improved for {self.wait} epoch(s); stopping after "
                      f"epoch {epoch} (best {self.best:.6g} at epoch {self.best_epoch})", flush=True)

    def on_fit_end(self, trainer):
        if self.restore_best_weights and self.best_weights is not None:
            trainer.model.load_state_dict(self.best_weights)
            if self.verbose:
                print(f"EarlyStopping: restored the weights of epoch {self.best_epoch}", flush=True)

    def state_dict(self):
        return {"wait": self.wait, "best": self.best, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state):
        self.wait, self.best = state["wait"], state["best"]
        self.best_epoch, self.stopped_epoch = state["best_epoch"], state["stopped_epoch"]
        self.best_weights = state.get("best_weights")


class _Formatter(dict):
    def __missing__(self, key):
        raise KeyError(key)


class ModelCheckpoint(Callback):
    """Write training checkpoints (atomically) during ``fit``.

    Args:
        filepath: where to write; ``str.format`` fields ``{epoch}`` and any log (``{val_loss:.4f}``) are filled in.
            Default: ``"checkpoints/epoch{epoch:03d}.safetensors"``.
        monitor: the log that decides which checkpoint is best. Default: ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (as in ``EarlyStopping``).
        save_best_only: write only when ``monitor`` improves.
        save_last: also write ``last.safetensors`` in the folder of ``filepath`` after every epoch.
        save_weights_only: write only ``model.state_dict()`` instead of a full training checkpoint
            (model, optimizer, scheduler, epoch, RNG states, history, callbacks) that ``fit(resume_from=...)`` takes.
        every_n_epochs: write every n-th epoch. Default: 1.
        verbose: print a line for each file written.

    After fit: ``best_model_path``, ``best`` (value of ``monitor``), ``last_model_path``.
    """

    order = 100

    def __init__(self, filepath="checkpoints/epoch{epoch:03d}.safetensors", monitor="val_loss", mode="auto",
                 save_best_only=False, save_last=False, save_weights_only=False, every_n_epochs=1, verbose=False):
        if every_n_epochs < 1:
            raise ValueError(f"ModelCheckpoint: every_n_epochs must be >= 1, got {every_n_epochs}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.save_best_only = save_best_only
        self.save_last = save_last
        self.save_weights_only = save_weights_only
        self.every_n_epochs = int(every_n_epochs)
        self.verbose = verbose
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_model_path = None
        self.last_model_path = None

    def format_path(self, epoch, logs):
        try:
            return self.filepath.format_map(_Formatter(logs, epoch=epoch))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} uses {{{e.args[0]}}}, which is not in the "
                           f"logs; available: epoch, {', '.join(logs)}") from None

    def _write(self, trainer, path):
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            from lamina.serialization import save

            save(trainer.model.state_dict(), path)
        else:
            trainer.save_checkpoint(path)
        if self.verbose:
            print(f"ModelCheckpoint: saved {path}", flush=True)

    def on_epoch_end(self, trainer, epoch, logs):
        if epoch % self.every_n_epochs == 0:
            current = logs.get(self.monitor)
            improved = current is not None and _is_better(float(current), self.best, self.mode, 0.0)
            if self.save_best_only and current is None:
                _monitored(logs, self.monitor, "ModelCheckpoint")
            if improved:
                self.best = float(current)
            if improved or not self.save_best_only:
                path = self.format_path(epoch, logs)
                self._write(trainer, path)
                if improved or current is None:  # without the monitored value, the latest file stands in
                    self.best_model_path = path
        if self.save_last:
            self.last_model_path = os.path.join(os.path.dirname(self.filepath) or ".", "last.safetensors")
            self._write(trainer, self.last_model_path)

    def state_dict(self):
        return {"best": self.best, "best_model_path": self.best_model_path, "last_model_path": self.last_model_path}

    def load_state_dict(self, state):
        self.best = state["best"]
        self.best_model_path, self.last_model_path = state["best_model_path"], state["last_model_path"]


def _is_plateau(scheduler):
    return type(scheduler).__name__ == "ReduceLROnPlateau"


def step_scheduler(scheduler, logs=None, monitor="val_loss", who="Trainer"):
    """Step a ``lamina.optim.lr_scheduler`` scheduler; ``ReduceLROnPlateau`` gets ``logs[monitor]``
    (``loss`` when there is no ``val_loss``)."""
    if _is_plateau(scheduler):
        logs = logs or {}
        if monitor not in logs and monitor == "val_loss" and "loss" in logs:
            monitor = "loss"
        scheduler.step(_monitored(logs, monitor, who))
    else:
        scheduler.step()


def _lrs(optimizer):
    return [g["lr"] for g in optimizer.param_groups]


class LearningRateScheduler(Callback):
    """Change the learning rate during training.

    Args:
        schedule: a ``lamina.optim.lr_scheduler`` scheduler (``StepLR``, ``OneCycleLR``, ``ReduceLROnPlateau``...)
            or a function ``schedule(epoch, lr) -> new_lr`` applied to every parameter group at each epoch start
            (Keras' form).
        interval: step the scheduler after every ``"epoch"`` or every ``"batch"``. Default: ``"epoch"``.
        monitor: the log fed to ``ReduceLROnPlateau``. Default: ``"val_loss"`` (``loss`` without validation).
        verbose: print the learning rate when it changes.
    """

    order = -10

    def __init__(self, schedule, interval="epoch", monitor="val_loss", verbose=False):
        if interval not in ("epoch", "batch"):
            raise ValueError(f"LearningRateScheduler: interval must be 'epoch' or 'batch', got {interval!r}")
        if not (hasattr(schedule, "step") or callable(schedule)):
            raise TypeError("LearningRateScheduler: schedule must be a scheduler (with .step()) or a function "
                            "schedule(epoch, lr) -> lr")
        if interval == "batch" and _is_plateau(schedule):
            raise ValueError("LearningRateScheduler: ReduceLROnPlateau needs a monitored epoch value; use "
                             "interval='epoch'")
        self.schedule = schedule
        self.interval = interval
        self.monitor = monitor
        self.verbose = verbose
        self.steps = 0

    def _is_function(self):
        return not hasattr(self.schedule, "step")

    def on_epoch_start(self, trainer, epoch):
        if self._is_function():
            for g in trainer.optimizer.param_groups:
                g["lr"] = float(self.schedule(epoch, g["lr"]))

    def _step(self, trainer, logs):
        before = _lrs(trainer.optimizer)
        step_scheduler(self.schedule, logs, self.monitor, "LearningRateScheduler")
        self.steps += 1
        after = _lrs(trainer.optimizer)
        if self.verbose and after != before:
            print(f"LearningRateScheduler: lr {', '.join(f'{x:.4g}' for x in after)}", flush=True)

    def on_batch_end(self, trainer, batch, logs):
        if self.interval == "batch" and not self._is_function():
            self._step(trainer, logs)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.interval == "epoch" and not self._is_function():
            self._step(trainer, logs)

    def state_dict(self):
        state = {"steps": self.steps}
        if not self._is_function() and hasattr(self.schedule, "state_dict"):
            state["scheduler"] = self.schedule.state_dict()
        return state

    def load_state_dict(self, state):
        self.steps = state["steps"]
        if state.get("scheduler") is not None:
            self.schedule.load_state_dict(state["scheduler"])


def _scalar(v):
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    return None


class CSVLogger(Callback):
    """Write one CSV row per epoch (``epoch`` and every log) to ``filename``, flushed after each row.

    Args:
        filename: the CSV file.
        separator: the field separator. Default: ``","``.
        append: append to an existing file instead of overwriting it (a resumed fit always appends).
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys = None
        self._file = None
        self._writer = None

    def on_fit_start(self, trainer):
        appending = (self.append or trainer.resumed) and os.path.exists(self.filename)
        if appending:
            with open(self.filename, newline="") as f:
                header = next(csv.reader(f, delimiter=self.separator), None)
            self.keys = header[1:] if header else None
        else:
            self.keys = None
            folder = os.path.dirname(os.path.abspath(self.filename))
            os.makedirs(folder, exist_ok=True)
        self._file = open(self.filename, "a" if appending else "w", newline="")
        self._writer = csv.writer(self._file, delimiter=self.separator)

    def on_epoch_end(self, trainer, epoch, logs):
        if self.keys is None:
            self.keys = list(logs)
            self._writer.writerow(["epoch"] + self.keys)
        self._writer.writerow([epoch] + [_csv_value(logs.get(k, "")) for k in self.keys])
        self._file.flush()

    def on_fit_end(self, trainer):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


def _csv_value(v):
    s = _scalar(v)
    return repr(s) if s is not None else v


class TensorBoard(Callback):
    """Write scalars to TensorBoard event files (with tensorboardX's ``SummaryWriter``).

    Per epoch, tags ``<name>/train`` and ``<name>/val`` (so TensorBoard draws train and validation together) and
    ``lr``; with ``update_freq="batch"`` or an integer n, also ``batch/loss`` every n batches.

    Args:
        log_dir: the folder for the event files. Default: ``"runs/tensorboard"``.
        update_freq: ``"epoch"``, ``"batch"`` or a number of batches.
    """

    def __init__(self, log_dir="runs/tensorboard", update_freq="epoch"):
        if not (update_freq in ("epoch", "batch") or isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive int, got "
                             f"{update_freq!r}")
        self.log_dir = os.fspath(log_dir)
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.writer = None

    def on_fit_start(self, trainer):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError("TensorBoard callback needs tensorboardX: pip install 'lamina[train]' "
                              "(or pip install tensorboardX)") from None
        self.writer = SummaryWriter(logdir=self.log_dir)

    def on_batch_end(self, trainer, batch, logs):
        if self.update_freq != "epoch" and trainer.global_step % self.update_freq == 0 and "loss" in logs:
            self.writer.add_scalar("batch/loss", float(logs["loss"]), trainer.global_step)

    def on_epoch_end(self, trainer, epoch, logs):
        for k, v in logs.items():
            v = _scalar(v)
            if v is None:
                continue
            if k == "lr":
                tag = "lr"
            elif k.startswith("val_"):
                tag = f"{k[4:]}/val"
            else:
                tag = f"{k}/train"
            self.writer.add_scalar(tag, v, epoch)
        self.writer.flush()

    def on_fit_end(self, trainer):
        if self.writer is not None:
            self.writer.close()
            self.writer = None
