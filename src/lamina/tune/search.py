"""``search``: grid, random or Bayesian (TPE) hyperparameter search on Optuna, with pruning, resumable and parallel.

Optuna does the sampling, pruning and storage; this module supplies the loop around it:

* the study lives in a database (an SQLite file by default), so a search stopped with Ctrl-C or a kill resumes
  where it was: finished trials stay, the interrupted one runs again, and only the remaining trials run;
* several processes (``n_jobs``, or separate ``search`` calls on the same storage and study name, on one machine
  or on several sharing a database) work on one study until together they have finished ``n_trials``; running
  trials send heartbeats, and one whose process died is failed and queued again (Optuna's
  ``RetryHeartbeatStaleTrialCallback``);
* a trial that raises or whose loss or score is NaN is recorded as failed with its error (user attribute
  ``error``) and the search goes on;
* each trial's per-epoch validation metric goes to the pruner through ``PruningCallback``.
"""

import contextlib
import inspect
import math
import numbers
import os
import random
import threading
import time
import warnings

from lamina.tune.callback import PruningCallback
from lamina.tune.results import TuneResult
from lamina.tune.space import load_space

__all__ = ["search", "make_pruner", "make_storage", "METHODS", "PRUNERS"]

METHODS = ("grid", "random", "bayes")
PRUNERS = ("median", "halving", "hyperband", "none")
HEARTBEAT_S = 1  # a running trial's heartbeat period; one silent for GRACE_S seconds is stale (its process died)
GRACE_S = 3
_POLL_S = 0.25


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError("lamina.tune needs the optional package 'optuna': pip install optuna "
                          "(or pip install lamina[tune])") from None
    return optuna


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's per-trial INFO lines and experimental-feature warnings off (we print our own line per trial)."""
    optuna = _optuna()
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", category=FutureWarning, module="optuna")
        # we run the heartbeat ourselves (see _Heartbeat) around ask/tell, which Optuna warns about
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
        try:
            yield optuna
        finally:
            optuna.logging.set_verbosity(level)


# ---------------------------------------------------------------------------------------------- storage


def _sqlite_path(url):
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") and len(url) > len("sqlite:///") else None


def make_storage(storage=None, out=None):
    """The Optuna storage of a search, its URL (None when in memory or given as an object) and the lock file.

    Args:
        storage: None (an SQLite file ``study.db`` in ``out``, or in the current folder), ``"memory"`` (in this
            process only: no resuming, no parallel processes), a database URL (``sqlite:///path.db``,
            ``postgresql://...``, ``mysql://...``), the path of an SQLite file, or an Optuna storage object.
        out: the folder of the default SQLite file.

    Database storages get heartbeats (a trial whose process died is failed after a few seconds and queued again).
    """
    with _quiet_optuna() as optuna:
        if isinstance(storage, optuna.storages.BaseStorage):
            return storage, None, None
        if storage in ("memory", ":memory:"):
            return optuna.storages.InMemoryStorage(), None, None
        if storage is None:
            folder = out or "."
            os.makedirs(folder, exist_ok=True)
            url = "sqlite:///" + os.path.abspath(os.path.join(folder, "study.db"))
        elif isinstance(storage, (str, os.PathLike)):
            url = os.fspath(storage)
            if "://" not in url:  # a plain file name: an SQLite database there
                os.makedirs(os.path.dirname(os.path.abspath(url)), exist_ok=True)
                url = "sqlite:///" + os.path.abspath(url)
        else:
            raise TypeError(f"lamina.tune: storage must be None, 'memory', a URL, a file path or an Optuna storage, "
                            f"got {type(storage).__name__}")
        path = _sqlite_path(url)
        engine_kwargs = {"connect_args": {"timeout": 60}} if path else {}  # processes share the file: wait on locks
        try:
            rdb = optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3))
        except Exception as e:
            raise ValueError(f"lamina.tune: cannot open the storage {url!r}: {type(e).__name__}: {e}") from None
        return rdb, url, (path + ".lock" if path else None)


class _FileLock:
    """An exclusive lock that serialises the "count the trials, then start one" step across processes (and threads)
    sharing one SQLite study, so that together they run exactly ``n_trials``. Without a file (a server database)
    it is a thread lock only, and processes may together run up to one extra trial each."""

    def __init__(self, path):
        self.path = path
        self._thread_lock = threading.Lock()

    def __enter__(self):
        self._thread_lock.acquire()
        self._fd = None
        if self.path:
            import fcntl

            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
        self._thread_lock.release()
        return False


