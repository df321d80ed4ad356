"""``lamina tune`` end to end at tiny size (run, resume) and its bad-argument errors (one line, exit status 2)."""

import json
import os

import pandas as pd
import pytest

from lamina.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPACES = os.path.join(ROOT, "examples", "spaces")


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("lr: {type: float, low: 1.0e-3, high: 3.0e-2, log: true}\n"
                    "width: {type: int, low: 8, high: 32, log: true}\n"
                    "depth: 1\n")
    return str(path)


def test_tune_runs_end_to_end_and_resumes(space, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["tune", "--model", "mlp", "--dataset", "digits", "--space", space, "--method", "random",
            "--epochs", "1", "--out", str(out), "--seed", "0"]
    assert main(args + ["--trials", "2"]) == 0
    stdout = capsys.readouterr().out
    lines = stdout.splitlines()
    assert lines[0].startswith("lamina tune: random search of 2 parameter(s), 2 trials, maximize val_accuracy")
    assert [line.split(" trial ")[0] for line in lines if " trial " in line and line.startswith("[")] == \
        ["[1/2]", "[2/2]"]  # one line per trial
    trials = pd.read_csv(out / "trials.csv")
    assert list(trials["number"]) == [0, 1] and list(trials["state"]) == ["COMPLETE"] * 2
    assert trials["params_lr"].between(1e-3, 3e-2).all() and trials["params_width"].between(8, 32).all()
    best = json.loads((out / "best.json").read_text())
    assert best["best_value"] == pytest.approx(trials["val_accuracy"].max()) and best["best_value"] > 0.3
    assert best["best_params"]["depth"] == 1 and best["direction"] == "maximize"
    for name in ("optimization_history", "parallel_coordinate", "slice", "param_importances"):
        assert (out / f"{name}.png").stat().st_size > 0, name
    assert (out / "study.db").exists()

    assert main(args + ["--trials", "3", "--no-plots"]) == 0  # the same command, a larger budget: one more trial
    stdout = capsys.readouterr().out
    assert "resuming with 2 done" in stdout and "[3/3] trial 2 " in stdout and "trial 0 " not in stdout
    again = pd.read_csv(out / "trials.csv")
    assert len(again) == 3 and list(again["params_lr"][:2]) == list(trials["params_lr"])


def _bad(tmp_path, text):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case,extra,message", [
    ("unknown model", ["--model", "resnet999"], "argument --model: invalid choice"),
    ("zero trials", ["--trials", "0"], "argument --trials: must be an integer >= 1"),
    ("missing space", ["--space", "nowhere.yaml"], "--space: no such file: nowhere.yaml"),
    ("unknown entry", ["--space", "<foo: [1, 2]\n"], "space entry 'foo' is neither a training option"),
    ("bad range", ["--space", "<lr: {type: float, low: 1, high: 0.1}\n"], "lr: low must be <= high"),
    ("grid without values", ["--space", "<lr: {type: float, low: 0.001, high: 0.1, log: true}\n",
                             "--method", "grid"], "lr: grid search needs 'grid'"),
    ("unknown optimizer", ["--space", "<optimizer: [adam, lbfgs2]\n"], "unknown optimizer 'lbfgs2'"),
    ("training metric", ["--metric", "loss"], "--metric must be a validation value"),
])
def test_bad_arguments_one_line_exit_2(case, extra, message, space, tmp_path, capsys):
    args = {"--model": "mlp", "--dataset": "digits", "--space": space, "--out": str(tmp_path / "o")}
    rest = []
    for i in range(0, len(extra), 2):
        key, value = extra[i], extra[i + 1]
        if value.startswith("<"):
            value = _bad(tmp_path, value[1:])
        if key in args:
            args[key] = value
        else:
            rest += [key, value]
    argv = ["tune"] + [x for kv in args.items() for x in kv] + rest
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's errors exit from the parser
        status = e.code
    err = capsys.readouterr().err
    assert status == 2, case
    assert err.count("\n") == 1 and err.startswith("lamina tune: error: ") and message in err, err
    assert not (tmp_path / "o" / "study.db").exists()  # nothing ran


def test_example_spaces_parse_for_their_models():
    for name, model in (("mlp_digits.yaml", "mlp"), ("quick_grid.yaml", "mlp"), ("cnn_digits.yaml", "cnn")):
        from lamina.tune.cli import _check_space
        from lamina.tune.space import Space

        space = Space.from_yaml(os.path.join(SPACES, name))
        _check_space(space, model)  # raises UsageError on an entry the model does not take
    assert Space.from_yaml(os.path.join(SPACES, "mlp_digits.yaml")).grid_size() == 4 * (1 + 2) * 3 * 2 * 3 * 6 * 3
