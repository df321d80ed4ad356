"""The search space: float and integer ranges (linear or log), categorical choices, constants and conditions.

    space = Space({
        "lr": Float(1e-4, 1e-1, log=True),
        "width": Int(16, 256, log=True),
        "optimizer": Categorical(["adam", "sgd"]),
        "momentum": Float(0.0, 0.99, when={"optimizer": "sgd"}),   # only sampled for SGD
        "epochs_per_eval": 1,                                      # a constant, passed through
    })
    params = space.sample(trial)        # inside an Optuna objective
    space.grid()                        # every valid point of the grid, conditions respected

The same space as YAML (``Space.from_yaml``, format in docs/TUNING.md)::

    lr: {type: float, low: 1.0e-4, high: 0.1, log: true}
    width: {type: int, low: 16, high: 256, log: true, grid: [32, 64, 128]}
    optimizer: [adam, sgd]
    momentum: {type: float, low: 0.0, high: 0.99, when: {optimizer: sgd}, grid: [0.0, 0.9]}
"""

import math
import numbers

__all__ = ["Float", "Int", "Categorical", "Space", "load_space"]

_CHOICE_TYPES = (type(None), bool, int, float, str)


def _number(value, what):
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{what} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return value


def _condition(when, name):
    if when is None:
        return {}
    if not isinstance(when, dict) or not when:
        raise ValueError(f"{name}: 'when' must map a parameter name to its value(s), got {when!r}")
    out = {}
    for key, values in when.items():
        values = list(values) if isinstance(values, (list, tuple, set)) else [values]
        if not values:
            raise ValueError(f"{name}: 'when' gives no value for {key!r}")
        out[str(key)] = values
    return out


class _Entry:
    """A searched hyperparameter; ``when`` makes it conditional on earlier ones (``{"optimizer": "sgd"}``)."""

    kind = ""

    def __init__(self, when=None, default=None):
        self.when = when
        self.default = default
        self.name = "?"

    def active(self, params):
        """Whether the entry is sampled, given the values already chosen for earlier entries."""
        return all(name in params and params[name] in values for name, values in self.when.items())

    def _bind(self, name):
        self.name = name
        self.when = _condition(self.when, name)
        if self.default is not None:
            self.default = self._check_value(self.default, "default")
        return self


class Float(_Entry):
    """A float in [low, high]: uniform, or log-uniform with ``log=True``, or on a lattice with ``step``.

    Args:
        low, high: the bounds (both included).
        log: sample ln(x) uniformly (low must be > 0).
        step: only values low + k * step (not with log).
        grid: the values grid search visits: a list, or a number of points spread evenly (geometrically when log).
        when: sample only when earlier parameters have these values, e.g. ``{"optimizer": "sgd"}``.
        default: the value a baseline run uses.
    """

    kind = "float"

    def __init__(self, low, high, log=False, step=None, grid=None, when=None, default=None):
        super().__init__(when, default)
        self.low, self.high = float(_number(low, "Float: low")), float(_number(high, "Float: high"))
        self.log = bool(log)
        self.step = None if step is None else float(_number(step, "Float: step"))
        self.grid_spec = grid
        if self.low > self.high:
            raise ValueError(f"Float: low must be <= high, got low={self.low}, high={self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"Float: a log range needs low > 0, got low={self.low}")
        if self.step is not None and (self.step <= 0 or self.log):
            raise ValueError(f"Float: step must be > 0 and cannot be combined with log, got step={self.step}, "
                             f"log={self.log}")

    def _check_value(self, v, what):
        v = float(_number(v, f"{self.name}: {what}"))
        if not self.low <= v <= self.high:
            raise ValueError(f"{self.name}: {what} {v} is outside [{self.low}, {self.high}]")
        return v

    def suggest(self, trial):
        return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)

    def grid_values(self):
        spec = self.grid_spec
        if isinstance(spec, (list, tuple)):
            return [self._check_value(v, "grid value") for v in spec]
        if spec is None and self.step is not None:
            n = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
            return [round(self.low + k * self.step, 12) for k in range(n)]
        if spec is None or isinstance(spec, bool) or not isinstance(spec, int) or spec < 1:
            raise ValueError(f"{self.name}: grid search needs 'grid' for a float range (a list of values or a "
                             f"number of points) or a 'step', got grid={spec!r}")
        if spec == 1:
            return [self.low]
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            return [min(max(math.exp(a + (b - a) * k / (spec - 1)), self.low), self.high) for k in range(spec)]
        return [self.low + (self.high - self.low) * k / (spec - 1) for k in range(spec)]

    def describe(self):
        extra = ", log" if self.log else (f", step {self.step:g}" if self.step else "")
        return f"float [{self.low:g}, {self.high:g}]{extra}"


