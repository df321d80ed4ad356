"""Training checkpoints: everything a run needs to continue bit-identically, in one atomic lamina file.

A checkpoint holds the model's and optimizer's ``state_dict``, the scheduler's, the number of completed epochs
and optimizer steps, the ``History``, the state of every stateful callback, the ``config`` given to the
``Trainer`` (the CLI records the model name, its arguments and the dataset there) and every random state that
training draws from: lamina's default generator (dropout, initialisation, shuffling by default), the generators
of the DataLoaders (and their samplers), NumPy's global generator and Python's ``random``.
"""

import random

import numpy as np

from lamina.backend.random import default_generator
from lamina.serialization import load, save

__all__ = ["save_checkpoint", "load_checkpoint", "read_checkpoint", "capture_rng_state", "restore_rng_state",
           "CHECKPOINT_FORMAT"]

CHECKPOINT_FORMAT = "lamina.training.checkpoint"
_VERSION = 1


def _loader_generators(loaders):
    """The distinct ``lamina.Generator`` objects (other than the default one) that the loaders draw from."""
    gens = []
    for loader in loaders:
        if loader is None:
            continue
        batch_sampler = getattr(loader, "batch_sampler", None)
        for obj in (loader, getattr(loader, "sampler", None), getattr(batch_sampler, "sampler", None)):
            g = getattr(obj, "generator", None)
            if (g is not None and hasattr(g, "get_state") and g is not default_generator
                    and all(g is not x for x in gens)):
                gens.append(g)
    return gens


def capture_rng_state(loaders=()):
    """Every random state a training run draws from, as data that ``lamina.save`` can store."""
    return {
        "lamina": default_generator.get_state(),
        "loaders": [g.get_state() for g in _loader_generators(loaders)],
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_rng_state(state, loaders=None):
    """Put back what ``capture_rng_state`` captured.

    ``loaders`` (in the order given when capturing) get their generators' states back; None leaves them alone.
    """
    default_generator.set_state(state["lamina"])
    gens = _loader_generators(loaders) if loaders is not None else []
    saved = state.get("loaders", []) if loaders is not None else []
    if len(saved) != len(gens):
        raise ValueError(f"resume: the checkpoint holds the states of {len(saved)} DataLoader generator(s) but the "
                         f"loaders given to fit have {len(gens)}; pass loaders built the same way as in the "
                         f"original run")
    for g, s in zip(gens, saved):
        g.set_state(s)
    np.random.set_state(state["numpy"])
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))


def _callback_key(callbacks, cb):
    name = type(cb).__name__
    same = [c for c in callbacks if type(c).__name__ == name]
    i = next(k for k, c in enumerate(same) if c is cb)
    return name if i == 0 else f"{name}#{i}"


def save_checkpoint(trainer, path, loaders=()):
    """Write ``trainer``'s full training state to ``path`` (atomically)."""
    callbacks = trainer._all_callbacks()
    cb_states = {}
    for cb in callbacks:
        if cb is trainer.history:
            continue
        s = cb.state_dict()
        if s:
            cb_states[_callback_key(callbacks, cb)] = s
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": _VERSION,
        "epoch": trainer.epoch,
        "global_step": trainer.global_step,
        "model": trainer.model.state_dict(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict() if trainer.scheduler is not None else None,
        "history": trainer.history.state_dict(),
        "callbacks": cb_states,
        "rng": capture_rng_state(loaders),
        "config": trainer.config,
    }
    save(state, path)


def read_checkpoint(path):
    """Load a training checkpoint's dict, checking that it is one."""
    state = load(path)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        what = f"a dict with keys {list(state)[:6]}" if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not a lamina training checkpoint (it holds {what}); a bare state_dict loads "
                         f"with model.load_state_dict(lamina.load(path))")
    if state.get("version", 0) > _VERSION:
        raise ValueError(f"{path} was written by a newer lamina (checkpoint version {state['version']})")
    return state


def load_checkpoint(trainer, path, loaders=None):
    """Restore ``trainer`` (model, optimizer, scheduler, counters, history, callbacks, RNG) from ``path``.

    Returns the checkpoint dict.
    """
    state = read_checkpoint(path)
    trainer.model.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    if state.get("scheduler") is not None:
        if trainer.scheduler is None:
            raise ValueError(f"resume: {path} holds a learning-rate scheduler's state but this Trainer has none")
        trainer.scheduler.load_state_dict(state["scheduler"])
    trainer.epoch = int(state["epoch"])
    trainer.global_step = int(state["global_step"])
    trainer.history.load_state_dict(state["history"])
    callbacks = trainer._all_callbacks()
    saved = state.get("callbacks", {})
    for cb in callbacks:
        key = _callback_key(callbacks, cb)
        if cb is not trainer.history and key in saved:
            cb.load_state_dict(saved[key])
    restore_rng_state(state["rng"], loaders)
    return state
