"""Convolutional classifiers on real digits: LeNet-5 and a small VGG-style net with BatchNorm, on scikit-learn's
8x8 digits and on the MNIST-5k subset (28x28, with random affine augmentation).

    python examples/cnn.py                     # 4 runs; bars: digits >= 98.5 %, MNIST-5k >= 97 % test accuracy
    python examples/cnn.py --model lenet5 --dataset mnist5k --out runs/lenet
    python examples/cnn.py --quick             # a few seconds: both models (VGG narrower) on 600 digits, 5 epochs

Models: ``lamina.models.get_model("lenet5", ...)`` and ``get_model("cnn", ...)`` (stages of Conv3x3 -> BatchNorm2d
-> ReLU, max pooling, dropout in the classifier). AdamW with a one-cycle learning rate, trained by
``lamina.training.Trainer``; each training batch is distorted by ``transforms.RandomAffine`` (rotation, shift,
scale) in one vectorised call. Writes learning curves, confusion matrices, per-epoch CSV and results.json into
``--out``.
"""

import sys

import _classic

import lamina
from lamina import transforms as T
from lamina.datasets import Digits, MNIST5k
from lamina.models import get_model

DATASETS = {"digits": (Digits, (1, 8, 8), 0.985), "mnist5k": (MNIST5k, (1, 28, 28), 0.97)}


def _affine_digits():
    return T.RandomAffine(degrees=8, translate=(0.125, 0.125), scale=(0.9, 1.1))


def _affine_mnist():
    return T.RandomAffine(degrees=12, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=8)


# the tuned settings of each (model, dataset) run
RUNS = {
    ("lenet5", "digits"): dict(epochs=40, batch_size=32, lr=3e-3, weight_decay=1e-4, model=dict(),
                               augment=_affine_digits),
    ("lenet5", "mnist5k"): dict(epochs=30, batch_size=64, lr=3e-3, weight_decay=1e-4, model=dict(),
                                augment=_affine_mnist),
    ("cnn", "digits"): dict(epochs=30, batch_size=32, lr=3e-3, weight_decay=1e-4,
                            model=dict(channels=(32, 64), convs_per_stage=2, hidden=128, dropout=0.25),
                            augment=_affine_digits),
    ("cnn", "mnist5k"): dict(epochs=20, batch_size=64, lr=3e-3, weight_decay=1e-4,
                             model=dict(channels=(16, 32), convs_per_stage=2, hidden=128, dropout=0.25),
                             augment=_affine_mnist),
}
TITLES = {"lenet5": "LeNet-5", "cnn": "VGG-style CNN + BatchNorm"}


def main(argv=None):
    p = _classic.parser(__doc__.split("\n")[0])
    p.add_argument("--model", choices=("lenet5", "cnn", "all"), default="all")
    p.add_argument("--dataset", choices=("digits", "mnist5k", "all"), default="all")
    args = p.parse_args(argv)
    out = _classic.setup(args, "cnn")
    models = ["lenet5", "cnn"] if args.model == "all" else [args.model]
    datasets = ["digits"] if args.quick else (["digits", "mnist5k"] if args.dataset == "all" else [args.dataset])
    rows = []
    for dname in datasets:
        cls, shape, bar = DATASETS[dname]
        train_full, test = cls(train=True), cls(train=False)
        for mname in models:
            cfg = RUNS[(mname, dname)]
            lamina.manual_seed(args.seed)
            train, epochs, batch_size = train_full, args.epochs or cfg["epochs"], cfg["batch_size"]
            model_cfg, augment = dict(cfg["model"]), cfg["augment"]()
            if args.quick:
                train, epochs, batch_size = _classic.subset(train_full, 600, args.seed), args.epochs or 5, 32
                augment = None
                if mname == "cnn":
                    model_cfg.update(channels=(16, 32))
            model = get_model(mname, input_shape=shape, num_classes=10, **model_cfg)
            print(f"{TITLES[mname]} on {dname}: {len(train)} train / {len(test)} test images, {epochs} epochs",
                  flush=True)
            result = _classic.fit_classifier(f"{mname}_{dname}", model, train, test, epochs=epochs, out=out,
                                             batch_size=batch_size, lr=cfg["lr"],
                                             weight_decay=cfg["weight_decay"], augment=augment,
                                             seed=args.seed, verbose=args.verbose, plots=not args.no_plots)
            rows.append(_classic.accuracy_row(f"{TITLES[mname]} on {dname}", result, bar))
    return _classic.report(rows, out, args.quick)


if __name__ == "__main__":
    sys.exit(_classic.exit_status(main()))
