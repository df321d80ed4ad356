"""Training diagnostics: a ``Trainer`` callback that watches gradients, weights and activations layer by layer and
says in plain words when training goes wrong (vanishing or exploding gradients, NaN, dead ReLUs, saturated
sigmoids, overfitting), with the usual remedies.

    from lamina.explain import Diagnostics
    diag = Diagnostics(out_dir="runs/diag")
    Trainer(model, opt, loss, callbacks=[diag]).fit(train_loader, val_loader, epochs=20)
    diag.findings        # [Finding(kind="vanishing", layers=("0 (Linear)", ...), ...), ...]

What it measures (per layer with parameters, every ``every_n_batches`` batches, averaged per epoch): the gradient
norm, the weight norm and the update-to-weight ratio ||W_after - W_before|| / ||W_before||. Per activation module
(``nn.ReLU``, ``nn.ReLU6``; ``nn.Sigmoid``, ``nn.Tanh``), through forward hooks during training batches: the
fraction of dead units (a unit, i.e. a feature or a channel, that was zero for every sample of the epoch) and the
fraction of saturated outputs (sigmoid within 0.01 of 0 or 1, tanh beyond +-0.99). Activations called as
functions inside ``forward`` (``F.relu``) are not seen: use the modules to have them watched.
"""

import math
import re
import warnings
from dataclasses import dataclass, field

import numpy as np

from lamina.training.callbacks import Callback

__all__ = ["Diagnostics", "Finding", "TrainingWarning", "REMEDIES"]


class TrainingWarning(UserWarning):
    """A problem that ``Diagnostics`` found in a training run."""


REMEDIES = {
    "vanishing": ("use He (Kaiming) initialisation for ReLU nets or Xavier (Glorot) for tanh/sigmoid "
                  "(lamina.nn.init.kaiming_normal_ / xavier_uniform_)",
                  "replace sigmoid/tanh by ReLU, LeakyReLU or ELU in hidden layers",
                  "add batch normalisation (nn.BatchNorm1d/2d) between layers",
                  "use fewer layers or residual (skip) connections"),
    "exploding": ("lower the learning rate (by 10x)", "clip gradients (Trainer(grad_clip=1.0) or "
                  "nn.utils.clip_grad_norm_)", "use He/Xavier initialisation", "add batch normalisation"),
    "nan": ("lower the learning rate (by 10x)", "clip gradients (Trainer(grad_clip=1.0))",
            "check the inputs and targets for NaN/Inf and scale the inputs",
            "use the fused losses (nn.CrossEntropyLoss on logits rather than log of a softmax)"),
    "dead": ("use LeakyReLU or ELU instead of ReLU", "lower the learning rate",
             "use He (Kaiming) initialisation and zero (not negative) biases", "add batch normalisation"),
    "saturated": ("use Xavier (Glorot) initialisation", "scale (standardise) the inputs",
                  "add batch normalisation", "replace sigmoid/tanh by ReLU/LeakyReLU/ELU in hidden layers"),
    "overfitting": ("stop early (EarlyStopping(monitor='val_loss', restore_best_weights=True))",
                    "add dropout (nn.Dropout)", "add weight decay (optim.AdamW(weight_decay=...)) or L2",
                    "get more data or augment it", "use a smaller model"),
}


@dataclass
class Finding:
    """One problem: its ``kind`` (a key of ``REMEDIES``), the layers involved, the epoch it was seen, a
    plain-language ``message`` and the ``remedies``."""

    kind: str
    layers: tuple
    epoch: int
    message: str
    remedies: tuple = field(default=())

    def __str__(self):
        return f"{self.message} Try: " + "; ".join(self.remedies) + "."


def _label(name, module):
    return f"{name or 'model'} ({type(module).__name__})"


def _names(labels, limit=6):
    labels = list(labels)
    if len(labels) <= limit:
        return ", ".join(labels)
    return ", ".join(labels[:limit]) + f" and {len(labels) - limit} more"


