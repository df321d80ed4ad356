"""Element-wise ops: values and gradients against PyTorch (float64), broadcasting, promotion, errors."""

import gc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina
from tests.conftest import assert_close, pair, torch
from tests.core.harness import Case, by_name, check, check_gradcheck, const, mask, pos, same_dtype, uniform

BROADCAST = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((4,), (3, 4)), ((), (3, 4)), ((2, 1, 3), (4, 1)),
             ((0, 3), (1, 3)), ((1,), ()), ((), ())]
UNARY_SHAPES = [(3, 4), (), (0, 2), (1, 5, 1)]

CASES = []
for sa, sb in BROADCAST:
    CASES += [
        Case("add", lambda m, a, b: m.add(a, b), [sa, sb]),
        Case("add", lambda m, a, b: a + b, [sb, sa]),
        Case("add_alpha", lambda m, a, b: m.add(a, b, alpha=-1.5), [sa, sb]),
        Case("sub", lambda m, a, b: m.sub(a, b), [sa, sb]),
        Case("sub", lambda m, a, b: a - b, [sb, sa]),
        Case("sub_alpha", lambda m, a, b: m.sub(a, b, alpha=2), [sa, sb]),
        Case("mul", lambda m, a, b: m.mul(a, b), [sa, sb]),
        Case("mul", lambda m, a, b: a * b, [sb, sa]),
        Case("div", lambda m, a, b: m.div(a, b), [sa, pos(sb)]),
        Case("div", lambda m, a, b: a / b, [sb, pos(sa)]),
        Case("pow", lambda m, a, b: m.pow(a, b), [pos(sa), sb]),
        Case("pow", lambda m, a, b: a ** b, [pos(sb), sa]),
        Case("maximum", lambda m, a, b: m.maximum(a, b), [sa, sb]),
        Case("minimum", lambda m, a, b: m.minimum(a, b), [sb, sa]),
        Case("where", lambda m, c, a, b: m.where(c, a, b), [mask(sa), sa, sb]),
    ]
CASES += [
    Case("where", lambda m, c, a, b: m.where(c, a, b), [mask((3, 1)), (3, 4), (4,)]),
    Case("where", lambda m, c, a: m.where(c, a, 0.5), [mask((2, 3)), (2, 3)]),
    Case("where", lambda m, c, a: m.where(c, 1.5, a), [mask((2, 3)), (3,)]),
    Case("where", lambda m, c, a: a.where(c, -a), [mask((2, 3)), (2, 3)]),
    Case("maximum_ties", lambda m, a, b: m.maximum(a, b), [const([1.0, 2.0, -3.0]), const([1.0, 0.0, -3.0])],
         gradcheck=False),
    Case("minimum_ties", lambda m, a, b: m.minimum(a, b), [const([[1.0], [2.0]]), const([1.0, 2.0, 2.0])],
         gradcheck=False),
    Case("max_binary", lambda m, a, b: m.max(a, b), [(2, 3), (3,)]),
    Case("min_binary", lambda m, a, b: m.min(a, b), [(2, 3), (3,)]),
]
for s in UNARY_SHAPES:
    CASES += [
        Case("neg", lambda m, x: m.neg(x), [s]),
        Case("neg", lambda m, x: -x, [s]),
        Case("exp", lambda m, x: m.exp(x), [s]),
        Case("log", lambda m, x: m.log(x), [pos(s)]),
        Case("log1p", lambda m, x: m.log1p(x), [uniform(s, -0.5, 2.0)]),
        Case("sqrt", lambda m, x: m.sqrt(x), [pos(s)]),
        Case("rsqrt", lambda m, x: m.rsqrt(x), [pos(s)]),
        Case("abs", lambda m, x: m.abs(x), [s]),
        Case("abs", lambda m, x: abs(x), [s]),
        Case("sign", lambda m, x: m.sign(x), [s]),
        Case("sin", lambda m, x: m.sin(x), [s]),
        Case("cos", lambda m, x: m.cos(x), [s]),
        Case("tanh", lambda m, x: m.tanh(x), [s]),
        Case("sigmoid", lambda m, x: m.sigmoid(x), [s]),
        Case("relu", lambda m, x: m.relu(x), [s]),
        Case("clamp", lambda m, x: m.clamp(x, -0.5, 0.7), [s]),
        Case("clamp_min", lambda m, x: m.clamp(x, min=0.1), [s]),
        Case("clamp_max", lambda m, x: x.clamp(max=-0.2), [s]),
        Case("clip", lambda m, x: m.clip(x, -1, 1), [s]),
        # a Python-number exponent, a Python-number base
        Case("pow_scalar", lambda m, x: x ** 2, [s]),
        Case("pow_scalar", lambda m, x: x ** 3, [s]),
        Case("pow_scalar", lambda m, x: m.pow(x, 0.5), [pos(s)]),
        Case("pow_scalar", lambda m, x: x ** -1.5, [pos(s)]),
        Case("pow_scalar", lambda m, x: x ** 0, [s]),
        Case("pow_scalar", lambda m, x: x ** 1, [s]),
        Case("rpow_scalar", lambda m, x: 2.0 ** x, [s]),
        Case("rpow_scalar", lambda m, x: m.pow(3, x), [s]),
        Case("rpow_scalar", lambda m, x: 0.5 ** x, [s]),
        # Python-number operands on either side
        Case("scalar_ops", lambda m, x: (x + 2.5) * (1.5 - x) / 4.0 - 3 * x, [s]),
        Case("rdiv_scalar", lambda m, x: 4.0 / x, [pos(s)]),
        Case("square", lambda m, x: m.square(x), [s]),
        Case("reciprocal", lambda m, x: m.reciprocal(x), [pos(s)]),
        Case("clone", lambda m, x: m.clone(x) * 2, [s]),
    ]
