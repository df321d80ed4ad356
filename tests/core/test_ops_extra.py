"""Ops a PyTorch user reaches for first beyond the basics: element-wise math, shape/indexing, scans and reductions,
linear algebra. Values and gradients against PyTorch (float64), finite-difference gradchecks, errors."""

import numpy as np
import pytest

import lamina
from tests.conftest import assert_close, pair, torch
from tests.core.harness import Case, by_name, check, check_gradcheck, const, ints, pos, uniform

# --------------------------------------------------------------------------- element-wise

UNARY = [(3, 4), (), (0, 2)]
BIN = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (2, 3)), ((0, 3), (1, 3))]

EW = []
for s in UNARY:
    EW += [
        Case("sinh", lambda m, x: m.sinh(x), [s]),
        Case("cosh", lambda m, x: x.cosh(), [s]),
        Case("tan", lambda m, x: m.tan(x), [uniform(s, -1.2, 1.2)]),
        Case("asin", lambda m, x: m.asin(x), [uniform(s, -0.9, 0.9)]),
        Case("acos", lambda m, x: x.acos(), [uniform(s, -0.9, 0.9)]),
        Case("atan", lambda m, x: m.atan(x), [s]),
        Case("asinh", lambda m, x: m.asinh(x), [s]),
        Case("acosh", lambda m, x: m.acosh(x), [uniform(s, 1.2, 3.0)]),
        Case("atanh", lambda m, x: m.atanh(x), [uniform(s, -0.9, 0.9)]),
        Case("log2", lambda m, x: m.log2(x), [pos(s)]),
        Case("log10", lambda m, x: x.log10(), [pos(s)]),
        Case("exp2", lambda m, x: m.exp2(x), [s]),
        Case("expm1", lambda m, x: x.expm1(), [s]),
        Case("erf", lambda m, x: m.erf(x), [uniform(s, -3, 3)]),
        Case("erfc", lambda m, x: x.erfc(), [uniform(s, -3, 3)]),
        Case("erfinv", lambda m, x: m.erfinv(x), [uniform(s, -0.95, 0.95)]),
        Case("frac", lambda m, x: m.frac(x * 3), [s]),
        Case("floor", lambda m, x: m.floor(x * 3), [s], gradcheck=False),
        Case("ceil", lambda m, x: x.ceil(), [s], gradcheck=False),
        Case("trunc", lambda m, x: m.trunc(x * 3), [s], gradcheck=False),
        Case("round", lambda m, x: m.round(x * 3), [s], gradcheck=False),
        Case("round_dec", lambda m, x: x.round(decimals=2), [s], gradcheck=False),
        Case("round_negdec", lambda m, x: m.round(x * 300, decimals=-1), [s], gradcheck=False),
        Case("clamp_min", lambda m, x: m.clamp_min(x, -0.2), [s]),
        Case("clamp_max", lambda m, x: x.clamp_max(0.3), [s]),
    ]
for sa, sb in BIN:
    EW += [
        Case("atan2", lambda m, a, b: m.atan2(a, b), [sa, sb]),
        Case("hypot", lambda m, a, b: m.hypot(a, b), [sa, sb]),
        Case("logaddexp", lambda m, a, b: a.logaddexp(b), [sa, sb]),
        Case("fmod", lambda m, a, b: m.fmod(a * 3, b), [sa, pos(sb)]),
        Case("fmod", lambda m, a, b: a.fmod(-b), [sa, pos(sb)]),
        Case("remainder", lambda m, a, b: m.remainder(a * 3, b), [sa, pos(sb)]),
        Case("remainder", lambda m, a, b: a.remainder(-b), [sa, pos(sb)]),
        Case("lerp", lambda m, a, b, w: m.lerp(a, b, w), [sa, sb, uniform(sb, -0.2, 1.2)]),
        Case("lerp_scalar", lambda m, a, b: a.lerp(b, 0.7), [sa, sb]),
    ]
EW += [
    Case("fmod_scalar", lambda m, a: m.fmod(a * 4, 1.5), [(3, 4)]),
    Case("remainder_scalar", lambda m, a: m.remainder(a * 4, -1.5), [(3, 4)]),
    Case("fmod_int", lambda m, a, b: m.fmod(a, b), [ints((5,), -9, 9), ints((5,), 1, 4)]),
    Case("remainder_int", lambda m, a: a % 3, [ints((5,), -9, 9)]),
    Case("remainder_int", lambda m, a, b: m.remainder(a, b), [ints((5,), -9, 9), ints((5,), -4, -1)]),
    Case("floor_int", lambda m, a: m.floor(a), [ints((4,), -5, 5)]),
    Case("atan2_int", lambda m, a, b: m.atan2(a, b), [ints((4,), -5, 5), ints((4,), 1, 5)]),
    Case("nan_to_num", lambda m, x: m.nan_to_num(x), [const([1.0, np.nan, np.inf, -np.inf, -2.0])],
         gradcheck=False),
    Case("nan_to_num", lambda m, x: x.nan_to_num(nan=1.5, posinf=9.0, neginf=-9.0),
         [const([[1.0, np.nan], [np.inf, -np.inf]])], gradcheck=False),
    Case("nan_to_num_grad", lambda m, x: m.nan_to_num(x), [(3,)]),
    Case("erfc_tail", lambda m, x: m.erfc(x), [const([1.9, 2.5, 5.9, 6.5, 8.0, 10.0, -7.0, np.inf, -np.inf])],
         gradcheck=False, rtol=1e-12),
    Case("erfinv_edges", lambda m, x: m.erfinv(x), [const([-1.0, 1.0, 0.999999, -0.9999, 1e-9, 0.0])],
         gradcheck=False, rtol=1e-10),
]


