"""Every layer family, one file each; ``__all__`` collects their public names."""

from lamina.nn.modules import (
    activation,
    attention,
    container,
    conv,
    distance,
    dropout,
    embedding,
    linear,
    loss,
    module,
    normalization,
    padding,
    pixelshuffle,
    pooling,
    rnn,
    transformer,
    upsampling,
)

__all__ = []
for _m in (module, container, linear, activation, loss, conv, pooling, upsampling, normalization, dropout, embedding,
           rnn, attention, transformer, padding, distance, pixelshuffle):
    for _name in getattr(_m, "__all__", ()):
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)
module.__all__ = ["Module"]
globals()["Module"] = module.Module
__all__.append("Module")
for _name in ("Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"):
    globals()[_name] = getattr(container, _name)
    __all__.append(_name)
