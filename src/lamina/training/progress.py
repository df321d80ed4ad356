"""``ProgressBar``: a live tqdm bar per epoch (terminal or Jupyter) and a one-line summary after each epoch."""

import sys
import time

from lamina.training.callbacks import Callback

__all__ = ["ProgressBar", "format_logs"]


def _in_notebook():
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except AttributeError:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _interactive(stream):
    if _in_notebook():
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}" if (v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4)) else f"{v:.4f}"
    return str(v)


def format_logs(logs, skip=("size",)):
    """``loss: 0.1234 - accuracy: 0.9650 - lr: 0.001`` for a dict of logs."""
    parts = []
    for k, v in logs.items():
        if k in skip:
            continue
        parts.append(f"{k}: {_fmt(v) if k != 'lr' else f'{v:.3g}'}")
    return " - ".join(parts)


class ProgressBar(Callback):
    """Show training progress.

    With the bar on, each epoch gets a tqdm bar (``tqdm.auto``: a widget in Jupyter, text in a terminal) showing
    the running loss and metrics, replaced at the end of the epoch by a summary line
    ``Epoch 3/10 - 1.2s - loss: ... - val_accuracy: ...``. With the bar off, only the summary lines are printed.

    Args:
        enabled: True/False to force the bar on/off; None (default) shows it when stdout is a terminal or a
            notebook, so that logs redirected to a file get plain lines.
        summary: print the per-epoch summary line. Default: True.
        file: where to write. Default: ``sys.stdout`` (looked up when fit starts).
    """

    order = 50

    def __init__(self, enabled=None, summary=True, file=None):
        self.enabled = enabled
        self.summary = summary
        self.file = file
        self.bar_on = False
        self._bar = None
        self._t0 = 0.0

    @property
    def wants_batch_metrics(self):
        return self.bar_on

    def on_fit_start(self, trainer):
        stream = self.file or sys.stdout
        self.bar_on = _interactive(stream) if self.enabled is None else bool(self.enabled)
        if self.bar_on:
            try:
                import tqdm.auto  # noqa: F401
            except ImportError:
                self.bar_on = False

    def on_epoch_start(self, trainer, epoch):
        self._t0 = time.perf_counter()
        self._sums, self._count = {}, 0
        if self.bar_on:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=trainer.fit_params.get("steps"), desc=self._prefix(trainer, epoch), unit="batch",
                             leave=False, dynamic_ncols=True, file=self.file or sys.stdout)

    def _prefix(self, trainer, epoch):
        return f"Epoch {epoch}/{trainer.fit_params.get('epochs', '?')}"

    def on_batch_end(self, trainer, batch, logs):
        if self._bar is None:
            return
        n = logs.get("size", 1)
        self._count += n
        for k, v in logs.items():
            if k != "size":
                self._sums[k] = self._sums.get(k, 0.0) + float(v) * n
        self._bar.update(1)
        self._bar.set_postfix_str(format_logs({k: s / self._count for k, s in self._sums.items()}), refresh=False)

    def on_epoch_end(self, trainer, epoch, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.summary:
            line = f"{self._prefix(trainer, epoch)} - {time.perf_counter() - self._t0:.1f}s - {format_logs(logs)}"
            if self.bar_on:
                from tqdm.auto import tqdm

                tqdm.write(line, file=self.file or sys.stdout)
            else:
                print(line, file=self.file or sys.stdout, flush=True)

    def on_fit_end(self, trainer):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