@pytest.mark.filterwarnings("ignore:overflow", "ignore:invalid value")  # inf times the harness weights
@pytest.mark.parametrize("case", EW, ids=repr)
def test_elementwise_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(EW), ids=repr)
def test_elementwise_gradcheck(case):
    arrays_ok = all(not isinstance(s, tuple) or 0 not in s for s in case.inputs)
    if arrays_ok:
        check_gradcheck(case)


def test_elementwise_errors():
    x = lamina.randn(2, 3)
    with pytest.raises(RuntimeError, match=r"atan2.*\(2, 3\).*\(4,\)"):
        lamina.atan2(x, lamina.randn(4))
    with pytest.raises(RuntimeError, match="lerp"):
        lamina.lerp(x, lamina.randn(2, 3, dtype=lamina.float64), 0.5)
    with pytest.raises(RuntimeError, match=r"lerp.*\(2, 3\).*\(5,\)"):
        lamina.lerp(x, x, lamina.rand(5))
    with pytest.raises(RuntimeError, match="remainder.*zero"):
        lamina.remainder(lamina.tensor([3, 4]), 0)
    with pytest.raises(RuntimeError, match="frac.*int64"):
        lamina.frac(lamina.tensor([1, 2]))
    with pytest.raises(TypeError, match="round: decimals"):
        lamina.round(x, decimals=1.5)


def test_elementwise_float32_stays_float32():
    x = lamina.rand(4) * 0.5 + 0.1
    for f in ("sinh", "erfc", "erfinv", "log2", "expm1", "frac", "floor"):
        assert getattr(lamina, f)(x).dtype is lamina.float32, f
    assert lamina.atan2(x, 2.0).dtype is lamina.float32
    assert lamina.lerp(x, x, 0.3).dtype is lamina.float32


# --------------------------------------------------------------------------- shape and indexing


def _idx(m, values):
    return m.tensor(np.asarray(values, dtype=np.int64))


def unique_rows(shape, n, seed=3):
    """An int64 index of ``shape`` whose entries along dim 0 are distinct in [0, n) (scatter without collisions)."""
    rng = np.random.default_rng(seed)
    order = np.argsort(rng.random((n,) + tuple(shape[1:])), axis=0)[:shape[0]]
    return const(order.astype(np.int64), f"uniq{shape}")


