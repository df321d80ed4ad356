"""Recurrent sequence classifiers on MNIST-5k: each 28x28 image is read as a sequence of 28 rows of 28 pixels by
an Elman RNN, an LSTM and a GRU, whose last hidden state is classified.

    python examples/rnn_classifier.py                  # bars: LSTM and GRU >= 95 % test accuracy (RNN reported)
    python examples/rnn_classifier.py --cell lstm --out runs/lstm
    python examples/rnn_classifier.py --quick          # a few seconds: 600 8x8 digits as 8 rows of 8, 4 epochs

Models: ``lamina.models.get_model("rnn" | "lstm" | "gru", ...)`` (one fused ``nn.RNN``/``nn.LSTM``/``nn.GRU`` op
per batch, then ``Linear``). AdamW with a one-cycle learning rate and gradient clipping, trained by
``lamina.training.Trainer``; training batches get small random affine distortions. Writes learning curves,
confusion matrices, per-epoch CSV and results.json into ``--out``.
"""

import sys

import _classic

import lamina
from lamina import transforms as T
from lamina.datasets import Digits, MNIST5k
from lamina.models import get_model

# the tuned settings of each cell; bar None: reported without a bar
RUNS = {
    "rnn": dict(bar=None, epochs=30, batch_size=64, lr=2e-3, model=dict(hidden_size=128)),
    "lstm": dict(bar=0.95, epochs=30, batch_size=64, lr=3e-3, model=dict(hidden_size=128)),
    "gru": dict(bar=0.95, epochs=30, batch_size=64, lr=3e-3, model=dict(hidden_size=128)),
}
TITLES = {"rnn": "RNN (tanh)", "lstm": "LSTM", "gru": "GRU"}


def main(argv=None):
    p = _classic.parser(__doc__.split("\n")[0])
    p.add_argument("--cell", choices=("rnn", "lstm", "gru", "all"), default="all")
    args = p.parse_args(argv)
    out = _classic.setup(args, "rnn_classifier")
    cls, shape = (Digits, (1, 8, 8)) if args.quick else (MNIST5k, (1, 28, 28))
    train_full, test = cls(train=True), cls(train=False)
    rows = []
    for cell in (["rnn", "lstm", "gru"] if args.cell == "all" else [args.cell]):
        cfg = RUNS[cell]
        lamina.manual_seed(args.seed)
        train, epochs, batch_size = train_full, args.epochs or cfg["epochs"], cfg["batch_size"]
        augment = T.RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.92, 1.08))
        if args.quick:
            train, epochs, batch_size = _classic.subset(train_full, 600, args.seed), args.epochs or 4, 32
            augment = None
        model = get_model(cell, input_shape=shape, num_classes=10, **cfg["model"])
        name = "digits" if args.quick else "MNIST-5k"
        print(f"{TITLES[cell]} on {name} rows ({shape[1]} steps of {shape[2]}): {len(train)} train / {len(test)} "
              f"test images, {epochs} epochs", flush=True)
        result = _classic.fit_classifier(f"{cell}_rows", model, train, test, epochs=epochs, out=out,
                                         batch_size=batch_size, lr=cfg["lr"], weight_decay=1e-4, augment=augment,
                                         seed=args.seed, verbose=args.verbose, grad_clip=1.0,
                                         plots=not args.no_plots)
        row = _classic.accuracy_row(f"{TITLES[cell]} on {name} rows", result, cfg["bar"])
        rows.append(row)
    return _classic.report(rows, out, args.quick)


if __name__ == "__main__":
    sys.exit(_classic.exit_status(main()))
