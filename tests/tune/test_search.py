"""The search with lamina's Trainer on the digits (pruning, NaN losses, Bayes beating the default configuration)
and its storage: a search killed mid-way resumes, two processes share one SQLite study."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest

import lamina
from lamina import nn, optim, tune
from lamina.datasets import Digits
from lamina.models import get_model
from lamina.training import Trainer
from lamina.utils.data import DataLoader, random_split

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src")
States = optuna.trial.TrialState


@pytest.fixture(scope="module")
def digits():
    full = Digits(train=True)  # 1,437 images
    n_val = 287
    return random_split(full, [len(full) - n_val, n_val], generator=lamina.Generator().manual_seed(0))


def _trainer(model, opt):
    return Trainer(model, opt, nn.CrossEntropyLoss(), metrics=["accuracy"])


def _loaders(train, val, batch_size=32):
    return (DataLoader(train, batch_size=batch_size, shuffle=True, generator=lamina.Generator().manual_seed(0)),
            DataLoader(val, batch_size=256))


def test_pruning_stops_a_far_worse_trial(digits):
    train, val = digits
    small_train = random_split(train, [300, len(train) - 300], generator=lamina.Generator().manual_seed(1))[0]

    def build(p):
        model = get_model("mlp", width=32, depth=1)
        if p["run"] == 3:  # barely moves: its val_loss stays near ln(10)
            opt = optim.SGD(model.parameters(), lr=1e-7)
        else:
            opt = optim.Adam(model.parameters(), lr=1e-2)
        return (_trainer(model, opt), *_loaders(small_train, val))

    result = tune.search(build, {"run": [0, 1, 2, 3]}, metric="val_loss", method="grid", epochs=4,
                         pruner=optuna.pruners.MedianPruner(n_startup_trials=3), storage="memory", verbose=False)
    trials = result.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [States.COMPLETE] * 3 + [States.PRUNED]
    assert all(sorted(t.intermediate_values) == [1, 2, 3, 4] and t.user_attrs["epochs"] == 4 for t in trials[:3])
    assert sorted(trials[3].intermediate_values) == [1]  # stopped after its first epoch
    assert trials[3].intermediate_values[1] > trials[0].intermediate_values[1] + 0.2  # far worse
    assert trials[0].value == pytest.approx(trials[0].intermediate_values[4])  # the score is the last epoch's


def test_pruners_by_name():
    assert isinstance(tune.make_pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(tune.make_pruner("halving"), optuna.pruners.SuccessiveHalvingPruner)
    hb = tune.make_pruner("hyperband", epochs=9)
    assert isinstance(hb, optuna.pruners.HyperbandPruner) and hb._max_resource == 9
    assert isinstance(tune.make_pruner("none"), optuna.pruners.NopPruner)
    with pytest.raises(ValueError, match="unknown pruner 'asha'"):
        tune.make_pruner("asha")


def test_nan_loss_is_a_failed_trial(digits):
    train, val = digits

    def build(p):
        model = get_model("mlp", width=8, depth=1)
        if p["poison"]:
            model.layers[0].weight._data[0, 0] = np.nan
        return (_trainer(model, optim.Adam(model.parameters(), lr=1e-3)), *_loaders(train, val))

    result = tune.search(build, {"poison": [True, False]}, metric="val_accuracy", method="grid", epochs=1,
                         storage="memory", verbose=False)
    poisoned, clean = result.study.get_trials(deepcopy=False)
    assert poisoned.state == States.FAIL and poisoned.user_attrs["error"] == \
        "FloatingPointError: training loss is nan at epoch 1"
    assert clean.state == States.COMPLETE and result.best_params == {"poison": False}


def test_bayes_on_digits_beats_the_default_configuration(digits):
    train, val = digits

    def build(p):
        model = get_model("mlp", width=p["width"], depth=1)
        return (_trainer(model, optim.Adam(model.parameters(), lr=p["lr"])),
                *_loaders(train, val, batch_size=p["batch_size"]))

    space = tune.Space({"lr": tune.Float(1e-4, 0.3, log=True, default=1e-3),
                        "width": tune.Int(16, 128, log=True, default=64),
                        "batch_size": tune.Categorical([32, 64, 128], default=64)})
    default = tune.search(build, {k: [v] for k, v in space.defaults().items()}, metric="val_accuracy",
                          method="grid", epochs=2, storage="memory", verbose=False).best_value
    result = tune.search(build, space, metric="val_accuracy", method="bayes", n_trials=20, epochs=2, seed=0,
                         storage="memory", verbose=False)
    assert len(result.study.trials) == 20
    assert result.best_value >= default, (result.best_value, default, result.best_params)
    assert result.best_value > 0.9
    assert space.contains(result.best_params)


def _study(db, name):
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}")


def test_killed_search_resumes_without_repeating_finished_trials(tmp_path):
    db, log = tmp_path / "study.db", tmp_path / "first.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_slow_search.py"), str(db), str(log), "6", "0.6"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    complete = []
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            complete = [t for t in _study(db, "killed").get_trials() if t.state == States.COMPLETE]
        except Exception:  # the study is not created yet
            continue
        if len(complete) >= 2:
            break
    assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {t.number: t for t in _study(db, "killed").get_trials() if t.state == States.COMPLETE}
    assert 2 <= len(before) < 6
    _study(db, "killed").ask()  # a trial whose process died before its first heartbeat: it must not block the study

    calls = []

    def objective(p):
        calls.append(p["x"])
        return (p["x"] - 0.3) ** 2

    result = tune.search(objective, {"x": tune.Float(0.0, 1.0)}, metric="loss", method="random", n_trials=6,
                         seed=0, storage=str(db), study_name="killed", pruner="none", verbose=False)
    trials = result.study.get_trials(deepcopy=False)
    after = {t.number: t for t in trials if t.state == States.COMPLETE}
    assert len(after) == 6 and len(calls) == 6 - len(before)  # only the remaining trials ran
    assert all(after[n].params == t.params and after[n].value == t.value for n, t in before.items())
    assert not {t.params["x"] for t in before.values()} & set(calls)
    for stale in (t for t in trials if t.state == States.FAIL):  # the trial the kill interrupted...
        assert "error" not in stale.user_attrs
        retried = [t for t in trials if t.system_attrs.get("failed_trial") == stale.number]
        assert retried and retried[0].state == States.COMPLETE
        if stale.params:  # ...ran again with its values (the trial made by ask() alone had none)
            assert retried[0].params == stale.params


def test_two_processes_share_one_sqlite_study(tmp_path):
    log = tmp_path / "pids.log"

    def objective(p):
        time.sleep(0.3)
        with open(log, "a") as f:
            f.write(f"{os.getpid()} {p['x']!r}\n")
        return p["x"]

    result = tune.search(objective, {"x": tune.Float(0.0, 1.0)}, metric="loss", method="random", n_trials=8,
                         seed=0, storage=str(tmp_path / "shared.db"), n_jobs=2, pruner="none", verbose=False)
    assert (tmp_path / "shared.db").exists()
    lines = log.read_text().split("\n")[:-1]
    pids = [line.split()[0] for line in lines]
    assert len(lines) == 8 and len(set(pids)) == 2  # together exactly n_trials, both worked
    trials = result.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [States.COMPLETE] * 8
    assert sorted(t.params["x"] for t in trials) == sorted(float(line.split()[1]) for line in lines)


def test_ctrl_c_records_the_trial_and_the_next_run_repeats_only_it(tmp_path):
    calls = []

    def objective(p):
        calls.append(p["x"])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return p["x"]

    kwargs = dict(metric="loss", method="bayes", n_trials=5, seed=0, storage=str(tmp_path / "s.db"), verbose=False)
    with pytest.raises(KeyboardInterrupt):
        tune.search(objective, {"x": tune.Float(0.0, 1.0)}, **kwargs)
    result = tune.search(objective, {"x": tune.Float(0.0, 1.0)}, **kwargs)
    trials = result.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [States.COMPLETE] * 2 + [States.FAIL] + [States.COMPLETE] * 3
    assert len(calls) == 6 and calls[3] == calls[2]  # the interrupted trial ran again first, with its value
    df = result.trials
    assert list(df["interrupted"]) == [False, False, True, False, False, False]
    assert df["retry_of"][3] == 2 and df["state"].tolist().count("COMPLETE") == 5
