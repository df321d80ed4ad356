"""The classic-architecture examples (mlp, cnn, rnn_classifier, lstm_forecast) in their --quick mode: they run end
to end through Trainer, the loss falls, the plots and results.json are written."""

import importlib.util
import json
import os
import sys

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

EXAMPLES = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "examples"))


@pytest.fixture
def run_example(tmp_path):
    """``run_example(name)``: its ``main(["--quick", "--out", tmp])`` with examples/ importable (for the shared
    ``_classic`` helper); the BLAS thread limit the example sets is undone afterwards."""
    from threadpoolctl import threadpool_limits

    def run(name, *extra):
        spec = importlib.util.spec_from_file_location(f"_example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        with threadpool_limits(limits=1, user_api="blas"):
            return mod.main(["--quick", "--out", str(tmp_path), "--verbose", "0", *extra])

    sys.path.insert(0, EXAMPLES)
    try:
        yield run
    finally:
        sys.path.remove(EXAMPLES)


def _check_classifier_runs(rows, out, prefixes, min_accuracy, plots=True):
    assert [r["label"].split(" on ")[0] for r in rows] == [p[0] for p in prefixes]
    saved = json.loads((out / "results.json").read_text())
    assert saved["quick"] is True and len(saved["runs"]) == len(rows)
    for row, (_, name) in zip(rows, prefixes):
        hist = row["history"]
        assert len(hist["loss"]) == row["epochs"]
        # the training loss falls over the epochs and the test loss ends below the untrained model's
        assert hist["loss"][-1] < 0.8 * hist["loss"][0], (name, hist["loss"])
        assert hist["val_loss"][-1] < 0.8 * row["initial_loss"], (name, row["initial_loss"], hist["val_loss"])
        assert row["value"] > min_accuracy, (name, row["value"])  # ten classes: chance is 0.1
        assert row["met"] is None and (row["bar"] is None or 0.9 < row["bar"] < 1)  # quick runs judge no bar
        for suffix in ("curves.png", "confusion.png"):
            assert (out / f"{name}_{suffix}").exists() == plots
            assert not plots or (out / f"{name}_{suffix}").stat().st_size > 0
        cm = row["confusion_matrix"]
        assert sum(map(sum, cm)) == row["test_samples"]
        assert sum(cm[i][i] for i in range(len(cm))) / row["test_samples"] == pytest.approx(row["value"])
        assert len((out / f"{name}_history.csv").read_text().splitlines()) == row["epochs"] + 1


def test_mlp_quick(run_example, tmp_path):
    rows = run_example("mlp")
    _check_classifier_runs(rows, tmp_path, [("MLP", "mlp_digits")], 0.8)


def test_cnn_quick(run_example, tmp_path):
    rows = run_example("cnn", "--no-plots")  # matplotlib takes seconds per figure: test_mlp_quick checks plots
    _check_classifier_runs(rows, tmp_path, [("LeNet-5", "lenet5_digits"),
                                            ("VGG-style CNN + BatchNorm", "cnn_digits")], 0.3, plots=False)


def test_rnn_classifier_quick(run_example, tmp_path):
    rows = run_example("rnn_classifier", "--no-plots")
    _check_classifier_runs(rows, tmp_path, [("RNN (tanh)", "rnn_rows"), ("LSTM", "lstm_rows"), ("GRU", "gru_rows")],
                           0.2, plots=False)


def test_lstm_forecast_quick(run_example, tmp_path):
    (row,) = run_example("lstm_forecast")
    hist = row["history"]
    assert hist["loss"][-1] < 0.5 * row["initial_loss"] and hist["val_loss"][-1] < hist["val_loss"][0]
    assert row["higher_is_better"] is False and row["bar"] == 0.8
    # even the quick model beats the naive last-value forecast on the held-out years
    assert row["value"] == pytest.approx(row["rmse_lstm"] / row["rmse_naive"]) and row["value"] < 1
    assert row["test_years"] == [1977, 2008]
    for name in ("lstm_curves.png", "lstm_forecast.png"):
        assert (tmp_path / name).stat().st_size > 0
