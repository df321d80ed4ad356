"""Shared plumbing of the attribution methods: inputs as arrays, targets, eval mode, layer lookup, gradients."""

import contextlib

import numpy as np

from lamina.autograd import grad as autograd_grad
from lamina.autograd.grad_mode import enable_grad, no_grad
from lamina.tensor import Tensor

# rows (expanded samples) per forward pass when a method evaluates many perturbed copies of its inputs
DEFAULT_CHUNK = 256


def model_dtype(model):
    for p in model.parameters():
        if p._data.dtype.kind == "f":
            return p._data.dtype
    return np.dtype(np.float32)


def as_input(model, inputs, who):
    """``inputs`` (a Tensor or array of shape (N, ...)) as a contiguous array in the model's float dtype."""
    arr = inputs._data if isinstance(inputs, Tensor) else np.asarray(inputs)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{who}: expected numeric inputs, got dtype {arr.dtype}")
    if arr.ndim < 2:
        raise ValueError(f"{who}: expected a batch of inputs of shape (N, ...), got shape {arr.shape}; add the "
                         f"batch dimension with x[None]")
    return np.ascontiguousarray(arr, dtype=model_dtype(model))


def as_baseline(baselines, x, who):
    """A baseline broadcastable to ``x``: a number, or an array of shape x.shape or x.shape[1:]."""
    b = baselines._data if isinstance(baselines, Tensor) else np.asarray(0.0 if baselines is None else baselines)
    b = np.asarray(b, dtype=x.dtype)
    if b.ndim == 0:
        return b
    if b.shape == x.shape[1:]:
        return b[None]
    if b.shape == x.shape or b.shape == (1,) + x.shape[1:]:
        return b
    raise ValueError(f"{who}: baselines must be a number or of shape {x.shape} or {x.shape[1:]}, got {b.shape}")


@contextlib.contextmanager
def eval_mode(model):
    """Evaluate in eval mode (dropout off, batch-norm running statistics), restoring each module's flag after."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def resolve_targets(target, outputs, who, n=None):
    """Per-sample class indices (N,) from ``target``: None (the predicted class), an int or one index per sample.

    ``outputs`` are the model's outputs for the inputs (or, with ``n`` given and a target given, for any of them).
    A model with one output per sample (shape (N,) or (N, 1)) needs no target."""
    n = outputs.shape[0] if n is None else n
    if outputs.ndim == 1 or outputs.ndim == 2 and outputs.shape[1] == 1:
        return np.zeros(n, dtype=np.int64)
    if outputs.ndim != 2:
        raise ValueError(f"{who}: the model's output must be (N, classes) or (N,), got shape {outputs.shape}")
    k = outputs.shape[1]
    if target is None:
        return outputs.argmax(axis=1).astype(np.int64)
    t = np.asarray(target._data if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "biu":
        raise TypeError(f"{who}: target must be an int or integer class indices, got dtype {t.dtype}")
    t = np.broadcast_to(t, (n,)) if t.ndim == 0 else t
    if t.shape != (n,):
        raise ValueError(f"{who}: target must be one int or {n} indices (one per input), got shape {t.shape}")
    if t.size and (t.min() < 0 or t.max() >= k):
        raise ValueError(f"{who}: target {int(t.min() if t.min() < 0 else t.max())} is out of range for a model "
                         f"with {k} outputs")
    return t.astype(np.int64)


def forward(model, x, chunk=DEFAULT_CHUNK):
    """The model's outputs for the rows of ``x`` (no gradients), in chunks, as one array."""
    with no_grad():
        outs = [np.asarray(_output(model(Tensor._make(x[i:i + chunk], False, None, 0)))._data)
                for i in range(0, x.shape[0], chunk)]
    return np.concatenate(outs) if len(outs) > 1 else outs[0]


def _output(out):
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, Tensor):
        raise TypeError(f"explain: the model must return a Tensor, got {type(out).__name__}")
    return out


