"""A multilayer perceptron on real digits: scikit-learn's 8x8 digits and the MNIST-5k subset (28x28).

    python examples/mlp.py                  # both datasets, bars: digits >= 97 %, MNIST-5k >= 94 % test accuracy
    python examples/mlp.py --dataset digits --out runs/mlp
    python examples/mlp.py --quick          # a few seconds: 600 digits, 3 epochs

Model: ``lamina.models.get_model("mlp", ...)`` (Linear -> BatchNorm1d -> ReLU -> Dropout per hidden layer),
AdamW with a one-cycle learning rate, trained by ``lamina.training.Trainer``; MNIST-5k adds small random
affine distortions of each training batch. Writes learning curves, confusion matrices, per-epoch CSV and
results.json into ``--out``.
"""

import sys

import _classic

import lamina
from lamina import transforms as T
from lamina.datasets import Digits, MNIST5k
from lamina.models import get_model

# the tuned settings of each run; bar = the required test accuracy
RUNS = {
    "digits": dict(dataset=Digits, shape=(1, 8, 8), bar=0.97, epochs=40, batch_size=32, lr=3e-3,
                   weight_decay=1e-4, model=dict(hidden=[256, 128], dropout=0.2, batchnorm=True), augment=None),
    "mnist5k": dict(dataset=MNIST5k, shape=(1, 28, 28), bar=0.94, epochs=30, batch_size=64, lr=2e-3,
                    weight_decay=1e-4, model=dict(hidden=[512, 256], dropout=0.3, batchnorm=True),
                    augment=lambda: T.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))),
}


def main(argv=None):
    p = _classic.parser(__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=("digits", "mnist5k", "all"), default="all")
    args = p.parse_args(argv)
    out = _classic.setup(args, "mlp")
    names = ["digits"] if args.quick else (["digits", "mnist5k"] if args.dataset == "all" else [args.dataset])
    rows = []
    for name in names:
        cfg = RUNS[name]
        lamina.manual_seed(args.seed)
        train, test = cfg["dataset"](train=True), cfg["dataset"](train=False)
        epochs = args.epochs or cfg["epochs"]
        if args.quick:
            train, epochs = _classic.subset(train, 600, args.seed), args.epochs or 3
        model = get_model("mlp", input_shape=cfg["shape"], num_classes=10, **cfg["model"])
        print(f"MLP on {name}: {len(train)} train / {len(test)} test images, {epochs} epochs", flush=True)
        result = _classic.fit_classifier(f"mlp_{name}", model, train, test, epochs=epochs, out=out,
                                         batch_size=cfg["batch_size"], lr=cfg["lr"],
                                         weight_decay=cfg["weight_decay"],
                                         augment=cfg["augment"]() if cfg["augment"] else None, seed=args.seed,
                                         verbose=args.verbose, plots=not args.no_plots)
        rows.append(_classic.accuracy_row(f"MLP on {name}", result, cfg["bar"]))
    return _classic.report(rows, out, args.quick)


if __name__ == "__main__":
    sys.exit(_classic.exit_status(main()))
