"""A compact parity harness: run one expression on lamina and on PyTorch, compare values and every input gradient.

A case is ``Case(name, fn, inputs)``: ``fn(m, *tensors)`` is written once against the shared API (``m`` is
``lamina`` or ``torch``), or ``fn=(lamina_fn, torch_fn)`` where the spellings differ; ``inputs`` are input
specs: a shape tuple (standard normal float64), or a callable ``rng -> array`` (see ``pos``, ``ints``...).
Float inputs require grad; the outputs are reduced with fixed random weights and backpropagated on both sides.
"""

import numpy as np

import lamina
from tests.conftest import assert_close, torch


class Case:
    def __init__(self, name, fn, inputs, gradcheck=True, rtol=1e-7, atol=1e-9):
        self.name, self.inputs, self.gradcheck, self.rtol, self.atol = name, inputs, gradcheck, rtol, atol
        self.lfn, self.tfn = fn if isinstance(fn, tuple) else (lambda *a: fn(lamina, *a), lambda *a: fn(torch, *a))

    def __repr__(self):
        shapes = ",".join(str(s) if isinstance(s, tuple) else getattr(s, "desc", "arr") for s in self.inputs)
        return f"{self.name}[{shapes}]"


def _spec(desc, make):
    make.desc = desc
    return make


def pos(shape, lo=0.5, hi=2.0):
    """Positive floats (for log, sqrt, division, pow bases)."""
    return _spec(f"pos{shape}", lambda rng: rng.uniform(lo, hi, shape))


def uniform(shape, lo, hi):
    return _spec(f"u{shape}", lambda rng: rng.uniform(lo, hi, shape))


def ints(shape, lo, hi, dtype=np.int64):
    return _spec(f"int{shape}", lambda rng: rng.integers(lo, hi, shape).astype(dtype))


def mask(shape, p=0.5):
    return _spec(f"mask{shape}", lambda rng: rng.random(shape) < p)


def const(array, desc=None):
    arr = np.asarray(array)
    return _spec(desc or f"const{arr.shape}", lambda rng: arr.copy())


def make_arrays(case, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) if isinstance(s, tuple) else s(rng) for s in case.inputs]


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def same_dtype(a, t):
    return repr(a.dtype) == repr(t.dtype).replace("torch.", "lamina.")


def check(case, seed=0):
    """Values, dtypes, shapes and the gradient of every float input agree with PyTorch."""
    arrays = make_arrays(case, seed)
    la = [lamina.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    ta = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    lo, to = _flat(case.lfn(*la)), _flat(case.tfn(*ta))
    assert len(lo) == len(to), f"{case}: {len(lo)} outputs vs {len(to)}"
    rng = np.random.default_rng(seed + 1)
    lloss, tloss = [], []
    for i, (a, t) in enumerate(zip(lo, to)):
        assert isinstance(a, lamina.Tensor), f"{case}: output {i} is {type(a).__name__}"
        assert same_dtype(a, t), f"{case}: output {i} dtype {a.dtype} vs {t.dtype}"
        assert_close(a, t, rtol=case.rtol, atol=case.atol, msg=f"{case} output {i}")
        assert a.requires_grad == t.requires_grad, f"{case}: output {i} requires_grad {a.requires_grad}"
        if t.requires_grad:
            w = rng.standard_normal(tuple(t.shape))
            lloss.append((a * lamina.tensor(w)).sum())
            tloss.append((t * torch.tensor(w)).sum())
    if not tloss:
        return
    sum(lloss[1:], lloss[0]).backward()
    sum(tloss[1:], tloss[0]).backward()
    for i, (a, t) in enumerate(zip(la, ta)):
        if not t.requires_grad:
            continue
        tg = t.grad if t.grad is not None else torch.zeros_like(t)
        lg = a.grad if a.grad is not None else lamina.zeros_like(a)
        assert lg.dtype is lamina.float64, f"{case}: grad {i} dtype {lg.dtype}"
        assert_close(lg, tg, rtol=case.rtol, atol=case.atol, msg=f"{case} grad of input {i}")


def check_gradcheck(case, seed=0):
    """Finite differences agree with lamina's backward (inputs as given: keep them tiny)."""
    arrays = make_arrays(case, seed)
    la = [lamina.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
    assert lamina.autograd.gradcheck(lambda *xs: case.lfn(*xs), la, eps=1e-6, atol=1e-5, rtol=1e-4)


def by_name(cases):
    """The first case of every op name (the one the finite-difference check runs on)."""
    seen, out = set(), []
    for c in cases:
        if c.gradcheck and c.name not in seen:
            seen.add(c.name)
            out.append(c)
    return out
