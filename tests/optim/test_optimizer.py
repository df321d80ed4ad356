"""The Optimizer base class: param groups, zero_grad, closures, hooks and the state_dict format, as PyTorch's."""

import copy

import numpy as np
import pytest

import lamina
from lamina import nn, optim
from tests.conftest import torch


class Affine(nn.Module):
    """y = x W^T + b: a stand-in for nn.Linear that these tests build from Parameters alone."""

    def __init__(self, n_in, n_out, dtype=None):
        super().__init__()
        self.weight = nn.Parameter(lamina.randn(n_out, n_in, dtype=dtype) * (1 / n_in) ** 0.5)
        self.bias = nn.Parameter(lamina.zeros(n_out, dtype=dtype))

    def forward(self, x):
        return x @ self.weight.T + self.bias


def _params(n=3):
    return [nn.Parameter(lamina.tensor(np.arange(i + 2, dtype=np.float64))) for i in range(n)]


def test_params_as_tensors_dicts_or_named_pairs():
    ps = _params()
    opt = optim.SGD(ps, lr=0.1)
    assert len(opt.param_groups) == 1 and opt.param_groups[0]["params"] == ps
    opt = optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["momentum"] for g in opt.param_groups] == [0.9, 0.9]
    model = Affine(3, 2)
    opt = optim.Adam(model.named_parameters())
    assert opt.param_groups[0]["param_names"] == ["weight", "bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


def test_param_group_errors():
    ps = _params()
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        optim.SGD(ps[0], lr=0.1)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        optim.SGD([ps[0], 1.0], lr=0.1)
    with pytest.raises(TypeError, match="ordering of tensors in sets will change between runs"):
        optim.SGD([{"params": set(ps)}])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([ps[0] * 2])
    opt = optim.SGD(ps[:2], lr=0.1)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter group"):
        opt.add_param_group({"params": [ps[1], ps[2]]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group(ps[2])
    opt.add_param_group({"params": ps[2], "lr": 0.01})
    assert opt.param_groups[1]["params"] == [ps[2]] and opt.param_groups[1]["momentum"] == 0


def test_add_param_group_during_training_matches_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(4), rng.standard_normal((2, 3))]
    lp = [nn.Parameter(lamina.tensor(a.copy())) for a in arrays]
    tp = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
    lopt, topt = optim.Adam(lp[:1], lr=0.1), torch.optim.Adam(tp[:1], lr=0.1)
    for k in range(10):
        if k == 4:
            lopt.add_param_group({"params": lp[1:], "lr": 0.05})
            topt.add_param_group({"params": tp[1:], "lr": 0.05})
        for p, q in zip(lp, tp):
            g = np.cos(k + _np(p))
            p.grad, q.grad = lamina.tensor(g), torch.tensor(g)
        lopt.step()
        topt.step()
    for p, q in zip(lp, tp):
        np.testing.assert_allclose(_np(p), q.detach().numpy(), rtol=1e-12)


def _np(t):
    return np.asarray(t._data)


def test_zero_grad_to_none_or_zeros():
    ps = _params()
    opt = optim.SGD(ps, lr=0.1)
    for p in ps:
        p.grad = lamina.ones_like(p)
    g0 = ps[0].grad
    opt.zero_grad(set_to_none=False)
    assert ps[0].grad is g0 and float(g0.abs().sum()) == 0.0
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_step_evaluates_the_closure_with_grad_enabled_and_returns_its_loss():
    w = nn.Parameter(lamina.tensor([1.0, -2.0], dtype=lamina.float64))
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with lamina.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 5.0
    np.testing.assert_allclose(_np(w), [0.8, -1.6])
    assert opt.step() is None


def test_step_hooks_run_in_order_and_can_be_removed():
    calls = []
    w = nn.Parameter(lamina.zeros(2))
    opt = optim.SGD([w], lr=0.1)
    h1 = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt)))
    h2 = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    g = optim.optimizer.register_optimizer_step_pre_hook(lambda o, args, kwargs: calls.append(("global", True)))
    opt.step()
    assert calls == [("global", True), ("pre", True), ("post", True)]
    h1.remove()
    h2.remove()
    g.remove()
    opt.step()
    assert len(calls) == 3
    opt.register_step_pre_hook(lambda o, args, kwargs: 42)
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def test_state_dict_format_is_torchs():
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal(4)]
    lp = [nn.Parameter(lamina.tensor(a.copy())) for a in arrays]
    tp = [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
    lopt = optim.SGD([{"params": lp[:2]}, {"params": lp[2:], "lr": 0.3}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": tp[:2]}, {"params": tp[2:], "lr": 0.3}], lr=0.1, momentum=0.9)
    for p, q in zip(lp[1:], tp[1:]):  # parameter 0 gets no gradient: no state
        p.grad, q.grad = lamina.ones_like(p), torch.ones_like(q)
    lopt.step()
    topt.step()
    ls, ts = lopt.state_dict(), topt.state_dict()
    assert ls["param_groups"] == ts["param_groups"]
    assert ls["param_groups"][1]["params"] == [2]
    assert list(ls["state"]) == list(ts["state"]) == [1, 2]
    assert isinstance(ls["state"][1]["momentum_buffer"], lamina.Tensor)
    assert "Parameter Group 1" in repr(lopt) and "lr: 0.3" in repr(lopt)


def test_load_state_dict_checks_and_casts():
    ps = _params(2)
    opt = optim.Adam(ps)
    for p in ps:
        p.grad = lamina.ones_like(p)
    opt.step()
    sd = copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([{"params": ps[:1]}, {"params": ps[1:]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        optim.Adam(ps[:1]).load_state_dict(sd)
    p32 = [nn.Parameter(lamina.zeros(2)), nn.Parameter(lamina.zeros(3))]
    opt32 = optim.Adam(p32, lr=0.5)
    opt32.load_state_dict(sd)
    assert opt32.param_groups[0]["lr"] == 0.001 and opt32.param_groups[0]["params"] == p32
    assert opt32.state[p32[0]]["exp_avg"].dtype == lamina.float32  # cast to the parameter's dtype
    assert opt32.state[p32[0]]["step"].dtype == lamina.float32  # step is not cast
    assert opt32.state[p32[0]]["exp_avg"]._data is not sd["state"][0]["exp_avg"]._data
    calls = []
    opt32.register_load_state_dict_post_hook(lambda o: calls.append("post"))
    opt32.register_state_dict_pre_hook(lambda o: calls.append("sd-pre"))
    opt32.load_state_dict(sd)
    opt32.state_dict()
    assert calls == ["post", "sd-pre"]


def test_a_lamina_state_dict_loads_into_torch():
    """The format is PyTorch's: the state of a lamina optimiser (as arrays) drives a torch optimiser."""
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((3, 2)), rng.standard_normal(2)]
    lp = [nn.Parameter(lamina.tensor(a.copy())) for a in arrays]
    lopt = optim.RMSprop(lp, lr=0.01, momentum=0.5, centered=True)
    for k in range(5):
        for p in lp:
            p.grad = lamina.tensor(np.sin(k + _np(p)))
        lopt.step()
    sd = lopt.state_dict()
    tsd = {"state": {i: {k: torch.tensor(np.asarray(v._data)) for k, v in s.items()} for i, s in sd["state"].items()},
           "param_groups": copy.deepcopy(sd["param_groups"])}
    tp = [torch.nn.Parameter(torch.tensor(_np(p).copy())) for p in lp]
    topt = torch.optim.RMSprop(tp, lr=0.01, momentum=0.5, centered=True)
    topt.load_state_dict(tsd)
    for k in range(5, 10):
        for p, q in zip(lp, tp):
            g = np.sin(k + _np(p))
            p.grad, q.grad = lamina.tensor(g), torch.tensor(g)
        lopt.step()
        topt.step()
    for p, q in zip(lp, tp):
        np.testing.assert_allclose(_np(p), q.detach().numpy(), rtol=1e-12)


def test_trains_a_model_end_to_end():
    lamina.manual_seed(0)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((64, 4)).astype(np.float32)
    x, y = lamina.tensor(x_np), lamina.tensor(x_np @ rng.standard_normal((4, 1)).astype(np.float32) + 0.5)
    model = Affine(4, 1)
    opt = optim.AdamW(model.parameters(), lr=0.05)
    sched = optim.lr_scheduler.StepLR(opt, step_size=100, gamma=0.5)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
        first = float(loss) if first is None else first
    assert float(loss) < 0.02 * first
    assert model.weight.dtype == lamina.float32


def test_deepcopy_of_an_optimizer_continues_independently():
    ps = _params(2)
    opt = optim.Adam(ps, lr=0.1)
    for k in range(3):
        for p in ps:
            p.grad = lamina.tensor(np.cos(k + _np(p)))
        opt.step()
    twin = copy.deepcopy({"params": ps, "opt": opt})
    for params, o in ((ps, opt), (twin["params"], twin["opt"])):
        for k in range(3, 6):
            for p in params:
                p.grad = lamina.tensor(np.cos(k + _np(p)))
            o.step()
    for a, b in zip(ps, twin["params"]):
        assert a is not b
        np.testing.assert_array_equal(_np(a), _np(b))
    for i in (0, 1):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            np.testing.assert_array_equal(_np(opt.state_dict()["state"][i][key]),
                                          _np(twin["opt"].state_dict()["state"][i][key]))


def test_tensor_learning_rate_with_a_scheduler_equals_float_learning_rate():
    results = []
    for lr in (0.05, lamina.tensor(0.05, dtype=lamina.float64)):
        ps = _params(2)
        opt = optim.Adam(ps, lr=lr)
        sched = optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        for k in range(5):
            for p in ps:
                p.grad = lamina.tensor(np.sin(k + _np(p)))
            opt.step()
            sched.step()
        results.append([_np(p).copy() for p in ps])
        assert isinstance(opt.param_groups[0]["lr"], lamina.Tensor) == (not isinstance(lr, float))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-15)


def test_a_custom_optimizer_written_the_pytorch_way():
    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, {"lr": lr})

        @lamina.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.data.add_(p.grad.sign(), alpha=-group["lr"])
                        self.state[p]["n"] = self.state[p].get("n", 0) + 1

    w = nn.Parameter(lamina.tensor([0.5, -0.5], dtype=lamina.float64))
    opt = SignSGD([w])
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append(1))
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(_np(w), [0.4, -0.4])
    assert calls == [1] and opt.state_dict()["state"] == {0: {"n": 1}}
