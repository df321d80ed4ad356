"""What the classic-architecture examples share: options, data loaders, batch augmentation, one classifier run
through ``lamina.training.Trainer`` with plots, and the result printed against its bar."""

import argparse
import json
import os
import platform
import time

import numpy as np

import lamina
from lamina import nn, optim
from lamina.optim.lr_scheduler import OneCycleLR
from lamina.training import CSVLogger, LearningRateScheduler, Trainer, plot_confusion_matrix
from lamina.training.metrics import confusion_matrix
from lamina.utils.data import DataLoader, Subset


def parser(description, epochs_help="epochs (default: the tuned value of each run)"):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=None, help="folder for plots and results.json (default: runs/<example>)")
    p.add_argument("--quick", action="store_true", help="small data and few steps: a smoke run of a few seconds")
    p.add_argument("--epochs", type=int, default=None, help=epochs_help)
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    p.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2),
                   help="0: silent, 1: progress bar, 2: one line per epoch (default)")
    p.add_argument("--no-plots", action="store_true", help="skip the plots (matplotlib takes seconds per figure)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default: 1; more only pays on an otherwise idle machine: with other jobs "
                        "running, OpenBLAS threads spin-wait and small matrix products get 10-20x slower)")
    return p


def setup(args, name):
    """Limit the BLAS threads, seed lamina, create the output folder; returns its path."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=args.threads, user_api="blas")
    except ImportError:  # threadpoolctl comes with scikit-learn; without it the BLAS keeps its default
        pass
    lamina.manual_seed(args.seed)
    out = args.out or os.path.join("runs", name)
    os.makedirs(out, exist_ok=True)
    return out


def subset(dataset, n, seed=0):
    """The first ``n`` samples of a seeded permutation (all of them when ``n`` is None or too large)."""
    if n is None or n >= len(dataset):
        return dataset
    idx = np.sort(np.random.default_rng(seed).permutation(len(dataset))[:n])
    return Subset(dataset, idx)


class Augmented:
    """A loader whose input batches go through ``transform`` (one vectorised call per batch, e.g.
    ``transforms.RandomAffine`` on (N, C, H, W)), so the dataset itself is still gathered a batch at a time."""

    def __init__(self, loader, transform):
        self.loader, self.transform = loader, transform

    def __iter__(self):
        for x, y in self.loader:
            yield self.transform(x), y

    def __len__(self):
        return len(self.loader)


def loaders(train_set, test_set, batch_size, seed, augment=None):
    train = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=lamina.Generator().manual_seed(seed))
    test = DataLoader(test_set, batch_size=500, shuffle=False)
    return (Augmented(train, augment) if augment is not None else train), test


def fit_classifier(name, model, train_set, test_set, *, epochs, out, batch_size=64, lr=1e-3, weight_decay=0.0,
                   augment=None, seed=0, verbose=2, pct_start=0.25, grad_clip=None, plots=True):
    """Train ``model`` with AdamW and a one-cycle learning rate (stepped every batch) through ``Trainer``;
    evaluate on ``test_set`` every epoch (curves only: the model of the last epoch is the one reported).

    Writes ``<name>_history.csv`` and (with ``plots``) ``<name>_curves.png`` and ``<name>_confusion.png`` into
    ``out``; returns
    ``{"test_accuracy", "test_loss", "initial_loss", "history", "seconds", ...}``.
    """
    train_loader, test_loader = loaders(train_set, test_set, batch_size, seed, augment)
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = OneCycleLR(opt, max_lr=lr, epochs=epochs, steps_per_epoch=len(train_loader), pct_start=pct_start)
    callbacks = [LearningRateScheduler(sched, interval="batch"), CSVLogger(os.path.join(out, f"{name}_history.csv"))]
    trainer = Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy"], callbacks=callbacks,
                      grad_clip=grad_clip)
    initial = trainer.evaluate(test_loader)["loss"]
    t0, c0 = time.perf_counter(), time.process_time()
    history = trainer.fit(train_loader, test_loader, epochs=epochs, verbose=verbose)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    logits = trainer.predict(test_loader).numpy()
    labels = np.concatenate([np.asarray(y) for _, y in test_loader])
    cm = confusion_matrix(logits, labels, num_classes=logits.shape[1])
    final = trainer.evaluate(test_loader)
    if plots:
        history.plot(os.path.join(out, f"{name}_curves.png"), title=f"{name} (validation: the held-out test split)")
        plot_confusion_matrix(cm, os.path.join(out, f"{name}_confusion.png"),
                              title=f"{name}: test confusion matrix")
    return {"test_accuracy": final["accuracy"], "test_loss": final["loss"], "initial_loss": initial,
            "epochs": epochs, "train_samples": len(train_set), "test_samples": len(test_set),
            "confusion_matrix": cm.tolist(), "params": sum(p.numel() for p in model.parameters()),
            "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
            "history": {k: list(v) for k, v in history.history.items()}}


def cpu_model():
    """The CPU's model name (as ``lscpu`` shows it), or the platform's machine type."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def report(rows, out, quick, extra=None):
    """Print each run against its bar (``row["met"]``: True/False, None in a quick run) and write
    ``results.json``; returns ``rows``."""
    print()
    for row in rows:
        cmp = ">=" if row.get("higher_is_better", True) else "<="
        if row["bar"] is None:
            row["met"], verdict, bar = None, "(reported, no bar)", "none"
        else:
            ok = row["value"] >= row["bar"] if cmp == ">=" else row["value"] <= row["bar"]
            row["met"] = None if quick else bool(ok)
            verdict = "(quick run: no bar)" if quick else ("met" if ok else "MISSED")
            bar = f"{cmp} {row['bar_shown']}"
        print(f"{row['label']:<44} {row['metric']} {row['shown']:>8}   bar {bar:<11} {verdict}   "
              f"[{row['seconds']:.1f}s wall, {row['cpu_seconds']:.1f}s CPU]")
    info = {"quick": quick, "machine": cpu_model(), "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d %H:%M"), "runs": rows}
    info.update(extra or {})
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(info, f, indent=1)
    print(f"\nPlots and results.json in {out}")
    return rows


def exit_status(rows):
    """1 when a full run missed a bar, else 0."""
    return 1 if any(row["met"] is False for row in rows) else 0


def accuracy_row(label, result, bar):
    return {"label": label, "metric": "test accuracy", "value": result["test_accuracy"],
            "shown": f"{100 * result['test_accuracy']:.2f}%", "bar": bar,
            "bar_shown": None if bar is None else f"{100 * bar:.1f}%",
            "seconds": result["seconds"], **{k: v for k, v in result.items() if k != "test_accuracy"}}