SCATTER_IDX = ints((6, 3), 0, 4)
SH = [
    Case("einsum", lambda m, a, b: m.einsum("ij,jk->ik", a, b), [(3, 4), (4, 5)]),
    Case("einsum", lambda m, a, b: m.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 2)]),
    Case("einsum", lambda m, a: m.einsum("ii->i", a), [(3, 3)]),
    Case("einsum", lambda m, a: m.einsum("ii", a), [(3, 3)]),
    Case("einsum", lambda m, a: m.einsum("iij->j", a), [(3, 3, 2)]),
    Case("einsum", lambda m, a, b: m.einsum("i,i->", a, b), [(4,), (4,)]),
    Case("einsum", lambda m, a, b: m.einsum("i,j", a, b), [(3,), (4,)]),
    Case("einsum", lambda m, a: m.einsum("ij->ji", a), [(3, 4)]),
    Case("einsum", lambda m, a: m.einsum("ijk->", a), [(2, 3, 4)]),
    Case("einsum", lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b), [(2, 1, 3, 4), (5, 4, 2)]),
    Case("einsum", lambda m, a, b: m.einsum("...ij,jk", a, b), [(2, 3, 4), (4, 2)]),
    Case("einsum", lambda m, a, b: m.einsum("ij,ij->ij", a, b), [(1, 3), (2, 3)]),
    Case("einsum", lambda m, a, b, c: m.einsum("bn,anm,bm->ba", a, b, c), [(2, 3), (4, 3, 5), (2, 5)]),
    Case("einsum", lambda m, a, b: m.einsum("ij,jk->ik", [a, b]), [(0, 3), (3, 2)]),
    Case("einsum", lambda m, a, b: m.einsum("i j , j -> i", a, b), [(2, 3), (3,)]),
    Case("roll", lambda m, x: m.roll(x, 1, 0), [(3, 4)]),
    Case("roll", lambda m, x: x.roll((1, -2), (0, -1)), [(3, 4)]),
    Case("roll", lambda m, x: m.roll(x, 5), [(3, 4)]),
    Case("roll", lambda m, x: m.roll(x, 2, -1), [(0, 4)]),
    Case("movedim", lambda m, x: m.movedim(x, 0, -1), [(2, 3, 4)]),
    Case("movedim", lambda m, x: x.movedim((1, 2), (0, 1)), [(2, 3, 4)]),
    Case("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), [(2, 3, 4)]),
    Case("narrow", lambda m, x: m.narrow(x, 1, -3, 2), [(4, 5)]),
    Case("narrow", lambda m, x: x.narrow(0, 1, 0), [(4, 5)]),
    Case("diag", lambda m, x: m.diag(x), [(4,)]),
    Case("diag", lambda m, x: x.diag(1), [(4,)]),
    Case("diag", lambda m, x: m.diag(x, -2), [(3,)]),
    Case("diag", lambda m, x: m.diag(x, 1), [(3, 4)]),
    Case("diag", lambda m, x: m.diag(x, -1), [(3, 4)]),
    Case("diagonal", lambda m, x: m.diagonal(x), [(3, 4)]),
    Case("diagonal", lambda m, x: x.diagonal(1, -1, 0), [(2, 3, 4)]),
    Case("diagonal", lambda m, x: m.diagonal(x, -1, 1, 2), [(2, 3, 4)]),
    Case("diagonal", lambda m, x: m.diagonal(x, 5), [(3, 4)]),
    Case("trace", lambda m, x: m.trace(x), [(3, 4)]),
    Case("trace", lambda m, x: x.trace(), [(4, 4)]),
    Case("kron", lambda m, a, b: m.kron(a, b), [(2, 3), (3, 2)]),
    Case("kron", lambda m, a, b: a.kron(b), [(2,), (3, 2)]),
    Case("kron", lambda m, a, b: m.kron(a, b), [(2, 2, 2), (1, 3)]),
    Case("cross", lambda m, a, b: m.cross(a, b, dim=1), [(4, 3), (4, 3)]),
    Case("cross", lambda m, a, b: a.cross(b, dim=-1), [(2, 1, 3), (1, 4, 3)]),
    Case("cross", lambda m, a, b: m.cross(a, b, dim=0), [(3, 2), (3, 2)]),
    Case("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2, dim=0), [(3, 4)]),
    Case("repeat_interleave", lambda m, x: x.repeat_interleave(_idx(m, [1, 0, 3, 2]), dim=-1), [(2, 4)]),
    Case("repeat_interleave", lambda m, x: m.repeat_interleave(x, 3), [(2, 2)]),
    Case("repeat_interleave", lambda m, r: m.repeat_interleave(r), [const(np.array([2, 0, 1]))]),
    Case("meshgrid", lambda m, a, b: m.meshgrid(a, b, indexing="ij"), [(3,), (4,)]),
    Case("meshgrid", lambda m, a, b, c: m.meshgrid(a, b, c, indexing="xy"), [(3,), (4,), (2,)]),
    Case("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, 1), [(3, 4), ints((3, 5), -4, 4)]),
    Case("take_along_dim", lambda m, x, i: x.take_along_dim(i, dim=1), [(3, 4), ints((1, 2), 0, 4)]),
    Case("take_along_dim", lambda m, x, i: m.take_along_dim(x, i), [(3, 4), ints((5,), 0, 12)]),
    Case("scatter", lambda m, x, i, s: m.scatter(x, 0, i, s), [(4, 3), unique_rows((2, 3), 4), (2, 3)]),
    Case("scatter", lambda m, x, i, s: x.scatter(1, i.T, s), [(3, 5), unique_rows((4, 3), 5), (3, 4)]),
    Case("scatter_value", lambda m, x, i: m.scatter(x, 0, i, 2.5), [(4, 3), unique_rows((2, 3), 4)]),
    Case("scatter_value", lambda m, x, i: x.scatter(0, i, value=-1.0), [(4, 3), unique_rows((3, 3), 4)]),
    Case("scatter_reduce_add", (lambda x, i, s: lamina.scatter(x, 0, i, s, reduce="add"),  # torch: no backward
                                lambda x, i, s: torch.scatter_reduce(x, 0, i, s, "sum")),
         [(4, 3), SCATTER_IDX, (6, 3)]),
    Case("scatter_reduce_multiply", (lambda x, i: lamina.scatter(x, 0, i, 2.0, reduce="multiply"),
                                     lambda x, i: torch.scatter_reduce(x, 0, i, torch.full((6, 3), 2.0).double(),
                                                                       "prod")), [(4, 3), SCATTER_IDX]),
    Case("index_add", lambda m, x, s: m.index_add(x, 0, _idx(m, [0, 2, 0]), s, alpha=2.0), [(4, 3), (3, 3)]),
    Case("index_add", lambda m, x, s: x.index_add(-1, _idx(m, [1, 3]), s), [(2, 4), (2, 2)]),
    Case("index_copy", lambda m, x, s: m.index_copy(x, 0, _idx(m, [3, 1]), s), [(4, 3), (2, 3)]),
    Case("index_copy", lambda m, x, s: x.index_copy(1, _idx(m, [0]), s), [(2, 3), (2, 1)]),
    Case("index_fill", lambda m, x: m.index_fill(x, 1, _idx(m, [0, 2]), -1.5), [(4, 3)]),
    Case("index_fill", lambda m, x, v: x.index_fill(0, _idx(m, [1, 3]), v), [(4, 3), ()]),
]
for red in ("sum", "prod", "mean", "amax", "amin"):
    for inc in (True, False):
        SH.append(Case(f"scatter_reduce_{red}_{inc}",
                       lambda m, x, i, s, red=red, inc=inc: m.scatter_reduce(x, 0, i, s, red, include_self=inc),
                       [(4, 3), SCATTER_IDX, (6, 3)]))
ZX = const(np.array([[0.0, 2.0], [1.5, 0.0], [-1.0, 3.0]]), "zeros_x")
ZS = const(np.array([[0.0, 0.5], [2.0, 0.0], [0.0, -1.0], [3.0, 0.0]]), "zeros_src")
ZI = const(np.array([[0, 1], [0, 1], [2, 1], [0, 2]]), "zeros_idx")
SH += [
    Case("scatter_reduce_prod_zeros", lambda m, x, i, s: x.scatter_reduce(0, i, s, "prod"), [ZX, ZI, ZS],
         gradcheck=False),
    Case("scatter_reduce_prod_zeros", lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, "prod", include_self=False),
         [ZX, ZI, ZS], gradcheck=False),
    Case("scatter_reduce_amax_ties", lambda m, x, i, s: m.scatter_reduce(x, 0, i, s, "amax"),
         [const(np.array([[1.0, 2.0], [0.0, 0.0]])), const(np.array([[0, 1], [0, 0]])),
          const(np.array([[1.0, 5.0], [1.0, 2.0]]))], gradcheck=False),
]


@pytest.mark.filterwarnings("ignore:torch.meshgrid", "ignore:Using torch.cross")
@pytest.mark.parametrize("case", SH, ids=repr)
def test_shape_indexing_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(SH), ids=repr)
def test_shape_indexing_gradcheck(case):
    check_gradcheck(case)


