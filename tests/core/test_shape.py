"""Shape ops: values and gradients against PyTorch (float64), views, errors."""

import numpy as np
import pytest

import lamina
from tests.conftest import torch
from tests.core.harness import Case, by_name, check, check_gradcheck

F = torch.nn.functional

CASES = [
    Case("reshape", lambda m, x: m.reshape(x, (4, 3)), [(3, 4)]),
    Case("reshape", lambda m, x: x.reshape(-1), [(2, 3, 2)]),
    Case("reshape", lambda m, x: x.reshape(2, -1, 1), [(3, 4)]),
    Case("reshape", lambda m, x: x.reshape(()), [(1, 1)]),
    Case("reshape", lambda m, x: x.reshape(1, 1), [()]),
    Case("reshape", lambda m, x: x.reshape(0, 5), [(5, 0)]),
    Case("reshape", lambda m, x: x.reshape(3, 4), [(3, 4)]),
    Case("view", lambda m, x: x.view(6, 2), [(3, 4)]),
    Case("view", lambda m, x: x.view(-1, 3), [(2, 3, 2)]),
    Case("view_as", lambda m, x, y: x.view_as(y), [(3, 4), (2, 6)]),
    Case("flatten", lambda m, x: m.flatten(x), [(2, 3, 4)]),
    Case("flatten", lambda m, x: x.flatten(1), [(2, 3, 4)]),
    Case("flatten", lambda m, x: x.flatten(0, -2), [(2, 3, 4)]),
    Case("flatten", lambda m, x: x.flatten(), [()]),
    Case("unflatten", lambda m, x: x.unflatten(1, (2, -1)), [(3, 6)]),
    Case("squeeze", lambda m, x: m.squeeze(x), [(1, 3, 1, 2)]),
    Case("squeeze", lambda m, x: x.squeeze(0), [(1, 3, 1, 2)]),
    Case("squeeze", lambda m, x: x.squeeze(-2), [(1, 3, 1, 2)]),
    Case("squeeze", lambda m, x: x.squeeze(1), [(1, 3, 1, 2)]),  # not size 1: unchanged
    Case("squeeze", lambda m, x: x.squeeze((0, 2)), [(1, 3, 1, 2)]),
    Case("squeeze", lambda m, x: x.squeeze(), [()]),
    Case("unsqueeze", lambda m, x: m.unsqueeze(x, 0), [(3, 2)]),
    Case("unsqueeze", lambda m, x: x.unsqueeze(-1), [(3, 2)]),
    Case("unsqueeze", lambda m, x: x.unsqueeze(1), [(3, 2)]),
    Case("unsqueeze", lambda m, x: x.unsqueeze(0), [()]),
    Case("transpose", lambda m, x: m.transpose(x, 0, 1), [(3, 4)]),
    Case("transpose", lambda m, x: x.transpose(-1, 0), [(2, 3, 4)]),
    Case("transpose", lambda m, x: x.transpose(1, 1), [(2, 3)]),
    Case("swapaxes", lambda m, x: x.swapaxes(0, 2), [(2, 3, 4)]),
    Case("permute", lambda m, x: m.permute(x, (2, 0, 1)), [(2, 3, 4)]),
    Case("permute", lambda m, x: x.permute(-1, 1, 0), [(2, 3, 4)]),
    Case("permute", lambda m, x: x.permute(1, 0), [(0, 3)]),
    Case("t", lambda m, x: m.t(x), [(3, 4)]),
    Case("t", lambda m, x: x.t(), [(3,)]),
    Case("T", lambda m, x: x.T, [(3, 4)]),
    Case("mT", lambda m, x: x.mT, [(2, 3, 4)]),
    Case("expand", lambda m, x: x.expand(3, 4), [(3, 1)]),
    Case("expand", lambda m, x: x.expand(2, -1, 4), [(3, 1)]),
    Case("expand", lambda m, x: x.expand(2, 3), [()]),
    Case("expand", lambda m, x: x.expand(0, 3), [(1, 3)]),
    Case("expand_as", lambda m, x, y: x.expand_as(y), [(1, 4), (3, 4)]),
    Case("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), [(3, 1)]),
    Case("broadcast_to", lambda m, x: x.broadcast_to((5, 2)), [(2,)]),
    Case("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), [(3, 1), (4,)]),
    Case("cat", lambda m, x, y: m.cat([x, y]), [(2, 3), (4, 3)]),
    Case("cat", lambda m, x, y, z: m.cat((x, y, z), dim=-1), [(2, 1), (2, 3), (2, 2)]),
    Case("cat", lambda m, x, y: m.cat([x, y], 1), [(2, 0), (2, 3)]),
    Case("cat", lambda m, x, y: m.cat([x, y], 0), [(0,), (3,)]),
    Case("cat", lambda m, x: m.cat([x]), [(2, 2)]),
    Case("stack", lambda m, x, y: m.stack([x, y]), [(2, 3), (2, 3)]),
    Case("stack", lambda m, x, y, z: m.stack((x, y, z), dim=-1), [(2, 3), (2, 3), (2, 3)]),
    Case("stack", lambda m, x, y: m.stack([x, y], -1), [(), ()]),
    Case("hstack", lambda m, x, y: m.hstack([x, y]), [(2, 3), (2, 1)]),
    Case("vstack", lambda m, x, y: m.vstack([x, y]), [(3,), (2, 3)]),
    Case("split", lambda m, x: m.split(x, 2), [(5, 3)]),
    Case("split", lambda m, x: x.split([1, 3, 1], dim=0), [(5, 3)]),
    Case("split", lambda m, x: x.split(2, dim=-1), [(2, 3)]),
    Case("split", lambda m, x: x.split(5), [(3, 2)]),
    Case("chunk", lambda m, x: m.chunk(x, 3), [(7, 2)]),
    Case("chunk", lambda m, x: x.chunk(4, dim=1), [(2, 6)]),
    Case("chunk", lambda m, x: x.chunk(5), [(3,)]),
    Case("unbind", lambda m, x: m.unbind(x, 1), [(2, 3)]),
    Case("flip", lambda m, x: m.flip(x, (0,)), [(3, 4)]),
    Case("flip", lambda m, x: x.flip((0, -1)), [(3, 4)]),
    Case("repeat", lambda m, x: x.repeat(2, 3), [(2, 3)]),
    Case("repeat", lambda m, x: x.repeat(2, 1, 2), [(3,)]),
    Case("tile", lambda m, x: m.tile(x, (2,)), [(2, 3)]),
    Case("contiguous", lambda m, x: x.t().contiguous(), [(2, 3)]),
    Case("pad", (lambda x: lamina.pad(x, (1, 2)), lambda x: F.pad(x, (1, 2))), [(2, 3)]),
    Case("pad", (lambda x: lamina.pad(x, (1, 0, 0, 2), value=1.5),
                 lambda x: F.pad(x, (1, 0, 0, 2), value=1.5)), [(2, 3)]),
    Case("pad", (lambda x: lamina.pad(x, (-1, 1, 2, -1)), lambda x: F.pad(x, (-1, 1, 2, -1))), [(2, 3, 4)]),
    Case("pad", (lambda x: lamina.pad(x, (-1, -1)), lambda x: F.pad(x, (-1, -1))), [(2, 3)]),
    Case("pad", (lambda x: lamina.pad(x, (0, 0, 1, 1, 1, 0)), lambda x: F.pad(x, (0, 0, 1, 1, 1, 0))), [(2, 3, 1)]),
]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_matches_torch(case):
    check(case)


@pytest.mark.parametrize("case", by_name(CASES), ids=repr)
def test_gradcheck(case):
    check_gradcheck(case)


def test_views_share_memory_like_torch():
    x = lamina.arange(12.0)
    v = x.view(3, 4)
    x.add_(1)
    assert v[0, 0].item() == 1.0
    t = v.t()
    assert np.shares_memory(t.numpy(), x.numpy()) and not t.is_contiguous()
    assert t.contiguous().is_contiguous()
    assert t.stride() == (1, 4) and v.stride() == (4, 1)


def test_split_sizes_and_chunk_counts_match_torch():
    for n, k in [(7, 3), (6, 4), (5, 5), (3, 5), (0, 2), (0, 3)]:
        a = [p.shape[0] for p in lamina.zeros(n).chunk(k)]
        t = [p.shape[0] for p in torch.zeros(n).chunk(k)]
        assert a == t, (n, k)
        a = [p.shape[0] for p in lamina.zeros(n).split(k)]
        t = [p.shape[0] for p in torch.zeros(n).split(k)]
        assert a == t, (n, k)


@pytest.mark.parametrize("fn,match", [
    (lambda: lamina.zeros(2, 3).reshape(4, 2), r"reshape: shape '\[4, 2\]' is invalid for input of size 6"),
    (lambda: lamina.zeros(2, 3).view(-1, -1), "only one dimension can be inferred"),
    (lambda: lamina.zeros(2, 3).permute(1, 0, 2), "number of dimensions in the tensor input does not match"),
    (lambda: lamina.zeros(2, 3).permute(0, 0), "repeated dim"),
    (lambda: lamina.zeros(2, 3).expand(4, 3), r"expanded size of the tensor \(4\) must match the existing size \(2\)"),
    (lambda: lamina.cat([lamina.zeros(2, 3), lamina.zeros(2, 4)]), r"cat\(\): sizes of tensors must match"),
    (lambda: lamina.cat([lamina.zeros(2, 3), lamina.zeros(3)]), "same number of dimensions"),
    (lambda: lamina.cat([]), "non-empty list"),
    (lambda: lamina.stack([lamina.zeros(2), lamina.zeros(3)]), "stack expects each tensor to be equal size"),
    (lambda: lamina.zeros(5).split([2, 2]), "split_with_sizes expects split_sizes to sum exactly to 5"),
    (lambda: lamina.zeros(2, 3, 4).t(), r"t\(\) expects a tensor with <= 2 dimensions"),
    (lambda: lamina.zeros(2, 3).transpose(0, 2), "Dimension out of range"),
    (lambda: lamina.pad(lamina.zeros(2), (1, 1, 1, 1)), "pad: padding length must be even and at most"),
])
def test_shape_errors(fn, match):
    with pytest.raises((RuntimeError, IndexError, TypeError), match=match):
        fn()
