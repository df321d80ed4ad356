"""``Trainer``: fit / evaluate / predict for a model, an optimizer and a loss, with metrics and callbacks."""

import warnings

import numpy as np

from lamina.autograd.grad_mode import no_grad
from lamina.tensor import Tensor
from lamina.training.callbacks import Callback, step_scheduler
from lamina.training.checkpoint import load_checkpoint, save_checkpoint
from lamina.training.history import History
from lamina.training.metrics import get_metric
from lamina.training.progress import ProgressBar

__all__ = ["Trainer"]


def _as_tensor(x, device):
    if isinstance(x, np.ndarray):
        from lamina.creation import as_tensor

        x = as_tensor(x)
    if device is not None and isinstance(x, Tensor):
        x = x.to(device)
    return x


def _host(x):
    if isinstance(x, (tuple, list)):
        x = x[0]
    arr = np.asarray(x.detach() if isinstance(x, Tensor) else x)
    return arr if arr.flags.owndata else arr.copy()


def _batch_len(x):
    shape = getattr(x, "shape", None)
    if shape is not None and len(shape) > 0:
        return int(shape[0])
    try:
        return len(x)
    except TypeError:
        return 1


class Trainer:
    """Train, evaluate and run a model: the training loop written once.

    Args:
        model: a ``lamina.nn.Module``.
        optimizer: a ``lamina.optim`` optimizer over the model's parameters (None for a Trainer that only
            evaluates and predicts).
        loss_fn: ``loss_fn(output, target) -> scalar Tensor`` (mean over the batch, e.g. ``nn.CrossEntropyLoss()``).
        metrics: names (``"accuracy"``, ``"f1"``, ``"top3_accuracy"``, ``"mse"``, ``"r2"``...; see
            ``lamina.training.metrics``), callables ``fn(y_pred, y_true) -> float`` or a dict ``{name: fn}``.
            Computed over the whole epoch (from all its outputs and targets), not averaged over batches.
        callbacks: ``Callback`` objects (``EarlyStopping``, ``ModelCheckpoint``, ``ProgressBar``...).
        scheduler: a learning-rate scheduler stepped after every epoch (``ReduceLROnPlateau`` gets ``val_loss``,
            or ``loss`` without validation); it is saved in checkpoints.
        grad_clip: clip the gradients' global 2-norm to this value before each step. Default: None (no clipping).
        device: move the model and every batch to this device. Default: None (leave them where they are).
        config: JSON-like metadata stored in every checkpoint (the ``lamina`` command records the model and
            dataset there, so a checkpoint can rebuild its model).

    Batches are ``(inputs, target)`` pairs, or tuples whose last element is the target and the others are the
    model's inputs. Epochs are numbered from 1; ``trainer.epoch`` counts the completed ones.

    Example:
        >>> trainer = Trainer(model, optim.Adam(model.parameters()), nn.CrossEntropyLoss(), metrics=["accuracy"],
        ...                   callbacks=[EarlyStopping(patience=3, restore_best_weights=True)])
        >>> history = trainer.fit(train_loader, val_loader, epochs=20)
        >>> trainer.evaluate(test_loader)
        {'loss': 0.081, 'accuracy': 0.975}
    """

    def __init__(self, model, optimizer, loss_fn, metrics=None, callbacks=None, scheduler=None, grad_clip=None,
                 device=None, config=None):
        from lamina.nn.modules.module import Module

        if not isinstance(model, Module):
            raise TypeError(f"Trainer: model must be a lamina.nn.Module, got {type(model).__name__}")
        if optimizer is not None and not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")
                                          and hasattr(optimizer, "param_groups")):
            raise TypeError(f"Trainer: optimizer must be a lamina.optim optimizer, got {type(optimizer).__name__}")
        if not callable(loss_fn):
            raise TypeError(f"Trainer: loss_fn must be callable, got {type(loss_fn).__name__}")
        if grad_clip is not None and not grad_clip > 0:
            raise ValueError(f"Trainer: grad_clip must be a positive max norm, got {grad_clip}")
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = loss_fn
        if isinstance(metrics, dict):
            self.metrics = [(str(k), v if callable(v) else get_metric(v)[1]) for k, v in metrics.items()]
        else:
            self.metrics = [get_metric(m) for m in (metrics or [])]
        names = [n for n, _ in self.metrics]
        if len(set(names)) != len(names) or "loss" in names:
            raise ValueError(f"Trainer: metric names must be distinct and not 'loss', got {names}")
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"Trainer: callbacks must be Callback instances, got {type(cb).__name__}")
        self.scheduler = scheduler
        self.grad_clip = grad_clip
        self.device = device
        self.config = dict(config) if config else {}
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self.stop_training = False
        self.resumed = False
        self.fit_params = {}
        self._active = []
        self._loaders = ()
        if device is not None:
            model.to(device)

    # ------------------------------------------------------------------ callbacks and checkpoints

    def _all_callbacks(self, verbose=False):
        cbs = [self.history] + self.callbacks
        if verbose and not any(isinstance(c, ProgressBar) for c in self.callbacks):
            cbs.append(ProgressBar(enabled=None if verbose is True or verbose == 1 else False))
        return sorted(cbs, key=lambda c: c.order)

    def _call(self, hook, *args):
        for cb in self._active:
            getattr(cb, hook)(self, *args)

    def save_checkpoint(self, path):
        """Write the full training state (see ``lamina.training.checkpoint``) to ``path``, atomically."""
        save_checkpoint(self, path, self._loaders)

    def load_checkpoint(self, path, loaders=None):
        """Restore the state ``save_checkpoint`` wrote; ``loaders`` (the train and validation loaders, in that
        order) get their generators' states back."""
        return load_checkpoint(self, path, loaders)

    # ------------------------------------------------------------------ batches

    def _unpack(self, batch):
        if isinstance(batch, (list, tuple)):
            if len(batch) >= 2:
                inputs, target = tuple(batch[:-1]), batch[-1]
            elif len(batch) == 1:
                inputs, target = (batch[0],), None
            else:
                raise ValueError("Trainer: got an empty batch")
        elif isinstance(batch, dict):
            raise TypeError("Trainer: batches must be (inputs, target) tuples, got a dict; wrap the dataset so that "
                            "it returns tuples")
        else:
            inputs, target = (batch,), None
        inputs = tuple(_as_tensor(x, self.device) for x in inputs)
        return inputs, _as_tensor(target, self.device)

    def _forward_loss(self, inputs, target):
        if target is None:
            raise ValueError("Trainer: each batch must be (inputs, target) to compute a loss; got inputs only")
        out = self.model(*inputs)
        loss = self.loss_fn(out, target)
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise ValueError(f"Trainer: loss_fn must return a scalar Tensor, got {shape}; use reduction='mean'")
        return out, loss

    def _epoch_metrics(self, outputs, targets):
        if not self.metrics or not outputs:
            return {}
        y_pred, y_true = np.concatenate(outputs), np.concatenate(targets)
        return {name: float(fn(y_pred, y_true)) for name, fn in self.metrics}

    # ------------------------------------------------------------------ training

    def _clip(self):
        from lamina.nn.utils import clip_grad_norm_

        clip_grad_norm_(self.model.parameters(), self.grad_clip)

    def _train_epoch(self, loader):
        self.model.train()
        batch_metrics = any(getattr(cb, "wants_batch_metrics", False) for cb in self._active)
        keep = bool(self.metrics)
        total, count = 0.0, 0
        outputs, targets = [], []
        for i, batch in enumerate(loader):
            self._call("on_batch_start", i)
            inputs, target = self._unpack(batch)
            self.optimizer.zero_grad()
            out, loss = self._forward_loss(inputs, target)
            loss.backward()
            if self.grad_clip is not None:
                self._clip()
            self.optimizer.step()
            self.global_step += 1
            n = _batch_len(target)
            value = float(loss.item())
            total += value * n
            count += n
            logs = {"loss": value, "size": n}
            if keep:
                outputs.append(_host(out))
                targets.append(_host(target))
                if batch_metrics:
                    logs.update({name: float(fn(outputs[-1], targets[-1])) for name, fn in self.metrics})
            self._call("on_batch_end", i, logs)
            if self.stop_training:
                break
        if count == 0:
            raise ValueError("Trainer.fit: the training loader yielded no batches")
        logs = {"loss": total / count}
        logs.update(self._epoch_metrics(outputs, targets))
        return logs

    def fit(self, train_loader, val_loader=None, epochs=1, resume_from=None, verbose=True):
        """Train until ``epochs`` epochs have been completed in total; returns the ``History``.

        Args:
            train_loader: an iterable of ``(inputs, target)`` batches (a ``DataLoader``), iterated once per epoch.
            val_loader: batches to evaluate after every epoch (logged as ``val_loss``, ``val_<metric>``).
            epochs: the epoch to stop after. Epochs restored by ``resume_from`` or done by an earlier ``fit``
                count, so ``fit(..., epochs=10, resume_from="epoch4.safetensors")`` trains epochs 5 to 10.
            resume_from: a training checkpoint (from ``ModelCheckpoint`` or ``save_checkpoint``) to continue from:
                weights, optimizer, scheduler, history, callbacks and every RNG state come back, so the run
                ends bit-identical to one that never stopped.
            verbose: True/1: a progress bar when stdout is a terminal or notebook, and a summary line per epoch;
                2: summary lines only; False/0: silent.
        """
        if self.optimizer is None:
            raise ValueError("Trainer.fit: this Trainer has no optimizer (optimizer=None only serves evaluate/predict)")
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be a non-negative int, got {epochs!r}")
        self._loaders = (train_loader, val_loader)
        self.resumed = False
        if resume_from is not None:
            self.load_checkpoint(resume_from, self._loaders)
            self.resumed = True
        if self.epoch >= epochs:
            warnings.warn(f"Trainer.fit: {self.epoch} epoch(s) already completed and epochs={epochs}; nothing to do")
        try:
            steps = len(train_loader)
        except TypeError:
            steps = None
        self.fit_params = {"epochs": epochs, "steps": steps, "start_epoch": self.epoch + 1}
        self.stop_training = False
        self._active = self._all_callbacks(verbose)
        self._call("on_fit_start")
        try:
            while self.epoch < epochs and not self.stop_training:
                epoch = self.epoch + 1
                self._call("on_epoch_start", epoch)
                lr = self.optimizer.param_groups[0]["lr"]
                logs = self._train_epoch(train_loader)
                if val_loader is not None:
                    logs.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
                logs["lr"] = float(lr)
                self.epoch = epoch
                if self.scheduler is not None:
                    step_scheduler(self.scheduler, logs)
                self._call("on_epoch_end", epoch, logs)
        finally:
            self._call("on_fit_end")
            self._active = []
        return self.history

    # ------------------------------------------------------------------ evaluation and prediction

    def evaluate(self, loader):
        """Loss (mean per sample) and metrics over every batch of ``loader``, in eval mode without gradients.

        Returns:
            ``{"loss": ..., "<metric>": ...}``.
        """
        was_training = self.model.training
        self.model.eval()
        total, count = 0.0, 0
        outputs, targets = [], []
        try:
            with no_grad():
                for batch in loader:
                    inputs, target = self._unpack(batch)
                    out, loss = self._forward_loss(inputs, target)
                    n = _batch_len(target)
                    total += float(loss.item()) * n
                    count += n
                    if self.metrics:
                        outputs.append(_host(out))
                        targets.append(_host(target))
        finally:
            self.model.train(was_training)
        if count == 0:
            raise ValueError("Trainer.evaluate: the loader yielded no batches")
        logs = {"loss": total / count}
        logs.update(self._epoch_metrics(outputs, targets))
        return logs

    def predict(self, data, batch_size=256):
        """The model's outputs for every batch of ``data``, concatenated, in eval mode without gradients.

        Args:
            data: a loader of batches (the target, if present, is ignored), or one Tensor/array of inputs which
                is cut into chunks of ``batch_size``.

        Returns:
            a Tensor with the outputs of all samples in order.
        """
        from lamina.ops.functions import cat

        if isinstance(data, (Tensor, np.ndarray)):
            x = _as_tensor(data, None)
            batches = ((x[i:i + batch_size],) for i in range(0, int(x.shape[0]), batch_size))
        else:
            batches = data
        was_training = self.model.training
        self.model.eval()
        outs = []
        try:
            with no_grad():
                for batch in batches:
                    inputs, _ = self._unpack(batch)
                    out = self.model(*inputs)
                    outs.append(out[0] if isinstance(out, (tuple, list)) else out)
        finally:
            self.model.train(was_training)
        if not outs:
            raise ValueError("Trainer.predict: no batches")
        return cat(outs) if len(outs) > 1 else outs[0]
