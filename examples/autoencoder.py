"""A convolutional autoencoder on MNIST-5k (or 8x8 digits), trained with lamina; reconstruction MSE on held-out data.

    python examples/autoencoder.py                  # MNIST-5k, latent size 32 (minutes on 2 cores)
    python examples/autoencoder.py --quick          # a smoke run of a few seconds

Reports the mean squared reconstruction error per pixel on the held-out images next to two references on the
same data: predicting the mean training image, and PCA with as many components as the code has dimensions
(the best linear autoencoder). Writes reconstructions.png (originals above, reconstructions below), losses.png
and results.json into --out.
"""

import sys
import time

import numpy as np

import lamina
import lamina.nn.functional as F
from lamina import optim
from lamina.models import AutoEncoder

try:
    from examples import _genrl as common
except ImportError:  # run as a script: examples/ is on sys.path
    import _genrl as common


def reconstruction_mse(model, x, batch_size=500):
    model.eval()
    total = 0.0
    with lamina.no_grad():
        for i in range(0, len(x), batch_size):
            xb = lamina.from_numpy(x[i:i + batch_size])
            total += float(F.mse_loss(model(xb), xb, reduction="sum"))
    return total / x.size


def pca_mse(x_train, x_test, k):
    """Held-out MSE of the best rank-k linear reconstruction fitted on the training images."""
    a = x_train.reshape(len(x_train), -1).astype(np.float64)
    mean = a.mean(0)
    _, _, vt = np.linalg.svd(a - mean, full_matrices=False)
    b = x_test.reshape(len(x_test), -1) - mean
    rec = (b @ vt[:k].T) @ vt[:k]
    return float(((rec - b) ** 2).mean())


def main(argv=None):
    args = _parse(argv)
    with common.blas_threads(args.threads):
        return run(args)


def _parse(argv):
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=("mnist5k", "digits"), default="mnist5k")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: 15 for mnist5k, 60 for digits)")
    p.add_argument("--latent-dim", type=int, default=32)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    return p.parse_args(argv)


def run(args):
    out = common.out_dir(args, "autoencoder")
    rng = common.seed_all(args.seed)
    epochs = args.epochs or (60 if args.dataset == "digits" else 15)
    limit = None
    if args.quick:
        args.dataset, epochs, limit, args.channels, args.latent_dim = "digits", 8, 256, 8, 8
        args.batch_size = 16
    x, _ = common.image_arrays(args.dataset, True, limit, args.seed)
    x_test, y_test = common.image_arrays(args.dataset, False, 200 if args.quick else None)
    print(f"Autoencoder on {args.dataset}: {len(x)} training images, latent size {args.latent_dim}, {epochs} epochs")
    model = AutoEncoder(x.shape[1:], args.latent_dim, args.channels)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    t0 = time.perf_counter()
    train_hist, test_hist, step_losses = [], [reconstruction_mse(model, x_test)], []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in common.batches(len(x), args.batch_size, rng):
            xb = lamina.from_numpy(x[idx])
            loss = F.mse_loss(model(xb), xb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step_losses.append(float(loss))
            total += float(loss) * len(idx)
        sched.step()
        train_hist.append(total / len(x))
        test_hist.append(reconstruction_mse(model, x_test))
        print(f"epoch {epoch + 1:3d}/{epochs}  train MSE {train_hist[-1]:.5f}  held-out MSE {test_hist[-1]:.5f}  "
              f"[{time.perf_counter() - t0:.0f}s]")
    seconds = time.perf_counter() - t0
    mse = test_hist[-1]
    mean_mse = float(((x_test - x.mean(0)) ** 2).mean())
    pca = pca_mse(x, x_test, args.latent_dim)

    model.eval()
    with lamina.no_grad():
        shown = x_test[common.one_per_class(y_test)]
        rec = model(lamina.from_numpy(shown)).numpy()
    common.save_grid(np.concatenate([shown, rec]), f"{out}/reconstructions.png",
                     f"autoencoder: held-out originals (top), reconstructions (bottom); MSE {mse:.4f}", 2)
    common.plot_curves({"train": train_hist, "held-out": (np.arange(len(test_hist)), test_hist)},
                       f"{out}/losses.png", "autoencoder reconstruction MSE")
    rows = [("held-out reconstruction MSE per pixel", mse, f"{mse:.5f}", None, None, False),
            ("  reference: mean training image", mean_mse, f"{mean_mse:.5f}", None, None, False),
            (f"  reference: PCA with {args.latent_dim} components", pca, f"{pca:.5f}", None, None, False)]
    k = max(1, min(5, len(step_losses) // 4))
    return common.report("autoencoder", rows, out, args.quick, {
        "dataset": args.dataset, "epochs": epochs, "latent_dim": args.latent_dim, "test_mse": mse,
        "mean_image_mse": mean_mse, "pca_mse": pca, "train_mse": train_hist, "test_mse_per_epoch": test_hist,
        "first_loss": float(np.mean(step_losses[:k])), "last_loss": float(np.mean(step_losses[-k:])),
        "seconds": round(seconds, 1)})


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["met"] in (True, None) else 1)