def _sq(arr):
    flat = arr.reshape(-1)
    return float(flat @ flat)


_ANOMALY = re.compile(r"Function '([^']+)' returned nan or inf values in its (\d+)\w* output( \(forward\))?")


class Diagnostics(Callback):
    """Watches a training run layer by layer, warns about the classic failures and writes a report at the end.

    Args:
        out_dir: folder for ``diagnostics.txt`` and ``diagnostics.png`` (per-layer curves) written when fit ends.
            Default: None (no files; the report is still in ``report()``).
        every_n_batches: measure gradients, weights and updates every n-th batch. Default: 1.
        vanishing_ratio: a layer's gradients vanish when their RMS is below this fraction of the largest layer's.
            Default: 1e-3.
        exploding_ratio: gradients explode when an update is this large relative to the weights, or a layer's
            gradient norm grows by 1 / ``vanishing_ratio`` over its first epoch's. Default: 1.0.
        dead_fraction: warn when more than this fraction of a ReLU layer's units were dead for a whole epoch.
            Default: 0.75 (a healthy layer fed non-negative, correlated inputs can have half its units off from
            the start).
        saturated_fraction: warn when more than this fraction of a sigmoid/tanh layer's outputs are saturated.
            Default: 0.5.
        overfit_patience: epochs that validation loss must stay above its best (by ``overfit_tolerance``) while
            training loss keeps falling, before overfitting is reported. Default: 3.
        overfit_tolerance: relative rise of the validation loss that counts. Default: 0.02.
        stop_on_nan: stop training when the loss or a gradient becomes NaN/Inf. Default: True.
        warn: issue each finding as a ``TrainingWarning`` when it is first seen. Default: True.
        verbose: print the report when fit ends. Default: False.

    After fit: ``findings`` (a list of ``Finding``), ``layers`` (labels), ``steps`` and ``step_stats``
    (per-measurement curves), ``epoch_stats`` (per-epoch means), ``activation_stats``; ``report()`` (the text)
    and ``plot(path)``.
    """

    order = 50  # after the learning-rate and early-stopping bookkeeping, before ModelCheckpoint

    def __init__(self, out_dir=None, every_n_batches=1, vanishing_ratio=1e-3, exploding_ratio=1.0, dead_fraction=0.75,
                 saturated_fraction=0.5, overfit_patience=3, overfit_tolerance=0.02, stop_on_nan=True, warn=True,
                 verbose=False):
        if not isinstance(every_n_batches, int) or every_n_batches < 1:
            raise ValueError(f"Diagnostics: every_n_batches must be a positive int, got {every_n_batches!r}")
        for name, v in (("vanishing_ratio", vanishing_ratio), ("exploding_ratio", exploding_ratio),
                        ("overfit_tolerance", overfit_tolerance)):
            if not v > 0:
                raise ValueError(f"Diagnostics: {name} must be > 0, got {v}")
        for name, v in (("dead_fraction", dead_fraction), ("saturated_fraction", saturated_fraction)):
            if not 0 <= v < 1:
                raise ValueError(f"Diagnostics: {name} must be in [0, 1), got {v}")
        if not isinstance(overfit_patience, int) or overfit_patience < 1:
            raise ValueError(f"Diagnostics: overfit_patience must be a positive int, got {overfit_patience!r}")
        self.out_dir = out_dir
        self.every_n_batches = every_n_batches
        self.vanishing_ratio = float(vanishing_ratio)
        self.exploding_ratio = float(exploding_ratio)
        self.dead_fraction = float(dead_fraction)
        self.saturated_fraction = float(saturated_fraction)
        self.overfit_patience = overfit_patience
        self.overfit_tolerance = float(overfit_tolerance)
        self.stop_on_nan = stop_on_nan
        self.warn = warn
        self.verbose = verbose
        self._handles = []
        self._reset()

    # ------------------------------------------------------------------ set-up

    def _reset(self):
        self.findings = []
        self.layers = []
        self.steps = []
        self.step_stats = {"grad_norm": {}, "weight_norm": {}, "update_ratio": {}}
        self.epoch_stats = {"grad_norm": {}, "weight_norm": {}, "update_ratio": {}}
        self.activation_stats = {}  # label -> {"kind": "relu"|"sigmoid"|"tanh", "dead"/"saturated": [per epoch]}
        self.losses = {"loss": [], "val_loss": [], "val_accuracy": []}
        self.epochs = []
        self._seen = set()
        self._before = None
        self._last_args = None
        self._last_target = None
        self._tracing = False
        self._nan_reported = False

    def on_fit_start(self, trainer):
        from lamina.nn.modules import activation as A

        self._reset()
        model = trainer.model
        self._params = []  # (label, [params])
        for name, m in model.named_modules():
            own = [p for p in m._parameters.values() if p is not None]
            if own:
                label = _label(name, m)
                self._params.append((label, own))
                self.layers.append(label)
                for key in self.step_stats:
                    self.step_stats[key][label] = []
                    self.epoch_stats[key][label] = []
        self._acts = {}
        for name, m in model.named_modules():
            kind = ("relu" if isinstance(m, (A.ReLU, A.ReLU6)) else "sigmoid" if isinstance(m, A.Sigmoid)
                    else "tanh" if isinstance(m, A.Tanh) else None)
            if kind is None:
                continue
            label = _label(name, m)
            self.activation_stats[label] = {"kind": kind, "dead" if kind == "relu" else "saturated": []}
            self._acts[label] = {"kind": kind, "alive": None, "saturated": 0, "count": 0}
            self._handles.append(m.register_forward_hook(self._activation_hook(label)))
        self._handles.append(model.register_forward_pre_hook(self._remember_inputs))
        self._loss_fn = trainer.loss_fn
        trainer.loss_fn = self._remembering_loss
        self._epoch_acc()

    def _epoch_acc(self):
        self._acc = {key: {label: [] for label in self.layers} for key in self.step_stats}

    def _remember_inputs(self, module, args):
        if module.training and not self._tracing:
            self._last_args = args

    def _remembering_loss(self, output, target):
        if not self._tracing:
            self._last_target = target
        return self._loss_fn(output, target)

    def _activation_hook(self, label):
        def hook(module, args, out):
            if not module.training or self._tracing:
                return
            y = out._data
            st = self._acts[label]
            if st["kind"] == "relu":
                axes = (0,) + tuple(range(2, y.ndim)) if y.ndim > 1 else (0,)
                alive = (y > 0).any(axis=axes) if y.ndim > 1 else (y > 0).any(keepdims=True)
                st["alive"] = alive if st["alive"] is None else st["alive"] | alive
            else:
                sat = (y < 0.01) | (y > 0.99) if st["kind"] == "sigmoid" else (y < -0.99) | (y > 0.99)
                st["saturated"] += int(sat.sum())
                st["count"] += y.size

        return hook

    # ------------------------------------------------------------------ per batch

    def _measuring(self, trainer):
        return (trainer.global_step + 1) % self.every_n_batches == 0  # the step this batch is about to take

    def on_batch_start(self, trainer, batch):
        # the weights before this batch's step: for the update ratio, and to replay a batch that turns NaN
        self._before = [[p._data.copy() for p in ps] for _, ps in self._params] if self._measuring(trainer) else None

    def on_batch_end(self, trainer, batch, logs):
        loss = float(logs.get("loss", 0.0))
        measured = self._before is not None
        if measured:
            self.steps.append(trainer.global_step)
        bad_grad = False
        for i, (label, ps) in enumerate(self._params):
            if not measured:
                continue
            with_grad = [p for p in ps if p.grad is not None]
            g2 = sum(_sq(p.grad._data) for p in with_grad) if with_grad else math.nan  # nan: frozen or unused
            w2 = sum(_sq(p._data) for p in ps)
            u2 = sum(_sq(p._data - b) for p, b in zip(ps, self._before[i]))
            b2 = sum(_sq(b) for b in self._before[i])
            n = sum(p.grad._data.size for p in with_grad) or 1
            gnorm, wnorm = math.sqrt(g2), math.sqrt(w2)
            ratio = math.sqrt(u2 / b2) if b2 > 0 else (0.0 if u2 == 0 else math.inf)
            bad_grad = bad_grad or bool(with_grad) and not math.isfinite(gnorm)
            for key, v in (("grad_norm", gnorm), ("weight_norm", wnorm), ("update_ratio", ratio)):
                self.step_stats[key][label].append(v)
            self._acc["grad_norm"][label].append(gnorm / math.sqrt(n))  # RMS: comparable across layer sizes
            self._acc["weight_norm"][label].append(wnorm)
            self._acc["update_ratio"][label].append(ratio)
        if (not math.isfinite(loss) or bad_grad) and not self._nan_reported:
            self._nan_reported = True
            self._report_nan(trainer, loss, bad_grad)
            if self.stop_on_nan:
                trainer.stop_training = True

    def _report_nan(self, trainer, loss, bad_grad):
        where, layer = self._trace(trainer)
        what = f"The training loss became {loss}" if not math.isfinite(loss) else "The gradients became NaN/Inf"
        epoch = trainer.epoch + 1
        text = f"{what} at epoch {epoch} (step {trainer.global_step})."
        if where:
            text += f" Anomaly detection traced it to the op '{where[0]}' ({where[1]})"
            text += f" in layer {layer}." if layer else "."
        else:
            text += " Anomaly detection could not replay the batch to name the op."
        if self.stop_on_nan:
            text += " Training was stopped."
        layers = (layer,) if layer else ()
        self._add(Finding("nan", layers, epoch, text, REMEDIES["nan"]))

    def _trace(self, trainer):
        """Replay the last training batch from the weights it started with under ``detect_anomaly``; returns
        ((op name, 'forward'/'backward'), layer label) of the first op that produced NaN/Inf, or (None, None)."""
        from lamina.autograd import detect_anomaly
        from lamina.autograd import grad as autograd_grad

        if self._last_args is None or self._last_target is None:
            return None, None
        model = trainer.model
        state = [(t, t._data.copy()) for t in model.state_dict(keep_vars=True).values() if hasattr(t, "_data")]
        if self._before is not None:
            for (_, ps), arrays in zip(self._params, self._before):
                for p, b in zip(ps, arrays):
                    p._data[...] = b
        running = []
        hooks = [m.register_forward_pre_hook(lambda mod, a, name=name: running.append(_label(name, mod)))
                 for name, m in model.named_modules() if not m._modules]
        self._tracing = True
        found, layer = None, None
        try:
            with detect_anomaly():
                out = model(*self._last_args)
                loss = self._loss_fn(out, self._last_target)
                params = [p for _, ps in self._params for p in ps if p.requires_grad]
                autograd_grad(loss, params, allow_unused=True)
        except RuntimeError as e:
            m = _ANOMALY.search(str(e))
            if m:
                forward = bool(m.group(3))
                found = (m.group(1), "forward" if forward else "backward")
                layer = running[-1] if forward and running else None
        finally:
            self._tracing = False
            for h in hooks:
                h.remove()
            for t, arr in state:
                t._data[...] = arr
        return found, layer

    # ------------------------------------------------------------------ per epoch

    def on_epoch_end(self, trainer, epoch, logs):
        self.epochs.append(epoch)
        self.losses["loss"].append(float(logs.get("loss", math.nan)))
        self.losses["val_loss"].append(float(logs.get("val_loss", math.nan)))
        self.losses["val_accuracy"].append(float(logs.get("val_accuracy", math.nan)))
        for key, per_layer in self._acc.items():
            for label, vals in per_layer.items():
                finite = [v for v in vals if math.isfinite(v)]
                self.epoch_stats[key][label].append(float(np.mean(finite)) if finite
                                                    else (math.inf if any(map(math.isinf, vals)) else math.nan))
        for label, st in self._acts.items():
            if st["kind"] == "relu":
                frac = 1.0 - float(st["alive"].mean()) if st["alive"] is not None else math.nan
                self.activation_stats[label]["dead"].append(frac)
                st["alive"] = None
            else:
                frac = st["saturated"] / st["count"] if st["count"] else math.nan
                self.activation_stats[label]["saturated"].append(frac)
                st["saturated"] = st["count"] = 0
        self._epoch_acc()
        self._check(epoch)

    def _latest(self, key):
        return {label: vals[-1] for label, vals in self.epoch_stats[key].items() if vals}

    def _check(self, epoch):
        grads = self._latest("grad_norm")
        finite = {k: v for k, v in grads.items() if math.isfinite(v)}
        top = max(finite.values(), default=0.0)
        if top > 0:
            low = [k for k, v in finite.items() if v < self.vanishing_ratio * top]
            if low:
                best = max(finite, key=finite.get)
                worst = min(low, key=lambda k: finite[k])
                self._add(Finding("vanishing", tuple(low), epoch,
                                  f"Vanishing gradients in layer(s) {_names(low)}: their gradients are "
                                  f"{finite[worst] / top:.1e} times those of {best} (RMS, epoch {epoch}), so these "
                                  f"layers barely learn.", REMEDIES["vanishing"]))
        ratios = self._latest("update_ratio")
        big = [k for k, v in ratios.items() if v > self.exploding_ratio]
        grown = []
        for k, vals in self.epoch_stats["grad_norm"].items():
            if len(vals) > 1 and vals[0] > 0 and vals[-1] > vals[0] / self.vanishing_ratio:
                grown.append(k)
        if (big or grown) and not self._nan_reported:
            layers = tuple(dict.fromkeys(big + grown))
            detail = []
            if big:
                worst = max(big, key=lambda k: ratios[k] if math.isfinite(ratios[k]) else math.inf)
                detail.append(f"one step changes the weights of {worst} by {ratios[worst]:.3g} times their size")
            if grown:
                g = self.epoch_stats["grad_norm"][grown[0]]
                detail.append(f"the gradient norm of {grown[0]} grew {g[-1] / g[0]:.3g} times since the first epoch")
            self._add(Finding("exploding", layers, epoch, f"Exploding gradients in layer(s) {_names(layers)} "
                              f"(epoch {epoch}): {'; '.join(detail)}.", REMEDIES["exploding"]))
        for label, st in self.activation_stats.items():
            if st["kind"] == "relu":
                frac = st["dead"][-1]
                if frac > self.dead_fraction:
                    self._add(Finding("dead", (label,), epoch, f"Dead units in {label}: {100 * frac:.0f}% of its "
                                      f"units output zero for every training sample of epoch {epoch}, so no gradient "
                                      f"flows through them.", REMEDIES["dead"]))
            else:
                frac = st["saturated"][-1]
                if frac > self.saturated_fraction:
                    self._add(Finding("saturated", (label,), epoch, f"Saturated units in {label}: "
                                      f"{100 * frac:.0f}% of its outputs sit at the flat ends of the {st['kind']} "
                                      f"(epoch {epoch}), where its gradient is almost zero.", REMEDIES["saturated"]))
        self._check_overfitting(epoch)

    def _check_overfitting(self, epoch):
        val, train = np.array(self.losses["val_loss"]), np.array(self.losses["loss"])
        if len(val) <= self.overfit_patience or not np.isfinite(val).all() or not np.isfinite(train).all():
            return
        best = int(val.argmin())
        since = len(val) - 1 - best
        rising = val[-1] > val[best] * (1 + self.overfit_tolerance) + 1e-12
        if since >= self.overfit_patience and rising and train[-1] < train[best]:
            acc = self.losses["val_accuracy"]
            held = ""
            if math.isfinite(acc[best]) and math.isfinite(acc[-1]):
                held = f" (validation accuracy {100 * acc[best]:.1f}% -> {100 * acc[-1]:.1f}%)"
            self._add(Finding("overfitting", (), epoch,
                              f"Overfitting: the validation loss rose from {val[best]:.4g} (epoch "
                              f"{self.epochs[best]}) to {val[-1]:.4g} (epoch {epoch}){held} while the training loss "
                              f"fell from {train[best]:.4g} to {train[-1]:.4g}; the model is memorising the training "
                              f"data.", REMEDIES["overfitting"]))

    def _add(self, finding):
        key = (finding.kind, finding.layers)
        once = finding.kind in ("vanishing", "exploding", "overfitting")  # reported when first seen, not per epoch
        if key in self._seen or once and any(f.kind == finding.kind for f in self.findings):
            return
        self._seen.add(key)
        self.findings.append(finding)
        if self.warn:
            warnings.warn(str(finding), TrainingWarning, stacklevel=2)

    # ------------------------------------------------------------------ the end

    def on_fit_end(self, trainer):
        for h in self._handles:
            h.remove()
        self._handles = []
        if getattr(self, "_loss_fn", None) is not None:
            trainer.loss_fn = self._loss_fn
        self._before = self._last_args = self._last_target = None
        if self.out_dir is not None:
            import os

            os.makedirs(self.out_dir, exist_ok=True)
            with open(os.path.join(self.out_dir, "diagnostics.txt"), "w") as f:
                f.write(self.report() + "\n")
            if self.steps or self.epochs:
                self.plot(os.path.join(self.out_dir, "diagnostics.png"))
        if self.verbose:
            print(self.report(), flush=True)

    def report(self):
        """The findings and a per-layer table of the last epoch's measurements, as text."""
        lines = ["Training diagnostics" + (f" after {len(self.epochs)} epoch(s)" if self.epochs else "")]
        if self.findings:
            lines.append(f"{len(self.findings)} problem(s) found:")
            for i, f in enumerate(self.findings, 1):
                lines.append(f"  {i}. [{f.kind}] {f.message}")
                lines.append("     Try: " + "; ".join(f.remedies) + ".")
        else:
            lines.append("No problems found: gradients, updates and activations look healthy.")
        if self.layers:
            g, w, u = self._latest("grad_norm"), self._latest("weight_norm"), self._latest("update_ratio")
            width = max(len(x) for x in self.layers)
            lines.append("")
            lines.append(f"{'layer':<{width}}  {'grad RMS':>10}  {'weight norm':>11}  {'update/weight':>13}")
            for label in self.layers:
                lines.append(f"{label:<{width}}  {g.get(label, math.nan):>10.3e}  {w.get(label, math.nan):>11.4g}  "
                             f"{u.get(label, math.nan):>13.3e}")
        if self.activation_stats:
            lines.append("")
            for label, st in self.activation_stats.items():
                key = "dead" if st["kind"] == "relu" else "saturated"
                v = st[key][-1] if st[key] else math.nan
                lines.append(f"{label}: {100 * v:.1f}% {'dead units' if key == 'dead' else 'saturated outputs'}")
        return "\n".join(lines)

    def plot(self, path=None):
        """Per-layer curves (gradient norm, weight norm, update ratio per measured step; dead/saturated fractions
        and losses per epoch) in one figure; saved to ``path`` when given. Returns the matplotlib ``Figure``."""
        from lamina.explain.plots import plot_diagnostics

        return plot_diagnostics(self, path)
