"""The ``lamina`` command: ``demo``, ``train``, ``evaluate``, ``predict``.

    lamina demo                                   # a CNN on the digits, >= 98 % test accuracy in under a minute
    lamina train --model cnn --dataset digits --epochs 15 --out runs/cnn
    lamina train --resume runs/cnn/checkpoint.safetensors --epochs 25
    lamina evaluate runs/cnn/checkpoint.safetensors
    lamina predict runs/cnn/checkpoint.safetensors images.npy --out predictions.json

Bad arguments (unknown model or dataset, a missing file, a non-positive learning rate...) print one line on
stderr and exit with status 2.
"""

import argparse
import importlib
import json
import math
import os
import random
import sys
import time

__all__ = ["main"]

DATASETS = ("digits", "mnist5k")
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad",
              "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam"}
CHECKPOINT_NAME = "checkpoint.safetensors"
# Modules that each contribute one subcommand through ``add_command(subparsers)``; the parser they add sets
# ``func`` to a callable taking the parsed arguments.  They report bad arguments by raising ``UsageError``.
COMMAND_MODULES = ("lamina.tune.cli", "lamina.explain.cli", "lamina.bench")


class UsageError(Exception):
    """A bad argument found after parsing; reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def _positive_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return v


def _nonneg_float(text):
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (v >= 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return v


def _int_at_least(low):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text}")
        return v

    return parse


def _fraction(text):
    v = _nonneg_float(text)
    if v >= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return v


def _key_value(text):
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parsed = json.loads(value)
    except ValueError:
        parsed = value  # a bare word: a string such as activation=gelu
    if isinstance(parsed, list):
        parsed = tuple(parsed)
    return key, parsed


def _existing_file(text):
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    return text


# ---------------------------------------------------------------------------------------------- parser


def _add_training_options(p, demo=False):
    p.add_argument("--optimizer", default="adam", help="adam, sgd, adamw, rmsprop... (default: adam)")
    p.add_argument("--lr", type=_positive_float, default=None, help="learning rate (default: 1e-3 for adaptive "
                   "optimizers, 0.05 for sgd)")
    p.add_argument("--momentum", type=_nonneg_float, default=0.9, help="SGD momentum (default: 0.9)")
    p.add_argument("--weight-decay", type=_nonneg_float, default=0.0, help="weight decay (default: 0)")
    p.add_argument("--batch-size", type=_int_at_least(1), default=64, help="samples per batch (default: 64)")
    p.add_argument("--epochs", type=_int_at_least(1), default=15 if demo else 10,
                   help=f"total epochs to train (default: {15 if demo else 10})")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default: 0)")
    p.add_argument("--val-fraction", type=_fraction, default=0.1,
                   help="fraction of the training split held out for validation (default: 0.1)")
    p.add_argument("--patience", type=_int_at_least(1), default=None,
                   help="stop early when val_loss has not improved for this many epochs")
    p.add_argument("--device", default=None, help="cpu or cuda (default: where the model is built, the CPU)")
    p.add_argument("--out", default="runs/demo" if demo else None,
                   help="output folder (default: runs/demo)" if demo else "output folder (default: runs/MODEL-DATASET)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar: one plain line per epoch")


def _build_parser():
    parser = _Parser(prog="lamina", description="lamina: train, evaluate and use models from the command line.")
    from lamina import __version__

    parser.add_argument("--version", action="version", version=f"lamina {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="train a CNN on the digits dataset (>= 98%% test accuracy in under a minute)",
                       description="Train a small CNN on scikit-learn's 8x8 digits, evaluate it on the test split, "
                                   "and save the checkpoint, metrics and plots.")
    _add_training_options(p, demo=True)
    p.set_defaults(func=_cmd_demo)

    from lamina.models import list_models

    p = sub.add_parser("train", help="train a registered model on a dataset",
                       description="Train a model, evaluate it on the test split and write checkpoint.safetensors, "
                                   "metrics.json, history.csv, learning_curves.png and confusion_matrix.png "
                                   "into the output folder.")
    p.add_argument("--model", choices=list_models(), default=None, help="model name (required unless --resume)")
    p.add_argument("--dataset", choices=DATASETS, default=None, help="dataset name (required unless --resume)")
    p.add_argument("--model-arg", type=_key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="a model option, e.g. --model-arg depth=3 --model-arg dropout=0.2 (repeatable)")
    p.add_argument("--resume", type=_existing_file, default=None, metavar="PATH",
                   help="continue from a training checkpoint (model, dataset and options come from it)")
    _add_training_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a checkpoint on its dataset's test split",
                       description="Rebuild the model recorded in a checkpoint and evaluate it on the test split.")
    p.add_argument("checkpoint", type=_existing_file, help="a checkpoint written by 'lamina train'")
    p.add_argument("--batch-size", type=_int_at_least(1), default=256, help="samples per batch (default: 256)")
    p.add_argument("--out", default=None, metavar="FILE", help="also write the metrics to this JSON file")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("predict", help="predict the classes of images in a .npy file",
                       description="Predict classes for the images in a .npy file: shape (N, C, H, W), (N, H, W) or "
                                   "(N, C*H*W), or one image. Raw pixel values (0-16 for digits, 0-255 for MNIST) "
                                   "are scaled as the dataset scales them; floats in [0, 1] are taken as scaled.")
    p.add_argument("checkpoint", type=_existing_file, help="a checkpoint written by 'lamina train'")
    p.add_argument("input", type=_existing_file, help="a .npy file of images")
    p.add_argument("--batch-size", type=_int_at_least(1), default=256, help="samples per batch (default: 256)")
    p.add_argument("--out", default=None, metavar="FILE", help="write predictions and probabilities as JSON")
    p.set_defaults(func=_cmd_predict)

    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_command(sub)
    return parser


def main(argv=None):
    """Run the ``lamina`` command; returns the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        names = ", ".join(sorted(parser._subparsers._group_actions[0].choices))
        sys.stderr.write(f"lamina: error: choose a command: {names} (see 'lamina --help')\n")
        return 2
    try:
        return args.func(args) or 0
    except UsageError as e:
        sys.stderr.write(f"lamina {args.command}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"lamina {args.command}: interrupted\n")
        return 130


# ---------------------------------------------------------------------------------------------- helpers


def _dataset_class(name):
    from lamina import datasets

    return {"digits": datasets.Digits, "mnist5k": datasets.MNIST5k}[name]


def _load_split(name, train):
    try:
        return _dataset_class(name)(train=train)
    except ImportError as e:
        raise UsageError(str(e)) from None


def _make_optimizer(name, params, lr, momentum, weight_decay):
    from lamina import optim

    cls_name = OPTIMIZERS.get(name.lower())
    cls = getattr(optim, cls_name, None) if cls_name else None
    if cls is None:
        known = [k for k, v in OPTIMIZERS.items() if hasattr(optim, v)]
        raise UsageError(f"unknown optimizer {name!r}; available: {', '.join(known)}")
    kwargs = {"lr": lr}
    if weight_decay:
        kwargs["weight_decay"] = weight_decay
    if cls_name in ("SGD", "RMSprop") and momentum:
        kwargs["momentum"] = momentum
    try:
        return cls(params, **kwargs)
    except (TypeError, ValueError) as e:
        raise UsageError(f"optimizer {name}: {e}") from None


def _build_model(config):
    from lamina.models import get_model

    try:
        return get_model(config["model"], input_shape=tuple(config["input_shape"]),
                         num_classes=config["num_classes"], **config.get("model_config", {}))
    except (TypeError, ValueError) as e:
        raise UsageError(f"model {config['model']!r}: {e}") from None


def _read_config(path):
    from lamina.serialization import SerializationError
    from lamina.training.checkpoint import read_checkpoint

    try:
        state = read_checkpoint(path)
    except (SerializationError, ValueError) as e:
        raise UsageError(str(e)) from None
    config = state.get("config") or {}
    if "model" not in config or "dataset" not in config:
        raise UsageError(f"{path} does not record its model and dataset (it was not written by 'lamina train')")
    return state, config


def _write_json(path, data):
    from lamina.serialization import atomic_write_bytes

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def _print_summary(model, input_shape):
    from lamina import nn

    try:
        nn.summary(model, input_size=(1, *input_shape))  # prints the table itself
    except Exception as e:  # a summary must never stop a training run
        n = sum(p.numel() for p in model.parameters())
        print(f"{model}\nTotal params: {n:,}  (nn.summary unavailable: {e})")


def _loader(dataset, batch_size, shuffle, seed=None):
    from lamina.backend.random import Generator
    from lamina.utils.data import DataLoader

    gen = Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=gen)


