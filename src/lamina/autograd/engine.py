"""Backpropagation: walk the graph in reverse topological order, iteratively.

The walk never recurses (a chain of 100,000 ops works), accumulates the
gradients that reach one node from several paths before running it, frees each
node's saved arrays once it has run (unless ``retain_graph``), runs tensor
hooks, and accumulates into the ``.grad`` of leaves.
"""

from lamina.autograd.grad_mode import state
from lamina.backend.xp import numpy_module

_generic = numpy_module.generic


def as_array(g):
    """NumPy returns scalars for 0-d results; what a Tensor holds (or ``+=`` updates in place) must be an array."""
    return numpy_module.asarray(g) if isinstance(g, _generic) else g


def _collect(roots):
    """Count, for every node reachable from ``roots``, how many edges lead into it."""
    deps = {}
    stack = list(roots)
    seen = set(map(id, roots))
    while stack:
        node = stack.pop()
        for e in node.next_edges:
            if e is None or e[1] is None:
                continue
            nxt = e[0]
            deps[nxt] = deps.get(nxt, 0) + 1
            if id(nxt) not in seen:
                seen.add(id(nxt))
                stack.append(nxt)
    return deps


def _release(edges, deps, ready):
    """Count edges that carry no gradient as delivered, so the nodes behind them still run once all others have."""
    for e in edges:
        if e is None or e[1] is None:
            continue
        d = deps[e[0]] - 1
        deps[e[0]] = d
        if d == 0:
            ready.append(e[0])


def _expandable(shape, to):
    """True when an array of ``shape`` broadcasts to ``to`` (so a gradient of shape ``to`` sums back to it)."""
    if len(shape) > len(to):
        return False
    return all(s == 1 or s == d for s, d in zip(reversed(shape), reversed(to)))


def _conform(g, shape, dtype, node, i):
    """A user Function's gradient for input ``i``, summed back to the input's shape and cast to its dtype,
    or PyTorch's error when the shapes are incompatible."""
    from lamina.ops._util import unbroadcast

    g = as_array(g)
    if g.shape != shape:
        if not _expandable(shape, g.shape):
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} - got "
                               f"{list(g.shape)} but expected shape compatible with {list(shape)}")
        g = unbroadcast(g, shape)
    return g if g.dtype == dtype else g.astype(dtype)


def _accumulate_leaf(t, g, owned, borrowed):
    """Add ``g`` into ``t.grad``.

    A gradient stored without a copy may still sit in a pending buffer of this pass (an op can hand one array to
    several inputs), so the first later accumulation into it happens out of place (``borrowed``).
    """
    from lamina.tensor import Tensor

    g = as_array(g)
    shape = t._data.shape
    if g.shape != shape:
        if _expandable(shape, g.shape):
            from lamina.ops._util import unbroadcast

            g = unbroadcast(g, shape)
        elif g.size == t._data.size:
            g = g.reshape(shape)
        elif _expandable(g.shape, shape):
            g = t.xp.broadcast_to(g, shape)
        else:
            raise RuntimeError(f"backward: the gradient of a leaf of shape {tuple(shape)} has the incompatible shape "
                               f"{tuple(g.shape)}")
    if g.dtype != t._data.dtype:
        g = g.astype(t._data.dtype)
    if t._hooks:
        for h in t._hooks:
            r = h(Tensor._make(g, False, None, 0))
            if r is not None:
                g = as_array(r._data)
    if t.grad is None:
        if id(g) in owned or not g.flags.owndata or not g.flags.writeable:
            g = g.copy()
        else:
            borrowed.add(id(g))
        owned.add(id(g))
        t.grad = Tensor._make(g, False, None, 0)
    else:
        tg = t.grad._data
        if id(tg) in borrowed:
            borrowed.discard(id(tg))
            t.grad._data = as_array(tg + g)
        else:
            tg += g


def _check_versions(node, Tensor):
    """PyTorch's error when an input was changed in place, after forward, in an array that backward reads."""
    for r, version in node._versions:
        t = r()
        if t is None or t._version == version:
            continue
        data = t._data
        for s in node._saved:
            arr = s._data if isinstance(s, Tensor) else s
            if getattr(arr, "ndim", None) is not None and node.xp.may_share_memory(arr, data):
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{t.dtype} {list(t.shape)}] is at version {t._version}; expected version {version} "
                    f"instead (it was saved by {node.name()}). Use an out-of-place op (e.g. x = x + 1 instead of "
                    f"x.add_(1)) or clone() the tensor before changing it.")


