"""Tensor attributes, conversions, autograd fields, hooks, repr and in-place ops, against PyTorch."""

import numpy as np
import pytest

import lamina
from tests.conftest import assert_close, pair, torch

# ----------------------------------------------------------------------------- attributes


@pytest.mark.parametrize("data,dtype,tdtype", [
    ([1.0, 2.0], None, None),
    ([1.0, 2.0], lamina.float64, torch.float64),
    ([1.0, 2.0], lamina.float16, torch.float16),
    ([1, 2], None, None),
    ([1, 2], lamina.int32, torch.int32),
    ([True, False], None, None),
    ([[1.5, 2.5, 3.5]], lamina.float32, torch.float32),
])
def test_dtype_shape_ndim_match_torch(data, dtype, tdtype):
    a = lamina.tensor(data, dtype=dtype)
    t = torch.tensor(data, dtype=tdtype)
    assert repr(a.dtype) == repr(t.dtype).replace("torch.", "lamina.")
    assert a.shape == tuple(t.shape) and a.ndim == t.ndim and a.dim() == t.dim()
    assert a.numel() == t.numel() and a.size() == tuple(t.size()) and a.size(-1) == t.size(-1)
    assert a.is_floating_point() == t.is_floating_point()
    assert a.tolist() == t.tolist()


def test_default_dtypes():
    assert lamina.tensor([1.0]).dtype is lamina.float32
    assert lamina.tensor(1).dtype is lamina.int64
    assert lamina.tensor(True).dtype is lamina.bool
    assert lamina.tensor(np.zeros(2)).dtype is lamina.float64  # NumPy arrays keep their dtype, as in PyTorch
    assert lamina.zeros(2).dtype is lamina.float32
    assert lamina.float is lamina.float32 and lamina.long is lamina.int64 and lamina.double is lamina.float64


def test_size_and_device():
    a = lamina.zeros(2, 3, 4)
    assert a.size() == (2, 3, 4) and a.size(1) == 3 and a.size(-3) == 2
    assert repr(a.size()) == "lamina.Size([2, 3, 4])"
    assert a.shape.numel() == 24 == a.numel()
    with pytest.raises(IndexError, match="Dimension out of range"):
        a.size(3)
    assert a.device == lamina.device("cpu") and str(a.device) == "cpu" and a.device == "cpu"
    assert not a.is_cuda
    assert len(a) == 2
    with pytest.raises(TypeError, match="0-d"):
        len(lamina.tensor(1.0))


def test_autograd_fields():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    assert x.requires_grad and x.is_leaf and x.grad_fn is None and x.grad is None
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn.name() == "MulBackward0"
    c = lamina.tensor([1.0, 2.0])
    assert not c.requires_grad and c.is_leaf and (c * 2).is_leaf
    with lamina.no_grad():
        z = x * 2
    assert not z.requires_grad and z.grad_fn is None and z.is_leaf
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        lamina.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False
    assert lamina.tensor([1.0]).requires_grad_().requires_grad
    assert not x.detach().requires_grad


# ----------------------------------------------------------------------------- conversion


def test_item_and_scalars():
    assert lamina.tensor(2.5).item() == 2.5 and isinstance(lamina.tensor(2.5).item(), float)
    assert lamina.tensor([[7]]).item() == 7 and isinstance(lamina.tensor([7]).item(), int)
    assert lamina.tensor(True).item() is True
    assert float(lamina.tensor(1.5)) == 1.5 and int(lamina.tensor(3)) == 3
    assert [10, 20, 30][lamina.tensor(1)] == 20
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted to Scalar"):
        lamina.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(lamina.tensor([1.0, 2.0]))
    assert bool(lamina.tensor([3.0])) and not bool(lamina.tensor(0))
    assert f"{lamina.tensor(1.23456):.2f}" == "1.23"


def test_numpy_shares_memory_and_refuses_grad():
    a = lamina.tensor([1.0, 2.0, 3.0])
    arr = a.numpy()
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
    arr[0] = 10.0
    assert a[0].item() == 10.0
    a.add_(1)
    assert arr[1] == 3.0
    x = lamina.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        x.numpy()
    assert np.shares_memory(x.detach().numpy(), x.numpy(force=True))
    assert np.asarray(lamina.tensor([[1, 2]])).tolist() == [[1, 2]]


