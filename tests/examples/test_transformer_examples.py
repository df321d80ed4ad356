"""The Transformer examples in their --quick mode: they run end to end, the loss falls, the outputs are written."""

import importlib.util
import json
import math
import os

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_transformer_classifier_quick(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    res = _load("transformer_classifier").main(["--quick", "--out", str(tmp_path)])
    assert res["quick"] and res["dataset"] == "digits"
    assert res["last_train_loss"] < 0.75 * res["first_train_loss"]
    assert res["test_accuracy"] > 0.3  # ten classes: chance is 0.1
    assert json.loads((tmp_path / "results.json").read_text())["test_accuracy"] == res["test_accuracy"]
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert len((tmp_path / "history.csv").read_text().splitlines()) == res["epochs"] + 1


def test_char_lm_quick(tmp_path):
    pytest.importorskip("matplotlib")
    res = _load("char_lm").main(["--quick", "--out", str(tmp_path)])
    assert res["last_train_loss"] < res["first_train_loss"] - 0.5
    assert math.isfinite(res["val_perplexity"]) and res["val_perplexity"] < res["unigram_perplexity"]
    samples = (tmp_path / "samples.txt").read_text()
    assert samples.count("=====") == 2 and "def " in samples
    assert (tmp_path / "loss.png").stat().st_size > 0