def _selected(out, targets):
    """out[i, targets[i]] for each row, as a differentiable (M,) tensor (one-hot product: any output dtype)."""
    if out.ndim == 1:
        return out
    if out.ndim == 2 and out.shape[1] == 1:
        return out.reshape(out.shape[0])
    onehot = np.zeros(out.shape, dtype=out._data.dtype)
    onehot[np.arange(out.shape[0]), targets] = 1
    return (out * Tensor._make(onehot, False, None, 0)).sum(1)


def target_gradients(model, x, targets, chunk=DEFAULT_CHUNK, layer=None):
    """Gradients of the targeted outputs: d out[i, targets[i]] / d x[i] for every row, in chunks of ``chunk`` rows.

    With ``layer``, also returns that layer's outputs and the gradients with respect to them (for Grad-CAM).
    Returns (input gradients, selected outputs) or (input gradients, selected outputs, layer outputs, layer grads).
    """
    grads, scores, acts, act_grads = [], [], [], []
    captured = []
    handle = None
    if layer is not None:
        handle = layer.register_forward_hook(lambda m, a, out: captured.append(_output(out)))
    try:
        for i in range(0, x.shape[0], chunk):
            captured.clear()
            xt = Tensor._make(np.ascontiguousarray(x[i:i + chunk]), True, None, 0)
            with enable_grad():
                sel = _selected(_output(model(xt)), targets[i:i + chunk])
                if layer is None:
                    (g,) = autograd_grad(sel.sum(), xt)
                else:
                    if not captured:
                        raise ValueError(f"explain: layer {type(layer).__name__} did not run in the model's forward")
                    a = captured[-1]
                    g, ga = autograd_grad(sel.sum(), [xt, a], allow_unused=True)
                    acts.append(a._data.copy())
                    act_grads.append(np.zeros_like(a._data) if ga is None else ga._data)
            grads.append(np.zeros_like(xt._data) if g is None else g._data)
            scores.append(sel._data)
    finally:
        if handle is not None:
            handle.remove()
    cat = (lambda parts: np.concatenate(parts) if len(parts) > 1 else parts[0])
    if layer is None:
        return cat(grads), cat(scores)
    return cat(grads), cat(scores), cat(acts), cat(act_grads)


def find_layer(model, layer, who, kind=None):
    """A submodule given as a Module, or a qualified name (``"features.3"``); None: the last module of ``kind``."""
    from lamina.nn.modules.module import Module

    if isinstance(layer, Module):
        return layer
    names = dict(model.named_modules())
    if layer is None:
        if kind is None:
            raise ValueError(f"{who}: name a layer")
        found = [m for m in names.values() if isinstance(m, kind)]
        if not found:
            raise ValueError(f"{who}: the model has no {kind.__name__} layer; pass layer= one of: "
                             f"{', '.join(n for n in names if n) or 'none'}")
        return found[-1]
    if not isinstance(layer, str):
        raise TypeError(f"{who}: layer must be a Module or its name in the model, got {type(layer).__name__}")
    if layer not in names:
        raise ValueError(f"{who}: the model has no layer named {layer!r}; layers: "
                         f"{', '.join(n for n in names if n) or 'none'}")
    return names[layer]


def layer_output(model, x, layer, chunk=DEFAULT_CHUNK):
    """The outputs of ``layer`` when the model runs on ``x`` (no gradients), as one array."""
    outs = []
    handle = layer.register_forward_hook(lambda m, a, out: outs.append(np.array(_output(out)._data)))
    try:
        forward(model, x, chunk)
    finally:
        handle.remove()
    if not outs:
        raise ValueError(f"explain: layer {type(layer).__name__} did not run in the model's forward")
    return np.concatenate(outs) if len(outs) > 1 else outs[0]


def to_tensor(arr):
    return Tensor._make(np.ascontiguousarray(arr), False, None, 0)