def _test_report(trainer, test_loader, num_classes):
    """Test loss/accuracy and the macro F1, plus the confusion matrix, from one pass of predictions."""
    import numpy as np

    from lamina.training import metrics

    logits = trainer.predict(test_loader)
    y_true = np.concatenate([np.asarray(b[-1]) for b in test_loader])
    result = trainer.evaluate(test_loader)
    pred = np.asarray(logits).argmax(axis=1)
    result["f1_macro"] = metrics.f1(pred, y_true, average="macro", num_classes=num_classes)
    cm = metrics.confusion_matrix(pred, y_true, num_classes=num_classes)
    return result, cm


# ---------------------------------------------------------------------------------------------- commands


def _train(args, model_name, dataset, model_args, title="lamina train"):
    import numpy as np

    import lamina
    from lamina import nn
    from lamina.training import CSVLogger, EarlyStopping, ModelCheckpoint, Trainer, plot_confusion_matrix
    from lamina.utils.data import random_split

    if getattr(args, "resume", None):
        _, config = _read_config(args.resume)
        for key, given in (("model", model_name), ("dataset", dataset)):
            if given is not None and given != config[key]:
                raise UsageError(f"--{key} {given} does not match the checkpoint's {key} {config[key]!r}")
        model_name, dataset = config["model"], config["dataset"]
        if model_args and dict(model_args) != config.get("model_config", {}):
            raise UsageError("--model-arg cannot change the model of a checkpoint being resumed")
        model_args = config.get("model_config", {})
        for key in ("optimizer", "lr", "momentum", "weight_decay", "batch_size", "seed", "val_fraction"):
            setattr(args, key, config[key])  # the run continues exactly as it started
    if model_name is None or dataset is None:
        raise UsageError("--model and --dataset are required (or --resume CHECKPOINT)")
    out = args.out or os.path.join("runs", f"{model_name}-{dataset}")
    os.makedirs(out, exist_ok=True)
    lr = args.lr if args.lr is not None else (0.05 if args.optimizer.lower() == "sgd" else 1e-3)

    lamina.manual_seed(args.seed)
    np.random.seed(args.seed)
    random.seed(args.seed)
    train_full, test = _load_split(dataset, True), _load_split(dataset, False)
    input_shape = tuple(int(s) for s in train_full[0][0].shape)
    config = {"model": model_name, "model_config": dict(model_args), "dataset": dataset,
              "input_shape": list(input_shape), "num_classes": len(train_full.classes),
              "classes": list(train_full.classes), "input_scale": float(getattr(train_full, "_scale", 1.0)),
              "optimizer": args.optimizer, "lr": lr, "momentum": args.momentum, "weight_decay": args.weight_decay,
              "batch_size": args.batch_size, "seed": args.seed, "val_fraction": args.val_fraction}
    model = _build_model(config)
    if args.device:
        model.to(args.device)
    _print_summary(model, input_shape)

    if args.val_fraction > 0:
        train_set, val_set = random_split(train_full, [1 - args.val_fraction, args.val_fraction],
                                          generator=lamina.Generator().manual_seed(args.seed))
    else:
        train_set, val_set = train_full, None
    train_loader = _loader(train_set, args.batch_size, True, args.seed)
    val_loader = _loader(val_set, 256, False) if val_set is not None else None
    test_loader = _loader(test, 256, False)

    optimizer = _make_optimizer(args.optimizer, model.parameters(), lr, args.momentum, args.weight_decay)
    ckpt_path = os.path.join(out, CHECKPOINT_NAME)
    callbacks = [ModelCheckpoint(ckpt_path, monitor="val_loss" if val_loader else "loss"),
                 CSVLogger(os.path.join(out, "history.csv"))]
    if args.patience:
        callbacks.append(EarlyStopping(monitor="val_loss" if val_loader else "loss", patience=args.patience))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), metrics=["accuracy"], callbacks=callbacks,
                      device=args.device, config=config)
    print(f"{title}: {model_name} on {dataset} ({len(train_set)} train, "
          f"{len(val_set) if val_set is not None else 0} validation, {len(test)} test images), "
          f"{args.optimizer} lr={lr:g}, batch size {args.batch_size}, {args.epochs} epochs", flush=True)
    t0 = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=args.epochs, resume_from=args.resume or None,
                          verbose=2 if args.no_progress else 1)
    seconds = time.perf_counter() - t0

    result, cm = _test_report(trainer, test_loader, config["num_classes"])
    curves = os.path.join(out, "learning_curves.png")
    cm_path = os.path.join(out, "confusion_matrix.png")
    history.plot(curves, title=f"{model_name} on {dataset}")
    plot_confusion_matrix(cm, cm_path, class_names=config["classes"],
                          title=f"{model_name} on {dataset}: test confusion matrix")
    metrics_path = os.path.join(out, "metrics.json")
    _write_json(metrics_path, {"model": model_name, "dataset": dataset, "config": config, "epochs": trainer.epoch,
                               "train_seconds": round(seconds, 2), "test": result,
                               "confusion_matrix": cm.tolist(), "history": history.history})
    print(f"Test accuracy: {100 * result['accuracy']:.2f}%  (loss {result['loss']:.4f}, macro F1 "
          f"{result['f1_macro']:.4f}) after {trainer.epoch} epochs in {seconds:.1f}s")
    print(f"Saved the model to {ckpt_path}")
    print(f"Saved the plots to {curves} and {cm_path}; metrics in {metrics_path}")
    return 0


