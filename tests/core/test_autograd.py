"""The autograd engine: define-by-run graphs, accumulation, retain_graph, grad modes, autograd.grad,
user-defined Functions, gradcheck and anomaly detection, against PyTorch."""

import gc
import itertools
import threading
import weakref

import numpy as np
import pytest

import lamina
from lamina.autograd import Function
from tests.conftest import assert_close, pair, torch

# ----------------------------------------------------------------------------- graphs


def test_mlp_gradients_match_torch(rng):
    x, xt = pair(rng.standard_normal((5, 4)))
    w, wt = pair(rng.standard_normal((4, 3)))
    y, yt = (x @ w).tanh().sum(), (xt @ wt).tanh().sum()
    y.backward()
    yt.backward()
    assert_close(y, yt)
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)


def test_define_by_run_control_flow_matches_torch(rng):
    """The graph is whatever Python executed: loops and branches that depend on values."""

    def f(m, x, w):
        h = x
        steps = 0
        while h.norm() < 20 and steps < 10:
            h = m.tanh(h @ w) * 3 + h if steps % 2 == 0 else h * 1.5
            steps += 1
        return (h.relu() if h.sum() > 0 else h.sigmoid()).sum(), steps

    x, xt = pair(rng.standard_normal((2, 3)))
    w, wt = pair(rng.standard_normal((3, 3)))
    (y, n), (yt, nt) = f(lamina, x, w), f(torch, xt, wt)
    assert n == nt and n > 1
    y.backward()
    yt.backward()
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)


def test_graph_structure():
    a = lamina.tensor([1.0, 2.0], requires_grad=True)
    b = lamina.tensor([3.0, 4.0], requires_grad=True)
    y = a * b + a.exp()
    assert y.grad_fn.name() == "AddBackward0"
    nxt = [e[0].name() for e in y.grad_fn.next_functions]
    assert nxt == ["MulBackward0", "ExpBackward0"]
    mul = y.grad_fn.next_functions[0][0]
    assert [e[0] for e in mul.next_functions] == ["AccumulateGrad", "AccumulateGrad"]
    assert mul.next_functions[0][1] is a and mul.next_functions[1][1] is b
    c = lamina.tensor([1.0, 1.0])
    z = a * c
    assert z.grad_fn.next_functions[1] is None  # no edge to a constant
    assert z.grad_fn.needs_input_grad == (True, False)


def test_diamond_graph_accumulates_all_paths(rng):
    def f(m, x):
        y = x * 2
        z = y * y + y.exp() - m.sin(y) * y
        return (z + y.sum()).sum()

    x, xt = pair(rng.standard_normal((3,)))
    f(lamina, x).backward()
    f(torch, xt).backward()
    assert_close(x.grad, xt.grad)


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_gradient_shared_by_two_inputs_is_not_corrupted_by_accumulation(order):
    """Add hands one gradient array to both inputs; storing it as a leaf's .grad must not let a later in-place
    accumulation into that leaf change the copy still waiting for the other input."""
    grads = []
    for m in (lamina, torch):
        a = m.tensor([1.0, 2.0], dtype=m.float64, requires_grad=True)
        d = m.tensor([0.5, 1.0], dtype=m.float64, requires_grad=True)
        c = d.exp() * 1
        terms = [a * 3, (a + c) * 1, c * 5]
        loss = sum((terms[i] for i in order[1:]), terms[order[0]]).sum()
        loss.backward()
        grads.append((a.grad, d.grad))
    assert_close(grads[0][0], grads[1][0])
    assert_close(grads[0][1], grads[1][1])


def test_long_chain_backward_is_iterative():
    x = lamina.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 0.0
    y.backward()
    assert x.grad.item() == 1.0


def test_multi_output_op_with_some_outputs_unused():
    x, xt = pair(np.arange(6.0).reshape(3, 2))
    a, _, c = x.split(1)
    at, _, ct = xt.split(1)
    (a * 2 + c * c).sum().backward()
    (at * 2 + ct * ct).sum().backward()
    assert_close(x.grad, xt.grad)


def test_gradient_accumulates_across_backward_calls():
    x, xt = pair(np.array([1.0, -2.0, 3.0]))
    for m, t in ((lamina, x), (torch, xt)):
        (t * t).sum().backward()
        (m.sin(t)).sum().backward()
    assert_close(x.grad, xt.grad)
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g  # accumulated in place, as PyTorch does
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
    x.grad.zero_()
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]


