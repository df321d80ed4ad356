"""Indexing ops: x[key], gather, scatter_add, index_select, masked_fill; values and gradients against PyTorch."""

import numpy as np
import pytest

import lamina
from tests.conftest import torch
from tests.core.harness import Case, by_name, check, check_gradcheck, const, ints, mask

CASES = [
    Case("getitem_int", lambda m, x: x[1], [(3, 4)]),
    Case("getitem_int", lambda m, x: x[-1, 2], [(3, 4)]),
    Case("getitem_slice", lambda m, x: x[1:3], [(4, 3)]),
    Case("getitem_slice", lambda m, x: x[::2, 1:], [(5, 3)]),
    Case("getitem_slice", lambda m, x: x[:, -2:], [(2, 4)]),
    Case("getitem_slice", lambda m, x: x[3:1], [(4, 3)]),
    Case("getitem_ellipsis", lambda m, x: x[..., 1], [(2, 3, 4)]),
    Case("getitem_none", lambda m, x: x[None, 1, ..., None], [(2, 3, 4)]),
    Case("getitem_none", lambda m, x: x[:, None], [(2, 3)]),
    Case("getitem_0d", lambda m, x: x[()], [()]),
    Case("getitem_0d", lambda m, x: x[None], [()]),
    Case("getitem_list", lambda m, x: x[[0, 0, 2]], [(3, 4)]),
    Case("getitem_list", lambda m, x: x[:, [1, 1, 0]], [(2, 3)]),
    Case("getitem_list", lambda m, x: x[[0, 1, 1], [2, 2, 0]], [(2, 3)]),
    Case("getitem_tensor", lambda m, x, i: x[i], [(4, 3), const([[0, 3], [3, 3]])]),
    Case("getitem_tensor", lambda m, x, i: x[:, i], [(2, 5), ints((6,), -5, 5)]),
    Case("getitem_tensor", lambda m, x, i: x[i, 1:], [(4, 3), const([2, -1, 2])]),
    Case("getitem_tensor", lambda m, x, i, j: x[i, :, j], [(4, 2, 3), const([0, 3]), const([2, 2])]),
    Case("getitem_mask", lambda m, x, k: x[k], [(3, 4), mask((3, 4))]),
    Case("getitem_mask", lambda m, x, k: x[k], [(3, 4), mask((3,))]),
    Case("getitem_mask", lambda m, x, k: x[:, k], [(3, 4), mask((4,))]),
    Case("getitem_mask", lambda m, x: x[x > 0], [(3, 4)]),
    Case("getitem_mask", lambda m, x, k: x[k], [(3, 4), mask((3, 4), p=0.0)]),
    Case("gather", lambda m, x, i: m.gather(x, 1, i), [(3, 4), ints((3, 5), 0, 4)]),
    Case("gather", lambda m, x, i: x.gather(0, i), [(3, 4), ints((2, 4), 0, 3)]),
    Case("gather", lambda m, x, i: x.gather(-1, i), [(2, 3, 4), ints((2, 2, 2), 0, 4)]),
    Case("gather", lambda m, x, i: x.gather(0, i), [(3,), const([2, 2, 0, 2])]),
    Case("scatter_add", lambda m, x, i, s: m.scatter_add(x, 0, i, s), [(3, 4), ints((5, 4), 0, 3), (5, 4)]),
    Case("scatter_add", lambda m, x, i, s: x.scatter_add(1, i, s), [(3, 4), ints((3, 2), 0, 4), (3, 2)]),
    Case("scatter_add", lambda m, x, i, s: x.scatter_add(-1, i, s), [(2, 3), ints((1, 5), 0, 3), (1, 5)]),
    Case("index_select", lambda m, x, i: m.index_select(x, 0, i), [(4, 3), const([3, 0, 3, 3])]),
    Case("index_select", lambda m, x, i: x.index_select(-1, i), [(2, 4, 3), ints((5,), 0, 3)]),
    Case("index_select", lambda m, x, i: x.index_select(0, i), [(4, 3), const(np.zeros(0, dtype=np.int64))]),
    Case("index_select", lambda m, x, i: x.index_select(0, i), [(3,), const(1)]),
    Case("masked_fill", lambda m, x, k: m.masked_fill(x, k, -1.5), [(3, 4), mask((3, 4))]),
    Case("masked_fill", lambda m, x, k: x.masked_fill(k, 0.0), [(3, 4), mask((4,))]),
    Case("masked_fill", lambda m, x, k: x.masked_fill(k, float("-inf")), [(2, 3), mask((2, 1))], gradcheck=False),
    Case("masked_fill", lambda m, x, k: x.masked_fill(k, m.tensor(2.0)), [(2, 3), mask((2, 3))]),
    Case("masked_fill", lambda m, x, k: x.masked_fill(k, 3.0), [(), mask(())]),
    Case("masked_fill_tensor_value", lambda m, x, k, v: x.masked_fill(k, v), [(3, 4), mask((4,)), ()]),
    Case("masked_select", lambda m, x, k: m.masked_select(x, k), [(3, 4), mask((3, 4))]),
    Case("masked_select", lambda m, x, k: m.masked_select(x, k), [(3, 4), mask((4,))]),
    Case("topk_values", lambda m, x: m.topk(x, 2).values, [(3, 5)]),
    Case("sort_values", lambda m, x: m.sort(x, dim=0, descending=True).values, [(4, 3)]),
    Case("argsort", lambda m, x: m.argsort(x, dim=1), [(3, 4)]),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(CASES), ids=repr)