CASES += [
    Case("clamp_tensor", lambda m, x, lo, hi: m.clamp(x, lo, hi), [(3, 4), uniform((4,), -1, -0.1),
                                                                    uniform((3, 1), 0.1, 1)]),
    Case("pow_0d_exponent", lambda m, x, e: x ** e, [pos((3,)), ()]),
    Case("sigmoid_extreme", lambda m, x: m.sigmoid(x), [const([-1000.0, -30.0, 0.0, 30.0, 1000.0])],
         gradcheck=False),
    Case("tanh_extreme", lambda m, x: m.tanh(x), [const([-1000.0, 0.0, 1000.0])], gradcheck=False),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(CASES), ids=repr)
def test_gradcheck(case):
    check_gradcheck(case)


# ----------------------------------------------------------------------------- hypothesis: broadcasting


@st.composite
def broadcast_shapes(draw):
    ndim = draw(st.integers(0, 4))
    base = draw(st.lists(st.integers(0, 3), min_size=ndim, max_size=ndim))
    shapes = []
    for _ in range(2):
        lead = draw(st.integers(0, ndim))
        dims = [1 if draw(st.booleans()) else d for d in base[lead:]]
        shapes.append(tuple(dims))
    return shapes


@settings(max_examples=60, deadline=None)
@given(shapes=broadcast_shapes(), seed=st.integers(0, 2**16))
def test_broadcast_add_mul_grads_match_torch(shapes, seed):
    check(Case("add_mul", lambda m, a, b: a * b + a - b, shapes), seed=seed)


# ----------------------------------------------------------------------------- comparisons and logic


CMP = [
    ("eq", lambda m, a, b: m.eq(a, b)), ("ne", lambda m, a, b: a != b), ("lt", lambda m, a, b: a < b),
    ("le", lambda m, a, b: m.le(a, b)), ("gt", lambda m, a, b: a > b), ("ge", lambda m, a, b: a >= b),
    ("greater", lambda m, a, b: m.greater(a, b)), ("less_equal", lambda m, a, b: m.less_equal(a, 0.5)),
    ("not_equal", lambda m, a, b: m.not_equal(a, b)), ("greater_equal", lambda m, a, b: m.greater_equal(b, a)),
    ("less", lambda m, a, b: m.less(a, b)),
    ("eq_scalar", lambda m, a, b: a == 0.5), ("lt_rscalar", lambda m, a, b: 0.5 < b),
    ("logical_and", lambda m, a, b: m.logical_and(a > 0, b > 0)),
    ("logical_or", lambda m, a, b: (a > 0) | (b > 0)),
    ("logical_xor", lambda m, a, b: m.logical_xor(a > 0, b > 0)),
    ("logical_not", lambda m, a, b: ~(a > 0)),
    ("logical_not_fn", lambda m, a, b: m.logical_not(b > 0)),
    ("isnan", lambda m, a, b: m.isnan(m.log(a))), ("isinf", lambda m, a, b: m.isinf(1 / (a * 0))),
    ("isfinite", lambda m, a, b: m.isfinite(m.log(b))),
]


@pytest.mark.parametrize("name,fn", CMP, ids=[c[0] for c in CMP])
def test_comparisons_and_logic_have_no_gradient(name, fn):
    a_np = np.array([[0.5, -1.0, 2.0], [0.0, 3.0, -0.5]])
    b_np = np.array([0.5, 2.0, -1.0])
    a, at = pair(a_np)
    b, bt = pair(b_np)
    with np.errstate(all="ignore"):
        out, ref = fn(lamina, a, b), fn(torch, at, bt)
    assert out.dtype is lamina.bool and not out.requires_grad and out.grad_fn is None
    assert out.tolist() == ref.tolist()


