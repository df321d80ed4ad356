"""Matrix products: 1-D, 2-D and batched (broadcast) matmul, mm/bmm/dot/outer, against PyTorch (float64)."""

import numpy as np
import pytest

import lamina
from tests.conftest import assert_close, torch
from tests.core.harness import Case, by_name, check, check_gradcheck

MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (3, 3, 4)), ((1, 2, 3), (4, 3, 2)), ((4,), (2, 4, 3)),
                 ((2, 2, 3), (3,)), ((0, 3), (3, 4)), ((2, 0), (0, 4)), ((3,), (2, 3, 0))]

CASES = [Case("matmul", lambda m, a, b: m.matmul(a, b), [sa, sb]) for sa, sb in MATMUL_SHAPES]
CASES += [Case("matmul_op", lambda m, a, b: a @ b, [sa, sb]) for sa, sb in MATMUL_SHAPES[:6]]
CASES += [
    Case("mm", lambda m, a, b: m.mm(a, b), [(2, 3), (3, 4)]),
    Case("mm", lambda m, a, b: a.mm(b), [(1, 1), (1, 5)]),
    Case("bmm", lambda m, a, b: m.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    Case("dot", lambda m, a, b: m.dot(a, b), [(4,), (4,)]),
    Case("outer", lambda m, a, b: m.outer(a, b), [(3,), (4,)]),
    Case("matmul_shared", lambda m, a: a @ a.t(), [(3, 2)]),  # both gradient paths reach one input
    Case("linear_like", lambda m, x, w, b: x @ w.t() + b, [(5, 3), (4, 3), (4,)]),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(CASES), ids=repr)
def test_gradcheck(case):
    check_gradcheck(case)


def test_matmul_float32_stays_float32_and_promotes_like_torch():
    a, b = lamina.randn(4, 3), lamina.randn(3, 2, dtype=lamina.float64)
    assert (a @ a.t()).dtype is lamina.float32
    assert (a @ b).dtype is lamina.float64
    ta, tb = torch.tensor(a.numpy()), torch.tensor(b.numpy())
    with pytest.raises(RuntimeError):
        ta @ tb  # PyTorch refuses mixed dtypes; lamina promotes, which we accept as a convenience
    assert_close(a @ b, ta.double() @ tb)


@pytest.mark.parametrize("sa,sb,match", [
    ((32, 784), (512, 10), r"^matmul: shapes \(32, 784\) and \(512, 10\) cannot be multiplied \(784 != 512\)$"),
    ((3,), (4,), r"matmul: shapes \(3,\) and \(4,\) cannot be multiplied \(3 != 4\)"),
    ((2, 3, 4), (5, 4, 2), r"matmul: batch dimensions of shapes \(2, 3, 4\) and \(5, 4, 2\) cannot be broadcast"),
    ((), (3,), "matmul: both arguments need at least 1 dimension"),
])
def test_matmul_shape_errors(sa, sb, match):
    a = lamina.zeros(*sa, requires_grad=True)
    with pytest.raises(RuntimeError, match=match):
        lamina.matmul(a, lamina.zeros(*sb))
    with pytest.raises(RuntimeError, match=match.replace("^", "")):
        a @ lamina.zeros(*sb)
    assert a.grad_fn is None


@pytest.mark.parametrize("fn,match", [
    (lambda: lamina.mm(lamina.zeros(2, 3, 1), lamina.zeros(1, 2)), "mm: expected 2-D tensors"),
    (lambda: lamina.bmm(lamina.zeros(2, 3, 1), lamina.zeros(3, 1, 2)), "bmm: batch sizes differ"),
    (lambda: lamina.dot(lamina.zeros(2, 3), lamina.zeros(3)), "dot: 1D tensors expected"),
])
def test_product_errors(fn, match):
    with pytest.raises(RuntimeError, match=match):
        fn()


def test_matmul_large_batch_into_matrix_grad():
    rng = np.random.default_rng(0)
    check(Case("matmul", lambda m, a, b: a @ b, [(3, 4, 5, 6), (6, 2)]), seed=int(rng.integers(100)))
