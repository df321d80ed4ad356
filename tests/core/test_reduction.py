"""Reductions, arg-reductions and softmax: values and gradients against PyTorch (float64)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from tests.conftest import assert_close, torch
from tests.core.harness import Case, by_name, check, check_gradcheck, const

pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0")  # torch's, for the n <= correction cases

# (shape, dim, keepdim): full reductions, one dim, negative dims, tuples, size-1 and size-0 dims, 0-d inputs
DIMS = [((3, 4, 5), None, False), ((3, 4, 5), 1, False), ((3, 4, 5), -1, True), ((3, 4, 5), (0, 2), False),
        ((3, 4, 5), (-1, 0), True), ((2, 1, 3), 1, False), ((), None, False), ((), 0, True), ((), -1, False),
        ((0, 3), 1, False), ((4, 0), 0, True)]

CASES = []
for shape, dim, kd in DIMS:
    nonempty_dim = not (0 in shape and (dim is None or 0 in [shape[d] for d in np.atleast_1d(dim)]))
    if dim is None:
        CASES += [Case("sum", lambda m, x: m.sum(x), [shape]), Case("mean", lambda m, x: x.mean(), [shape])]
    else:
        CASES += [
            Case("sum", lambda m, x, d=dim, k=kd: m.sum(x, d, keepdim=k), [shape]),
            Case("mean", lambda m, x, d=dim, k=kd: x.mean(d, keepdim=k), [shape], gradcheck=nonempty_dim),
        ]
    CASES += [
        Case("var", lambda m, x, d=dim, k=kd: m.var(x, d, keepdim=k), [shape], gradcheck=nonempty_dim),
        Case("std", lambda m, x, d=dim, k=kd: x.std(d, correction=0, keepdim=k), [shape], gradcheck=nonempty_dim),
    ]
    if nonempty_dim:
        CASES += [
            Case("amax", lambda m, x, d=dim, k=kd: m.amax(x, () if d is None else d, keepdim=k), [shape]),
            Case("amin", lambda m, x, d=dim, k=kd: x.amin(() if d is None else d, keepdim=k), [shape]),
            Case("logsumexp", lambda m, x, d=dim, k=kd: m.logsumexp(x, tuple(range(x.ndim)) if d is None else d,
                                                                    keepdim=k), [shape]),
            Case("norm2", lambda m, x, d=dim, k=kd: m.norm(x, dim=d, keepdim=k), [shape]),
            Case("norm1", lambda m, x, d=dim, k=kd: x.norm(p=1, dim=d, keepdim=k), [shape]),
            Case("norm_inf", lambda m, x, d=dim, k=kd: x.norm(p=float("inf"), dim=d, keepdim=k), [shape]),
        ]
    if isinstance(dim, int):
        CASES += [
            Case("prod", lambda m, x, d=dim, k=kd: m.prod(x, d, keepdim=k), [shape]),
            Case("softmax", lambda m, x, d=dim: m.softmax(x, d), [shape]),
            Case("log_softmax", lambda m, x, d=dim: x.log_softmax(d), [shape]),
            Case("argmax", lambda m, x, d=dim, k=kd: m.argmax(x, d, keepdim=k), [shape]),
            Case("argmin", lambda m, x, d=dim, k=kd: x.argmin(dim=d, keepdim=k), [shape]),
        ]
        if nonempty_dim:
            CASES += [
                Case("max_dim", lambda m, x, d=dim, k=kd: m.max(x, d, keepdim=k), [shape]),
                Case("min_dim", lambda m, x, d=dim, k=kd: x.min(dim=d, keepdim=k), [shape]),
            ]
    if dim is None and nonempty_dim:
        CASES += [
            Case("max", lambda m, x: m.max(x), [shape]), Case("min", lambda m, x: x.min(), [shape]),
            Case("prod", lambda m, x: m.prod(x), [shape]), Case("argmax", lambda m, x: m.argmax(x), [shape]),
            Case("argmin", lambda m, x: x.argmin(), [shape]),
        ]

CASES += [
    Case("var_correction", lambda m, x: m.var(x, 1, correction=2), [(3, 5)]),
    Case("var_unbiased", lambda m, x: x.var(0, unbiased=False), [(3, 5)]),
    Case("std_correction", lambda m, x: m.std(x, (0, 1), correction=1, keepdim=True), [(3, 5)]),
    Case("var_too_few", lambda m, x: m.var(x, 0), [(1, 3)], gradcheck=False),  # n - correction = 0: nan/inf
    Case("sum_dtype", lambda m, x: m.sum(x, 0, dtype=m.float32), [(3, 2)], gradcheck=False, rtol=1e-6),
    # products with zeros: exact gradients without division
    Case("prod_zero", lambda m, x: m.prod(x, 1), [const([[1.5, 0.0, 2.0], [0.0, 0.0, 3.0], [1.0, 2.0, -1.0]])]),
    Case("prod_zero", lambda m, x: m.prod(x), [const([[1.5, 0.0], [2.0, -3.0]])]),
    Case("prod_zero", lambda m, x: m.prod(x), [const([[1.5, 0.0], [0.0, -3.0]])]),
    Case("prod_zero", lambda m, x: x.prod(0, keepdim=True), [const([[0.0, 1.0], [2.0, 0.0], [0.0, 5.0]])]),
    # ties: max()/amax share the gradient evenly, max(dim) sends it to the first index, as PyTorch
    Case("max_ties", lambda m, x: m.max(x), [const([[1.0, 3.0], [3.0, -2.0]])], gradcheck=False),
    Case("amax_ties", lambda m, x: m.amax(x, 1), [const([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], gradcheck=False),
    Case("amin_ties", lambda m, x: m.amin(x, (0, 1)), [const([[1.0, 3.0], [1.0, 2.0]])], gradcheck=False),
    Case("max_dim_ties", lambda m, x: m.max(x, 1), [const([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], gradcheck=False),
    Case("min_dim_ties", lambda m, x: m.min(x, 0), [const([[1.0, 3.0], [1.0, 2.0]])], gradcheck=False),
    Case("argmax_ties", lambda m, x: m.argmax(x, 1), [const([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])]),
    Case("norm_inf_ties", lambda m, x: m.norm(x, p=float("inf"), dim=1), [const([[1.0, -3.0, 3.0]])],
         gradcheck=False),
    Case("norm2_zero_row", lambda m, x: m.norm(x, dim=1), [const([[0.0, 0.0], [3.0, 4.0]])], gradcheck=False),
    Case("norm_p3", lambda m, x: m.norm(x, p=3, dim=0), [(3, 2)]),
    Case("norm_fro", lambda m, x: m.norm(x), [(3, 2)]),
    Case("logsumexp_inf", lambda m, x: m.logsumexp(x, 1), [const([[-np.inf, 0.0], [-np.inf, -np.inf]])],
         gradcheck=False),
    Case("logsumexp_big", lambda m, x: m.logsumexp(x, 0), [const([1000.0, 1001.0, -1000.0])]),
    Case("softmax_big", lambda m, x: m.softmax(x, -1), [const([[1000.0, 1001.0, -1000.0]])]),
    Case("log_softmax_big", lambda m, x: m.log_softmax(x, -1), [const([[1000.0, 1001.0, -1000.0]])]),
    Case("softmax", lambda m, x: m.softmax(x, 0), [(0, 3)]),
    Case("softmax_0d", lambda m, x: m.softmax(x, 0), [()]),
    Case("sum_int", lambda m, x: m.sum((x > 0).long(), 1), [(3, 4)]),
    Case("sum_bool", lambda m, x: (x > 0).sum(), [(3, 4)]),
    Case("cumsum", lambda m, x: m.cumsum(x, 1), [(3, 4)]),
    Case("cumsum", lambda m, x: x.cumsum(-1), [(3,)]),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(CASES), ids=repr)
def test_gradcheck(case):
    check_gradcheck(case)


@st.composite
def shape_and_dims(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=4)))
    ndim = len(shape)
    if ndim == 0:
        return shape, None
    dims = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim, unique_by=lambda d: d % ndim))
    return shape, tuple(dims) if len(dims) > 1 or draw(st.booleans()) else dims[0]


REDUCERS = {
    "sum": lambda m, x, d, k: m.sum(x, d, keepdim=k),
    "mean": lambda m, x, d, k: m.mean(x, d, keepdim=k),
    "var": lambda m, x, d, k: m.var(x, d, keepdim=k, correction=0),
    "amax": lambda m, x, d, k: m.amax(x, () if d is None else d, keepdim=k),
    "logsumexp": lambda m, x, d, k: m.logsumexp(x, () if d is None else d, keepdim=k),
    # torch.norm treats a 2-tuple dim as a matrix norm and rejects longer ones: its vector norm is the reference
    "norm": lambda m, x, d, k: m.norm(x, dim=d, keepdim=k) if m is lamina else m.linalg.vector_norm(x, dim=d,
                                                                                                    keepdim=k),
}


@settings(max_examples=80, deadline=None)
@given(sd=shape_and_dims(), name=st.sampled_from(sorted(REDUCERS)), keepdim=st.booleans(), seed=st.integers(0, 999))
def test_reductions_random_shapes_and_dims(sd, name, keepdim, seed):
    shape, dims = sd
    if dims is None and name == "logsumexp":
        dims = ()
    fn = REDUCERS[name]
    check(Case(name, lambda m, x: fn(m, x, dims, keepdim), [shape]), seed=seed)


def test_max_with_dim_returns_named_values_and_indices():
    x = lamina.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    out = lamina.max(x, 1)
    assert out.values.tolist() == [5.0, 7.0] and out.indices.tolist() == [1, 0]
    values, indices = x.min(dim=0, keepdim=True)
    assert values.tolist() == [[1.0, 0.0, 2.0]] and indices.tolist() == [[0, 1, 0]]
    assert indices.dtype is lamina.int64 and not indices.requires_grad


def test_reduction_errors():
    x = lamina.zeros(2, 0)
    with pytest.raises(IndexError, match=r"max\(\): Expected reduction dim 1 to have non-zero size"):
        lamina.max(x, 1)
    with pytest.raises(RuntimeError, match=r"max\(\): Expected reduction dim to be specified"):
        lamina.max(x)
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], but got 2"):
        lamina.sum(lamina.ones(2, 3), 2)
    with pytest.raises(RuntimeError, match="appears multiple times"):
        lamina.sum(lamina.ones(2, 3), (1, -1))
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype"):
        lamina.tensor([1, 2]).mean()


def test_reduction_dtypes_follow_torch():
    for m in (lamina, torch):
        assert repr(m.tensor([1, 2], dtype=m.int32).sum().dtype).endswith("int64")
        assert repr(m.tensor([True, True]).sum().dtype).endswith("int64")
        assert repr(m.tensor([1, 2]).max().dtype).endswith("int64")
        assert repr(m.tensor([1.0, 2.0]).var().dtype).endswith("float32")
    assert lamina.tensor([1.0, 2.0], dtype=lamina.float16).mean().dtype is lamina.float16
    assert lamina.ones(3, 4).sum(1).dtype is lamina.float32
    assert lamina.ones(3, 4).mean(dtype=lamina.float64).dtype is lamina.float64
    assert_close(lamina.tensor([1, 2, 3]).prod(), torch.tensor([1, 2, 3]).prod())