def test_tolist():
    assert lamina.tensor([[1.5, 2.0]]).tolist() == [[1.5, 2.0]]
    assert lamina.tensor(3).tolist() == 3
    assert lamina.tensor([True]).tolist() == [True]


def test_detach_shares_storage_and_cuts_graph():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    (d * x).sum().backward()
    assert_close(x.grad, [3.0, 6.0])  # no gradient flows through the detached factor
    d2 = x.data
    assert not d2.requires_grad and np.shares_memory(d2.numpy(), x.detach().numpy())
    d3 = lamina.detach(y)
    assert not d3.requires_grad and np.shares_memory(d3.numpy(), d.numpy())


def test_clone_copies_and_keeps_graph():
    x, xt = pair(np.array([1.0, -2.0, 3.0]))
    c, ct = x.clone(), xt.clone()
    assert c.grad_fn.name() == "CloneBackward0" == type(ct.grad_fn).__name__
    assert not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    (c * c).sum().backward()
    (ct * ct).sum().backward()
    assert_close(x.grad, xt.grad)


def test_to_dtype_and_shorthands():
    x, xt = pair(np.array([1.7, -2.2, 3.5], dtype=np.float32))
    for name in ("float", "double", "long", "int", "half", "bool"):
        a, t = getattr(x, name)(), getattr(xt, name)()
        assert repr(a.dtype) == repr(t.dtype).replace("torch.", "lamina.")
        assert a.tolist() == pytest.approx(t.tolist(), rel=1e-3)
    assert x.to(lamina.float32) is x
    assert x.to(lamina.float32, copy=True) is not x
    assert x.to("cpu") is x
    y = x.to(lamina.float64)
    yt = xt.to(torch.float64)
    assert y.requires_grad and y.grad_fn is not None
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    assert x.grad.dtype is lamina.float32
    assert_close(x.grad, xt.grad, rtol=1e-6)
    assert not x.long().requires_grad
    assert lamina.tensor([1, 2]).to(lamina.zeros(1, dtype=lamina.float64)).dtype is lamina.float64
    assert lamina.tensor([1, 2]).type_as(lamina.zeros(1)).dtype is lamina.float32


# ----------------------------------------------------------------------------- backward


