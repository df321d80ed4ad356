"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function``, grad mode, gradcheck, anomaly."""

from lamina.autograd.anomaly import detect_anomaly, set_detect_anomaly
from lamina.autograd.engine import as_array, run_backward
from lamina.autograd.function import Context, Function
from lamina.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from lamina.autograd.gradcheck import gradcheck


def _as_list(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(outputs, grad_outputs):
    from lamina.tensor import Tensor

    grads = []
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"backward: expected Tensors as outputs, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs (got an output of shape "
                                   f"{tuple(t.shape)}); pass gradient= with the same shape")
            g = t.xp.ones(t._data.shape, dtype=t._data.dtype)
        else:
            g = g._data if isinstance(g, Tensor) else t.xp.asarray(g, dtype=t._data.dtype)
            if g.shape != t._data.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and output"
                                   f"[{i}] has a shape of {tuple(t.shape)}.")
            if g.dtype != t._data.dtype:
                g = g.astype(t._data.dtype)
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate into the leaves' ``.grad`` the gradient of ``tensors`` (weighted by ``grad_tensors``)."""
    if create_graph:
        raise RuntimeError("backward: create_graph=True (higher-order gradients) is not supported by lamina's engine; "
                           "gradients are computed on arrays, outside the graph")
    outputs = _as_list(tensors)
    grads = _root_grads(outputs, _as_list(grad_tensors))
    if inputs is not None:
        inputs = _as_list(inputs)
        res = grad(outputs, inputs, grads, retain_graph=retain_graph, allow_unused=True)
        from lamina.tensor import Tensor

        for t, g in zip(inputs, res):
            if g is None:
                continue
            if t.grad is None:
                t.grad = Tensor._make(g._data.copy(), False, None, 0)
            else:
                t.grad._data += g._data
        return
    run_backward(outputs, grads, bool(retain_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=None,
         materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated into ``.grad``)."""
    from lamina.tensor import Tensor

    if create_graph:
        raise RuntimeError("grad: create_graph=True (higher-order gradients) is not supported by lamina's engine")
    outputs = _as_list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _as_list(inputs)
    gouts = grad_outputs
    if gouts is not None and not (isinstance(gouts, (list, tuple)) and all(
            isinstance(g, Tensor) or g is None for g in gouts)):
        gouts = _as_list(gouts)
    roots = _root_grads(outputs, None if gouts is None else [
        g._data if isinstance(g, Tensor) else g for g in _as_list(gouts)])
    capture = {}
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}) does not require grad")
        key = id(t) if t.grad_fn is None else (id(t.grad_fn), t._output_nr)
        capture[key] = i
    got = run_backward(outputs, roots, bool(retain_graph), capture=capture, accumulate=False)
    result = []
    for i, (t, g) in enumerate(zip(inputs, got)):
        if g is None:
            if materialize_grads:
                g = t.xp.zeros_like(t._data)
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}) appears to not have been used in "
                                   f"the graph. Set allow_unused=True if this is the desired behavior.")
        result.append(None if g is None else Tensor._make(as_array(g), False, None, 0))
    return tuple(result) if not single else (result[0],)


__all__ = [
    "Context", "Function", "backward", "detect_anomaly", "enable_grad", "grad", "gradcheck", "is_grad_enabled",
    "no_grad", "set_detect_anomaly", "set_grad_enabled",
]
