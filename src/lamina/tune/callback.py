"""``PruningCallback``: a ``lamina.training.Trainer`` callback that reports each epoch to an Optuna trial."""

import math

from lamina.training.callbacks import Callback, _monitored

__all__ = ["PruningCallback"]


class PruningCallback(Callback):
    """Report ``logs[monitor]`` to an Optuna trial after every epoch; stop the trial when the pruner says so.

    Args:
        trial: an ``optuna.trial.Trial``.
        monitor: the epoch log to report. Default: ``"val_loss"``.

    After each epoch the value goes to ``trial.report(value, epoch)``; when ``trial.should_prune()``, the callback
    raises ``optuna.TrialPruned``, which ends ``fit``. A NaN or infinite training loss or monitored value raises
    ``FloatingPointError``, so the trial is recorded as failed rather than scored.

    Example:
        >>> trainer = Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy"],
        ...                   callbacks=[PruningCallback(trial, monitor="val_accuracy")])
    """

    order = 50  # after the history (and any user callback), before checkpoint writers

    def __init__(self, trial, monitor="val_loss"):
        if not hasattr(trial, "report") or not hasattr(trial, "should_prune"):
            raise TypeError(f"PruningCallback: trial must be an optuna Trial, got {type(trial).__name__}")
        self.trial = trial
        self.monitor = monitor
        self.pruned_epoch = None

    def on_epoch_end(self, trainer, epoch, logs):
        import optuna

        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            raise FloatingPointError(f"training loss is {loss} at epoch {epoch}")
        value = _monitored(logs, self.monitor, "PruningCallback")
        if not math.isfinite(value):
            raise FloatingPointError(f"{self.monitor} is {value} at epoch {epoch}")
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            self.pruned_epoch = epoch
            raise optuna.TrialPruned(f"pruned after epoch {epoch}: {self.monitor}={value:.6g}")