def test_grad_of_broadcast_leaf_has_leaf_shape_and_dtype():
    b = lamina.zeros(3, requires_grad=True)
    (lamina.ones(4, 3) * b).sum().backward()
    assert b.grad.shape == (3,) and b.grad.dtype is lamina.float32 and b.grad.tolist() == [4.0] * 3


def test_backward_a_second_time_needs_retain_graph():
    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
        y.backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = (xt * xt).sum()
    yt.backward()
    with pytest.raises(RuntimeError, match="^Trying to backward through the graph a second time"):
        yt.backward()
    # retain_graph keeps the saved values for one more pass
    z = (x.exp() * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        z.backward()
    # a graph that saved nothing can run again, as in PyTorch
    w = (x + 1).sum()
    w.backward()
    w.backward()


def test_saved_values_are_freed_after_backward():
    class Keep(Function):
        @staticmethod
        def forward(ctx, x):
            big = x * 2
            ctx.save_for_backward(big)
            return big * x

        @staticmethod
        def backward(ctx, g):
            (big,) = ctx.saved_tensors
            return g * 2 * big

    x = lamina.ones(1000, requires_grad=True)
    out = Keep.apply(x)
    ref = weakref.ref(out.grad_fn.saved_tensors[0])
    node = (out * out).grad_fn
    out2 = x.exp()
    out2.sum().backward()
    assert out2.grad_fn._saved == ()
    out.sum().backward(retain_graph=True)
    gc.collect()
    assert ref() is not None  # kept for a second pass
    out.sum().backward()
    gc.collect()
    assert ref() is None and out.grad_fn._saved == ()
    assert node is not None


# ----------------------------------------------------------------------------- grad modes


def test_no_grad_enable_grad_set_grad_enabled_as_context_managers():
    x = lamina.ones(2, requires_grad=True)
    with lamina.no_grad():
        assert not lamina.is_grad_enabled()
        assert not (x * 2).requires_grad
        with lamina.enable_grad():
            assert lamina.is_grad_enabled() and (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert lamina.is_grad_enabled()
    with lamina.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    with lamina.set_grad_enabled(True):
        assert (x * 2).requires_grad
    lamina.set_grad_enabled(False)  # as a plain call, as in PyTorch
    try:
        assert not lamina.is_grad_enabled()
    finally:
        lamina.set_grad_enabled(True)
    assert lamina.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = lamina.ones(2, requires_grad=True)

    @lamina.no_grad()
    def f(t):
        return t * 2

    @lamina.no_grad
    def f_bare(t):
        return t * 2

    @lamina.enable_grad()
    def g(t):
        return t * 2

    @lamina.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert lamina.is_grad_enabled()  # decorating changes nothing by itself
    assert f.__name__ == "f"
    assert not f(x).requires_grad and not f_bare(x).requires_grad and not h(x).requires_grad
    with lamina.no_grad():
        assert g(x).requires_grad
    assert lamina.is_grad_enabled()
    assert not lamina.autograd.no_grad()(lambda: lamina.is_grad_enabled())()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with lamina.no_grad():
            raise ValueError
    assert lamina.is_grad_enabled()


def test_grad_mode_is_per_thread():
    seen = []
    with lamina.no_grad():
        t = threading.Thread(target=lambda: seen.append(lamina.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


# ----------------------------------------------------------------------------- autograd.grad and backward


def test_autograd_grad_matches_torch_and_leaves_grad_alone(rng):
    x, xt = pair(rng.standard_normal(3))
    w, wt = pair(rng.standard_normal(3))
    y, yt = (x * w).exp().sum(), (xt * wt).exp().sum()
    gx, gw = lamina.autograd.grad(y, [x, w])
    gxt, gwt = torch.autograd.grad(yt, [xt, wt])
    assert_close(gx, gxt)
    assert_close(gw, gwt)
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


def test_autograd_grad_non_leaf_inputs_and_grad_outputs(rng):
    x, xt = pair(rng.standard_normal((2, 3)))
    h, ht = x * 2, xt * 2
    out, outt = h.tanh() * h, ht.tanh() * ht
    go = rng.standard_normal((2, 3))
    (gh,) = lamina.autograd.grad(out, h, grad_outputs=lamina.tensor(go))
    (ght,) = torch.autograd.grad(outt, ht, grad_outputs=torch.tensor(go))
    assert_close(gh, ght)
    assert x.grad is None


def test_autograd_grad_allow_unused():
    x = lamina.ones(2, requires_grad=True)
    z = lamina.ones(2, requires_grad=True)
    y = (x * 3).sum()
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        lamina.autograd.grad(y, [x, z], retain_graph=True)
    gx, gz = lamina.autograd.grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gx.tolist() == [3.0, 3.0] and gz is None
    gx, gz = lamina.autograd.grad(y, [x, z], allow_unused=True, materialize_grads=True)
    assert gz.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="does not require grad"):
        lamina.autograd.grad((x * 2).sum(), [lamina.ones(2)])


def test_autograd_backward_several_roots_and_inputs(rng):
    x, xt = pair(rng.standard_normal(3))
    w, wt = pair(rng.standard_normal(3))
    g1, g2 = rng.standard_normal(3), rng.standard_normal(())
    lamina.autograd.backward([x * w, (x * x).sum()], [lamina.tensor(g1), lamina.tensor(g2)])
    torch.autograd.backward([xt * wt, (xt * xt).sum()], [torch.tensor(g1), torch.tensor(g2)])
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)
    x.grad = w.grad = None
    (x * w).sum().backward(inputs=[w])
    assert x.grad is None
    assert_close(w.grad, x)


def test_create_graph_is_refused_clearly():
    x = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="create_graph=True"):
        (x * x).sum().backward(create_graph=True)


# ----------------------------------------------------------------------------- user-defined Function


def _make_functions(base):
    class MulAdd(base):
        """y = x * w * alpha + x**2, with a non-tensor argument"""

        @staticmethod
        def forward(ctx, x, w, alpha):
            ctx.save_for_backward(x, w)
            ctx.alpha = alpha
            return x * w * alpha + x * x

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            gx = g * (w * ctx.alpha + 2 * x) if ctx.needs_input_grad[0] else None
            gw = g * x * ctx.alpha if ctx.needs_input_grad[1] else None
            return gx, gw, None

    class SortVals(base):
        """Two outputs, one non-differentiable (indices)."""

        @staticmethod
        def forward(ctx, x):
            vals, idx = x.sort(dim=-1)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return vals, idx

        @staticmethod
        def backward(ctx, gv, gi):
            (idx,) = ctx.saved_tensors
            return gv.new_zeros(*gv.shape).scatter_add(-1, idx, gv)

    return MulAdd, SortVals


def test_user_function_matches_torch(rng):
    MulAdd, SortVals = _make_functions(lamina.autograd.Function)
    TMulAdd, TSortVals = _make_functions(torch.autograd.Function)
    x, xt = pair(rng.standard_normal((2, 3)))
    w, wt = pair(rng.standard_normal(3))
    y, yt = MulAdd.apply(x, w, 0.5), TMulAdd.apply(xt, wt, 0.5)
    assert y.grad_fn.name() == "MulAddBackward" == type(yt.grad_fn).__name__
    v, i = SortVals.apply(y)
    vt, it = TSortVals.apply(yt)
    assert not i.requires_grad and i.dtype is lamina.int64
    assert_close(v, vt)
    assert i.tolist() == it.tolist()
    c = rng.standard_normal((2, 3))
    (v * lamina.tensor(c)).sum().backward()
    (vt * torch.tensor(c)).sum().backward()
    assert_close(x.grad, xt.grad)
    assert_close(w.grad, wt.grad)


def test_user_function_forward_runs_without_recording():
    seen = []

    class Probe(Function):
        @staticmethod
        def forward(ctx, x):
            seen.append((x.requires_grad, lamina.is_grad_enabled()))
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = lamina.ones(2, requires_grad=True)
    y = Probe.apply(x)
    assert seen == [(False, False)] and y.requires_grad and y.grad_fn.name() == "ProbeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_user_function_wrong_number_of_grads():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = lamina.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="BadBackward returned an incorrect number of gradients"):
        Bad.apply(x, x).sum().backward()


def test_user_function_gradient_is_summed_to_input_shape_or_rejected():
    class Scale(Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * w

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return g * w, g * x  # the second has x's shape, broadcast against w's: summed back, as PyTorch does

    class Broken(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return lamina.ones(5)

    x, xt = pair(np.arange(6.0).reshape(2, 3))
    w, wt = pair(np.array([1.0, -1.0, 2.0]))
    Scale.apply(x, w).sum().backward()
    (xt * wt).sum().backward()
    assert_close(w.grad, wt.grad)
    assert_close(x.grad, xt.grad)
    with pytest.raises(RuntimeError, match=r"BrokenBackward returned an invalid gradient at index 0 - got \[5\] but "
                                           r"expected shape compatible with \[2, 3\]"):
        Broken.apply(x).sum().backward()
    h = x * 1
    with pytest.raises(RuntimeError, match="invalid gradient"):
        Broken.apply(h).sum().backward()


# ----------------------------------------------------------------------------- gradcheck


class _Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class _WrongCube(_Cube):
    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * x * g  # deliberately wrong


def test_gradcheck_accepts_correct_and_rejects_wrong_function():
    x = lamina.tensor([0.5, -1.5, 2.0], dtype=lamina.float64, requires_grad=True)
    assert lamina.autograd.gradcheck(_Cube.apply, (x,))
    assert not lamina.autograd.gradcheck(_WrongCube.apply, (x,), raise_exception=False)
    with pytest.raises(RuntimeError, match="Jacobian mismatch for output 0 with respect to input 0"):
        lamina.autograd.gradcheck(_WrongCube.apply, (x,))
    with pytest.raises(ValueError, match="use float64 inputs"):
        lamina.autograd.gradcheck(_Cube.apply, (lamina.ones(2, requires_grad=True),))


def test_gradcheck_several_inputs_and_outputs():
    a = lamina.tensor([[0.5, -1.0], [2.0, 0.3]], dtype=lamina.float64, requires_grad=True)
    b = lamina.tensor([1.5, -0.5], dtype=lamina.float64, requires_grad=True)
    assert lamina.autograd.gradcheck(lambda a, b: ((a @ b).exp(), a * b), (a, b))


# ----------------------------------------------------------------------------- anomaly detection


def test_detect_anomaly_forward_names_the_op():
    x = lamina.tensor([-1.0, 2.0], requires_grad=True)
    with lamina.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="Function 'Log' returned nan or inf values in its 0th output"):
            lamina.log(x)
    with np.errstate(all="ignore"):
        assert np.isnan(lamina.log(x).detach().numpy()[0])  # without anomaly mode: nan, as in PyTorch


def test_detect_anomaly_backward_names_the_node_and_the_forward_call(capsys):
    x = lamina.tensor([0.0, 4.0], requires_grad=True)
    with lamina.autograd.detect_anomaly():
        y = lamina.sqrt(x).sum()  # d sqrt(x)/dx = inf at 0
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan or inf values") as err:
            y.backward()
    assert "test_autograd.py" in str(err.value)  # where the op was called
    x.grad = None
    lamina.sqrt(x).sum().backward()  # outside anomaly mode the inf goes through, as in PyTorch
    assert np.isinf(x.grad[0].item())


def test_detect_anomaly_as_decorator_and_restores():
    @lamina.autograd.detect_anomaly()
    def f():
        return lamina.autograd.anomaly.is_anomaly_enabled()

    assert f() and not lamina.autograd.anomaly.is_anomaly_enabled()
    with lamina.autograd.set_detect_anomaly(True):
        assert lamina.autograd.anomaly.is_anomaly_enabled()
    assert not lamina.autograd.anomaly.is_anomaly_enabled()


def test_none_gradient_edge_still_releases_an_interior_node():
    class FirstOnly(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return 2 * g, None

    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    FirstOnly.apply(h, h).sum().backward()  # h's node waits on two edges, one carries None
    assert_close(x.grad, [4.0, 4.0])
    x.grad, y = None, lamina.tensor([1.0], requires_grad=True)
    FirstOnly.apply(x * 2, y * 3).sum().backward()  # a node reached only by None is skipped, as in PyTorch
    assert_close(x.grad, [4.0, 4.0])
    assert y.grad is None


def test_inplace_change_of_a_saved_input_is_refused_like_pytorch():
    x = lamina.ones(3)
    w = lamina.ones(3, requires_grad=True)
    y = (x * w).sum()  # mul saves x for w's gradient
    x.mul_(5)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*version 1; expected version 0"):
        y.backward()
    xt, wt = torch.ones(3), torch.ones(3, requires_grad=True)
    yt = (xt * wt).sum()
    xt.mul_(5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        yt.backward()


def test_inplace_change_of_an_input_that_was_not_saved_is_fine():
    x = lamina.ones(3)
    w = lamina.ones(3, requires_grad=True)
    y = (x + w).sum()  # add saves nothing
    x.mul_(5)
    y.backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0]
    # a tracked in-place op gives the tensor a new history; earlier users keep the values they saw
    a = lamina.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a * 1.0
    c = b * b
    b.relu_()
    (c.sum() + b.sum()).backward()
    assert a.grad.tolist() == [3.0, -4.0, 7.0]


def test_inplace_op_output_saved_then_changed_again_is_refused():
    a = lamina.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = (a * 1.0).relu_()  # relu saves its output, which b now is
    z = b.sum()
    with lamina.no_grad():
        b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