def test_inplace_index_methods():
    for name, args in [("scatter_", (0, [[1, 0, 2]], 7.0)), ("index_add_", (1, [0, 2], np.ones((3, 2)))),
                       ("index_fill_", (0, [2], -3.0)), ("index_copy_", (0, [1], np.full((1, 3), 4.0))),
                       ("scatter_reduce_", (0, [[0, 1, 0]], np.ones((1, 3)), "amax")), ("clamp_min_", (0.1,)),
                       ("round_", ())]:
        base = np.random.default_rng(1).standard_normal((3, 3))
        a, t = lamina.tensor(base.copy()), torch.tensor(base.copy())
        conv = [(lamina.tensor(np.asarray(v)), torch.tensor(np.asarray(v))) if isinstance(v, (list, np.ndarray))
                else (v, v) for v in args]
        assert getattr(a, name)(*[c[0] for c in conv]) is a
        getattr(t, name)(*[c[1] for c in conv])
        assert_close(a, t, msg=name)
    x = lamina.randn(3, 3, dtype=lamina.float64, requires_grad=True)
    y = x * 1
    y.index_fill_(0, lamina.tensor([1]), 0.0)
    y.sum().backward()
    assert_close(x.grad, np.array([[1.0] * 3, [0.0] * 3, [1.0] * 3]))


