"""What the generative and reinforcement-learning examples share: options, data as arrays, image grids, the
digit classifier that judges generated samples, machine facts and the result printed against its bar."""

import argparse
import json
import os
import platform
import time

import numpy as np

import lamina
import lamina.nn.functional as F
from lamina import nn, optim


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--out", default=None, help="folder for images, plots and results.json (default: runs/<example>)")
    p.add_argument("--quick", action="store_true", help="small data and few steps: a smoke run of a few seconds")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default: 0)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default: 1; these small matrix products run faster on one thread, and "
                        "on a busy machine several threads spin against each other)")
    return p


def blas_threads(n):
    """A context that limits NumPy's BLAS to ``n`` threads (a no-op without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def out_dir(args, name):
    out = args.out or os.path.join("runs", name)
    os.makedirs(out, exist_ok=True)
    return out


def seed_all(seed):
    lamina.manual_seed(seed)
    return np.random.default_rng(seed)


def image_arrays(dataset, train=True, limit=None, seed=0):
    """(images float32 (N, 1, H, W) in [0, 1], labels int64 (N,)) of ``"mnist5k"`` or ``"digits"``; with ``limit``
    a seeded, class-stratified-by-chance subset of that many images."""
    from lamina.datasets import Digits, MNIST5k

    ds = {"mnist5k": MNIST5k, "digits": Digits}[dataset](train=train)
    x = ds.data.numpy().astype(np.float32)[:, None] / ds._scale
    y = ds.targets.numpy()
    if limit is not None and limit < len(y):
        idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:limit])
        x, y = x[idx], y[idx]
    return np.ascontiguousarray(x), y


def batches(n, batch_size, rng, shuffle=True, drop_last=False):
    """Index arrays of one epoch."""
    order = rng.permutation(n) if shuffle else np.arange(n)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for i in range(0, stop, batch_size):
        yield order[i:i + batch_size]


def one_per_class(y, n=10):
    """Indices of the first image of each class (in class order), topped up with the next images to ``n``."""
    idx = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)][:n]
    rest = [i for i in range(len(y)) if i not in idx]
    return np.asarray(idx + rest[:n - len(idx)])


def save_grid(images, path, title=None, nrow=None, labels=None):
    """Save (N, 1, H, W) images in [0, 1] as one tiled grid PNG (optionally with a caption under each image)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = np.asarray(images)[:, 0]
    n, h, w = images.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    ncol = int(np.ceil(n / nrow))
    pad = 1
    tile = np.ones((nrow * (h + pad) + pad, ncol * (w + pad) + pad), dtype=np.float32)
    for i in range(n):  # one copy per image into the canvas (no plotting per image)
        r, c = divmod(i, ncol)
        tile[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = images[i]
    scale = 0.9 / max(h, 8) * (1.6 if labels is not None else 1)
    fig, ax = plt.subplots(figsize=(max(3, tile.shape[1] * scale * 8 / 9), max(3, tile.shape[0] * scale * 8 / 9)))
    ax.imshow(tile, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if labels is not None:
        for i, text in enumerate(labels[:n]):
            r, c = divmod(i, ncol)
            ax.text(pad + c * (w + pad) + w / 2, pad + r * (h + pad) + h - 0.5, str(text), color="yellow",
                    fontsize=6, ha="center", va="bottom")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout(pad=0.3)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(curves, path, title, xlabel="epoch"):
    """One line per named series, in one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name, ys in curves.items():
        xs, ys = (ys if isinstance(ys, tuple) else (np.arange(1, len(ys) + 1), ys))
        ax.plot(xs, ys, label=name)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


class DigitClassifier(nn.Module):
    """A small CNN that judges generated digits: two Conv3x3-ReLU-MaxPool stages and a linear head."""

    def __init__(self, image_size):
        super().__init__()
        s = image_size // 4
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * s * s, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)


def train_classifier(x, y, x_test, y_test, epochs, seed, batch_size=64, lr=2e-3, log=print):
    """Train ``DigitClassifier`` on images in [0, 1]; returns (model in eval mode, test accuracy)."""
    rng = np.random.default_rng(seed + 7)
    model = DigitClassifier(x.shape[-1])
    opt = optim.Adam(model.parameters(), lr=lr)
    for epoch in range(epochs):
        model.train()
        for idx in batches(len(y), batch_size, rng):
            loss = F.cross_entropy(model(lamina.from_numpy(x[idx])), lamina.from_numpy(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = classifier_accuracy(model, x_test, y_test)
        log(f"  classifier epoch {epoch + 1}/{epochs}: test accuracy {100 * acc:.2f}%")
    model.eval()
    return model, acc


def classify(model, x, batch_size=500):
    """Softmax probabilities (N, 10) of images in [0, 1]."""
    model.eval()
    out = []
    with lamina.no_grad():
        for i in range(0, len(x), batch_size):
            out.append(F.softmax(model(lamina.from_numpy(np.ascontiguousarray(x[i:i + batch_size]))), dim=1).numpy())
    return np.concatenate(out)


def classifier_accuracy(model, x, y):
    return float((classify(model, x).argmax(1) == y).mean())


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


def report(name, rows, out, quick, extra):
    """Print each result against its bar and write ``results.json``; ``rows``: (label, value, shown, bar, bar_shown,
    higher_is_better). Returns the result dict (``met``: all bars met, None in a quick run)."""
    print()
    met_all = True
    shown_rows = []
    for label, value, shown, bar, bar_shown, higher in rows:
        if bar is None:
            verdict, met = "(reported, no bar)", None
        else:
            met = bool(value >= bar if higher else value <= bar)
            met_all &= met
            verdict = "(quick run: no bar)" if quick else ("met" if met else "MISSED")
        cmp = ">=" if higher else "<="
        print(f"{label:<58} {shown:>10}   bar {(cmp + ' ' + bar_shown) if bar is not None else 'none':<10} {verdict}")
        shown_rows.append({"label": label, "value": value, "bar": bar, "met": None if quick else met})
    res = {"example": name, "quick": quick, "machine": cpu_model(), "cpus": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d %H:%M"), "rows": shown_rows, "met": None if quick else met_all}
    res.update(extra)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(res, f, indent=1, default=float)
    print(f"\nImages, plots and results.json in {out}")
    return res
