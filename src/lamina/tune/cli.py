"""``lamina tune``: hyperparameter search for a registered model on a dataset, from a YAML space file.

    lamina tune --model mlp --dataset digits --space examples/spaces/mlp_digits.yaml --method bayes \\
        --trials 30 --epochs 5 --out runs/tune-mlp

Space entries named ``lr``, ``optimizer``, ``momentum``, ``weight_decay`` and ``batch_size`` set the training;
every other entry is passed to the model's builder (``width``, ``depth``, ``dropout``, ``activation``...).
Running the same command again resumes the study in ``OUT/study.db``; several commands on the same ``--storage``
and ``--study-name`` share the work.
"""

import inspect
import os

from lamina.cli import (
    DATASETS,
    OPTIMIZERS,
    UsageError,
    _build_model,
    _int_at_least,
    _load_split,
    _loader,
    _make_optimizer,
    _positive_float,
)

__all__ = ["add_command", "TRAINING_KEYS"]

TRAINING_KEYS = ("lr", "optimizer", "momentum", "weight_decay", "batch_size")
_FRACTION_DEFAULT = 0.2


def _fraction(text):
    import argparse

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1), got {text}")
    return v


def add_command(subparsers):
    """Add the ``tune`` subcommand to the ``lamina`` parser."""
    from lamina.models import list_models
    from lamina.tune.search import METHODS, PRUNERS

    p = subparsers.add_parser(
        "tune", help="search hyperparameters of a model on a dataset (grid, random or Bayesian, with pruning)",
        description="Search the hyperparameters declared in a YAML space file (docs/TUNING.md) for a registered "
                    "model on a dataset. Each trial trains on the training split minus a validation part and is "
                    "scored on the validation part; poor trials are pruned after an epoch. The study is kept in "
                    "OUT/study.db (or --storage): run the command again to resume it. Writes trials.csv, best.json "
                    "and PNG plots into OUT.")
    p.add_argument("--model", required=True, choices=list_models(), help="model name")
    p.add_argument("--dataset", required=True, choices=DATASETS, help="dataset name")
    p.add_argument("--space", required=True, metavar="YAML", help="the search space (a YAML file)")
    p.add_argument("--method", choices=METHODS, default="bayes", help="search method (default: bayes, i.e. TPE)")
    p.add_argument("--trials", type=_int_at_least(1), default=None,
                   help="trials to finish in total, resumed ones included (default: 20; grid: the whole grid)")
    p.add_argument("--epochs", type=_int_at_least(1), default=5, help="epochs per trial (default: 5)")
    p.add_argument("--metric", default="val_accuracy",
                   help="what to optimise: val_accuracy or val_loss (default: val_accuracy)")
    p.add_argument("--direction", choices=("auto", "maximize", "minimize"), default="auto",
                   help="maximize or minimize the metric (default: auto, from its name)")
    p.add_argument("--pruner", choices=PRUNERS, default="median", help="pruner of poor trials (default: median)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default: 0)")
    p.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                   help="start no new trial after this many seconds")
    p.add_argument("--storage", default=None, metavar="URL",
                   help="Optuna storage URL or SQLite file shared by workers (default: OUT/study.db)")
    p.add_argument("--study-name", default=None, help="the study's name in the storage (default: MODEL-DATASET)")
    p.add_argument("--n-jobs", type=_int_at_least(1), default=1, help="worker processes (default: 1)")
    p.add_argument("--val-fraction", type=_fraction, default=_FRACTION_DEFAULT,
                   help=f"fraction of the training split used to score trials (default: {_FRACTION_DEFAULT})")
    p.add_argument("--device", default=None, help="cpu or cuda (default: the CPU)")
    p.add_argument("--out", default=None, help="output folder (default: runs/tune-MODEL-DATASET)")
    p.add_argument("--quiet", action="store_true", help="no line per trial, only the summary")
    p.add_argument("--no-plots", action="store_true", help="write trials.csv and best.json but no PNG plots")
    p.set_defaults(func=_cmd_tune)
    return p