class _Heartbeat:
    """Record a running trial's heartbeat every ``HEARTBEAT_S`` seconds from a daemon thread."""

    def __init__(self, storage, trial_id):
        from optuna.storages._heartbeat import is_heartbeat_enabled

        self.storage, self.trial_id = storage, trial_id
        self.enabled = is_heartbeat_enabled(storage)
        self._stop = threading.Event()
        self._thread = None

    def _beat(self):
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception):  # a busy database: the next beat will do
                self.storage.record_heartbeat(self.trial_id)

    def __enter__(self):
        if self.enabled:
            self.storage.record_heartbeat(self.trial_id)
            self._thread = threading.Thread(target=self._beat, daemon=True, name="lamina-tune-heartbeat")
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        return False


# ---------------------------------------------------------------------------------------------- samplers, pruners


def make_pruner(pruner="median", epochs=None):
    """An Optuna pruner from a name: ``"median"`` (``MedianPruner``: stop a trial whose epoch value is worse than
    the median of earlier trials at that epoch, after 5 trials), ``"halving"`` (``SuccessiveHalvingPruner``),
    ``"hyperband"`` (``HyperbandPruner`` over 1..``epochs`` epochs) or ``"none"``; an Optuna pruner object is
    used as it is."""
    optuna = _optuna()
    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    name = "none" if pruner is None else str(pruner).lower().replace("-", "_")
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if name in ("halving", "successive_halving", "sha"):
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs or "auto", reduction_factor=3)
    if name in ("none", "nop"):
        return optuna.pruners.NopPruner()
    raise ValueError(f"lamina.tune: unknown pruner {pruner!r}; choose one of {', '.join(PRUNERS)} or pass an "
                     f"optuna pruner")


