"""The model registry: architectures by name, so that the ``lamina`` command and checkpoints can rebuild them.

A builder is a function (or a Module class) called with keyword arguments; the ``lamina`` command passes the
dataset's ``input_shape`` (without the batch dimension, e.g. ``(1, 8, 8)``) and ``num_classes`` plus the user's
options, so every image-classification builder accepts those two.
"""

__all__ = ["register_model", "get_model", "list_models", "model_builder"]

_REGISTRY = {}


def register_model(name, builder=None):
    """Register ``builder`` under ``name``; used as a decorator (``@register_model("mlp")``) or a call.

    Example:
        >>> @register_model("tiny")
        ... def tiny(input_shape=(1, 8, 8), num_classes=10):
        ...     return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), num_classes))
        >>> get_model("tiny", num_classes=3)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_model: name must be a non-empty string, got {name!r}")

    def add(fn):
        if not callable(fn):
            raise TypeError(f"register_model: {name!r} must be registered with a callable, got {type(fn).__name__}")
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"register_model: a model named {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return add if builder is None else add(builder)


def model_builder(name):
    """The builder registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}") from None


def get_model(name, **config):
    """Build the model registered under ``name`` with keyword arguments ``config``.

    Raises:
        ValueError: no model has that name (the message lists the registered ones).
        TypeError: ``config`` holds an argument the builder does not take.
    """
    return model_builder(name)(**config)


def list_models():
    """The registered model names, sorted."""
    return sorted(_REGISTRY)