def _model_keys(model_name):
    """The options the model's builder takes (None when it takes any keyword)."""
    from lamina.models.registry import model_builder

    params = inspect.signature(model_builder(model_name)).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params} - {"input_shape", "num_classes"}


def _check_space(space, model_name):
    from lamina.tune.space import Categorical

    keys = _model_keys(model_name)
    names = list(space.entries) + list(space.constants)
    if keys is not None:
        unknown = [n for n in names if n not in TRAINING_KEYS and n not in keys]
        if unknown:
            raise UsageError(f"space entry {unknown[0]!r} is neither a training option ({', '.join(TRAINING_KEYS)}) "
                             f"nor an option of model {model_name!r} ({', '.join(sorted(keys))})")
    opt = space.entries.get("optimizer")
    choices = opt.choices if isinstance(opt, Categorical) else [space.constants.get("optimizer", "adam")]
    bad = [c for c in choices if str(c).lower() not in OPTIMIZERS]
    if bad:
        raise UsageError(f"space entry 'optimizer': unknown optimizer {bad[0]!r}; available: {', '.join(OPTIMIZERS)}")


def _cmd_tune(args):
    import lamina
    from lamina import nn
    from lamina.training import Trainer
    from lamina.tune.search import search
    from lamina.tune.space import Space
    from lamina.utils.data import random_split

    if not os.path.isfile(args.space):
        raise UsageError(f"--space: no such file: {args.space}")
    try:
        space = Space.from_yaml(args.space)
        if args.method == "grid":
            space.grid()  # every range must say which values the grid takes
    except (ValueError, TypeError) as e:
        raise UsageError(str(e)) from None
    _check_space(space, args.model)
    if not args.metric.startswith("val_"):
        raise UsageError(f"--metric must be a validation value such as val_accuracy or val_loss, got {args.metric!r}")
    name = args.metric[4:]
    if name not in ("loss", "accuracy"):
        raise UsageError(f"--metric {args.metric!r}: choose val_accuracy or val_loss")

    out = args.out or os.path.join("runs", f"tune-{args.model}-{args.dataset}")
    train_full = _load_split(args.dataset, True)
    train_set, val_set = random_split(train_full, [1 - args.val_fraction, args.val_fraction],
                                      generator=lamina.Generator().manual_seed(args.seed))
    val_loader = _loader(val_set, 256, False)
    base = {"model": args.model, "input_shape": [int(s) for s in train_full[0][0].shape],
            "num_classes": len(train_full.classes)}

    def build(params):
        train = {k: params[k] for k in TRAINING_KEYS if k in params}
        optimizer_name = str(train.get("optimizer", "adam"))
        lr = train.get("lr", 0.05 if optimizer_name.lower() == "sgd" else 1e-3)
        model = _build_model({**base, "model_config": {k: v for k, v in params.items() if k not in TRAINING_KEYS}})
        optimizer = _make_optimizer(optimizer_name, model.parameters(), lr, train.get("momentum", 0.9),
                                    train.get("weight_decay", 0.0))
        trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"], device=args.device)
        return trainer, _loader(train_set, int(train.get("batch_size", 64)), True, args.seed), val_loader

    try:
        result = search(build, space, metric=args.metric, direction=args.direction, method=args.method,
                        n_trials=args.trials, timeout=args.timeout, epochs=args.epochs, seed=args.seed,
                        pruner=args.pruner, storage=args.storage, out=out, n_jobs=args.n_jobs,
                        study_name=args.study_name or f"{args.model}-{args.dataset}", verbose=not args.quiet,
                        plots=not args.no_plots)
    except ValueError as e:  # a study of that name optimising something else, a storage that cannot be opened...
        raise UsageError(str(e)) from None
    if args.quiet:
        print(result.summary(out))
    return 0
