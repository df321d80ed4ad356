"""Ops a PyTorch user reaches for first beyond the basics: element-wise math, shape/indexing, scans and reductions,
linear algebra. Values and gradients against PyTorch (float64), finite-difference gradchecks, errors."""

import numpy as np
import pytest

import lamina
from tests.conftest import assert_close, pair, torch  # noqa: F401 - used by later sections
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