class Int(_Entry):
    """An integer in [low, high] (both included), uniform or log-uniform, with an optional ``step``.

    Grid search visits every allowed integer unless ``grid`` lists the values. Other arguments as in ``Float``.
    """

    kind = "int"

    def __init__(self, low, high, log=False, step=1, grid=None, when=None, default=None):
        super().__init__(when, default)
        for what, v in (("low", low), ("high", high), ("step", step)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise ValueError(f"Int: {what} must be an integer, got {v!r}")
        self.low, self.high, self.step, self.log = int(low), int(high), int(step), bool(log)
        self.grid_spec = grid
        if self.low > self.high:
            raise ValueError(f"Int: low must be <= high, got low={self.low}, high={self.high}")
        if self.step < 1:
            raise ValueError(f"Int: step must be >= 1, got {self.step}")
        if self.log and (self.low < 1 or self.step != 1):
            raise ValueError(f"Int: a log range needs low >= 1 and step 1, got low={self.low}, step={self.step}")

    def _check_value(self, v, what):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ValueError(f"{self.name}: {what} must be an integer, got {v!r}")
        if not self.low <= v <= self.high or (v - self.low) % self.step:
            raise ValueError(f"{self.name}: {what} {v} is not in range({self.low}, {self.high + 1}, {self.step})")
        return int(v)

    def suggest(self, trial):
        return trial.suggest_int(self.name, self.low, self.high, step=self.step, log=self.log)

    def grid_values(self):
        if isinstance(self.grid_spec, (list, tuple)):
            return [self._check_value(v, "grid value") for v in self.grid_spec]
        if self.grid_spec is not None:
            raise ValueError(f"{self.name}: 'grid' must be a list of integers, got {self.grid_spec!r}")
        return list(range(self.low, self.high + 1, self.step))

    def describe(self):
        extra = ", log" if self.log else (f", step {self.step}" if self.step != 1 else "")
        return f"int [{self.low}, {self.high}]{extra}"


class Categorical(_Entry):
    """One of ``choices`` (None, bool, int, float or str values); grid search visits every choice."""

    kind = "categorical"

    def __init__(self, choices, when=None, default=None):
        super().__init__(when, default)
        if not isinstance(choices, (list, tuple)) or not choices:
            raise ValueError(f"Categorical: choices must be a non-empty list, got {choices!r}")
        bad = [c for c in choices if not isinstance(c, _CHOICE_TYPES)]
        if bad:
            raise ValueError(f"Categorical: choices must be None, bool, int, float or str, got {bad[0]!r}")
        if len(set(map(repr, choices))) != len(choices):
            raise ValueError(f"Categorical: choices must be distinct, got {list(choices)}")
        self.choices = tuple(choices)

    def _check_value(self, v, what):
        if v not in self.choices:
            raise ValueError(f"{self.name}: {what} {v!r} is not one of {list(self.choices)}")
        return v

    def suggest(self, trial):
        return trial.suggest_categorical(self.name, self.choices)

    def grid_values(self):
        return list(self.choices)

    def describe(self):
        return "one of " + ", ".join(map(str, self.choices))


_KINDS = {"float": Float, "int": Int, "categorical": Categorical}


def _entry_from_dict(name, spec):
    spec = dict(spec)
    kind = spec.pop("type", None)
    if kind is None:
        kind = "categorical" if "choices" in spec else None
    if kind not in _KINDS:
        raise ValueError(f"{name}: 'type' must be float, int or categorical (or give 'choices'), got {kind!r}")
    cls = _KINDS[kind]
    allowed = {"float": {"low", "high", "log", "step", "grid", "when", "default"},
               "int": {"low", "high", "log", "step", "grid", "when", "default"},
               "categorical": {"choices", "when", "default"}}[kind]
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"{name}: unknown key(s) {', '.join(unknown)} for a {kind} entry; allowed: "
                         f"type, {', '.join(sorted(allowed))}")
    required = ("choices",) if kind == "categorical" else ("low", "high")
    missing = [k for k in required if k not in spec]
    if missing:
        raise ValueError(f"{name}: a {kind} entry needs {' and '.join(missing)}")
    if kind == "int":
        for key in ("low", "high", "step"):  # YAML may give 16.0 or "16"; accept whole numbers only
            if key in spec and not isinstance(spec[key], bool):
                v = _number(spec[key], f"{name}: {key}")
                if float(v) != int(v):
                    raise ValueError(f"{name}: {key} must be an integer, got {spec[key]!r}")
                spec[key] = int(v)
    try:
        return cls(**spec)
    except ValueError as e:
        raise ValueError(f"{name}: {str(e).split(': ', 1)[-1]}") from None