def test_shape_indexing_errors():
    x = lamina.randn(2, 3)
    with pytest.raises(RuntimeError, match=r"einsum\(\).*operand.*\[\(2, 3\)\]"):
        lamina.einsum("ijk->i", x)
    with pytest.raises(RuntimeError, match="einsum.*label 'j' has sizes 3 and 4"):
        lamina.einsum("ij,jk->ik", x, lamina.randn(4, 2))
    with pytest.raises(RuntimeError, match="einsum.*output label 'z'"):
        lamina.einsum("ij->z", x)
    with pytest.raises(RuntimeError, match=r"roll: shifts and dims must align"):
        lamina.roll(x, (1, 2), 0)
    with pytest.raises(RuntimeError, match=r"narrow.*exceeds.*\(2, 3\)"):
        lamina.narrow(x, 1, 2, 2)
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical"):
        lamina.diagonal(x, 0, 1, 1)
    with pytest.raises(RuntimeError, match=r"diag.*3D"):
        lamina.diag(lamina.randn(2, 2, 2))
    with pytest.raises(RuntimeError, match=r"cross.*dimension 1 must have length 3.*\(3, 2\)"):
        lamina.cross(lamina.randn(3, 2), lamina.randn(3, 2), dim=1)
    with pytest.raises(RuntimeError, match="scatter.*index out of bounds.*size 2"):
        lamina.scatter(x, 0, lamina.tensor([[0, 5, 1]]), 1.0)
    with pytest.raises(RuntimeError, match=r"scatter.*Index tensor.*\(3,\)"):
        lamina.scatter(x, 0, lamina.tensor([0, 1, 1]), 1.0)
    with pytest.raises(RuntimeError, match="scatter_reduce.*'max'"):
        lamina.scatter_reduce(x, 0, lamina.tensor([[0, 1, 1]]), x, "max")
    with pytest.raises(RuntimeError, match=r"index_add.*source must have shape \(1, 3\).*\(2, 3\)"):
        lamina.index_add(x, 0, lamina.tensor([1]), x)
    with pytest.raises(IndexError, match="index_fill.*out of range"):
        lamina.index_fill(x, 1, lamina.tensor([3]), 0.0)
    with pytest.raises(RuntimeError, match="repeat_interleave.*size as input along dim 0"):
        lamina.repeat_interleave(x, lamina.tensor([1, 2, 3]), dim=0)
    with pytest.raises(RuntimeError, match="take_along_dim.*dtype"):
        lamina.take_along_dim(x, lamina.zeros(2, 3), 1)


def test_zero_dim_scatter_and_index_ops():
    for m in (lamina, torch):
        x = m.tensor(1.5, dtype=m.float64)
        out = m.scatter(x, 0, m.tensor(0), 4.0)
        assert float(out) == 4.0 and out.dim() == 0
        assert float(m.index_fill(x, 0, m.tensor([0]), 2.0)) == 2.0


# --------------------------------------------------------------------------- scans, medians, counting

WITH_ZEROS = const(np.array([[1.5, 0.0, 2.0, -1.0, 0.0, 3.0], [0.5, -2.0, 0.0, 1.5, 2.0, 0.7],
                             [1.1, 0.9, -1.3, 2.0, 0.8, 1.2]]), "with_zeros")
