"""Search spaces and the search machinery on cheap objectives: the grid, bounds, log scales, conditions,
reproducibility, failed trials, YAML files."""

import math
import os
import time
import warnings

import optuna
import pytest

from lamina import tune

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPACES = os.path.join(ROOT, "examples", "spaces")


def _space():
    return tune.Space({
        "lr": tune.Float(1e-4, 1.0, log=True),
        "width": tune.Int(4, 1024, log=True),
        "dropout": tune.Float(0.0, 0.5, step=0.1),
        "optimizer": tune.Categorical(["adam", "sgd", "rmsprop"]),
        "momentum": tune.Float(0.0, 0.99, when={"optimizer": ["sgd", "rmsprop"]}),
        "nesterov": tune.Categorical([False, True], when={"optimizer": "sgd"}),
        "depth": 2,
    })


def _record(calls):
    def objective(p):
        calls.append(dict(p))
        return math.log(p["lr"]) ** 2 + p.get("dropout", 0.0) + (p.get("momentum", 0.5) - 0.5) ** 2
    return objective


def _params(result):
    return [t.params for t in result.study.get_trials(deepcopy=False)]


def test_grid_visits_exactly_the_grid():
    space = {"lr": tune.Float(1e-3, 1e-1, log=True, grid=3), "optimizer": ["adam", "sgd"],
             "momentum": tune.Float(0.0, 0.9, when={"optimizer": "sgd"}, grid=[0.0, 0.9]), "width": 8}
    calls = []
    result = tune.search(_record(calls), space, metric="loss", method="grid", storage="memory", verbose=False)
    lrs = [1e-3, 1e-2, 1e-1]
    expected = ([{"lr": lr, "optimizer": "adam"} for lr in lrs]
                + [{"lr": lr, "optimizer": "sgd", "momentum": m} for lr in lrs for m in (0.0, 0.9)])
    assert len(calls) == len(expected) == 9  # not 3 x 2 x 2 = 12: momentum multiplies only SGD's points
    key = lambda d: tuple(sorted((k, round(v, 9) if isinstance(v, float) else v) for k, v in d.items()))
    assert sorted(map(key, _params(result))) == sorted(map(key, expected))
    assert all(c["width"] == 8 for c in calls)  # constants reach the build function
    assert result.counts() == {"complete": 9}
    assert result.best_params["lr"] == pytest.approx(0.1) and result.best_params["width"] == 8


@pytest.mark.parametrize("method", ["random", "bayes"])
def test_sampling_respects_bounds_log_scales_and_conditions(method):
    space = _space()
    calls = []
    result = tune.search(_record(calls), space, metric="loss", method=method, n_trials=30, seed=1,
                         storage="memory", verbose=False)
    assert len(calls) == 30
    assert [{k: v for k, v in c.items() if k != "depth"} for c in calls] == _params(result)  # as stored
    for p in calls:
        assert space.contains({k: v for k, v in p.items() if k != "depth"}), p
        assert ("momentum" in p) == (p["optimizer"] in ("sgd", "rmsprop"))
        assert ("nesterov" in p) == (p["optimizer"] == "sgd")
        assert abs(p["dropout"] * 10 - round(p["dropout"] * 10)) < 1e-9
    # log-uniform: about half of the learning rates lie below 1e-2 (a uniform draw on [1e-4, 1] gives 1 %)
    first = calls[:10] if method == "bayes" else calls  # TPE's random start-up trials
    assert sum(p["lr"] < 1e-2 for p in first) >= len(first) // 4
    assert sum(p["width"] < 64 for p in first) >= len(first) // 4  # uniform on [4, 1024] would give 6 %
    assert {p["optimizer"] for p in calls} == {"adam", "sgd", "rmsprop"}


