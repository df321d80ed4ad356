"""The DCGAN, autoencoder, VAE and DQN examples in their --quick mode: they run end to end, the losses fall (DQN:
the TD loss is finite and the agent runs episodes), the images, plots and results.json are written."""

import importlib.util
import json
import math
import os
import sys

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "examples")


def _load(name):
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)  # the examples import their shared helper as a sibling module
    spec = importlib.util.spec_from_file_location(f"_example_{name}", os.path.join(EXAMPLES, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _files(path, names):
    for name in names:
        assert (path / name).stat().st_size > 0, name
    return json.loads((path / "results.json").read_text())


def test_dcgan_quick(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    res = _load("dcgan").main(["--quick", "--out", str(tmp_path)])
    assert res["quick"] and res["met"] is None and res["dataset"] == "digits"
    assert res["last_d_loss"] < res["first_d_loss"] - 0.05  # the discriminator learns to tell real from fake
    assert all(math.isfinite(v) for v in res["g_loss"])
    assert sum(res["class_counts"]) == 200 and 0 <= res["confident_fraction"] <= 1
    assert res["classifier_accuracy"] > 0.2  # the judging classifier learnt something (chance: 0.1)
    saved = _files(tmp_path, ["samples.png", "samples_labelled.png", "real.png", "losses.png"])
    assert saved["class_counts"] == res["class_counts"]


def test_autoencoder_quick(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    res = _load("autoencoder").main(["--quick", "--out", str(tmp_path)])
    assert res["last_loss"] < 0.75 * res["first_loss"]
    assert res["test_mse_per_epoch"][-1] < 0.75 * res["test_mse_per_epoch"][0]
    assert res["test_mse"] < res["mean_image_mse"]  # better than predicting the mean image
    _files(tmp_path, ["reconstructions.png", "losses.png"])


def test_vae_quick(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    res = _load("vae").main(["--quick", "--out", str(tmp_path)])
    assert res["last_loss"] < 0.85 * res["first_loss"]
    elbo = res["heldout_elbo"]
    assert len(elbo) == res["epochs"] + 1 and elbo[-1] > elbo[0] + 5  # nats per image
    assert res["monotonic"] == all(b > a for a, b in zip(elbo, elbo[1:res["monotonic_epochs"] + 1]))
    assert 0 < res["test_mse"] < 0.1
    _files(tmp_path, ["reconstructions.png", "samples.png", "latent_space.png", "latent_manifold.png", "elbo.png"])


def test_dqn_cartpole_quick(tmp_path):
    pytest.importorskip("gymnasium")
    pytest.importorskip("matplotlib")
    res = _load("dqn_cartpole").main(["--quick", "--out", str(tmp_path)])
    assert res["td_loss_finite"] and res["updates"] > 1000
    assert res["steps"] == 1500 and res["episodes"] >= 5
    assert len(res["eval_returns"]) == 3 and all(1 <= r <= 500 for r in res["eval_returns"])
    assert [s for s, _ in res["evaluations"]] == [750, 1500]
    _files(tmp_path, ["returns.png", "td_loss.png"])
