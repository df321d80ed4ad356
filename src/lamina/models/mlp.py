"""A multilayer perceptron: (Linear -> [BatchNorm1d] -> activation -> [Dropout]) x depth -> Linear."""

import math

from lamina import nn
from lamina.models.registry import register_model

__all__ = ["MLP", "mlp", "activation_module"]

_ACTIVATIONS = {"relu": "ReLU", "gelu": "GELU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU",
                "elu": "ELU", "selu": "SELU", "silu": "SiLU", "mish": "Mish", "softplus": "Softplus"}


def activation_module(name, owner="model"):
    """A fresh activation layer from its name (``"relu"``, ``"gelu"``, ``"tanh"``...)."""
    cls = _ACTIVATIONS.get(str(name).lower())
    if cls is None or not hasattr(nn, cls):
        known = [k for k, v in _ACTIVATIONS.items() if hasattr(nn, v)]
        raise ValueError(f"{owner}: unknown activation {name!r}; known: {', '.join(known)}")
    return getattr(nn, cls)()


class MLP(nn.Module):
    """A multilayer perceptron over flattened inputs.

    Args:
        in_features: size of each (flattened) input sample.
        out_features: size of the output (number of classes).
        hidden: sizes of the hidden layers. Default: (256, 128).
        activation: activation name. Default: ``"relu"``.
        dropout: dropout probability after each hidden activation. Default: 0.
        batchnorm: a ``BatchNorm1d`` after each hidden ``Linear``. Default: False.

    Shape:
        input (N, *) with prod(*) = in_features -> output (N, out_features)
    """

    def __init__(self, in_features, out_features, hidden=(256, 128), activation="relu", dropout=0.0,
                 batchnorm=False):
        super().__init__()
        if in_features < 1 or out_features < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"MLP: sizes must be positive, got in_features={in_features}, hidden={list(hidden)}, "
                             f"out_features={out_features}")
        if not 0 <= dropout < 1:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        layers = []
        width = self.in_features
        for h in hidden:
            layers.append(nn.Linear(width, int(h)))
            if batchnorm:
                layers.append(nn.BatchNorm1d(int(h)))
            layers.append(activation_module(activation, "MLP"))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(h)
        layers.append(nn.Linear(width, self.out_features))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.in_features:
            raise ValueError(f"MLP: expected input of shape (N, ...) with {self.in_features} features per sample, "
                             f"got {tuple(x.shape)}")
        return self.layers(x.reshape(x.shape[0], self.in_features))


@register_model("mlp")
def mlp(input_shape=(1, 8, 8), num_classes=10, depth=2, width=256, hidden=None, activation="relu", dropout=0.0,
        batchnorm=False):
    """An MLP classifier: ``depth`` hidden layers of ``width`` units (or explicit ``hidden`` sizes)."""
    if hidden is None:
        if depth < 0 or width < 1:
            raise ValueError(f"mlp: depth must be >= 0 and width >= 1, got depth={depth}, width={width}")
        hidden = [int(width)] * int(depth)
    return MLP(math.prod(input_shape), num_classes, hidden, activation, dropout, batchnorm)
