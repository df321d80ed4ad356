"""A decoder-only Transformer learns to write Python, one character at a time, from the standard library's sources.

    python examples/char_lm.py                    # 1.2 M characters of stdlib *.py, then samples
    python examples/char_lm.py --root DIR --pattern '*.txt' --steps 3000
    python examples/char_lm.py --quick            # a few seconds: 60 k characters, a tiny model, 30 steps

Model: ``lamina.models.get_model("char_transformer", ...)``: token and learned position embeddings, pre-norm
Transformer layers under a causal mask, a linear head on every position. AdamW with warm-up and cosine decay on
random windows of the training part of ``lamina.datasets.TextCorpus``. Reports the validation perplexity next to
the unigram baseline (every character drawn from the training characters' frequencies) and writes samples at two
temperatures (top-k sampling), the loss curve (``loss.png``) and ``results.json`` into ``--out``.
"""

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np

import lamina
import lamina.nn.functional as F
from lamina import optim
from lamina.datasets import TextCorpus
from lamina.models import get_model
from lamina.optim.lr_scheduler import LambdaLR

DEFAULT = dict(max_chars=1_200_000, block_size=96, batch_size=32, steps=700, lr=3e-3,
               model=dict(d_model=96, nhead=4, num_layers=2, dim_feedforward=384, dropout=0.0, activation="relu"))
QUICK = dict(max_chars=60_000, block_size=32, batch_size=16, steps=30, lr=3e-3,
             model=dict(d_model=32, nhead=2, num_layers=1, dim_feedforward=64, dropout=0.0, activation="relu"))


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", default=None, help="folder of text files (default: the Python standard library)")
    p.add_argument("--pattern", default="*.py", help="glob of the files in --root (default: *.py)")
    p.add_argument("--max-chars", type=int, default=None, help="characters of the corpus to use")
    p.add_argument("--steps", type=int, default=None, help="training steps")
    p.add_argument("--quick", action="store_true", help="tiny data, tiny model, 40 steps: a smoke run")
    p.add_argument("--out", default=os.path.join("runs", "char_lm"), help="folder for the results")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def unigram_perplexity(train_ids, val_ids, vocab_size):
    """exp(cross-entropy of the validation characters under the training characters' frequencies, add-one)."""
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64) + 1.0
    logp = np.log(counts / counts.sum())
    return math.exp(-logp[val_ids].mean())


def validation_loss(model, val, batch_size, max_batches=40):
    """Mean next-character cross-entropy over (up to) the first max_batches * batch_size validation windows."""
    model.eval()
    n = min(len(val), max_batches * batch_size)
    total, count = 0.0, 0
    with lamina.no_grad():
        for start in range(0, n, batch_size):
            x, y = val._gather_batch(range(start, min(start + batch_size, n)))
            logits = model(x)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    model.train()
    return total / count


def plot(steps, losses, val_points, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, losses, lw=0.8, label="train (batch)")
    ax.plot([s for s, _ in val_points], [v for _, v in val_points], "o-", label="validation")
    ax.set_xlabel("step"), ax.set_ylabel("cross-entropy (nats / char)"), ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    cfg = dict(QUICK if args.quick else DEFAULT)
    if args.max_chars:
        cfg["max_chars"] = args.max_chars
    if args.steps:
        cfg["steps"] = args.steps
    lamina.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    bs, block = cfg["batch_size"], cfg["block_size"]
    kw = dict(root=args.root, pattern=args.pattern, max_chars=cfg["max_chars"])
    train = TextCorpus(seq_len=block, split="train", **kw)
    val = TextCorpus(seq_len=block, split="val", vocab=train.vocab, **kw)
    train_ids, val_ids = train.data.numpy(), val.data.numpy()
    baseline = unigram_perplexity(train_ids, val_ids, train.vocab_size)

    model = get_model("char_transformer", vocab_size=train.vocab_size, block_size=block, **cfg["model"])
    n_params = sum(p.numel() for p in model.parameters())
    opt = optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.01)
    warmup = max(cfg["steps"] // 20, 1)
    sched = LambdaLR(opt, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(math.pi * s / cfg["steps"]))))
    print(f"char LM: {len(train_ids):,} train / {len(val_ids):,} val characters, vocabulary {train.vocab_size}, "
          f"{n_params:,} parameters, {cfg['steps']} steps of {bs} x {block}; unigram perplexity {baseline:.2f}",
          flush=True)

    os.makedirs(args.out, exist_ok=True)
    steps, losses, val_points = [], [], []
    t0 = time.perf_counter()
    offsets = np.arange(block + 1)
    for step in range(1, cfg["steps"] + 1):
        starts = rng.integers(0, len(train_ids) - block - 1, bs)  # random windows, not only aligned ones
        rows = train_ids[starts[:, None] + offsets]
        x, y = lamina.tensor(rows[:, :-1]), lamina.tensor(rows[:, 1:])
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, train.vocab_size), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        lamina.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        steps.append(step)
        losses.append(loss.item())
        if step % max(cfg["steps"] // (3 if args.quick else 7), 1) == 0 or step == cfg["steps"]:
            v = validation_loss(model, val, bs, max_batches=2 if args.quick else 40)
            val_points.append((step, v))
            print(f"step {step:5d}  train loss {np.mean(losses[-20:]):.3f}  val loss {v:.3f}  "
                  f"val perplexity {math.exp(v):.2f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    seconds = time.perf_counter() - t0
    val_ppl = math.exp(val_points[-1][1])

    gen = lamina.Generator().manual_seed(args.seed)
    prompt = train.encode("def ").reshape(1, -1)
    samples = {}
    for temperature in (0.8, 1.0):
        ids = model.generate(prompt, 60 if args.quick else 400, temperature=temperature, top_k=20, generator=gen)
        samples[f"temperature {temperature}, top-k 20"] = train.decode(ids[0])
    with open(os.path.join(args.out, "samples.txt"), "w") as f:
        for k, s in samples.items():
            f.write(f"===== {k}\n{s}\n\n")
    print(f"\n--- sample (temperature 0.8, top-k 20) ---\n{samples['temperature 0.8, top-k 20']}\n---")

    first, last = float(np.mean(losses[:5])), float(np.mean(losses[-5:]))
    result = dict(example="char_lm", quick=args.quick, corpus=train.root, characters=len(train_ids) + len(val_ids),
                  vocab_size=train.vocab_size, parameters=n_params, steps=cfg["steps"], batch_size=bs,
                  block_size=block, model=cfg["model"], val_perplexity=val_ppl, unigram_perplexity=baseline,
                  first_train_loss=first, last_train_loss=last, train_seconds=seconds,
                  machine=platform.processor() or platform.machine(), date=time.strftime("%Y-%m-%d"))
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(result, f, indent=2)
    plot(steps, losses, val_points, os.path.join(args.out, "loss.png"))
    print(f"validation perplexity {val_ppl:.2f} vs unigram baseline {baseline:.2f} "
          f"({baseline / val_ppl:.1f}x lower); training {seconds:.0f} s; results in {args.out}")
    return result


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["quick"] or res["val_perplexity"] < 0.5 * res["unigram_perplexity"] else 1)
