"""An LSTM forecaster on the yearly sunspot numbers (1700-2008): predict next year's number from the previous
``--window`` years, and compare with the naive forecast (next year = this year) on the held-out last 10 %.

    python examples/lstm_forecast.py              # bar: test RMSE at least 20 % below the naive forecast's
    python examples/lstm_forecast.py --window 30 --out runs/sunspots
    python examples/lstm_forecast.py --quick      # a few seconds: 15 epochs of a smaller LSTM

Data: ``lamina.datasets.Sunspots`` split chronologically 80 / 10 / 10 % (train / validation / test), standardised
with the train statistics. Model: ``lamina.models.get_model("lstm_forecaster", ...)``, trained by
``lamina.training.Trainer`` (Adam, MSE loss, ``ReduceLROnPlateau`` on the validation loss, ``EarlyStopping``
that restores the best validation weights). The test years are used only for the final report. Writes the
learning curves, a plot of both forecasts against the truth, per-epoch CSV and results.json into ``--out``.
"""

import os
import sys
import time

import _classic
import numpy as np

import lamina
from lamina import nn, optim
from lamina.datasets import Sunspots
from lamina.models import get_model
from lamina.optim.lr_scheduler import ReduceLROnPlateau
from lamina.training import CSVLogger, EarlyStopping, Trainer
from lamina.utils.data import DataLoader

FRACTIONS = (0.8, 0.1, 0.1)
BAR = 0.8  # the LSTM's test RMSE must be at most 80 % of the naive forecast's


def _rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) ** 2)))


def _plot(path, years, truth, naive, lstm, rmse_naive, rmse_lstm):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(years, truth, "k-o", ms=3, label="observed")
    ax.plot(years, naive, "--", color="tab:gray", label=f"naive last value (RMSE {rmse_naive:.1f})")
    ax.plot(years, lstm, "-", color="tab:red", label=f"LSTM (RMSE {rmse_lstm:.1f})")
    ax.set_xlabel("year")
    ax.set_ylabel("sunspot number")
    ax.set_title("One-year-ahead forecasts on the held-out last 10 % of the series")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = _classic.parser(__doc__.split("\n")[0], epochs_help="maximum epochs (early stopping) (default: 300)")
    p.add_argument("--window", type=int, default=20, help="years of input per forecast (default: 20)")
    p.add_argument("--hidden", type=int, default=32, help="LSTM hidden size (default: 32)")
    args = p.parse_args(argv)
    out = _classic.setup(args, "lstm_forecast")
    sets = {s: Sunspots(split=s, window=args.window, fractions=FRACTIONS) for s in ("train", "val", "test")}
    epochs = args.epochs or (15 if args.quick else 300)
    hidden = 16 if args.quick else args.hidden
    train_loader = DataLoader(sets["train"], batch_size=16, shuffle=True,
                              generator=lamina.Generator().manual_seed(args.seed))
    val_loader = DataLoader(sets["val"], batch_size=256)
    test_loader = DataLoader(sets["test"], batch_size=256)

    model = get_model("lstm_forecaster", input_shape=(args.window, 1), horizon=1, hidden_size=hidden)
    opt = optim.Adam(model.parameters(), lr=5e-3)
    callbacks = [CSVLogger(os.path.join(out, "lstm_history.csv"))]
    if not args.quick:
        callbacks.append(EarlyStopping(monitor="val_loss", patience=40, restore_best_weights=True))
    trainer = Trainer(model, opt, nn.MSELoss(), callbacks=callbacks, grad_clip=1.0,
                      scheduler=ReduceLROnPlateau(opt, factor=0.5, patience=15))
    print(f"LSTM forecaster on sunspots: {len(sets['train'])} train / {len(sets['val'])} val / "
          f"{len(sets['test'])} test windows of {args.window} years, hidden {hidden}, up to {epochs} epochs",
          flush=True)
    initial = trainer.evaluate(train_loader)["loss"]
    t0, c0 = time.perf_counter(), time.process_time()
    history = trainer.fit(train_loader, val_loader, epochs=epochs, verbose=args.verbose)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0

    test = sets["test"]
    truth = test.inverse_transform(test.targets.numpy()[:, 0])
    naive = test.inverse_transform(test.data.numpy()[:, -1, 0])
    lstm = test.inverse_transform(trainer.predict(test_loader).numpy()[:, 0])
    rmse_naive, rmse_lstm = _rmse(naive, truth), _rmse(lstm, truth)
    years = test.target_years.numpy()
    if not args.no_plots:
        history.plot(os.path.join(out, "lstm_curves.png"), title="LSTM forecaster on sunspots (normalised MSE)")
        _plot(os.path.join(out, "lstm_forecast.png"), years, truth, naive, lstm, rmse_naive, rmse_lstm)
    ratio = rmse_lstm / rmse_naive
    print(f"test years {years[0]}-{years[-1]}: RMSE LSTM {rmse_lstm:.2f}, naive last value {rmse_naive:.2f} "
          f"({100 * (1 - ratio):.1f}% lower)")
    row = {"label": "LSTM forecaster on sunspots (last 10%)", "metric": "RMSE / naive RMSE", "value": ratio,
           "shown": f"{ratio:.3f}", "bar": BAR, "bar_shown": f"{BAR:.2f}", "higher_is_better": False,
           "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1),
           "rmse_lstm": rmse_lstm, "rmse_naive": rmse_naive,
           "initial_loss": initial, "epochs": trainer.epoch, "test_years": [int(years[0]), int(years[-1])],
           "history": {k: list(v) for k, v in history.history.items()}}
    return _classic.report([row], out, args.quick)


if __name__ == "__main__":
    sys.exit(_classic.exit_status(main()))
