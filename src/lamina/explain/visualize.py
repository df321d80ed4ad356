"""What a network has learned: activation maximisation (the input a unit likes best) and feature maps."""

import numpy as np

from lamina.explain._common import _output, as_input, eval_mode, find_layer, layer_output, model_dtype, to_tensor

__all__ = ["activation_maximization", "feature_maps"]


def feature_maps(model, inputs, layer=None):
    """The outputs of ``layer`` (a Module or its qualified name; default: the first ``Conv2d``) for ``inputs``,
    computed in eval mode without gradients.

    Example:
        >>> explain.plot_feature_maps(explain.feature_maps(model, image[None], "features.0"), "maps.png")
    """
    from lamina.nn.modules.conv import Conv2d

    if layer is None:
        convs = [m for m in model.modules() if isinstance(m, Conv2d)]
        if not convs:
            raise ValueError("feature_maps: the model has no Conv2d layer; pass layer=")
        layer = convs[0]
    layer = find_layer(model, layer, "feature_maps")
    with eval_mode(model):
        return to_tensor(layer_output(model, as_input(model, inputs, "feature_maps"), layer))


def activation_maximization(model, layer, unit, input_shape, steps=200, lr=0.05, l2=1e-2, init=None,
                            value_range=None, generator=None):
    """The input that maximises one unit (a feature of a ``Linear`` output, or the mean of a filter's feature
    map) of ``layer``: gradient ascent with Adam on the input, with an L2 penalty that keeps it natural
    (Erhan et al., 2009; Simonyan et al., 2014).

    Args:
        model: a ``lamina.nn.Module``.
        layer: the layer whose output holds the unit (a Module or its qualified name; the model's output for
            ``layer=model``).
        unit: the index of the unit along the layer output's axis 1 (a class, a feature, a filter).
        input_shape: one input's shape, e.g. (1, 8, 8).
        steps: ascent steps. Default: 200.
        lr: Adam's learning rate. Default: 0.05.
        l2: weight of the penalty ``l2 * mean(x**2)``. Default: 0.01.
        init: the starting input (default: small Gaussian noise).
        value_range: (low, high) to clip the input into after every step, e.g. the data's range.
        generator: a ``lamina.Generator`` for the starting noise.

    Returns:
        (input Tensor of shape (1, *input_shape), the unit's final activation as a float).
    """
    from lamina.autograd.grad_mode import enable_grad
    from lamina.creation import randn
    from lamina.optim import Adam
    from lamina.tensor import Tensor

    layer = find_layer(model, layer, "activation_maximization")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"activation_maximization: steps must be a positive int, got {steps!r}")
    dtype = model_dtype(model)
    if init is None:
        start = 0.1 * randn(1, *input_shape, generator=generator)._data
    else:
        start = as_input(model, init, "activation_maximization")
    x = Tensor._make(np.array(start, dtype=dtype).reshape((1,) + tuple(input_shape)), True, None, 0)
    opt = Adam([x], lr=lr)
    captured = []
    handle = layer.register_forward_hook(lambda m, a, out: captured.append(_output(out)))
    value = float("nan")
    try:
        with eval_mode(model), enable_grad():
            for _ in range(steps):
                captured.clear()
                opt.zero_grad()
                model(x)
                a = captured[-1]
                if a.ndim < 2 or not 0 <= unit < a.shape[1]:
                    raise ValueError(f"activation_maximization: unit {unit} is out of range for the layer's output "
                                     f"of shape {tuple(a.shape)}")
                act = a[:, unit].mean()
                loss = -act + l2 * (x * x).mean()
                loss.backward()
                opt.step()
                if value_range is not None:
                    x._data[...] = np.clip(x._data, value_range[0], value_range[1])
                value = float(act.item())
    finally:
        handle.remove()
    return to_tensor(x._data.copy()), value
