"""``lamina.nn.functional``: the stateless form of every layer, activation and loss (PyTorch's names).

Each family lives in its own file; this package re-exports them all.
"""

from lamina.nn.functional import (
    activation,
    attention,
    conv,
    distance,
    dropout,
    embedding,
    linear,
    loss,
    normalization,
    pixelshuffle,
    pooling,
    rnn,
    upsampling,
)
from lamina.ops.functions import log_softmax, pad, relu, sigmoid, softmax, tanh

__all__ = ["log_softmax", "pad", "relu", "sigmoid", "softmax", "tanh"]
for _m in (linear, activation, loss, conv, pooling, upsampling, normalization, dropout, embedding, rnn, attention,
           distance, pixelshuffle):
    for _name in getattr(_m, "__all__", ()):
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)


_pad_nonconstant = upsampling._pad_nonconstant
