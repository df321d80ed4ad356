"""How an op records itself in the graph.

``ArrayFunction`` is the base of every built-in op: ``forward(ctx, *args)``
receives the inputs' arrays (NumPy or CuPy) and returns an array (or a tuple
of arrays); ``backward(ctx, *grads)`` receives one gradient array per output
and returns one gradient per forward argument (None where there is none).

``Function`` is the public base for user-defined ops, with PyTorch's
semantics: forward and backward receive and return Tensors.

The ``ctx`` object is the graph node (what ``tensor.grad_fn`` returns).
"""

import traceback
from weakref import ref as _weakref

from lamina.autograd.grad_mode import no_grad, state
from lamina.backend.xp import get_xp, numpy_module

_generic = numpy_module.generic
_asarray = numpy_module.asarray


class Context:
    """A node of the autograd graph: the ctx of one op application.

    ``next_functions`` pairs each forward argument with what its gradient flows
    to: ``(node, output_nr)`` for a non-leaf tensor, ``(tensor, None)`` for a
    leaf that requires grad, and None otherwise.
    """

    __slots__ = ("_fn", "xp", "_saved", "next_edges", "needs_input_grad", "_out_meta", "__dict__", "__weakref__")

    # rarely set fields live on the class until an instance sets them: a node is built once per op call
    _tensor_hooks = None
    _hooks = None
    _stack = None
    _freed = False
    _non_diff = None
    _versions = None  # ((weakref to input tensor, its _version at forward), ...): checked before backward
    materialize_grads = True

    def __init__(self, fn, xp):
        self._fn = fn
        self.xp = xp
        self._saved = ()
        self.next_edges = ()
        self.needs_input_grad = ()
        self._out_meta = None

    def save_for_backward(self, *values):
        self._saved = values

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (or directly access saved tensors after they "
                f"have already been freed). Saved intermediate values of the graph are freed when you call "
                f".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the graph "
                f"a second time or if you need to access saved tensors after calling backward. (node: {self.name()})")
        return self._saved

    def mark_non_differentiable(self, *outputs):
        self._non_diff = {id(o) for o in outputs}

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def name(self):
        # PyTorch's names: built-in ops end in "Backward0", user-defined Functions in "Backward"
        return f"{self._fn.__name__}Backward{'0' if self._fn._raw else ''}"

    @property
    def next_functions(self):
        return tuple(e if e is None or e[1] is not None else ("AccumulateGrad", e[0]) for e in self.next_edges)

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` runs after this node's backward."""
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        return _RemovableHandle(self._hooks, hook)

    def _add_tensor_hook(self, output_nr, hook):
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        lst = self._tensor_hooks.setdefault(output_nr, [])
        lst.append(hook)
        return _RemovableHandle(lst, hook)

    def __repr__(self):
        return f"<{self.name()} object>"


class _RemovableHandle:
    __slots__ = ("_list", "_item")

    def __init__(self, lst, item):
        self._list, self._item = lst, item

    def remove(self):
        try:
            self._list.remove(self._item)
        except ValueError:
            pass


class ArrayFunction:
    """Base of the built-in ops: forward/backward on raw arrays, one class per op."""

    _raw = True

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of Function must implement forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("subclasses of Function must implement backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _tensor_cls[0] or _load_tensor_cls()
        raw_mode = cls._raw
        xp = None
        record = False
        raw = []
        edges = []
        inputs = []
        for a in args:
            if isinstance(a, Tensor):
                d = a._data
                inputs.append(a)
                if xp is None:
                    xp = _np if type(d) is _ndarray else get_xp(d)
                if a._requires_grad:
                    record = True
                    fn = a.grad_fn
                    edges.append((a, None) if fn is None else (fn, a._output_nr))
                else:
                    edges.append(None)
                raw.append(d if raw_mode else a.detach())
            else:
                raw.append(a)
                edges.append(None)
        st = state
        record = record and st.enabled
        ctx = Context(cls, xp or _np)
        if record:  # before forward, so that forward may consult needs_input_grad (as in PyTorch)
            ctx.next_edges = tuple(edges)
            ctx.needs_input_grad = tuple([e is not None for e in edges])
            ctx._versions = tuple([(_weakref(a), a._version) for a in inputs])
            if st.anomaly:
                ctx._stack = traceback.format_stack()[:-1]
        elif not raw_mode:
            ctx.needs_input_grad = (False,) * len(args)
        prof = st.profiler
        if prof is not None:
            t0 = prof.clock()
        if raw_mode:
            out = cls.forward(ctx, *raw, **kwargs)
        else:
            with no_grad():
                out = cls.forward(ctx, *raw, **kwargs)
        if prof is not None:
            prof.record(cls.__name__, "forward", t0, prof.clock())
        if st.anomaly:
            from lamina.autograd.anomaly import check_forward

            check_forward(cls, out)
        make = Tensor._make
        if type(out) is not tuple:
            arr = out._data if isinstance(out, Tensor) else out
            if isinstance(arr, _generic):  # NumPy gives scalars for 0-d results; a tensor always holds an array
                arr = _asarray(arr)
            if record and arr.dtype.kind == "f" and (ctx._non_diff is None or id(out) not in ctx._non_diff):
                ctx._out_meta = [(arr.shape, arr.dtype)]
                return make(arr, True, ctx, 0)
            return make(arr, False, None, 0)
        results = []
        meta = []
        non_diff = ctx._non_diff
        for i, o in enumerate(out):
            arr = o._data if isinstance(o, Tensor) else o
            if isinstance(arr, _generic):
                arr = _asarray(arr)
            differentiable = record and arr.dtype.kind == "f" and (non_diff is None or id(o) not in non_diff)
            results.append(make(arr, differentiable, ctx if differentiable else None, i))
            meta.append((arr.shape, arr.dtype))
        if record:
            ctx._out_meta = meta
        return tuple(results)


_tensor_cls = [None]
_np = numpy_module
_ndarray = numpy_module.ndarray


def _load_tensor_cls():
    from lamina.tensor import Tensor

    _tensor_cls[0] = Tensor
    return Tensor


class Function(ArrayFunction):
    """Base class for user-defined differentiable ops, with PyTorch's semantics.

    Subclass it with static ``forward(ctx, *args)`` and ``backward(ctx, *grad_outputs)`` that take and return
    Tensors, and call ``MyOp.apply(...)``.

    Example:
        >>> class Square(lamina.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x * x
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return 2 * x * grad
    """

    _raw = False


def _numpy():
    from lamina.backend.xp import numpy_module

    return numpy_module
