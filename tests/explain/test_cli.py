"""``lamina explain`` end to end at tiny size (a checkpoint from ``lamina train``), and its bad-argument errors:
one line on stderr, exit status 2."""

import json

import numpy as np
import pytest

from lamina.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from sklearn.datasets import load_digits

    out = tmp_path_factory.mktemp("explain")
    assert main(["train", "--model", "cnn", "--dataset", "digits", "--model-arg", "batchnorm=false", "--model-arg",
                 "dropout=0", "--model-arg", "channels=[4,8]", "--model-arg", "hidden=16", "--epochs", "2", "--lr",
                 "0.01", "--out", str(out), "--no-progress"]) == 0
    np.save(out / "images.npy", load_digits().images[:5])  # raw 0-16 pixels, as 'lamina predict' takes them
    return out


def _explain(capsys, run, *args):
    status = main(["explain", str(run / "checkpoint.safetensors"), str(run / "images.npy"), *map(str, args)])
    return status, capsys.readouterr()


def test_integrated_gradients_end_to_end(run, capsys):
    status, out = _explain(capsys, run, "--method", "integrated_gradients", "--out", run / "ig", "--steps", 100)
    assert status == 0, out.err
    attr = np.load(run / "ig" / "attributions.npy")
    assert attr.shape == (5, 1, 8, 8) and attr.dtype == np.float32 and np.abs(attr).sum() > 0
    summary = json.loads((run / "ig" / "explain.json").read_text())
    assert summary["method"] == "integrated_gradients" and len(summary["images"]) == 5
    errors = [row["completeness_error"] for row in summary["images"]]
    assert max(errors) < 0.01 and summary["max_completeness_error"] == max(errors)
    assert all(row["target"] == row["predicted"] for row in summary["images"])
    assert (run / "ig" / "integrated_gradients.png").read_bytes()[:4] == b"\x89PNG"
    assert "completeness" in out.out and "Saved integrated_gradients attributions of 5 image(s)" in out.out


@pytest.mark.parametrize("args", [["--method", "grad_cam", "--layer", "features.3"],
                                  ["--method", "occlusion", "--window", 2, "--stride", 2],
                                  ["--method", "saliency", "--target", 3]])
def test_other_methods(run, capsys, args, tmp_path):
    status, out = _explain(capsys, run, *args, "--out", tmp_path)
    assert status == 0, out.err
    attr = np.load(tmp_path / "attributions.npy")
    assert attr.shape == (5, 1, 8, 8) and np.isfinite(attr).all() and np.abs(attr).sum() > 0
    summary = json.loads((tmp_path / "explain.json").read_text())
    if "--target" in args:
        assert {row["target"] for row in summary["images"]} == {3}
    if "grad_cam" in args:
        assert attr.min() >= 0


@pytest.mark.parametrize("args,message", [
    (["--target", 10], "--target 10 is out of range: the model has 10 classes"),
    (["--method", "grad_cam", "--layer", "nope"], "grad_cam: the model has no layer named 'nope'"),
    (["--method", "saliency", "--layer", "features.0"], "--layer applies to --method grad_cam, not saliency"),
    (["--method", "occlusion", "--window", 9], "--window 9 is larger than the images (8x8)"),
    (["--method", "occlusion", "--window", 2, "--stride", 3], "--stride 3 must not exceed --window 2"),
])
def test_bad_arguments_after_parsing(run, capsys, tmp_path, args, message):
    status, out = _explain(capsys, run, *args, "--out", tmp_path)
    assert status == 2
    assert out.err.count("\n") == 1 and out.err.startswith("lamina explain: error: ") and message in out.err


def test_bad_input_file(run, capsys, tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((5, 7)))
    status = main(["explain", str(run / "checkpoint.safetensors"), str(tmp_path / "bad.npy"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "expected images of shape (N, 1, 8, 8)" in err


@pytest.mark.parametrize("args,message", [
    (["--method", "deeplift"], "argument --method: invalid choice: 'deeplift'"),
    (["--steps", 1], "argument --steps: must be an integer >= 2"),
    ([], "the following arguments are required: --out"),
])
def test_bad_arguments_while_parsing(run, capsys, args, message):
    with pytest.raises(SystemExit) as e:
        main(["explain", str(run / "checkpoint.safetensors"), str(run / "images.npy"), *map(str, args)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and message in err


def test_missing_files(run, capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["explain", str(tmp_path / "none.safetensors"), str(run / "images.npy"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "no such file" in err