def run_backward(roots, root_grads, retain_graph, capture=None, accumulate=True):
    """Backpropagate ``root_grads`` from the root tensors.

    ``capture`` maps a key (``id(leaf)`` or ``(id(node), output_nr)``) to a slot; the gradients reaching those
    keys are returned in a list instead of (or besides) being accumulated into leaves.
    """
    prev_enabled = state.enabled
    state.enabled = False  # gradients are computed on arrays; nothing here records a graph
    try:
        return _run(roots, root_grads, retain_graph, capture, accumulate)
    finally:
        state.enabled = prev_enabled


def _run(roots, root_grads, retain_graph, capture, accumulate):
    from lamina.autograd.function import _load_tensor_cls, _tensor_cls

    Tensor = _tensor_cls[0] or _load_tensor_cls()
    captured = [None] * (len(capture) if capture else 0)
    owned = set(id(g) for g in root_grads)
    borrowed = set()
    buffers = {}  # node -> list of gradient arrays, one per output
    start_nodes = []
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            if capture and id(t) in capture:
                captured[capture[id(t)]] = g
            elif accumulate and t.requires_grad:
                _accumulate_leaf(t, g, owned, borrowed)
            continue
        node = t.grad_fn
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * len(node._out_meta)
            start_nodes.append(node)
        nr = t._output_nr
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    deps = _collect(start_nodes)
    ready = [n for n in start_nodes if deps.get(n, 0) == 0]
    anomaly = state.anomaly
    prof = state.profiler
    while ready:
        node = ready.pop()
        grads = buffers.pop(node, None)
        if grads is None:  # every edge into this node carried None: nothing to compute, release its inputs
            _release(node.next_edges, deps, ready)
            continue
        xp = node.xp
        if node._tensor_hooks:
            for nr, hooks in node._tensor_hooks.items():
                if grads[nr] is None:
                    continue
                for h in hooks:
                    r = h(Tensor._make(as_array(grads[nr]), False, None, 0))
                    if r is not None:
                        grads[nr] = r._data
        if capture:
            for nr, g in enumerate(grads):
                slot = capture.get((id(node), nr))
                if slot is not None:
                    captured[slot] = g
        if node.materialize_grads:
            for i, g in enumerate(grads):
                if g is None:
                    shape, dtype = node._out_meta[i]
                    grads[i] = xp.zeros(shape, dtype=dtype)
        fn = node._fn
        if node._freed:
            node.saved_tensors  # noqa: B018 - raises the "backward a second time" error
        if node._versions and node._saved:
            _check_versions(node, Tensor)
        if prof is not None:
            t0 = prof.clock()
        try:
            if fn._raw:
                result = fn.backward(node, *grads)
            else:
                tg = [None if g is None else Tensor._make(as_array(g), False, None, 0) for g in grads]
                result = fn.backward(node, *tg)
        except Exception as e:
            if anomaly and node._stack:
                from lamina.autograd.anomaly import report_backward_error

                report_backward_error(node, e)
            raise
        if prof is not None:
            prof.record(fn.__name__, "backward", t0, prof.clock())
        if not isinstance(result, tuple):
            result = (result,)
        edges = node.next_edges
        if len(result) < len(edges):
            raise RuntimeError(
                f"function {node.name()} returned an incorrect number of gradients "
                f"(expected {len(edges)}, got {len(result)})")
        if not fn._raw:  # user code: check shapes and dtypes as PyTorch does (built-in ops are trusted)
            result = tuple(
                None if e is None or r is None else _conform(
                    r._data if isinstance(r, Tensor) else r,
                    *(e[0]._out_meta[e[1]] if e[1] is not None else (e[0]._data.shape, e[0]._data.dtype)),
                    node, i)
                for i, (e, r) in enumerate(zip(edges, result)))
        if anomaly:
            from lamina.autograd.anomaly import check_backward

            check_backward(node, result)
        if node._hooks:
            for h in node._hooks:
                h(result, grads)
        if not retain_graph and node._saved:  # as PyTorch: only a node that saved values refuses a rerun
            node._saved = ()
            node._freed = True
        for e, g in zip(edges, result):
            if e is None:
                continue
            if g is None:
                _release((e,), deps, ready)
                continue
            target, nr = e
            if nr is None:  # a leaf
                if capture:
                    slot = capture.get(id(target))
                    if slot is not None:
                        captured[slot] = g if captured[slot] is None else captured[slot] + g
                        continue
                if accumulate:
                    _accumulate_leaf(target, g, owned, borrowed)
                continue
            buf = buffers.get(target)
            if buf is None:
                buf = buffers[target] = [None] * len(target._out_meta)
            buf[nr] = g if buf[nr] is None else buf[nr] + g
            d = deps[target] - 1
            deps[target] = d
            if d == 0:
                ready.append(target)
    return captured