def _sampler_factory(method, seed, n_trials):
    """``factory(k)``: the sampler that draws trial number ``k``. Reseeding with ``seed + k`` makes every trial's
    values a function of the seed and the trials before it, also after a resume or with several processes."""
    optuna = _optuna()
    if isinstance(method, optuna.samplers.BaseSampler):
        return None
    s = (lambda k: None) if seed is None else (lambda k: seed + k)
    if method in ("random", "grid"):  # grid trials come from the queue with fixed values: nothing is sampled
        return lambda k: optuna.samplers.RandomSampler(seed=s(k))
    if method == "bayes":
        startup = max(2, min(10, n_trials // 3))
        return lambda k: optuna.samplers.TPESampler(seed=s(k), n_startup_trials=startup, multivariate=True,
                                                    group=True, constant_liar=True)
    raise ValueError(f"lamina.tune: method must be one of {', '.join(METHODS)} or an optuna sampler, got {method!r}")


def _direction(metric, direction):
    from lamina.training.callbacks import _resolve_mode

    if direction in ("maximize", "minimize"):
        return direction
    if direction in ("max", "min", "auto"):
        return {"max": "maximize", "min": "minimize"}[_resolve_mode(direction, metric, "lamina.tune")]
    raise ValueError(f"lamina.tune: direction must be 'auto', 'maximize' or 'minimize', got {direction!r}")


# ---------------------------------------------------------------------------------------------- one trial


def _takes_trial(fn):
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 2


def _unpack_setup(result):
    from lamina.training import Trainer

    if isinstance(result, dict):
        result = (result.get("trainer"), result.get("train_loader"), result.get("val_loader"))
    if isinstance(result, (tuple, list)) and len(result) in (2, 3) and isinstance(result[0], Trainer):
        trainer, train_loader, *rest = result
        return trainer, train_loader, (rest[0] if rest else None)
    raise TypeError("lamina.tune: the build function must return a score (a number), or (trainer, train_loader, "
                    f"val_loader) / a dict with those keys, got {type(result).__name__}")


def _evaluator(build, metric, epochs):
    takes_trial = _takes_trial(build)

    def evaluate(params, trial):
        result = build(params, trial) if takes_trial else build(params)
        if isinstance(result, numbers.Real) and not isinstance(result, bool):
            return float(result)
        trainer, train_loader, val_loader = _unpack_setup(result)
        if epochs is None:
            raise ValueError("lamina.tune: pass epochs= to search when the build function returns a Trainer")
        callback = PruningCallback(trial, monitor=metric)
        trainer.callbacks.append(callback)
        try:
            trainer.fit(train_loader, val_loader, epochs=epochs, verbose=0)
        finally:
            trainer.callbacks.remove(callback)
            trial.set_user_attr("epochs", trainer.epoch)  # pruned and failed trials too
        values = trainer.history.history.get(metric) or []
        if not values:
            raise KeyError(f"lamina.tune: the training logs have no {metric!r}")
        return float(values[-1])  # the score of the model the trial ends with

    return evaluate


def _seed_everything(seed):
    if seed is None:
        return
    import numpy as np

    import lamina

    lamina.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _tell(optuna, study, trial, value=None, state=None, error=None):
    """Finish a trial; False when another process had already failed it as stale (its retry will run)."""
    try:
        if error is not None:
            trial.set_user_attr("error", error[:2000])
        study.tell(trial, value, state=state)
        return True
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def _run_trial(optuna, study, trial, space, evaluate, seed):
    """Run one trial and tell the study how it ended; returns (state, value, note, seconds)."""
    states = optuna.trial.TrialState
    t0 = time.perf_counter()
    note = ""
    with _Heartbeat(study._storage, trial._trial_id):
        try:
            params = space.sample(trial)
            _seed_everything(seed)
            value = evaluate(params, trial)
            if not math.isfinite(value):
                raise FloatingPointError(f"the score is {value}")
        except optuna.TrialPruned as e:
            state, value, note = states.PRUNED, None, str(e)
            told = _tell(optuna, study, trial, state=state)
        except Exception as e:
            state, value, note = states.FAIL, None, f"{type(e).__name__}: {e}"
            told = _tell(optuna, study, trial, state=state, error=note)
        except BaseException:  # Ctrl-C, SystemExit: record it, queue the trial again, stop
            with contextlib.suppress(Exception):
                study.tell(trial, state=states.FAIL)
                frozen = study.get_trials(deepcopy=False)[trial.number]
                optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3)(study, frozen)
            raise
        else:
            state = states.COMPLETE
            told = _tell(optuna, study, trial, value)
    if not told:
        state, note = states.FAIL, "taken for a dead process's trial (no heartbeat in time); queued again"
    return state, value, note, time.perf_counter() - t0


def _counts(optuna, trials):
    """(done, running, waiting): done trials are complete, pruned, or failed with an error of their own (not a
    stale or interrupted one, which is queued again)."""
    states = optuna.trial.TrialState
    done = running = waiting = 0
    for t in trials:
        if t.state in (states.COMPLETE, states.PRUNED) or t.state == states.FAIL and "error" in t.user_attrs:
            done += 1
        elif t.state == states.RUNNING:
            running += 1
        elif t.state == states.WAITING:
            waiting += 1
    return done, running, waiting


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _progress_line(optuna, study, trial_number, state, value, note, seconds, metric, n_trials, done):
    states = optuna.trial.TrialState
    frozen = study.get_trials(deepcopy=False)[trial_number]
    params = " ".join(f"{k}={_fmt(v)}" for k, v in frozen.params.items())
    if state == states.COMPLETE:
        what = f"complete  {metric}={value:.5g}"
    elif state == states.PRUNED:
        last = frozen.last_step
        what = f"pruned    {metric}={frozen.intermediate_values.get(last, math.nan):.5g} at epoch {last}"
    else:
        what = f"failed    {note}"
    try:
        best = study.best_trial
        best_text = f"  best {best.value:.5g} (trial {best.number})"
    except ValueError:
        best_text = ""
    return f"[{done}/{n_trials}] trial {trial_number}  {what}{best_text}  {seconds:.1f}s  {params}"


def _beat_once_for_new_running(study, trials, seen):
    """Record one heartbeat for each running trial this worker has not seen before.

    Optuna's stale check skips a running trial that never sent a heartbeat: one whose process was killed between
    creating it and its first beat would stay "running" for ever, and the study would never finish. One beat on
    its behalf makes it stale one grace period later if nobody beats for it; for a live trial it changes nothing,
    and a dead trial that had beaten goes stale at most one grace period later than it would have.
    """
    for t in trials:
        if t.state == t.state.RUNNING and t._trial_id not in seen:
            seen.add(t._trial_id)
            with contextlib.suppress(Exception):
                study._storage.record_heartbeat(t._trial_id)


def _worker(optuna, study, space, evaluate, n_trials, deadline, lock, factory, grid, seed, metric, verbose):
    """Start trials until the study has ``n_trials`` done ones (counting every process's), the grid's queue is
    empty, or the deadline has passed. Trials that other processes are running count; if one of those processes
    died, its trial goes stale and comes back in the queue, so the loop waits for running trials rather than
    leaving early."""
    from optuna.storages._heartbeat import is_heartbeat_enabled

    heartbeat = is_heartbeat_enabled(study._storage)
    seen = set()
    while deadline is None or time.monotonic() < deadline:
        with lock:
            optuna.storages.fail_stale_trials(study)
            trials = study.get_trials(deepcopy=False)
            if heartbeat:
                _beat_once_for_new_running(study, trials, seen)
            done, running, waiting = _counts(optuna, trials)
            if done >= n_trials:
                return
            no_more = (waiting == 0) if grid else (done + running >= n_trials)
            if no_more:
                if running == 0 or not heartbeat:
                    return
                trial = None  # others are running the last trials: wait for them to finish or go stale
            else:
                if factory is not None:
                    study.sampler = factory(len(trials))
                trial = study.ask()
                if heartbeat:  # before the lock is released: see _beat_once_for_new_running
                    study._storage.record_heartbeat(trial._trial_id)
                seen.add(trial._trial_id)
        if trial is None:
            time.sleep(_POLL_S)
            continue
        state, value, note, seconds = _run_trial(optuna, study, trial, space, evaluate, seed)
        if verbose:
            done = _counts(optuna, study.get_trials(deepcopy=False))[0]
            print(_progress_line(optuna, study, trial.number, state, value, note, seconds, metric, n_trials, done),
                  flush=True)


def _child(storage_url, lock_path, study_name, pruner, epochs, space, evaluate, n_trials, deadline, *rest):
    """A forked worker process: its own database connection and lock on the same study."""
    with _quiet_optuna() as optuna:
        storage, _, _ = make_storage(storage_url)
        study = optuna.load_study(study_name=study_name, storage=storage, pruner=make_pruner(pruner, epochs))
        _worker(optuna, study, space, evaluate, n_trials, deadline, _FileLock(lock_path), *rest)


# ---------------------------------------------------------------------------------------------- search


def search(build, space, *, metric="val_loss", direction="auto", method="bayes", n_trials=None, timeout=None,
           epochs=None, seed=0, pruner="median", storage=None, study_name="lamina-tune", out=None, n_jobs=1,
           load_if_exists=True, verbose=True, plots=True):
    """Search ``space`` for the values that make ``build`` train the best model.

    Args:
        build: ``build(params)`` or ``build(params, trial)``, called once per trial with the trial's values (a
            dict). It returns ``(trainer, train_loader, val_loader)`` (or a dict with those keys): the search
            fits ``trainer`` for ``epochs`` epochs, reports ``metric`` after every epoch to the pruner, and scores
            the trial with the last epoch's value. Or it trains by itself and returns the score (a number); with
            the ``trial`` argument it can add ``PruningCallback(trial, metric)`` to its own Trainer.
        space: a ``Space``, a dict (see ``Space``) or the path of a YAML space file.
        metric: the epoch log to optimise (``"val_loss"``, ``"val_accuracy"``...). Default: ``"val_loss"``.
        direction: ``"maximize"``, ``"minimize"`` or ``"auto"`` (maximize accuracy-like metrics, minimize others).
        method: ``"grid"`` (every point of ``space.grid()``, once), ``"random"``, ``"bayes"`` (Optuna's TPE), or
            any Optuna sampler object. Default: ``"bayes"``.
        n_trials: trials to finish in total, counting those already in the study (a resumed or shared study).
            Default: the grid's size for ``"grid"``, else 20.
        timeout: seconds after which no new trial starts. Default: no limit.
        epochs: epochs per trial when ``build`` returns a Trainer.
        seed: the seed of the samplers (trial ``k`` draws with ``seed + k``) and of lamina, NumPy and ``random``
            before each trial's ``build``. None: no seeding.
        pruner: ``"median"``, ``"halving"``, ``"hyperband"``, ``"none"`` or an Optuna pruner.
        storage: where the study lives (see ``make_storage``): by default an SQLite file ``study.db`` in ``out``
            (or in the current folder); ``"memory"`` keeps it in this process.
        study_name: the study's name in the storage; the same name resumes or joins it.
        out: a folder for ``trials.csv``, ``best.json`` and the plots (and the default database).
        n_jobs: worker processes on this machine (forked; needs a database storage).
        load_if_exists: continue a study of this name that is already in the storage (else raise).
        verbose: print one line per finished trial and a summary.
        plots: with ``out``, also save the PNG plots.

    Returns:
        a ``TuneResult`` (``best_params``, ``best_value``, ``trials`` DataFrame, ``save``/``plot``).

    Example:
        >>> def build(p):
        ...     model = lamina.models.get_model("mlp", width=p["width"])
        ...     trainer = Trainer(model, optim.Adam(model.parameters(), lr=p["lr"]), nn.CrossEntropyLoss(),
        ...                       metrics=["accuracy"])
        ...     return trainer, DataLoader(train, batch_size=64, shuffle=True), DataLoader(val, batch_size=256)
        >>> result = tune.search(build, {"lr": tune.Float(1e-4, 1e-1, log=True), "width": [32, 64, 128]},
        ...                      metric="val_accuracy", method="bayes", n_trials=20, epochs=3, out="runs/tune")
        >>> result.best_params
    """
    if not callable(build):
        raise TypeError(f"lamina.tune.search: build must be callable, got {type(build).__name__}")
    space = load_space(space)
    direction = _direction(metric, direction)
    if isinstance(method, str):
        method = method.lower()
    grid = method == "grid"
    points = space.grid() if grid else None
    if n_trials is None:
        n_trials = len(points) if grid else 20
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"lamina.tune.search: n_trials must be a positive integer, got {n_trials!r}")
    if grid:
        n_trials = min(n_trials, len(points))
    if timeout is not None and not timeout > 0:
        raise ValueError(f"lamina.tune.search: timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"lamina.tune.search: n_jobs must be a positive integer, got {n_jobs!r}")
    if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
        raise ValueError(f"lamina.tune.search: epochs must be a positive integer, got {epochs!r}")

    with _quiet_optuna() as optuna:
        factory = _sampler_factory(method, seed, n_trials)
        sampler = method if factory is None else factory(0)
        storage_obj, url, lock_path = make_storage(storage, out)
        if n_jobs > 1 and url is None:
            raise ValueError("lamina.tune.search: n_jobs > 1 needs a database storage that processes share (the "
                             "default SQLite file or a URL), not an in-memory one")
        lock = _FileLock(lock_path)
        pruner_obj = make_pruner(pruner, epochs)
        with lock:
            try:
                study = optuna.create_study(storage=storage_obj, study_name=study_name, direction=direction,
                                            sampler=sampler, pruner=pruner_obj, load_if_exists=load_if_exists)
            except optuna.exceptions.DuplicatedStudyError:
                raise ValueError(f"lamina.tune.search: a study named {study_name!r} already exists in the storage; "
                                 "pass load_if_exists=True to continue it, or another study_name") from None
            _check_study(study, metric, direction, method)
            if grid:
                for point in points:
                    study.enqueue_trial(point, skip_if_exists=True)
        if verbose:
            done = _counts(optuna, study.get_trials(deepcopy=False))[0]
            name = method if isinstance(method, str) else type(method).__name__
            resumed = f", resuming with {done} done" if done else ""
            print(f"lamina tune: {name} search of {len(space)} parameter(s), {n_trials} trials{resumed}, "
                  f"{direction} {metric}; study {study_name!r} in {url or 'memory'}", flush=True)
        deadline = None if timeout is None else time.monotonic() + timeout
        evaluate = _evaluator(build, metric, epochs)
        args = (space, evaluate, n_trials, deadline, lock, factory, grid, seed, metric, verbose)
        procs = []
        if n_jobs > 1:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            child_args = (url, lock_path, study_name, pruner, epochs, *args[:4], *args[5:])
            procs = [ctx.Process(target=_child, args=child_args, daemon=True) for _ in range(n_jobs - 1)]
            for p in procs:
                p.start()
        try:
            _worker(optuna, study, *args)
        finally:
            for p in procs:
                p.join()
        result = TuneResult(study, metric=metric, space=space)
        if out:
            result.save(out, plots=plots)
        if verbose:
            print(result.summary(out), flush=True)
    return result


def _check_study(study, metric, direction, method):
    """A resumed study must optimise the same metric the same way; a new one records what it optimises."""
    attrs = study.user_attrs
    if "lamina_metric" in attrs:
        if attrs["lamina_metric"] != metric or study.direction.name.lower() != direction:
            raise ValueError(f"lamina.tune.search: study {study.study_name!r} optimises "
                             f"{study.direction.name.lower()} {attrs['lamina_metric']}, not {direction} {metric}; "
                             "use another study_name")
    else:
        study.set_user_attr("lamina_metric", metric)
        study.set_user_attr("lamina_method", method if isinstance(method, str) else type(method).__name__)