def test_backward_with_gradient_argument():
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    x, xt = pair(np.array([[1.0, 2.0], [3.0, 4.0]]))
    (x * x).backward(gradient=lamina.tensor(w))
    (xt * xt).backward(gradient=torch.tensor(w))
    assert_close(x.grad, xt.grad)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(gradient=lamina.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        lamina.tensor(1.0).backward()


def test_backward_retain_graph():
    x, xt = pair(np.array([1.0, 2.0]))
    y, yt = (x.exp() * 2).sum(), (xt.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    yt.backward(retain_graph=True)
    yt.backward()
    assert_close(x.grad, xt.grad)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()


# ----------------------------------------------------------------------------- hooks


def test_leaf_hook_sees_and_replaces_grad():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h1 = x.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    assert x.grad.tolist() == [30.0, 30.0]
    h1.remove()
    (x * 1).sum().backward()
    assert seen == [[3.0, 3.0]] and x.grad.tolist() == [40.0, 40.0]
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        lamina.tensor([1.0]).register_hook(print)


def test_nonleaf_hook_replaces_grad_flowing_upstream():
    x, xt = pair(np.array([1.0, -2.0, 0.5]))
    y, yt = x * x, xt * xt
    y.register_hook(lambda g: g * 2 + 1)
    yt.register_hook(lambda g: g * 2 + 1)
    seen, seen_t = [], []
    y.register_hook(lambda g: seen.append(g.tolist()))
    yt.register_hook(lambda g: seen_t.append(g.tolist()))
    (y * 3).sum().backward()
    (yt * 3).sum().backward()
    assert seen == seen_t == [[7.0, 7.0, 7.0]]
    assert_close(x.grad, xt.grad)
    assert y.grad is None  # a non-leaf keeps no .grad without retain_grad


def test_retain_grad_accumulates_like_torch():
    x, xt = pair(np.array([1.0, 2.0]))
    y, yt = x * 2, xt * 2
    y.retain_grad()
    yt.retain_grad()
    assert y.retains_grad
    for _ in range(2):
        (y * y).sum().backward(retain_graph=True)
        (yt * yt).sum().backward(retain_graph=True)
    assert_close(y.grad, yt.grad)
    assert_close(x.grad, xt.grad)
    x.retain_grad()  # a no-op on a leaf
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad=False"):
        lamina.tensor([1.0]).retain_grad()


# ----------------------------------------------------------------------------- repr


REPR_CASES = [
    lambda m: m.tensor([1.0, 2.0, 3.0]),
    lambda m: m.tensor([1.5, 2.25, -3.0]),
    lambda m: m.tensor([[1.5, 2.25], [-3.0, 4.0]]),
    lambda m: m.tensor([[1.0, 2.0, 3.0]] * 3) / 7,
    lambda m: m.tensor([1, 2, 3]),
    lambda m: m.tensor([[1, -2], [3, 400]]),
    lambda m: m.tensor([True, False]),
    lambda m: m.tensor([[True], [False]]),
    lambda m: m.tensor(3.5),
    lambda m: m.tensor(3.0),
    lambda m: m.tensor(-3),
    lambda m: m.tensor(True),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.tensor([1.5, 2], dtype=m.float16),
    lambda m: m.tensor([1e-5, 1.0]),
    lambda m: m.tensor([1e9, 1.0]),
    lambda m: m.tensor([0.1234567, 12.5]),
    lambda m: m.tensor([float("nan"), float("inf"), 1.0]),
    lambda m: m.tensor([float("nan"), -1.5]),
    lambda m: m.tensor([0.0, -0.0]),
    lambda m: m.zeros(0),
    lambda m: m.zeros(2, 0),
    lambda m: m.zeros(3, 0, dtype=m.int32),
    lambda m: m.ones(2, 3, 4),
    lambda m: m.arange(40.0).reshape(2, 4, 5) - 20,
    lambda m: m.arange(100.0) * 1.5,
    lambda m: m.arange(2000),
    lambda m: m.arange(2000.0),
    lambda m: m.arange(3000.0).reshape(30, 100) / 7,
    lambda m: m.tensor([1.0, 2.0], requires_grad=True),
    lambda m: m.tensor([1.0, 2.0], requires_grad=True) * 2,
    lambda m: (m.tensor([1.0, 2.0], requires_grad=True) * 2).sum(),
    lambda m: m.arange(100.0, requires_grad=True) * 1.5,
    lambda m: m.tensor([[1e-5, 2.0], [3.0, 4.0]], requires_grad=True) + 1,
]


@pytest.mark.parametrize("case", range(len(REPR_CASES)))
def test_repr_matches_torch(case):
    make = REPR_CASES[case]
    assert repr(make(lamina)) == repr(make(torch)).replace("torch.", "lamina.")
    assert str(make(lamina)) == repr(make(lamina))


# ----------------------------------------------------------------------------- in place


INPLACE = [
    ("add_", lambda t, o: t.add_(o), True),
    ("add_alpha", lambda t, o: t.add_(o, alpha=-2.0), True),
    ("sub_", lambda t, o: t.sub_(o), True),
    ("mul_", lambda t, o: t.mul_(o), True),
    ("div_", lambda t, o: t.div_(o), True),
    ("iadd", lambda t, o: t.__iadd__(o), True),
    ("imul", lambda t, o: t.__imul__(o), True),
    ("zero_", lambda t, o: t.zero_(), False),
    ("fill_", lambda t, o: t.fill_(2.5), False),
    ("copy_", lambda t, o: t.copy_(o), True),
    ("clamp_", lambda t, o: t.clamp_(-0.5, 0.7), False),
    ("clamp_min", lambda t, o: t.clamp_(min=0.1), False),
]


@pytest.mark.parametrize("name,op,uses_other", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_on_leaf_requiring_grad_raises(name, op, uses_other):
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        op(x, lamina.tensor([3.0, 4.0]))
    assert x.tolist() == [1.0, 2.0] and x._version == 0


@pytest.mark.parametrize("name,op,uses_other", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_under_no_grad_matches_torch(name, op, uses_other, rng):
    x_np, o_np = rng.standard_normal((2, 3)), rng.standard_normal((3,)) + 3
    x, xt = pair(x_np)
    with lamina.no_grad():
        r = op(x, lamina.tensor(o_np))
    with torch.no_grad():
        op(xt, torch.tensor(o_np))
    assert r is x and x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x._version == 1
    assert_close(x.detach(), xt.detach())


@pytest.mark.parametrize("name,op,uses_other", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_on_nonleaf_gradients_match_torch(name, op, uses_other, rng):
    x_np, o_np = rng.standard_normal((2, 3)), rng.standard_normal((3,)) + 3
    w_np = rng.standard_normal((2, 3))
    x, xt = pair(x_np)
    o, ot = pair(o_np)
    y, yt = x * 1.5, xt * 1.5
    keep, keep_t = y.exp(), yt.exp()  # saved the old value of y: in-place must not corrupt its backward
    r, rt = op(y, o), op(yt, ot)
    assert r is y and rt is yt
    assert_close(y, yt)
    loss = (y * lamina.tensor(w_np)).sum() + keep.sum()
    loss_t = (yt * torch.tensor(w_np)).sum() + keep_t.sum()
    loss.backward()
    loss_t.backward()
    assert_close(x.grad, xt.grad)
    if uses_other:
        assert_close(o.grad, ot.grad)
    else:
        assert o.grad is None


def test_inplace_on_plain_tensor_with_grad_operand_records():
    x, xt = pair(np.array([1.0, 2.0]))
    buf, buft = lamina.zeros(2), torch.zeros(2)
    buf.add_(x * 2)
    buft.add_(xt * 2)
    assert buf.requires_grad and buf.grad_fn is not None
    buf.sum().backward()
    buft.sum().backward()
    assert_close(x.grad, xt.grad)


def test_inplace_errors():
    with pytest.raises(RuntimeError, match="result type"):
        lamina.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match=r"doesn't match the broadcast shape"):
        lamina.zeros(3).add_(lamina.zeros(2, 3))
    t = lamina.tensor([1.0, 2.0])
    t.add_(lamina.tensor([1, 2]))  # an int operand is cast into the float tensor, as in PyTorch
    assert t.tolist() == [2.0, 4.0] and t.dtype is lamina.float32


def test_setitem_under_no_grad_and_plain():
    x = lamina.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        x[0, 0] = 5.0
    with lamina.no_grad():
        x[0, 0] = 5.0
        x[1] = lamina.tensor([7.0, 8.0])
    assert x.tolist() == [[5.0, 2.0], [7.0, 8.0]] and x.is_leaf and x.requires_grad
    a = lamina.zeros(3, 4)
    a[:, 1] = 1.0
    a[a > 0.5] = 2.0
    a[[0, 2], 3] = lamina.tensor([5.0, 6.0])
    ref = torch.zeros(3, 4)
    ref[:, 1] = 1.0
    ref[ref > 0.5] = 2.0
    ref[[0, 2], 3] = torch.tensor([5.0, 6.0])
    assert_close(a, ref)


def test_setitem_with_grad_matches_torch(rng):
    x, xt = pair(rng.standard_normal((3, 4)))
    v, vt = pair(rng.standard_normal((4,)))
    s, st = pair(rng.standard_normal(()))
    y, yt = x * 2, xt * 2
    y[1] = v * 3
    yt[1] = vt * 3
    y[0, 1:3] = s
    yt[0, 1:3] = st
    y[[2, 2], [0, 0]] = 7.0
    yt[[2, 2], [0, 0]] = 7.0
    w = rng.standard_normal((3, 4))
    (y * lamina.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    assert_close(y, yt)
    assert_close(x.grad, xt.grad)
    assert_close(v.grad, vt.grad)
    assert_close(s.grad, st.grad)
