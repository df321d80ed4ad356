"""``TuneResult``: the best values and score of a search, its trials as a table, and its plots."""

import json
import os
import warnings

__all__ = ["TuneResult", "PLOTS"]

# file name -> optuna.visualization.matplotlib function
PLOTS = {"optimization_history": "plot_optimization_history", "param_importances": "plot_param_importances",
         "parallel_coordinate": "plot_parallel_coordinate", "slice": "plot_slice",
         "intermediate_values": "plot_intermediate_values"}


class TuneResult:
    """What a search found: read from its Optuna study, so it also describes trials of other processes.

    Attributes:
        study: the ``optuna.Study``.
        metric: the optimised epoch log (``"val_accuracy"``...).
        space: the ``Space`` searched (its constants are added to ``best_params``).
    """

    def __init__(self, study, metric="value", space=None):
        self.study = study
        self.metric = metric
        self.space = space
        self.skipped_plots = None  # after save(): {plot name: why it was not made}

    @property
    def direction(self):
        return self.study.direction.name.lower()

    def _best(self):
        try:
            return self.study.best_trial
        except ValueError:
            raise ValueError(f"lamina.tune: no trial of study {self.study.study_name!r} has completed "
                             f"({self.counts()})") from None

    @property
    def best_trial(self):
        """The best completed trial (an ``optuna.trial.FrozenTrial``)."""
        return self._best()

    @property
    def best_value(self):
        """The best trial's score."""
        return float(self._best().value)

    @property
    def best_params(self):
        """The best trial's values, with the space's constants."""
        constants = dict(self.space.constants) if self.space is not None else {}
        return {**constants, **self._best().params}

    def counts(self):
        """How many trials ended in each state: ``{"complete": ..., "pruned": ..., "fail": ..., ...}``."""
        out = {}
        for t in self.study.get_trials(deepcopy=False):
            key = t.state.name.lower()
            out[key] = out.get(key, 0) + 1
        return out

    @property
    def trials(self):
        """A pandas DataFrame with one row per trial: number, state, the score (a column named after the metric),
        each parameter (``params_<name>``), the epochs run, the error of failed trials, ``interrupted`` (a trial
        stopped by Ctrl-C or by the death of its process, which ran again), ``retry_of`` (the trial a retry
        repeats), start time and duration."""
        import optuna

        df = self.study.trials_dataframe(attrs=("number", "state", "value", "params", "user_attrs",
                                                "datetime_start", "duration"))
        df = df.rename(columns={"value": self.metric, "user_attrs_error": "error", "user_attrs_epochs": "epochs"})
        trials = {t.number: t for t in self.study.get_trials(deepcopy=False)}
        fail = optuna.trial.TrialState.FAIL
        df["interrupted"] = [trials[n].state == fail and "error" not in trials[n].user_attrs for n in df["number"]]
        df["retry_of"] = [trials[n].system_attrs.get("failed_trial") for n in df["number"]]
        if "duration" in df:
            df["duration"] = df["duration"].dt.total_seconds()
        return df

    def to_csv(self, path):
        """Write ``trials`` to a CSV file; returns the path."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self.trials.to_csv(path, index=False)
        return path

    def plot(self, folder, names=None):
        """Save the study's plots as PNG files in ``folder`` (Optuna's matplotlib plots): optimisation history,
        parameter importances, parallel coordinates, slice plot and the per-epoch (intermediate) values.

        Returns:
            ``(written, skipped)``: ``{name: path}`` for each saved plot, ``{name: reason}`` for each plot the
            study cannot make yet (parameter importances need two completed trials with different values...).
        """
        import matplotlib.pyplot as plt
        import numpy as np
        import optuna
        from optuna.visualization import matplotlib as ovm

        os.makedirs(folder, exist_ok=True)
        written, skipped = {}, {}
        completed = [t for t in self.study.get_trials(deepcopy=False)
                     if t.state == optuna.trial.TrialState.COMPLETE]
        per_epoch = any(t.intermediate_values for t in self.study.get_trials(deepcopy=False))
        for name in names or PLOTS:
            if not completed:
                skipped[name] = "no completed trial"
                continue
            if name == "intermediate_values" and not per_epoch:
                skipped[name] = "no trial reported per-epoch values"
                continue
            kwargs = {}
            if name == "param_importances":  # fANOVA with a smaller forest than Optuna's default: seconds, not tens
                kwargs["evaluator"] = optuna.importance.FanovaImportanceEvaluator(n_trees=16, max_depth=16, seed=0)
            path = os.path.join(folder, f"{name}.png")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    axes = getattr(ovm, PLOTS[name])(self.study, **kwargs)
                fig = np.ravel(axes)[0].figure
                fig.set_size_inches(max(fig.get_size_inches()[0], 8), max(fig.get_size_inches()[1], 5))
                fig.savefig(path, dpi=100, bbox_inches="tight")
                plt.close(fig)
                written[name] = path
            except Exception as e:  # a plot the study cannot make yet must not lose the search's results
                plt.close("all")
                skipped[name] = f"{type(e).__name__}: {e}"
        return written, skipped

    def save(self, folder, plots=True):
        """Write ``trials.csv``, ``best.json`` and (unless ``plots=False``) the plots into ``folder``; returns
        ``{name: path}``."""
        os.makedirs(folder, exist_ok=True)
        paths = {"trials": self.to_csv(os.path.join(folder, "trials.csv"))}
        summary = {"study": self.study.study_name, "metric": self.metric, "direction": self.direction,
                   "counts": self.counts()}
        try:
            best = self._best()
            summary.update(best_value=float(best.value), best_trial=best.number, best_params=self.best_params)
        except ValueError:
            summary.update(best_value=None, best_trial=None, best_params=None)
        from lamina.serialization import atomic_write_bytes

        paths["best"] = os.path.join(folder, "best.json")
        atomic_write_bytes(paths["best"], (json.dumps(summary, indent=2) + "\n").encode())
        written, skipped = self.plot(folder) if plots else ({}, None)
        paths.update(written)
        self.skipped_plots = skipped
        return paths

    def summary(self, folder=None):
        """A few lines: trial counts, the best score and values, and where the files are."""
        counts = ", ".join(f"{v} {k}" for k, v in sorted(self.counts().items()))
        lines = [f"Trials: {counts}"]
        try:
            best = self._best()
            lines.append(f"Best {self.metric}: {best.value:.6g} (trial {best.number})")
            lines.append("Best values: " + ", ".join(f"{k}={v!r}" for k, v in self.best_params.items()))
        except ValueError:
            lines.append("No trial completed.")
        if folder:
            plots = "" if self.skipped_plots is None else " and the plots"
            lines.append(f"Saved trials.csv, best.json{plots} in {folder}")
        return "\n".join(lines)

    def __repr__(self):
        return f"TuneResult(study={self.study.study_name!r}, metric={self.metric!r}, {self.counts()})"
