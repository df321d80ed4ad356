"""The lamina command end to end at small size: train, evaluate, predict, resume, demo options; bad arguments
give one line on stderr and exit status 2."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import lamina
from lamina.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _lamina(*args, cwd=None):
    path = [os.path.join(ROOT, "src")] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    return subprocess.run([sys.executable, "-m", "lamina", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = _lamina("train", "--model", "mlp", "--dataset", "digits", "--epochs", 2, "--batch-size", 32,
                "--out", out, "--no-progress", "--seed", 0)
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_train_writes_everything(trained):
    out, stdout = trained
    for name in ("checkpoint.safetensors", "metrics.json", "history.csv", "learning_curves.png",
                 "confusion_matrix.png"):
        assert (out / name).stat().st_size > 0, name
    lines = stdout.splitlines()
    assert sum(line.startswith("Epoch ") for line in lines) == 2  # one plain line per epoch
    assert "Total params" in stdout or "params" in stdout.lower()  # the model summary
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "mlp" and metrics["dataset"] == "digits" and metrics["epochs"] == 2
    assert metrics["test"]["accuracy"] > 0.8
    assert len(metrics["history"]["val_accuracy"]) == 2
    cm = np.array(metrics["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == len(lamina.datasets.Digits(train=False))
    assert np.trace(cm) / cm.sum() == pytest.approx(metrics["test"]["accuracy"])
    assert f"Test accuracy: {100 * metrics['test']['accuracy']:.2f}%" in stdout
    assert "checkpoint.safetensors" in stdout and "learning_curves.png" in stdout


def test_evaluate(trained, tmp_path):
    out, _ = trained
    r = _lamina("evaluate", out / "checkpoint.safetensors", "--out", tmp_path / "eval.json")
    assert r.returncode == 0, r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert f"accuracy {100 * metrics['test']['accuracy']:.2f}%" in r.stdout
    ev = json.loads((tmp_path / "eval.json").read_text())
    assert ev["test"]["accuracy"] == metrics["test"]["accuracy"]


def test_predict_raw_digits(trained, tmp_path):
    from sklearn.datasets import load_digits

    out, _ = trained
    d = load_digits()
    np.save(tmp_path / "raw.npy", d.images[:40])  # (40, 8, 8) floats 0..16, scaled like the dataset
    np.save(tmp_path / "flat.npy", d.data[:40].astype(np.uint8))  # (40, 64) integers
    np.save(tmp_path / "one.npy", d.images[0] / 16.0)  # one image, already in [0, 1]
    r = _lamina("predict", out / "checkpoint.safetensors", tmp_path / "raw.npy", "--out", tmp_path / "p.json")
    assert r.returncode == 0, r.stderr
    pred = json.loads((tmp_path / "p.json").read_text())
    assert len(pred["predictions"]) == 40 and np.array(pred["probabilities"]).shape == (40, 10)
    assert np.mean(np.array(pred["predictions"]) == d.target[:40]) > 0.8
    assert r.stdout.splitlines()[0].split("\t")[:2] == ["0", pred["labels"][0]]
    # the same images given flattened as integers, or one at a time, give the same classes
    assert main(["predict", str(out / "checkpoint.safetensors"), str(tmp_path / "flat.npy"),
                 "--out", str(tmp_path / "q.json")]) == 0
    assert json.loads((tmp_path / "q.json").read_text())["predictions"] == pred["predictions"]
    assert main(["predict", str(out / "checkpoint.safetensors"), str(tmp_path / "one.npy"),
                 "--out", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["predictions"] == pred["predictions"][:1]


def test_resume_through_the_command_is_bit_identical(tmp_path, capsys):
    common = ["--model", "mlp", "--dataset", "digits", "--batch-size", "64", "--no-progress",
              "--model-arg", "dropout=0.2"]
    assert main(["train", *common, "--epochs", "2", "--out", str(tmp_path / "full")]) == 0
    assert main(["train", *common, "--epochs", "1", "--out", str(tmp_path / "part")]) == 0
    assert main(["train", "--resume", str(tmp_path / "part" / "checkpoint.safetensors"), "--epochs", "2",
                 "--no-progress", "--out", str(tmp_path / "part")]) == 0
    capsys.readouterr()
    a = lamina.load(tmp_path / "full" / "checkpoint.safetensors")
    b = lamina.load(tmp_path / "part" / "checkpoint.safetensors")
    assert a["epoch"] == b["epoch"] == 2
    for k in a["model"]:
        assert a["model"][k].numpy().tobytes() == b["model"][k].numpy().tobytes(), k
    assert a["config"]["model_config"] == {"dropout": 0.2}


def _usage(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("argv,message", [
    (["train", "--model", "resnet999", "--dataset", "digits"], "argument --model: invalid choice: 'resnet999'"),
    (["train", "--model", "mlp", "--dataset", "imagenet"], "argument --dataset: invalid choice: 'imagenet'"),
    (["train", "--model", "mlp", "--dataset", "digits", "--lr", "0"], "argument --lr: must be a positive number"),
    (["train", "--model", "mlp", "--dataset", "digits", "--lr=-0.1"], "argument --lr: must be a positive number"),
    (["train", "--model", "mlp", "--dataset", "digits", "--lr", "fast"], "argument --lr: expected a number"),
    (["train", "--model", "mlp", "--dataset", "digits", "--batch-size", "0"], "argument --batch-size: must be"),
    (["train", "--model", "mlp", "--dataset", "digits", "--batch-size", "1.5"], "argument --batch-size: expected"),
    (["train", "--model", "mlp"], "--model and --dataset are required"),
    (["train", "--model", "mlp", "--dataset", "digits", "--optimizer", "lbfgs2"], "unknown optimizer 'lbfgs2'"),
    (["train", "--model", "mlp", "--dataset", "digits", "--model-arg", "bogus=1"], "model 'mlp':"),
    (["train", "--model", "mlp", "--dataset", "digits", "--model-arg", "nonsense"], "expected KEY=VALUE"),
    (["train", "--resume", "missing.safetensors"], "no such file: missing.safetensors"),
    (["evaluate", "missing.safetensors"], "no such file: missing.safetensors"),
    (["predict", "missing.safetensors", "x.npy"], "no such file: missing.safetensors"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    ([], "choose a command"),
])
def test_bad_arguments_one_line_exit_2(argv, message, capsys):
    code, err = _usage(argv, capsys)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_bad_files_one_line_exit_2(trained, tmp_path, capsys):
    out, _ = trained
    (tmp_path / "junk.safetensors").write_text("not a checkpoint")
    code, err = _usage(["evaluate", str(tmp_path / "junk.safetensors")], capsys)
    assert code == 2 and "junk.safetensors is not a lamina file" in err and err.count("\n") == 1
    lamina.save({"w": lamina.zeros(2)}, tmp_path / "weights.safetensors")
    code, err = _usage(["evaluate", str(tmp_path / "weights.safetensors")], capsys)
    assert code == 2 and "not a lamina training checkpoint" in err and err.count("\n") == 1
    np.save(tmp_path / "bad.npy", np.zeros((3, 5, 5)))
    code, err = _usage(["predict", str(out / "checkpoint.safetensors"), str(tmp_path / "bad.npy")], capsys)
    assert code == 2 and "expected images of shape (N, 1, 8, 8), (N, 8, 8) or (N, 64), got (3, 5, 5)" in err
    (tmp_path / "text.npy").write_text("hello")
    code, err = _usage(["predict", str(out / "checkpoint.safetensors"), str(tmp_path / "text.npy")], capsys)
    assert code == 2 and "not a readable .npy" in err and err.count("\n") == 1
    code, err = _usage(["train", "--resume", str(out / "checkpoint.safetensors"), "--model", "cnn"], capsys)
    assert code == 2 and "--model cnn does not match the checkpoint's model 'mlp'" in err


def test_bad_argument_in_a_real_process_has_no_traceback():
    r = _lamina("train", "--model", "mlp", "--dataset", "digits", "--lr", "-1")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("lamina train: error: argument --lr")
    assert r.stdout == ""