WITH_NAN = const(np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, 0.5], [3.0, -1.0, 4.0]]), "with_nan")
RD = [
    Case("cumprod", lambda m, x: m.cumprod(x, 1), [(3, 5)]),
    Case("cumprod", lambda m, x: x.cumprod(dim=-3), [(4, 2, 3)]),
    Case("cumprod", lambda m, x: m.cumprod(x, 0), [()]),
    Case("cumprod", lambda m, x: m.cumprod(x, 0), [(0, 3)]),
    Case("cumprod_zeros", lambda m, x: m.cumprod(x, 1), [WITH_ZEROS]),
    Case("cumprod_zeros", lambda m, x: m.cumprod(x.T, 0), [WITH_ZEROS]),
    Case("cumprod_int", lambda m, x: m.cumprod(x, 0), [ints((5,), -3, 4)]),
    Case("cummax", lambda m, x: m.cummax(x, 1), [(3, 5)]),
    Case("cummax", lambda m, x: x.cummax(0), [const(np.array([1.0, 3.0, 3.0, 2.0, 5.0, 5.0]))], gradcheck=False),
    Case("cummin", lambda m, x: m.cummin(x, -1), [(2, 3, 4)]),
    Case("cummin", lambda m, x: x.cummin(0), [const(np.array([2.0, 1.0, 1.0, np.nan, 0.0, np.nan]))],
         gradcheck=False),
    Case("cummax", lambda m, x: m.cummax(x, 0), [()]),
    Case("logcumsumexp", lambda m, x: m.logcumsumexp(x, 1), [(3, 5)]),
    Case("logcumsumexp", lambda m, x: x.logcumsumexp(0), [const(np.array([-800.0, 1.0, 700.0, -3.0, 750.0]))],
         gradcheck=False),
    Case("logcumsumexp", lambda m, x: m.logcumsumexp(x, -1), [(2, 0)]),
    Case("median", lambda m, x: m.median(x), [(3, 5)]),
    Case("median", lambda m, x: x.median(), [(4,)]),
    Case("median", lambda m, x: m.median(x), [const(np.array([1.0, 2.0, 2.0, 3.0, 2.0]))], gradcheck=False),
    Case("median", lambda m, x: m.median(x), [WITH_NAN], gradcheck=False),
    Case("median_dim", lambda m, x: m.median(x, 1), [(3, 6)]),
    Case("median_dim", lambda m, x: x.median(dim=0, keepdim=True), [(5, 2)]),
    Case("median_dim", lambda m, x: m.median(x, -1), [(2, 3, 1)]),
    Case("median_dim", lambda m, x: m.median(x, 0), [()]),
    Case("nansum", lambda m, x: m.nansum(x), [WITH_NAN]),
    Case("nansum", lambda m, x: x.nansum(dim=1, keepdim=True), [WITH_NAN]),
    Case("nansum", lambda m, x: m.nansum(x, (0, 1)), [(2, 0)]),
    Case("nanmean", lambda m, x: m.nanmean(x), [WITH_NAN]),
    Case("nanmean", lambda m, x: x.nanmean(dim=0), [WITH_NAN]),
    Case("nanmean", lambda m, x: m.nanmean(x, -1, keepdim=True), [(3, 4)]),
    Case("count_nonzero", lambda m, x: m.count_nonzero(x), [WITH_ZEROS]),
    Case("count_nonzero", lambda m, x: x.count_nonzero(dim=1), [WITH_ZEROS]),
    Case("count_nonzero", lambda m, x: m.count_nonzero(x, (0, 1)), [WITH_ZEROS]),
    Case("unique", lambda m, x: m.unique(x), [ints((4, 5), -3, 4)]),
    Case("unique", lambda m, x: m.unique(x, return_inverse=True, return_counts=True), [ints((4, 5), -3, 4)]),
    Case("unique", lambda m, x: x.detach().unique(return_counts=True), [const(np.array([2.0, 1.0, 2.0, 1.0, 0.5]))]),
    Case("unique", lambda m, x: m.unique(x, return_inverse=True, dim=0),
         [const(np.array([[1, 2], [0, 1], [1, 2], [0, 0]]))]),
    Case("bincount", lambda m, x: m.bincount(x), [ints((10,), 0, 5)]),
    Case("bincount", lambda m, x: x.bincount(minlength=8), [ints((10,), 0, 5)]),
    Case("bincount", lambda m, x, w: m.bincount(x, w.detach()), [ints((6,), 0, 4), (6,)]),
    Case("histc", lambda m, x: m.histc(x.detach(), bins=5), [(30,)]),
    Case("histc", lambda m, x: x.detach().histc(bins=4, min=-1, max=1), [(30,)]),
    Case("histc", lambda m, x: m.histc(x, bins=3, min=0, max=3), [const(np.array([0.0, 1.0, 2.0, 3.0, 3.5, -1.0]))],
         gradcheck=False),
    Case("searchsorted", lambda m, s, v: m.searchsorted(s, v), [const(np.array([1.0, 2.0, 2.0, 5.0])),
                                                                 const(np.array([[0.5, 2.0], [5.0, 9.0]]))]),
    Case("searchsorted", lambda m, s, v: m.searchsorted(s, v, right=True), [const(np.array([1.0, 2.0, 2.0, 5.0])),
                                                                             const(np.array([2.0, 5.0, 1.0]))]),
    Case("searchsorted", lambda m, s, v: m.searchsorted(s, v, side="right"),
         [const(np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 4.0]])), const(np.array([[3.0, 0.0], [2.0, 4.5]]))]),
    Case("searchsorted", lambda m, s, v: m.searchsorted(s, v, out_int32=True),
         [const(np.array([[1.0, 3.0, 5.0], [2.0, 2.0, 4.0]])), const(np.array([[3.0, 0.0], [2.0, 4.5]]))]),
    Case("bucketize", lambda m, v, b: m.bucketize(v, b), [const(np.array([[0.5, 2.0], [5.0, 9.0]])),
                                                           const(np.array([1.0, 2.0, 5.0]))]),
    Case("bucketize", lambda m, v, b: m.bucketize(v, b, right=True), [const(np.array([0.5, 2.0, 5.0, 9.0])),
                                                                       const(np.array([1.0, 2.0, 5.0]))]),
]


@pytest.mark.parametrize("case", RD, ids=repr)
def test_scans_reductions_match_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(RD), ids=repr)
def test_scans_reductions_gradcheck(case):
    if any(isinstance(s, tuple) and 0 in s for s in case.inputs):
        return
    check_gradcheck(case)


def test_cumprod_zero_gradcheck():
    x = lamina.tensor(np.array([[1.5, 0.0, 2.0, -1.0, 0.0, 3.0], [0.5, -2.0, 0.0, 1.5, 2.0, 0.7]]),
                      requires_grad=True)
    assert lamina.autograd.gradcheck(lambda t: lamina.cumprod(t, 1), [x], eps=1e-6, atol=1e-5, rtol=1e-4)


def test_reduction_errors():
    x = lamina.randn(2, 3)
    with pytest.raises(IndexError, match=r"cumprod.*range"):
        lamina.cumprod(x, 2)
    with pytest.raises(IndexError, match=r"median.*non-zero size.*\(2, 0\)"):
        lamina.median(lamina.zeros(2, 0), 1)
    with pytest.raises(RuntimeError, match="nanmean.*floating point.*int64"):
        lamina.nanmean(lamina.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="bincount.*non-negative"):
        lamina.bincount(lamina.tensor([1, -1]))
    with pytest.raises(RuntimeError, match=r"bincount: weights.*\(3,\).*\(2,\)"):
        lamina.bincount(lamina.tensor([1, 0]), lamina.ones(3))
    with pytest.raises(RuntimeError, match=r"searchsorted.*\[2, 3\].*\[3, 1\]"):
        lamina.searchsorted(lamina.zeros(2, 3), lamina.zeros(3, 1))
    with pytest.raises(RuntimeError, match="bucketize: boundaries tensor must be 1 dimension"):
        lamina.bucketize(x, x)
    with pytest.raises(RuntimeError, match="histc: bins"):
        lamina.histc(x, bins=0)