class Space:
    """An ordered set of named hyperparameters.

    Args:
        entries: a dict ``name -> entry``, in sampling order. An entry is a ``Float``, ``Int`` or ``Categorical``;
            a dict in the YAML form (``{"type": "float", "low": ..., "high": ..., "log": true}``); a list (the
            choices of a categorical); or a plain value (a constant: always in the params, never searched).

    A conditional entry (``when={"optimizer": "sgd"}``) may only refer to entries declared before it; it is
    absent from a trial's params when its condition does not hold.
    """

    def __init__(self, entries):
        if isinstance(entries, Space):
            entries = {**entries.entries, **entries.constants}
        if not isinstance(entries, dict) or not entries:
            raise ValueError(f"Space: expected a non-empty dict of name -> entry, got {entries!r}")
        self.entries, self.constants = {}, {}
        for name, spec in entries.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"Space: parameter names must be identifiers, got {name!r}")
            if isinstance(spec, _Entry):
                entry = spec
            elif isinstance(spec, dict):
                entry = _entry_from_dict(name, spec)
            elif isinstance(spec, (list, tuple)):
                try:
                    entry = Categorical(list(spec))
                except ValueError as e:
                    raise ValueError(f"{name}: {str(e).split(': ', 1)[-1]}") from None
            elif isinstance(spec, _CHOICE_TYPES):
                self.constants[name] = spec
                continue
            else:
                raise ValueError(f"{name}: expected a range, a list of choices or a constant, got {spec!r}")
            entry._bind(name)
            for parent in entry.when:
                if parent not in self.entries and parent not in self.constants:
                    raise ValueError(f"{name}: its condition refers to {parent!r}, which is not declared before it")
            self.entries[name] = entry

    @classmethod
    def from_yaml(cls, path):
        """Read a space from a YAML file (format in docs/TUNING.md)."""
        import yaml

        with open(path, encoding="utf-8") as f:
            try:
                data = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise ValueError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
        if not isinstance(data, dict) or not data:
            raise ValueError(f"{path}: expected a mapping of parameter names to entries, got {type(data).__name__}")
        data = data.get("space", data) if set(data) == {"space"} else data
        try:
            return cls(data)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def __iter__(self):
        return iter(self.entries)

    def __len__(self):
        return len(self.entries)

    def sample(self, trial):
        """The values of one trial: each active entry suggested through ``trial`` (an Optuna trial), in order,
        plus the constants."""
        params = dict(self.constants)
        for name, entry in self.entries.items():
            if entry.active(params):
                params[name] = entry.suggest(trial)
        return params

    def grid(self):
        """Every distinct point of the grid, as dicts of the searched entries (constants left out): the product
        of each entry's grid values, where a conditional entry multiplies only the points its condition holds on.
        """
        points = [{}]
        for name, entry in self.entries.items():
            values = entry.grid_values()
            grown = []
            for point in points:
                if entry.active({**self.constants, **point}):
                    grown.extend({**point, name: v} for v in values)
                else:
                    grown.append(point)
            points = grown
        return points

    def defaults(self):
        """The baseline configuration: each entry's ``default`` (the first choice, or the range's lower bound /
        geometric middle when none is given), conditions respected, plus the constants."""
        params = dict(self.constants)
        for name, entry in self.entries.items():
            if not entry.active(params):
                continue
            if entry.default is not None:
                params[name] = entry.default
            elif isinstance(entry, Categorical):
                params[name] = entry.choices[0]
            elif entry.log:
                mid = math.sqrt(entry.low * entry.high)
                params[name] = int(round(mid)) if isinstance(entry, Int) else mid
            else:
                params[name] = entry.low
        return params

    def contains(self, params):
        """Whether ``params`` (a trial's values) respects the bounds, steps, log scales' positivity, choices and
        conditions of this space."""
        known = dict(self.constants)
        for name, entry in self.entries.items():
            if not entry.active(known):
                if name in params:
                    return False
                continue
            if name not in params:
                return False
            try:
                known[name] = entry._check_value(params[name], "value")
            except ValueError:
                return False
            if isinstance(entry, Float) and entry.step is not None:
                k = (known[name] - entry.low) / entry.step
                if abs(k - round(k)) > 1e-6:
                    return False
        return set(params) <= set(known)

    def describe(self):
        """One line per entry: name, range or choices, condition."""
        lines = []
        for name, entry in self.entries.items():
            cond = ""
            if entry.when:
                cond = "  when " + ", ".join(f"{k} in {v}" if len(v) > 1 else f"{k}={v[0]}"
                                             for k, v in entry.when.items())
            lines.append(f"{name}: {entry.describe()}{cond}")
        lines.extend(f"{name}: {value!r} (constant)" for name, value in self.constants.items())
        return "\n".join(lines)

    def grid_size(self):
        return len(self.grid())

    def __repr__(self):
        return "Space(\n  " + self.describe().replace("\n", "\n  ") + "\n)"


def load_space(space):
    """A ``Space`` from a ``Space``, a dict, or the path of a YAML file."""
    if isinstance(space, Space):
        return space
    if isinstance(space, dict):
        return Space(space)
    if isinstance(space, (str, bytes)) or hasattr(space, "__fspath__"):
        return Space.from_yaml(space)
    raise TypeError(f"lamina.tune: space must be a Space, a dict or a YAML file path, got {type(space).__name__}")