def _cmd_train(args):
    return _train(args, args.model, args.dataset, dict(args.model_arg))


def _cmd_demo(args):
    args.resume = None
    if args.lr is None:
        args.lr = 2e-3
    return _train(args, "cnn", "digits", {}, title="lamina demo")


def _cmd_evaluate(args):
    from lamina import nn
    from lamina.training import Trainer

    state, config = _read_config(args.checkpoint)
    model = _build_model(config)
    model.load_state_dict(state["model"])
    test = _load_split(config["dataset"], False)
    trainer = Trainer(model, None, nn.CrossEntropyLoss(), metrics=["accuracy"])
    result, cm = _test_report(trainer, _loader(test, args.batch_size, False), config["num_classes"])
    print(f"{config['model']} on {config['dataset']} (test split, {len(test)} images), epoch {state['epoch']}: "
          f"loss {result['loss']:.4f} - accuracy {100 * result['accuracy']:.2f}% - macro F1 "
          f"{result['f1_macro']:.4f}")
    if args.out:
        _write_json(args.out, {"checkpoint": args.checkpoint, "epoch": state["epoch"], "test": result,
                               "confusion_matrix": cm.tolist()})
    return 0


def _images(arr, input_shape, scale, path):
    import numpy as np

    shape = tuple(input_shape)
    size = math.prod(shape)
    if arr.dtype.kind not in "biuf":
        raise UsageError(f"{path}: expected a numeric array, got dtype {arr.dtype}")
    if arr.shape == shape or arr.shape == shape[1:] and shape[0] == 1 or arr.ndim == 1 and arr.size == size:
        arr = arr.reshape(1, *shape)
    elif arr.ndim >= 2 and (arr.shape[1:] == shape or arr.shape[1:] == shape[1:] and shape[0] == 1
                            or arr.ndim == 2 and arr.shape[1] == size):
        arr = arr.reshape(arr.shape[0], *shape)
    else:
        alts = f"(N, {', '.join(map(str, shape))})"
        if shape[0] == 1:
            alts += f", (N, {', '.join(map(str, shape[1:]))})"
        raise UsageError(f"{path}: expected images of shape {alts} or (N, {size}), got {arr.shape}")
    integers = arr.dtype.kind in "biu"
    arr = arr.astype(np.float32)
    if arr.size and (integers or float(arr.max()) > 1.0):
        arr /= np.float32(scale)  # raw pixel values, scaled as the dataset scales them
    return arr


