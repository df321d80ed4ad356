"""A variational autoencoder on MNIST-5k (or 8x8 digits), trained with lamina: held-out ELBO per epoch,
reconstructions, samples from the prior and the 2-D latent space.

    python examples/vae.py                          # MNIST-5k, 2-D latent space (minutes on 2 cores)
    python examples/vae.py --latent-dim 16          # a larger code (the latent plot then shows 2 PCA axes)
    python examples/vae.py --quick                  # a smoke run of a few seconds

The bar (issue 8): the ELBO on held-out data improves monotonically over the first epochs (printed per epoch;
checked over the first 10). The held-out ELBO is a Monte-Carlo estimate with the same noise draws every epoch, so
consecutive epochs are compared on equal terms. Writes reconstructions.png, samples.png, latent_space.png
(held-out codes coloured by digit), latent_manifold.png (decoded grid over the 2-D latent space), elbo.png and
results.json into --out.
"""

import sys
import time

import numpy as np

import lamina
from lamina import optim
from lamina.models import VAE

try:
    from examples import _genrl as common
except ImportError:  # run as a script: examples/ is on sys.path
    import _genrl as common

MONOTONIC_EPOCHS = 10


def heldout_elbo(model, x, seed, draws=4, batch_size=500):
    """Mean ELBO per image (nats) over ``draws`` reparameterised samples with fixed noise."""
    model.eval()
    gen = lamina.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(draws):
        for i in range(0, len(x), batch_size):
            total += float(model.elbo(lamina.from_numpy(x[i:i + batch_size]), sample=True, generator=gen).sum())
    return total / (draws * len(x))


def encode_means(model, x, batch_size=500):
    with lamina.no_grad():
        return np.concatenate([model.encode(lamina.from_numpy(x[i:i + batch_size]))[0].numpy()
                               for i in range(0, len(x), batch_size)])


def plot_latent(z, y, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    sc = ax.scatter(z[:, 0], z[:, 1], c=y, cmap="tab10", s=6, alpha=0.8, vmin=-0.5, vmax=9.5)
    fig.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set_title(title)
    ax.set_xlabel("z[0]" if z.shape[1] == 2 else "PC 1")
    ax.set_ylabel("z[1]" if z.shape[1] == 2 else "PC 2")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = _parse(argv)
    with common.blas_threads(args.threads):
        return run(args)


def _parse(argv):
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=("mnist5k", "digits"), default="mnist5k")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default: 30 for mnist5k, 100 for digits)")
    p.add_argument("--latent-dim", type=int, default=2)
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 256])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    return p.parse_args(argv)


def run(args):
    out = common.out_dir(args, "vae")
    rng = common.seed_all(args.seed)
    epochs = args.epochs or (100 if args.dataset == "digits" else 30)
    limit = None
    if args.quick:
        args.dataset, epochs, limit, args.hidden, args.batch_size = "digits", 6, 300, [64], 32
    x, _ = common.image_arrays(args.dataset, True, limit, args.seed)
    x_test, y_test = common.image_arrays(args.dataset, False, 200 if args.quick else None)
    print(f"VAE on {args.dataset}: {len(x)} training images, latent size {args.latent_dim}, {epochs} epochs")
    model = VAE(x.shape[1:], args.latent_dim, tuple(args.hidden))
    opt = optim.Adam(model.parameters(), lr=args.lr)
    t0 = time.perf_counter()
    elbos, train_loss, step_losses = [heldout_elbo(model, x_test, args.seed + 1)], [], []
    print(f"epoch   0/{epochs}  held-out ELBO {elbos[0]:9.3f} nats")
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in common.batches(len(x), args.batch_size, rng):
            loss = model.loss(lamina.from_numpy(x[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step_losses.append(float(loss))
            total += float(loss) * len(idx)
        train_loss.append(total / len(x))
        elbos.append(heldout_elbo(model, x_test, args.seed + 1))
        print(f"epoch {epoch + 1:3d}/{epochs}  train -ELBO {train_loss[-1]:9.3f}  held-out ELBO {elbos[-1]:9.3f} nats"
              f"  [{time.perf_counter() - t0:.0f}s]")
    seconds = time.perf_counter() - t0
    checked = min(MONOTONIC_EPOCHS, epochs)
    steps = np.diff(elbos[:checked + 1])
    monotonic = bool((steps > 0).all())

    rec = model.reconstruct(lamina.from_numpy(x_test)).numpy()
    mse = float(((rec - x_test) ** 2).mean())
    shown = common.one_per_class(y_test)
    common.save_grid(np.concatenate([x_test[shown], rec[shown]]), f"{out}/reconstructions.png",
                     f"VAE: held-out originals (top), reconstructions (bottom); MSE {mse:.4f}", 2)
    common.save_grid(model.sample(100, generator=lamina.Generator().manual_seed(args.seed + 2)).numpy(),
                     f"{out}/samples.png", "VAE samples from the prior", 10)
    z = encode_means(model, x_test)
    if z.shape[1] > 2:
        zc = z - z.mean(0)
        z = zc @ np.linalg.svd(zc, full_matrices=False)[2][:2].T
    plot_latent(z, y_test, f"{out}/latent_space.png", f"VAE latent space: held-out {args.dataset} (posterior means)")
    if args.latent_dim == 2:
        from statistics import NormalDist

        grid = np.array([NormalDist().inv_cdf(q) for q in np.linspace(0.03, 0.97, 15)], dtype=np.float32)
        zz = np.stack(np.meshgrid(grid, grid[::-1]), -1).reshape(-1, 2).astype(np.float32)
        with lamina.no_grad():
            manifold = model.decode(lamina.from_numpy(zz)).sigmoid().numpy()
        common.save_grid(manifold, f"{out}/latent_manifold.png", "decoded 15x15 grid over the latent space", 15)
    common.plot_curves({"held-out ELBO": (np.arange(len(elbos)), elbos),
                        "train ELBO (running)": (np.arange(1, epochs + 1), [-t for t in train_loss])},
                       f"{out}/elbo.png", "VAE evidence lower bound (nats per image)")
    rows = [(f"held-out ELBO rises every epoch over epochs 1-{checked}", int(monotonic), "yes" if monotonic else "no",
             1, "yes", True),
            ("held-out ELBO after the last epoch (nats per image)", elbos[-1], f"{elbos[-1]:.2f}", None, None, True),
            ("held-out reconstruction MSE per pixel (posterior mean)", mse, f"{mse:.5f}", None, None, False)]
    k = max(1, min(5, len(step_losses) // 4))
    return common.report("vae", rows, out, args.quick, {
        "dataset": args.dataset, "epochs": epochs, "latent_dim": args.latent_dim, "heldout_elbo": elbos,
        "monotonic_epochs": checked, "monotonic": monotonic, "test_mse": mse, "train_neg_elbo": train_loss,
        "first_loss": float(np.mean(step_losses[:k])), "last_loss": float(np.mean(step_losses[-k:])),
        "seconds": round(seconds, 1)})


if __name__ == "__main__":
    res = main()
    sys.exit(0 if res["met"] in (True, None) else 1)
