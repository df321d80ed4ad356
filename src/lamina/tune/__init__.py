"""``lamina.tune``: hyperparameter search (grid, random, Bayesian/TPE) on Optuna, with pruning, resumable and
parallel.

    from lamina import tune
    space = tune.Space({"lr": tune.Float(1e-4, 1e-1, log=True), "width": tune.Int(16, 256, log=True),
                        "optimizer": ["adam", "sgd"], "momentum": tune.Float(0.0, 0.99, when={"optimizer": "sgd"})})
    result = tune.search(build, space, metric="val_accuracy", method="bayes", n_trials=30, epochs=5,
                         out="runs/tune")        # the study lives in runs/tune/study.db: run again to resume
    result.best_params, result.best_value, result.trials   # a pandas DataFrame

Command line: ``lamina tune --model mlp --dataset digits --space space.yaml --method bayes --trials 30 --out DIR``.
See docs/TUNING.md.
"""

from lamina.tune.callback import PruningCallback
from lamina.tune.results import TuneResult
from lamina.tune.search import METHODS, PRUNERS, make_pruner, make_storage, search
from lamina.tune.space import Categorical, Float, Int, Space, load_space

__all__ = ["search", "Space", "Float", "Int", "Categorical", "load_space", "PruningCallback", "TuneResult",
           "make_pruner", "make_storage", "METHODS", "PRUNERS"]
