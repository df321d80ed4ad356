"""``lamina.nn.summary``: a Keras-like table of a model's layers, output shapes and parameter counts."""

__all__ = ["summary"]


def _shape_of(out):
    from lamina.tensor import Tensor

    if isinstance(out, Tensor):
        return str(tuple(out.shape))
    if isinstance(out, (tuple, list)):
        parts = [_shape_of(o) for o in out]
        parts = [p for p in parts if p]
        return "[" + ", ".join(parts) + "]" if parts else ""
    if isinstance(out, dict):
        return _shape_of(list(out.values()))
    return ""


def _inputs(input_size, dtype, model):
    """Zero inputs of the given size(s): one shape, or a list of shapes for a model taking several inputs."""
    from lamina.backend.dtypes import get_default_dtype
    from lamina.creation import zeros

    sizes = [tuple(input_size)] if all(isinstance(s, int) for s in input_size) else [tuple(s) for s in input_size]
    if dtype is None:
        floats = [p.dtype for p in model.parameters() if p.is_floating_point()]
        dtype = floats[0] if floats else get_default_dtype()
    dtypes = list(dtype) if isinstance(dtype, (list, tuple)) else [dtype] * len(sizes)
    if len(dtypes) != len(sizes):
        raise ValueError(f"summary: got {len(dtypes)} dtypes for {len(sizes)} inputs")
    return [zeros(*s, dtype=d) for s, d in zip(sizes, dtypes)]


def summary(model, input_size, dtype=None):
    """Run one forward pass on zeros of ``input_size`` and print (and return) a table with, for each layer, its
    name and type, output shape and parameter count; then the total, trainable and non-trainable parameters.

    Rows are the leaf modules (and any module holding parameters of its own) in the order they run; a module
    run twice gets a row per call, its parameters counted at the first. The forward runs in eval mode without
    gradients; the model's training flags are restored afterwards.

    Args:
        model: a ``Module``.
        input_size: the input's full shape, batch included, e.g. (1, 784); or a list of shapes, one per input.
        dtype: the input dtype (or a list, one per input). Default: the model's first floating parameter dtype.

    Example:
        >>> print(nn.summary(nn.Sequential(nn.Linear(784, 10), nn.ReLU()), (1, 784)))
    """
    from lamina.autograd.grad_mode import no_grad

    inputs = _inputs(input_size, dtype, model)
    names = {}
    for name, mod in model.named_modules():
        names.setdefault(id(mod), name)
    rows, seen, handles = [], set(), []
    pending = {}  # id(module) -> stack of its rows still waiting for an output shape (re-entrant calls)

    def pre_hook(mod, args):
        first = id(mod) not in seen
        seen.add(id(mod))
        n = sum(p.numel() for p in mod._parameters.values() if p is not None) if first else None
        rows.append([names.get(id(mod), "") or type(mod).__name__, type(mod).__name__, "", n])
        pending.setdefault(id(mod), []).append(len(rows) - 1)

    def hook(mod, args, out):
        rows[pending[id(mod)].pop()][2] = _shape_of(out)

    for mod in model.modules():
        if not mod._modules or any(p is not None for p in mod._parameters.values()):
            handles.append(mod.register_forward_pre_hook(pre_hook))
            handles.append(mod.register_forward_hook(hook))
    modes = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
        for m, training in modes:
            m.__dict__["training"] = training

    params = list(model.parameters())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    table = [("Layer (type)", "Output Shape", "Param #")]
    table += [(f"{name} ({kind})" if name != kind else kind, shape, "--" if n is None else f"{n:,}")
              for name, kind, shape, n in rows]
    w0 = max(28, max(len(r[0]) for r in table) + 2)
    w1 = max(24, max(len(r[1]) for r in table) + 2)
    w2 = max(12, max(len(r[2]) for r in table))
    width = w0 + w1 + w2
    lines = [f'Model: "{type(model).__name__}"', "=" * width]
    for i, (a, b, c) in enumerate(table):
        lines.append(f"{a:<{w0}}{b:<{w1}}{c:>{w2}}")
        if i == 0:
            lines.append("=" * width)
    lines += ["=" * width, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", "-" * width]
    text = "\n".join(lines)
    print(text)
    return text