def test_gradcheck(case):
    check_gradcheck(case)


def test_basic_index_is_a_view_advanced_index_a_copy():
    x = lamina.arange(12.0).reshape(3, 4)
    v = x[1:, ::2]
    c = x[[0, 1]]
    x.add_(100)
    assert v[0, 0].item() == 104.0
    assert c[0, 0].item() == 0.0


def test_nonzero_and_where_single_argument():
    x_np = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    a, t = lamina.tensor(x_np), torch.tensor(x_np)
    assert lamina.nonzero(a).tolist() == torch.nonzero(t).tolist()
    assert [i.tolist() for i in lamina.nonzero(a, as_tuple=True)] == [i.tolist() for i in torch.nonzero(t,
                                                                                                        as_tuple=True)]
    assert [i.tolist() for i in lamina.where(a > 0)] == [i.tolist() for i in torch.where(t > 0)]


@pytest.mark.parametrize("fn,exc,match", [
    (lambda x: x[3], IndexError, r"index 3 is invalid for a tensor of shape \(3, 4\)"),
    (lambda x: x[:, 4], IndexError, r"shape \(3, 4\)"),
    (lambda x: x[lamina.tensor([0.5])], IndexError, "tensors used as indices must be long, int, byte or bool"),
    (lambda x: x[lamina.tensor([True, False])], IndexError, r"shape \(3, 4\)"),
    (lambda x: x.gather(1, lamina.tensor([[0.0]])), RuntimeError, "gather\\(\\): Expected dtype int64 for index"),
    (lambda x: x.gather(1, lamina.tensor([0])), RuntimeError, "same number of dimensions"),
    (lambda x: x.index_select(0, lamina.tensor([[0]])), IndexError, "Index is supposed to be a vector"),
    (lambda x: x.masked_fill(lamina.ones(3, 4), 0.0), RuntimeError, "masked_fill only supports boolean masks"),
    (lambda x: x.masked_fill(lamina.ones(2, 4) > 0, 0.0), RuntimeError, r"masked_fill: .*\(3, 4\) and \(2, 4\)"),
    (lambda x: x.masked_fill(lamina.ones(2, 3, 4) > 0, 0.0), RuntimeError, r"must broadcast to the input's shape"),
    (lambda x: x.masked_fill(x > 0, lamina.ones(2)), RuntimeError, "0-dimensional value tensor"),
])
def test_indexing_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn(lamina.zeros(3, 4))


def test_nonzero_of_0d_and_return_type_reprs():
    for v in (0.0, 2.0):
        assert lamina.nonzero(lamina.tensor(v)).shape == tuple(torch.nonzero(torch.tensor(v)).shape)
    x = np.array([[1.0, 3.0, 2.0], [0.5, -1.0, 4.0]])
    for fn in (lambda m, t: m.max(t, 1), lambda m, t: t.min(0), lambda m, t: m.topk(t, 2),
               lambda m, t: m.sort(t, dim=1, descending=True)):
        assert repr(fn(lamina, lamina.tensor(x))) == repr(fn(torch, torch.tensor(x))).replace("torch.", "lamina.")
