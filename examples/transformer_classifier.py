"""A Transformer encoder classifies handwritten digits, reading each image's rows as a sequence of tokens.

    python examples/transformer_classifier.py                     # MNIST-5k, 28 rows of 28 pixels; bar: >= 95 %
    python examples/transformer_classifier.py --dataset digits    # 8x8 digits, 8 rows of 8 pixels
    python examples/transformer_classifier.py --quick             # a few seconds: 480 digits, a tiny model

Model: ``lamina.models.get_model("transformer", ...)``: a linear embedding of each row plus learned positional
embeddings, pre-norm ``nn.TransformerEncoder`` layers, the mean over the rows and a linear head. AdamW with a
one-cycle learning rate; MNIST-5k training batches get small random affine distortions. Writes the learning
curves (``curves.png``), per-epoch ``history.csv`` and ``results.json`` into ``--out``.
"""

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

import lamina
import lamina.nn.functional as F
from lamina import optim
from lamina import transforms as T
from lamina.datasets import Digits, MNIST5k
from lamina.models import get_model
from lamina.optim.lr_scheduler import OneCycleLR
from lamina.utils.data import DataLoader, Subset

RUNS = {
    "mnist5k": dict(dataset=MNIST5k, shape=(1, 28, 28), epochs=30, batch_size=64, lr=2e-3, weight_decay=0.05,
                    model=dict(d_model=64, nhead=4, num_layers=3, dim_feedforward=128, dropout=0.1, activation="relu"),
                    augment=lambda: T.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))),
    "digits": dict(dataset=Digits, shape=(1, 8, 8), epochs=40, batch_size=32, lr=3e-3, weight_decay=0.05,
                   model=dict(d_model=64, nhead=4, num_layers=2, dim_feedforward=128, dropout=0.1, activation="relu"),
                   augment=None),
}
BAR = 0.95  # the required test accuracy


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=tuple(RUNS), default="mnist5k")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: the tuned value of the dataset)")
    p.add_argument("--quick", action="store_true", help="480 digits, a tiny model, 3 epochs: a smoke run")
    p.add_argument("--out", default=os.path.join("runs", "transformer_classifier"), help="folder for the results")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def evaluate(model, loader):
    model.eval()
    correct = total = 0
    loss = 0.0
    with lamina.no_grad():
        for x, y in loader:
            logits = model(x)
            loss += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.argmax(1) == y).sum().item())
            total += len(y)
    return loss / total, correct / total


def plot(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(epochs, [h["train_loss"] for h in history], label="train")
    a.plot(epochs, [h["test_loss"] for h in history], label="test")
    a.set_xlabel("epoch"), a.set_ylabel("cross-entropy"), a.legend()
    b.plot(epochs, [h["test_accuracy"] for h in history])
    b.axhline(BAR, ls="--", c="grey")
    b.set_xlabel("epoch"), b.set_ylabel("test accuracy")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    name = "digits" if args.quick else args.dataset
    cfg = RUNS[name]
    lamina.manual_seed(args.seed)
    train, test = cfg["dataset"](train=True), cfg["dataset"](train=False)
    epochs = args.epochs or (3 if args.quick else cfg["epochs"])
    model_kw = dict(cfg["model"], **(dict(d_model=32, num_layers=1, dim_feedforward=64) if args.quick else {}))
    if args.quick:
        idx = np.sort(np.random.default_rng(args.seed).permutation(len(train))[:480])
        train, cfg = Subset(train, idx), dict(cfg, lr=5e-3)
    gen = lamina.Generator().manual_seed(args.seed)
    train_loader = DataLoader(train, batch_size=cfg["batch_size"], shuffle=True, generator=gen)
    test_loader = DataLoader(test, batch_size=500)
    augment = cfg["augment"]() if cfg["augment"] and not args.quick else None

    model = get_model("transformer", input_shape=cfg["shape"], num_classes=10, **model_kw)
    opt = optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    sched = OneCycleLR(opt, max_lr=cfg["lr"], total_steps=epochs * len(train_loader), pct_start=0.15)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"Transformer on {name}: {len(train)} train / {len(test)} test images as {cfg['shape'][1]} row tokens, "
          f"{n_params:,} parameters, {epochs} epochs", flush=True)

    os.makedirs(args.out, exist_ok=True)
    history = []
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        total, count = 0.0, 0
        for x, y in train_loader:
            if augment is not None:
                x = augment(x)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(y)
            count += len(y)
        test_loss, test_acc = evaluate(model, test_loader)
        history.append(dict(epoch=epoch, train_loss=total / count, test_loss=test_loss, test_accuracy=test_acc,
                            seconds=time.perf_counter() - t0))
        print(f"epoch {epoch:3d}  train loss {total / count:.4f}  test loss {test_loss:.4f}  "
              f"test accuracy {test_acc:.4f}  ({history[-1]['seconds']:.0f} s)", flush=True)

    result = dict(example="transformer_classifier", dataset=name, quick=args.quick, epochs=epochs,
                  parameters=n_params, model=model_kw, test_accuracy=history[-1]["test_accuracy"],
                  bar=BAR, passed=history[-1]["test_accuracy"] >= BAR, train_seconds=history[-1]["seconds"],
                  first_train_loss=history[0]["train_loss"], last_train_loss=history[-1]["train_loss"],
                  machine=platform.processor() or platform.machine(), date=time.strftime("%Y-%m-%d"))
    with open(os.path.join(args.out, "history.csv"), "w") as f:
        f.write(",".join(history[0]) + "\n")
        f.writelines(",".join(str(v) for v in h.values()) + "\n" for h in history)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(result, f, indent=2)
    plot(history, os.path.join(args.out, "curves.png"))
    verdict = "quick run (no bar)" if args.quick else ("PASS" if result["passed"] else "FAIL")
    print(f"test accuracy {result['test_accuracy']:.4f} (bar {BAR:.2f}): {verdict}; "
          f"training {result['train_seconds']:.0f} s; results in {args.out}")
    return result


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["quick"] or res["passed"] else 1)