def _checkpoint_and_images(checkpoint, path):
    """The checkpoint's state and config, and the images of the .npy file ``path`` scaled as its dataset was."""
    import numpy as np

    state, config = _read_config(checkpoint)
    try:
        raw = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise UsageError(f"{path} is not a readable .npy array file ({e})") from None
    if not isinstance(raw, np.ndarray):
        raise UsageError(f"{path}: expected a .npy array file, got an .npz archive")
    return state, config, _images(raw, config["input_shape"], config.get("input_scale", 1.0), path)


def _cmd_predict(args):
    import numpy as np

    from lamina import nn
    from lamina.training import Trainer

    state, config, images = _checkpoint_and_images(args.checkpoint, args.input)
    model = _build_model(config)
    model.load_state_dict(state["model"])
    trainer = Trainer(model, None, nn.CrossEntropyLoss())
    logits = np.asarray(trainer.predict(images, batch_size=args.batch_size), dtype=np.float64)
    z = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(z)
    probs /= probs.sum(axis=1, keepdims=True)
    pred = probs.argmax(axis=1)
    classes = config.get("classes") or [str(i) for i in range(config["num_classes"])]
    for i, (c, p) in enumerate(zip(pred, probs.max(axis=1))):
        print(f"{i}\t{classes[c]}\t{p:.4f}")
    if args.out:
        _write_json(args.out, {"checkpoint": args.checkpoint, "input": args.input,
                               "predictions": [int(c) for c in pred], "labels": [classes[c] for c in pred],
                               "probabilities": np.round(probs, 6).tolist()})
        print(f"Saved the predictions to {args.out}")
    return 0