def test_comparison_of_mixed_dtypes():
    assert (lamina.tensor([1, 2, 3]) < 2.5).tolist() == [True, True, False]
    assert (lamina.tensor([1, 2]) == lamina.tensor([1.0, 2.5])).tolist() == [True, False]
    assert lamina.equal(lamina.tensor([1, 2]), lamina.tensor([1, 2]))
    assert not lamina.equal(lamina.tensor([1, 2]), lamina.tensor([1, 2, 3]))
    assert lamina.allclose(lamina.tensor([1.0]), lamina.tensor([1.0 + 1e-9]))


# ----------------------------------------------------------------------------- type promotion


def _promo(m):
    f32 = m.tensor([1.5, -2.0])
    f64 = m.tensor([0.25, 4.0], dtype=m.float64)
    i64 = m.tensor([3, -4])
    i32 = m.tensor([3, 5], dtype=m.int32)
    b = m.tensor([True, False])
    return f32, f64, i64, i32, b


PROMOTION = [
    ("f32*float", lambda m, f32, f64, i64, i32, b: f32 * 2.5),
    ("float*f32", lambda m, f32, f64, i64, i32, b: 2.5 * f32),
    ("f32+int", lambda m, f32, f64, i64, i32, b: f32 + 3),
    ("i64*float", lambda m, f32, f64, i64, i32, b: i64 * 2.5),
    ("i64+int", lambda m, f32, f64, i64, i32, b: i64 + 2),
    ("i32+int", lambda m, f32, f64, i64, i32, b: i32 + 2),
    ("i32+i64", lambda m, f32, f64, i64, i32, b: i32 + i64),
    ("i64/i64", lambda m, f32, f64, i64, i32, b: i64 / i32),
    ("i64/int", lambda m, f32, f64, i64, i32, b: i64 / 2),
    ("int/i64", lambda m, f32, f64, i64, i32, b: 6 / i64),
    ("f32+f64", lambda m, f32, f64, i64, i32, b: f32 + f64),
    ("f64*i64", lambda m, f32, f64, i64, i32, b: f64 * i64),
    ("f32*i32", lambda m, f32, f64, i64, i32, b: f32 * i32),
    ("bool+bool", lambda m, f32, f64, i64, i32, b: b + b),
    ("bool+int", lambda m, f32, f64, i64, i32, b: b + 1),
    ("bool*float", lambda m, f32, f64, i64, i32, b: b * 1.5),
    ("bool*i32", lambda m, f32, f64, i64, i32, b: b * i32),
    ("f32+0d_f64", lambda m, f32, f64, i64, i32, b: f32 + m.tensor(2.0, dtype=m.float64)),
    ("0d_f64+f32", lambda m, f32, f64, i64, i32, b: m.tensor(2.0, dtype=m.float64) * f32),
    ("i64+0d_f64", lambda m, f32, f64, i64, i32, b: i64 + m.tensor(2.5, dtype=m.float64)),
    ("i32+0d_i64", lambda m, f32, f64, i64, i32, b: i32 + m.tensor(7)),
    ("f32+0d_i64", lambda m, f32, f64, i64, i32, b: f32 + m.tensor(7)),
    ("0d_f32+0d_f64", lambda m, f32, f64, i64, i32, b: m.tensor(1.5) + m.tensor(2.0, dtype=m.float64)),
    ("0d_i64+0d_f32", lambda m, f32, f64, i64, i32, b: m.tensor(1) + m.tensor(2.5)),
    ("f16+f32", lambda m, f32, f64, i64, i32, b: f32.half() + f32),
    ("u8+i8", lambda m, f32, f64, i64, i32, b: m.tensor([200], dtype=m.uint8) + m.tensor([-1], dtype=m.int8)),
    ("i64**2", lambda m, f32, f64, i64, i32, b: i64 ** 2),
    ("i64**0.5", lambda m, f32, f64, i64, i32, b: i32.abs() ** 0.5),
    ("2**i64", lambda m, f32, f64, i64, i32, b: 2 ** i32),
    ("2.0**i64", lambda m, f32, f64, i64, i32, b: 2.0 ** i64),
    ("i64//int", lambda m, f32, f64, i64, i32, b: i64 // 2),
    ("i64%int", lambda m, f32, f64, i64, i32, b: i64 % 3),
    ("f32%float", lambda m, f32, f64, i64, i32, b: f32 % 0.75),
    ("f32//f64", lambda m, f32, f64, i64, i32, b: f32 // f64),
    ("exp(i64)", lambda m, f32, f64, i64, i32, b: m.exp(i32)),
    ("sqrt(i64)", lambda m, f32, f64, i64, i32, b: m.sqrt(i64.abs())),
    ("sigmoid(bool)", lambda m, f32, f64, i64, i32, b: m.sigmoid(b)),
    ("square(i64)", lambda m, f32, f64, i64, i32, b: m.square(i64)),
    ("reciprocal(i32)", lambda m, f32, f64, i64, i32, b: m.reciprocal(i32)),
    ("abs(i32)", lambda m, f32, f64, i64, i32, b: m.abs(i32)),
    ("neg(i64)", lambda m, f32, f64, i64, i32, b: -i64),
    ("relu(i64)", lambda m, f32, f64, i64, i32, b: m.relu(i64)),
    ("clamp(i64,float)", lambda m, f32, f64, i64, i32, b: m.clamp(i64, min=0.5)),
    ("clamp(i64,int)", lambda m, f32, f64, i64, i32, b: m.clamp(i64, min=0)),
    ("maximum(i32,f32)", lambda m, f32, f64, i64, i32, b: m.maximum(i32, f32)),
    ("where(i64,f32)", lambda m, f32, f64, i64, i32, b: m.where(b, i64, f32)),
    ("where(f32,float)", lambda m, f32, f64, i64, i32, b: m.where(b, f32, 0.5)),
    ("where(i64,int)", lambda m, f32, f64, i64, i32, b: m.where(b, i64, 0)),
    ("f32*np.float64", lambda m, f32, f64, i64, i32, b: f32 * np.float64(2.5)),
    ("i64*np.int64", lambda m, f32, f64, i64, i32, b: i32 * np.int64(2)),
]


@pytest.mark.parametrize("name,fn", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_type_promotion_matches_torch(name, fn):
    out, ref = fn(lamina, *_promo(lamina)), fn(torch, *_promo(torch))
    assert same_dtype(out, ref), f"{name}: {out.dtype} vs {ref.dtype}"
    assert_close(out.double(), ref.double(), rtol=1e-6)


def test_float32_stays_float32_through_a_chain():
    x = lamina.randn(4, 3, requires_grad=True)
    y = ((x * 0.5 + 1.0) ** 2 / 3.0 - x.exp() * 1e-3).sigmoid().tanh().relu().clamp(0.1, 0.9) * np.float64(2.0)
    assert y.dtype is lamina.float32
    y.sum().backward()
    assert x.grad.dtype is lamina.float32


def test_int_ops_without_grad():
    x = lamina.tensor([3, 1, 2])
    assert (x * 2 + 1).tolist() == [7, 3, 5] and (x * 2).dtype is lamina.int64
    assert lamina.tensor([-7, 7]).div(2, rounding_mode="trunc").tolist() == [-3, 3]
    assert lamina.tensor([-7, 7]).div(2, rounding_mode="floor").tolist() == [-4, 3]
    with pytest.raises(ValueError, match="rounding_mode"):
        lamina.div(x, 2, rounding_mode="round")


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum", "pow"])
def test_broadcast_mismatch_names_op_and_shapes(op):
    a = lamina.ones(3, 4, requires_grad=True)
    b = lamina.ones(2, 5)
    with pytest.raises(RuntimeError, match=rf"^{op}: .*\(3, 4\) and \(2, 5\)"):
        getattr(lamina, op)(a, b)


def test_where_mismatch_and_bad_condition():
    with pytest.raises(RuntimeError, match=r"where: shapes \(3,\), \(2,\) and \(4,\)"):
        lamina.where(lamina.ones(3) > 0, lamina.ones(2), lamina.ones(4))
    with pytest.raises(RuntimeError, match="where expected condition to be a boolean tensor"):
        lamina.where(lamina.ones(3), lamina.ones(3), lamina.ones(3))


def test_clamp_needs_a_bound():
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        lamina.clamp(lamina.ones(2))


def test_failing_op_leaves_no_graph_behind():
    from lamina.autograd.function import Context

    a = lamina.ones(3, 4, requires_grad=True)
    b = lamina.ones(2, 5, requires_grad=True)

    def contexts():
        gc.collect()
        with warnings.catch_warnings():  # scanning every object touches deprecated torch attributes
            warnings.simplefilter("ignore")
            return sum(isinstance(o, Context) for o in gc.get_objects())

    before = contexts()
    for op in (lamina.add, lamina.mul, lamina.matmul, lamina.maximum):
        with pytest.raises(RuntimeError):
            op(a, b)
    assert contexts() == before
    assert a.grad_fn is None and b.grad_fn is None and a._version == 0
    (a * 2).sum().backward()
    assert b.grad is None and a.grad.tolist() == [[2.0] * 4] * 3