# --------------------------------------------------------------------------- linear algebra


def well_conditioned(shape, seed=5):
    """Square matrices A = Q + 3 I (comfortably invertible) with a standard normal Q."""
    rng = np.random.default_rng(seed)
    return const(rng.standard_normal(shape) + 3 * np.eye(shape[-1]), f"wc{shape}")


def _lin(name):
    return lambda m: m.linalg if m is lamina else torch.linalg


LA = [
    Case("addmm", lambda m, x, a, b: m.addmm(x, a, b), [(3, 4), (3, 2), (2, 4)]),
    Case("addmm", lambda m, x, a, b: x.addmm(a, b, beta=0.5, alpha=-2.0), [(4,), (3, 2), (2, 4)]),
    Case("addmm", lambda m, x, a, b: m.addmm(x, a, b, beta=0), [(3, 4), (3, 2), (2, 4)]),
    Case("addmm", lambda m, x, a, b: m.addmm(x, a, b), [(0, 4), (0, 2), (2, 4)]),
    Case("baddbmm", lambda m, x, a, b: m.baddbmm(x, a, b), [(2, 3, 4), (2, 3, 5), (2, 5, 4)]),
    Case("baddbmm", lambda m, x, a, b: x.baddbmm(a, b, beta=2.0, alpha=0.5), [(1, 4), (2, 3, 5), (2, 5, 4)]),
    Case("addbmm", lambda m, x, a, b: m.addbmm(x, a, b), [(3, 4), (2, 3, 5), (2, 5, 4)]),
    Case("addbmm", lambda m, x, a, b: x.addbmm(a, b, beta=-1.0, alpha=0.5), [(4,), (3, 2, 2), (3, 2, 4)]),
    Case("addmv", lambda m, x, a, v: m.addmv(x, a, v), [(3,), (3, 4), (4,)]),
    Case("addmv", lambda m, x, a, v: x.addmv(a, v, beta=2.0, alpha=-1.0), [(), (3, 4), (4,)]),
    Case("addr", lambda m, x, u, v: m.addr(x, u, v), [(3, 4), (3,), (4,)]),
    Case("addr", lambda m, x, u, v: x.addr(u, v, beta=0.5, alpha=2.0), [(1, 4), (3,), (4,)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b), [(4, 3), (5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b, p=1), [(4, 3), (5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b, p=float("inf")), [(4, 3), (5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b, p=3.0), [(2, 4, 3), (2, 5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b, p=0.5), [(4, 3), (5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b, p=0), [(4, 3), (5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b), [(2, 30, 3), (1, 6, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b, compute_mode="use_mm_for_euclid_dist"), [(2, 4, 3), (1, 5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b, p=1), [(3, 1, 4, 3), (2, 5, 3)]),
    Case("cdist", lambda m, a, b: m.cdist(a, b), [(0, 3), (5, 3)]),
    Case("vector_norm", lambda m, x: m.linalg.vector_norm(x), [(3, 4)]),
    Case("vector_norm", lambda m, x: m.linalg.vector_norm(x, ord=1, dim=1), [(3, 4)]),
    Case("vector_norm", lambda m, x: m.linalg.vector_norm(x, ord=float("inf"), dim=(0, -1), keepdim=True),
         [(2, 3, 4)]),
    Case("vector_norm", lambda m, x: m.linalg.vector_norm(x, ord=3), [(5,)]),
    Case("vector_norm", lambda m, x: m.linalg.vector_norm(x), [()]),
    Case("matrix_norm", lambda m, x: m.linalg.matrix_norm(x), [(2, 3, 4)]),
    Case("matrix_norm", lambda m, x: m.linalg.matrix_norm(x, ord=1), [(3, 4)]),
    Case("matrix_norm", lambda m, x: m.linalg.matrix_norm(x, ord=-1, keepdim=True), [(2, 3, 4)]),
    Case("matrix_norm", lambda m, x: m.linalg.matrix_norm(x, ord=float("inf"), dim=(0, 2)), [(3, 2, 4)]),
    Case("matrix_norm", lambda m, x: m.linalg.matrix_norm(x, ord=-float("inf")), [(3, 4)]),
    Case("linalg_norm", lambda m, x: m.linalg.norm(x), [(2, 3, 4)]),
    Case("linalg_norm", lambda m, x: m.linalg.norm(x, ord=1), [(3, 4)]),
    Case("linalg_norm", lambda m, x: m.linalg.norm(x, ord=1), [(4,)]),
    Case("linalg_norm", lambda m, x: m.linalg.norm(x, dim=-1), [(3, 4)]),
    Case("linalg_norm", lambda m, x: m.linalg.norm(x, ord="fro", dim=(1, 2)), [(2, 3, 4)]),
    Case("det", lambda m, a: m.linalg.det(a), [(3, 3)]),
    Case("det", lambda m, a: m.linalg.det(a), [(2, 4, 4)]),
    Case("inv", lambda m, a: m.linalg.inv(a), [well_conditioned((3, 3))]),
    Case("inv", lambda m, a: m.linalg.inv(a), [well_conditioned((2, 4, 4))]),
    Case("solve", lambda m, a, b: m.linalg.solve(a, b), [well_conditioned((3, 3)), (3, 2)]),
    Case("solve", lambda m, a, b: m.linalg.solve(a, b), [well_conditioned((3, 3)), (3,)]),
    Case("solve", lambda m, a, b: m.linalg.solve(a, b), [well_conditioned((2, 3, 3)), (2, 3)]),
    Case("solve", lambda m, a, b: m.linalg.solve(a, b), [well_conditioned((2, 3, 3)), (3, 4)]),
    Case("solve", lambda m, a, b: m.linalg.solve(a, b, left=False), [well_conditioned((3, 3)), (4, 3)]),
    Case("linalg_cross", lambda m, a, b: m.linalg.cross(a, b), [(4, 3), (4, 3)]),
]


@pytest.mark.parametrize("case", LA, ids=repr)
def test_linalg_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(LA), ids=repr)
def test_linalg_gradcheck(case):
    check_gradcheck(case)


def test_linalg_errors():
    x = lamina.randn(2, 3)
    with pytest.raises(RuntimeError, match=r"addmm.*\(2, 3\) and \(2, 3\)"):
        lamina.addmm(lamina.zeros(2, 3), x, x)
    with pytest.raises(RuntimeError, match=r"addmm: the input of shape \(5,\).*\(2, 2\)"):
        lamina.addmm(lamina.zeros(5), x, x.T)
    with pytest.raises(RuntimeError, match=r"baddbmm.*\(2, 3\)"):
        lamina.baddbmm(x, x, x)
    with pytest.raises(RuntimeError, match=r"addbmm.*\(2, 3\)"):
        lamina.addbmm(x, x, x)
    with pytest.raises(RuntimeError, match=r"addmv.*\(2, 3\) and \(2,\)"):
        lamina.addmv(lamina.zeros(2), x, lamina.zeros(2))
    with pytest.raises(RuntimeError, match=r"addr: expected 1-D vectors, got \(2, 3\)"):
        lamina.addr(x, x, lamina.zeros(3))
    with pytest.raises(RuntimeError, match=r"cdist.*\(2, 3\) and \(4, 2\)"):
        lamina.cdist(x, lamina.randn(4, 2))
    with pytest.raises(RuntimeError, match="cdist only supports non-negative p"):
        lamina.cdist(x, x, p=-1)
    with pytest.raises(RuntimeError, match=r"linalg.det: A must be batches of square matrices.*\(2, 3\)"):
        lamina.linalg.det(x)
    with pytest.raises(RuntimeError, match="linalg.inv.*singular"):
        lamina.linalg.inv(lamina.zeros(2, 2))
    with pytest.raises(RuntimeError, match=r"linalg.solve: Incompatible shapes.*\(2, 2\) and \(3, 1\)"):
        lamina.linalg.solve(lamina.eye(2), lamina.ones(3, 1))
    with pytest.raises(RuntimeError, match="matrix_norm.*'nuc'"):
        lamina.linalg.matrix_norm(x, ord="nuc")
    with pytest.raises(RuntimeError, match="linalg.vector_norm: Expected a floating point"):
        lamina.linalg.vector_norm(lamina.tensor([1, 2]))


def test_det_gradient_of_singular_matrix_is_the_adjugate():
    # PyTorch 2.x returns zeros here; d det / dA is the transposed adjugate, which lamina gives
    a = lamina.tensor(np.array([[1.0, 2.0], [2.0, 4.0]]), requires_grad=True)
    d = lamina.linalg.det(a)
    d.backward()
    assert float(d) == 0.0
    assert_close(a.grad, np.array([[4.0, -2.0], [-2.0, 1.0]]), atol=1e-12)


def test_einsum_large_operands_take_the_optimised_path(rng):
    a, b = rng.standard_normal((2, 70, 80)), rng.standard_normal((2, 80, 60))
    (la, ta), (lb, tb) = pair(a), pair(b)
    out, ref = lamina.einsum("bij,bjk->bik", la, lb), torch.einsum("bij,bjk->bik", ta, tb)
    assert_close(out, ref)
    w = rng.standard_normal(tuple(ref.shape))
    (out * lamina.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    assert_close(la.grad, ta.grad)
    assert_close(lb.grad, tb.grad)
