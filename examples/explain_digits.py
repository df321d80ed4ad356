"""Seeing inside a digits CNN: training diagnostics, then saliency, SmoothGrad, integrated gradients, Grad-CAM and
occlusion on test images, first-layer filters and feature maps, and the diagnostics of a net that cannot learn
(20 sigmoid layers: vanishing gradients).

    python examples/explain_digits.py                 # ~1-2 minutes; pictures into docs/images and runs/explain
    python examples/explain_digits.py --quick         # a few seconds, fewer epochs
    python examples/explain_digits.py --images runs/explain   # keep docs/images untouched

Writes ``explain_digits.png`` (attributions over six test digits) and ``diagnostics_vanishing.png`` into
``--images``; the CNN's ``diagnostics.txt``/``diagnostics.png``, ``filters.png``, ``feature_maps.png`` and
``activation_max.png`` into ``--out``. Prints the test accuracy, the integrated-gradients completeness over 100
test images and the time each method takes for them.
"""

import argparse
import os
import time
import warnings

import numpy as np

import lamina
from lamina import explain, nn, optim
from lamina.datasets import Digits
from lamina.models import get_model
from lamina.training import Trainer
from lamina.utils.data import DataLoader, random_split


def _loaders(seed):
    train_full, test = Digits(train=True), Digits(train=False)
    train, val = random_split(train_full, [0.9, 0.1], generator=lamina.Generator().manual_seed(seed))
    gen = lamina.Generator().manual_seed(seed)
    return (DataLoader(train, batch_size=32, shuffle=True, generator=gen), DataLoader(val, batch_size=256),
            DataLoader(test, batch_size=256), test)


def train_cnn(epochs, out, seed):
    lamina.manual_seed(seed)
    train, val, test_loader, test = _loaders(seed)
    model = get_model("cnn", input_shape=(1, 8, 8), num_classes=10)
    diag = explain.Diagnostics(out_dir=out)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=2e-3), nn.CrossEntropyLoss(), metrics=["accuracy"],
                      callbacks=[diag])
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", explain.TrainingWarning)
        trainer.fit(train, val, epochs=epochs, verbose=2)
    result = trainer.evaluate(test_loader)
    print(f"CNN: test accuracy {100 * result['accuracy']:.2f}% after {epochs} epochs "
          f"({time.perf_counter() - t0:.1f}s); diagnostics: {len(caught)} warning(s), "
          f"{'no problems' if not diag.findings else ', '.join(f.kind for f in diag.findings)}")
    return model.eval(), test


def attributions(model, test, images_dir, out):
    x_all = np.stack([np.asarray(test[i][0]) for i in range(100)])
    y_all = np.array([int(test[i][1]) for i in range(100)])
    picks = [int(np.flatnonzero(y_all == c)[0]) for c in (0, 2, 3, 4, 7, 9)]
    x, y = x_all[picks], y_all[picks]
    timings, maps = {}, {}
    methods = {
        "saliency": dict(),
        "smoothgrad": dict(n_samples=50, generator=lamina.Generator().manual_seed(0)),
        "integrated_gradients": dict(n_steps=50),
        "grad_cam": dict(interpolate_mode="bilinear"),
        "occlusion": dict(sliding_window_shapes=(2, 2)),
    }
    for name, kw in methods.items():
        t0 = time.perf_counter()
        explain.METHODS[name](model, x_all, target=y_all, **kw)  # timed on 100 test images
        timings[name] = time.perf_counter() - t0
        maps[name] = explain.METHODS[name](model, x, target=y, **kw)
    for steps in (50, 512):  # completeness: the attributions of each image sum to f(x) - f(0)
        ig = explain.integrated_gradients(model, x_all, target=y_all, n_steps=steps)
        err = explain.completeness(model, x_all, ig, target=y_all)
        print(f"Integrated gradients on 100 test images, {steps} steps: completeness error median "
              f"{100 * np.median(err):.3f}%, max {100 * err.max():.3f}%")
    print("Time for 100 test images: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))
    with lamina.no_grad():
        prob = lamina.softmax(model(lamina.tensor(x)), dim=1).numpy()
    labels = [f"{c} (p={prob[i, c]:.2f})" for i, c in enumerate(y)]
    path = os.path.join(images_dir, "explain_digits.png")
    explain.plot_attributions(x, maps, path, labels=labels, title="What the digits CNN looks at (lamina.explain)")
    print(f"Saved {path}")
    explain.plot_filters(model, os.path.join(out, "filters.png"))
    explain.plot_feature_maps(explain.feature_maps(model, x[:1]), os.path.join(out, "feature_maps.png"))
    best = [explain.activation_maximization(model, model.classifier[-1], c, (1, 8, 8), steps=150, l2=0.05,
                                            value_range=(0.0, 1.0))[0].numpy()[0] for c in range(10)]
    explain.plot_attributions(np.stack(best), {"logit gradient": explain.saliency(model, np.stack(best),
                                                                                    target=np.arange(10))},
                              os.path.join(out, "activation_max.png"), labels=[str(c) for c in range(10)],
                              max_images=10, title="Inputs that maximise each class")


def vanishing(images_dir, epochs, seed):
    lamina.manual_seed(seed)
    layers = []
    for i in range(20):
        layers += [nn.Linear(64 if i == 0 else 32, 32), nn.Sigmoid()]
    model = nn.Sequential(nn.Flatten(), *layers, nn.Linear(32, 10))
    train, val, _, _ = _loaders(seed)
    diag = explain.Diagnostics(warn=False)
    Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), callbacks=[diag]).fit(
        train, val, epochs=epochs, verbose=False)
    path = os.path.join(images_dir, "diagnostics_vanishing.png")
    diag.plot(path)
    print("20-layer sigmoid MLP:\n" + "\n".join(f"  [{f.kind}] {f}" for f in diag.findings))
    print(f"Saved {path}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer epochs (a few seconds)")
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--images", default="docs/images", help="folder for the README pictures")
    p.add_argument("--out", default="runs/explain", help="folder for the other outputs")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    epochs = 2 if args.quick else args.epochs
    os.makedirs(args.images, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    model, test = train_cnn(epochs, args.out, args.seed)
    attributions(model, test, args.images, args.out)
    vanishing(args.images, 1 if args.quick else 3, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