@pytest.mark.parametrize("method", ["random", "bayes"])
def test_same_seed_same_trials(method):
    runs = [_params(tune.search(_record([]), _space(), metric="loss", method=method, n_trials=14, seed=seed,
                                storage="memory", verbose=False)) for seed in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_failed_trials_are_recorded_and_the_search_goes_on():
    def objective(p):
        if p["x"] > 0.6:
            raise RuntimeError(f"diverged at x={p['x']:.3f}")
        if p["x"] < 0.2:
            return float("nan")
        return p["x"]

    result = tune.search(objective, {"x": tune.Float(0.0, 1.0)}, metric="loss", method="random", n_trials=25,
                         seed=0, storage="memory", verbose=False)
    trials = result.study.get_trials(deepcopy=False)
    assert len(trials) == 25
    failed = [t for t in trials if t.state == optuna.trial.TrialState.FAIL]
    raised = [t for t in failed if t.params["x"] > 0.6]
    nan = [t for t in failed if t.params["x"] < 0.2]
    assert raised and nan and len(raised) + len(nan) == len(failed)
    assert all(t.user_attrs["error"].startswith("RuntimeError: diverged at x=") for t in raised)
    assert all("nan" in t.user_attrs["error"] for t in nan)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(0.2 <= t.params["x"] <= 0.6 for t in complete) and len(complete) == 25 - len(failed)
    assert result.best_value == pytest.approx(min(t.params["x"] for t in complete))
    df = result.trials
    assert list(df["state"]).count("FAIL") == len(failed) and df["error"].notna().sum() == len(failed)


def test_space_errors_name_the_entry():
    with pytest.raises(ValueError, match="low must be <= high"):
        tune.Float(1.0, 0.5)
    with pytest.raises(ValueError, match="log range needs low > 0"):
        tune.Float(0.0, 1.0, log=True)
    with pytest.raises(ValueError, match="momentum: its condition refers to 'optimizer'"):
        tune.Space({"momentum": tune.Float(0, 1, when={"optimizer": "sgd"}), "optimizer": ["adam", "sgd"]})
    with pytest.raises(ValueError, match="lr: unknown key"):
        tune.Space({"lr": {"type": "float", "low": 0.1, "high": 1, "scale": "log"}})
    with pytest.raises(ValueError, match="lr: grid search needs 'grid'"):
        tune.Space({"lr": tune.Float(1e-3, 1e-1, log=True)}).grid()
    with pytest.raises(ValueError, match="width: low must be an integer"):
        tune.Space({"width": {"type": "int", "low": 1.5, "high": 4}})
    with pytest.raises(ValueError, match="method must be one of grid, random, bayes"):
        tune.search(lambda p: 0.0, {"x": [1, 2]}, metric="loss", method="anneal", storage="memory")


def test_yaml_spaces(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("lr: {type: float, low: 1e-4, high: 0.1, log: true, default: 1e-3}\n"
                    "optimizer: [adam, sgd]\n"
                    "momentum: {type: float, low: 0.0, high: 0.9, when: {optimizer: sgd}, grid: [0.0, 0.9]}\n"
                    "width: {type: int, low: 16, high: 64, step: 16}\n"
                    "batchnorm: false\n")
    space = tune.Space.from_yaml(path)
    assert list(space.entries) == ["lr", "optimizer", "momentum", "width"] and space.constants == {"batchnorm": False}
    assert space.entries["lr"].low == 1e-4 and space.entries["lr"].log  # "1e-4" (a YAML string) read as a number
    assert space.defaults() == {"batchnorm": False, "lr": 1e-3, "optimizer": "adam", "width": 16}
    assert space.entries["width"].grid_values() == [16, 32, 48, 64]
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: {type: float, low: 1, high: 0.1}\n")
    with pytest.raises(ValueError, match="bad.yaml: lr: low must be <= high"):
        tune.Space.from_yaml(bad)
    sizes = {}
    for name in sorted(os.listdir(SPACES)):
        sizes[name] = len(tune.Space.from_yaml(os.path.join(SPACES, name)))
    assert sizes["mlp_digits.yaml"] == 8 and sizes["quick_grid.yaml"] == 3
    assert tune.Space.from_yaml(os.path.join(SPACES, "quick_grid.yaml")).grid_size() == 6


def test_any_optuna_sampler_and_the_timeout():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.QMCSampler(seed=0, warn_independent_sampling=False)
    calls = []
    result = tune.search(_record(calls), _space(), metric="loss", method=sampler, n_trials=6, storage="memory",
                         verbose=False)
    assert len(calls) == 6 and result.study.sampler is sampler
    assert all(_space().contains({k: v for k, v in p.items() if k != "depth"}) for p in calls)

    def slow(p):
        time.sleep(0.2)
        return p["x"]

    result = tune.search(slow, {"x": tune.Float(0.0, 1.0)}, metric="loss", method="random", n_trials=1000,
                         timeout=0.5, storage="memory", verbose=False)
    assert 1 <= len(result.study.trials) <= 4  # no trial starts after the timeout
