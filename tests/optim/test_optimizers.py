"""Every optimiser and option of lamina.optim against torch.optim: 200-step trajectories, exact resume, errors."""

import copy

import numpy as np
import pytest

import lamina
from lamina import optim
from lamina.optim import _flat
from tests.conftest import torch

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 200

# (optimizer, options): every option of every optimiser, several together where they interact
CONFIGS = [
    ("SGD", {}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "maximize": True}),
    ("SGD", {"lr": 0.02, "weight_decay": 0.1, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.01, "betas": (0.6, 0.9), "weight_decay": 0.05, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.2, "eps": 1e-8}),
    ("Adagrad", {"lr": 0.05, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5}),
    ("RMSprop", {"lr": 0.005, "centered": True, "momentum": 0.3, "maximize": True}),
    ("RMSprop", {"lr": 0.005, "centered": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.8, "eps": 1e-5, "weight_decay": 0.1, "maximize": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.7, 0.9), "eps": 1e-6, "weight_decay": 0.1, "maximize": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {}),
    ("RAdam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True, "maximize": True}),
]


class Problem:
    """A fixed quadratic plus a pre-generated noise sequence: grad_k(p) = c * (p - target) + noise_k."""

    def __init__(self, shapes=SHAPES, steps=STEPS, seed=0):
        rng = np.random.default_rng(seed)
        self.init = [rng.standard_normal(s) for s in shapes]
        self.curv = [rng.uniform(0.5, 1.5, s) for s in shapes]
        self.target = [rng.standard_normal(s) for s in shapes]
        self.noise = [[0.3 * rng.standard_normal(s) for s in shapes] for _ in range(steps)]

    def grad(self, k, i, p):
        return self.curv[i] * (p - self.target[i]) + self.noise[k][i]


def _np(p):
    return p.detach().numpy() if isinstance(p, torch.Tensor) else np.asarray(p._data)


def _set_grads(params, problem, k, lib):
    for i, p in enumerate(params):
        g = problem.grad(k, i, _np(p).copy())
        p.grad = torch.tensor(g) if lib is torch else lamina.tensor(g)


def _params(lib, arrays):
    if lib is torch:
        return [torch.nn.Parameter(torch.tensor(a.copy())) for a in arrays]
    return [lamina.nn.Parameter(lamina.tensor(a.copy())) for a in arrays]


def _make(lib, name, kw, params):
    return getattr(lib.optim, name)(params, **kw)


def _run(lib, name, kw, problem, start, stop, params=None, opt=None):
    params = params if params is not None else _params(lib, problem.init)
    opt = opt if opt is not None else _make(lib, name, kw, params)
    for k in range(start, stop):
        _set_grads(params, problem, k, lib)
        opt.step()
    return params, opt


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_trajectory_matches_torch_and_resumes_exactly(name, kw):
    problem = Problem()
    lp, lopt = _run(lamina, name, kw, problem, 0, STEPS)
    tp, topt = _run(torch, name, kw, problem, 0, STEPS)
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    ls, ts = lopt.state_dict(), topt.state_dict()
    assert ls["param_groups"] == ts["param_groups"]
    assert list(ls["state"]) == list(ts["state"])
    for idx in ts["state"]:
        assert list(ls["state"][idx]) == list(ts["state"][idx])
        for key, tv in ts["state"][idx].items():
            lv = ls["state"][idx][key]
            assert np.dtype(_np(lv).dtype) == np.dtype(tv.numpy().dtype), key
            np.testing.assert_allclose(_np(lv), tv.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)

    # pause after 100 steps, load the state into a fresh optimiser over fresh tensors, continue
    half, hopt = _run(lamina, name, kw, problem, 0, STEPS // 2)
    saved = copy.deepcopy(hopt.state_dict())
    fresh = _params(lamina, [_np(p) for p in half])
    fopt = _make(lamina, name, kw, fresh)
    fopt.load_state_dict(saved)
    _run(lamina, name, kw, problem, STEPS // 2, STEPS, params=fresh, opt=fopt)
    for a, b in zip(fresh, lp):
        np.testing.assert_array_equal(_np(a), _np(b))


@pytest.mark.parametrize("name,kw", [("Adam", {"lr": 0.01}), ("NAdam", {}), ("SGD", {"lr": 0.05, "momentum": 0.9})])
def test_float64_default_dtype_gives_float64_scalar_state(name, kw):
    problem = Problem(steps=20)
    prev_l, prev_t = lamina.get_default_dtype(), torch.get_default_dtype()
    lamina.set_default_dtype(lamina.float64)
    torch.set_default_dtype(torch.float64)
    try:
        lp, lopt = _run(lamina, name, kw, problem, 0, 20)
        tp, topt = _run(torch, name, kw, problem, 0, 20)
    finally:
        lamina.set_default_dtype(prev_l)
        torch.set_default_dtype(prev_t)
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12)
    for key, tv in topt.state_dict()["state"][0].items():
        assert _np(lopt.state_dict()["state"][0][key]).dtype == tv.numpy().dtype


def test_param_groups_with_their_own_hyperparameters():
    problem = Problem()

    def groups(params):
        return [{"params": [params[0]], "lr": 0.05, "betas": (0.5, 0.9)},
                {"params": params[1:], "weight_decay": 0.2, "amsgrad": True}]

    lp, tp = _params(lamina, problem.init), _params(torch, problem.init)
    lopt, topt = optim.Adam(groups(lp), lr=0.01), torch.optim.Adam(groups(tp), lr=0.01)
    _run(lamina, None, None, problem, 0, STEPS, lp, lopt)
    _run(torch, None, None, problem, 0, STEPS, tp, topt)
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    assert lopt.state_dict()["param_groups"] == topt.state_dict()["param_groups"]


@pytest.mark.parametrize("name,kw", [("Adam", {"lr": 0.01}), ("SGD", {"lr": 0.05, "momentum": 0.9}),
                                     ("NAdam", {}), ("Adagrad", {})])
def test_parameters_without_gradient_are_skipped_like_torch(name, kw):
    """A parameter whose grad is None at some steps keeps its own step count (the per-parameter path)."""
    problem = Problem(steps=60)
    lp, tp = _params(lamina, problem.init), _params(torch, problem.init)
    lopt, topt = _make(lamina, name, kw, lp), _make(torch, name, kw, tp)
    for k in range(60):
        for params, lib, opt in ((lp, lamina, lopt), (tp, torch, topt)):
            _set_grads(params, problem, k, lib)
            if k % 3 == 1:
                params[1].grad = None
            if k < 5:
                params[2].grad = None
            opt.step()
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    ls, ts = lopt.state_dict()["state"], topt.state_dict()["state"]
    assert list(ls) == list(ts)
    if "step" in ts[0]:
        assert [float(ls[i]["step"]) for i in ls] == [float(ts[i]["step"]) for i in ts]


def test_frozen_parameters_in_the_middle_of_a_group():
    """Runs of consecutive parameters with gradients are updated together; the frozen one is left alone."""
    shapes = [(3,)] * 4 + [(50_000,), (4, 2)] + [(5,)] * 6
    problem = Problem(shapes=shapes, steps=20)
    frozen = {3, 6}
    lp, tp = _params(lamina, problem.init), _params(torch, problem.init)
    lopt, topt = optim.RAdam(lp, lr=0.01), torch.optim.RAdam(tp, lr=0.01)
    for k in range(20):
        for params, lib, opt in ((lp, lamina, lopt), (tp, torch, topt)):
            _set_grads(params, problem, k, lib)
            for i in frozen:
                params[i].grad = None
            opt.step()
    for i, (a, b) in enumerate(zip(lp, tp)):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
        assert (i in frozen) == np.array_equal(_np(a), problem.init[i])
    assert sorted(lopt.state_dict()["state"]) == sorted(topt.state_dict()["state"])


def test_large_and_many_small_tensors_blocks_match_torch(monkeypatch):
    """Tensors larger than a block (split) and many tiny ones (packed into shared blocks), float64 and float32."""
    monkeypatch.setattr(_flat, "_BLOCK_BYTES", 1 << 15)  # small blocks, so that small tensors exercise both paths
    shapes = [(120, 90)] + [(7,)] * 40 + [(13, 3)] * 5 + [(2500,)] + [(3,)] * 3
    problem = Problem(shapes=shapes, steps=30)
    for dtype in (np.float64, np.float32):
        arrays = [a.astype(dtype) for a in problem.init]
        lp, tp = _params(lamina, arrays), _params(torch, arrays)
        lopt, topt = optim.Adam(lp, lr=0.01, weight_decay=0.1), torch.optim.Adam(tp, lr=0.01, weight_decay=0.1)
        for k in range(30):
            for params, lib, opt in ((lp, lamina, lopt), (tp, torch, topt)):
                for i, p in enumerate(params):
                    g = problem.grad(k, i, _np(p).astype(np.float64)).astype(dtype)
                    p.grad = torch.tensor(g) if lib is torch else lamina.tensor(g)
                opt.step()
        (lay,) = lopt._layouts[0][2]
        pieces = [len(b[2]) for b in lay.blocks]
        assert max(pieces) > 10 and sum(1 for b in lay.blocks if b[2][0][0] == 0) > 1  # packed and split
        tol = 1e-10 if dtype == np.float64 else 2e-5
        for a, b in zip(lp, tp):
            assert _np(a).dtype == dtype
            np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol)


def test_threads_give_the_same_bits_as_one_thread():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((1100, 1000)).astype(np.float32), rng.standard_normal(5000).astype(np.float32)]
    grads = [[rng.standard_normal(a.shape).astype(np.float32) for a in arrays] for _ in range(3)]
    results = []
    saved = _flat._threads[0]
    try:
        for threads in (1, 2):
            _flat._threads[0] = threads
            params = _params(lamina, arrays)
            opt = optim.Adam(params, lr=0.01)
            for gs in grads:
                for p, g in zip(params, gs):
                    p.grad = lamina.tensor(g)
                opt.step()
            results.append([_np(p).copy() for p in params])
    finally:
        _flat._threads[0] = saved
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_non_contiguous_and_replaced_parameter_arrays():
    problem = Problem(shapes=[(4, 3), (6,)], steps=10)
    lp = _params(lamina, problem.init)
    lp[0]._data = np.ascontiguousarray(problem.init[0].T).T  # a transposed (Fortran-ordered) view
    tp = _params(torch, problem.init)
    lopt, topt = optim.SGD(lp, lr=0.1, momentum=0.9), torch.optim.SGD(tp, lr=0.1, momentum=0.9)
    for k in range(10):
        if k == 5:  # someone assigns a new array of the same shape to the parameter
            lp[1]._data = lp[1]._data.copy()
        _run(lamina, None, None, problem, k, k + 1, lp, lopt)
        _run(torch, None, None, problem, k, k + 1, tp, topt)
    assert not lp[0]._data.flags.c_contiguous
    for a, b in zip(lp, tp):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-12)


def test_state_tensors_are_lamina_tensors_viewing_flat_buffers():
    lp = _params(lamina, Problem().init)
    opt = optim.Adam(lp)
    for p in lp:
        p.grad = lamina.ones_like(p)
    opt.step()
    st = opt.state[lp[1]]
    assert isinstance(st["exp_avg"], lamina.Tensor) and tuple(st["exp_avg"].shape) == (5,)
    assert isinstance(st["step"], lamina.Tensor) and st["step"].item() == 1.0
    np.testing.assert_allclose(_np(st["exp_avg"]), 0.1)
    st["exp_avg"].zero_()  # in-place edits of the state are seen by the next step
    opt.step()
    np.testing.assert_allclose(_np(st["exp_avg"]), 0.1)
    opt.state[lp[1]]["exp_avg"] = lamina.full((5,), 2.0, dtype=lamina.float64)  # so is a replaced tensor
    opt.step()
    np.testing.assert_allclose(_np(opt.state[lp[1]]["exp_avg"]), 0.9 * 2.0 + 0.1)


def test_state_dict_round_trips_through_lamina_save(tmp_path):
    problem = Problem(steps=20)
    lp, lopt = _run(lamina, "Adam", {"lr": 0.01, "amsgrad": True}, problem, 0, 10)
    lamina.save(lopt.state_dict(), tmp_path / "opt.safetensors")
    loaded = lamina.load(tmp_path / "opt.safetensors")
    assert sorted(loaded["state"]) == [0, 1, 2]
    fresh = _params(lamina, [_np(p) for p in lp])
    fopt = optim.Adam(fresh, lr=0.01, amsgrad=True)
    fopt.load_state_dict(loaded)
    _run(lamina, None, None, problem, 10, 20, fresh, fopt)
    _run(lamina, None, None, problem, 10, 20, lp, lopt)
    for a, b in zip(fresh, lp):
        np.testing.assert_array_equal(_np(a), _np(b))


# ---------------------------------------------------------------------------------------------- errors

BAD = [
    ("SGD", {"lr": -0.1}), ("SGD", {"momentum": -0.5}), ("SGD", {"weight_decay": -1.0}),
    ("SGD", {"nesterov": True}), ("SGD", {"momentum": 0.9, "dampening": 0.1, "nesterov": True}),
    ("Adam", {"lr": -0.1}), ("Adam", {"eps": -1e-8}), ("Adam", {"betas": (1.0, 0.999)}),
    ("Adam", {"betas": (0.9, -0.1)}), ("Adam", {"weight_decay": -0.1}), ("Adam", {"betas": (0, 0.9)}),
    ("AdamW", {"lr": -1.0}), ("AdamW", {"betas": (0.9, 1.5)}),
    ("Adagrad", {"lr": -0.1}), ("Adagrad", {"lr_decay": -0.1}), ("Adagrad", {"weight_decay": -0.1}),
    ("Adagrad", {"initial_accumulator_value": -0.1}), ("Adagrad", {"eps": -0.1}),
    ("RMSprop", {"lr": -0.1}), ("RMSprop", {"eps": -0.1}), ("RMSprop", {"momentum": -0.1}),
    ("RMSprop", {"weight_decay": -0.1}), ("RMSprop", {"alpha": -0.1}),
    ("Adadelta", {"lr": -0.1}), ("Adadelta", {"rho": 1.1}), ("Adadelta", {"eps": -0.1}),
    ("Adadelta", {"weight_decay": -0.1}),
    ("Adamax", {"lr": -0.1}), ("Adamax", {"eps": -0.1}), ("Adamax", {"betas": (0.9, 1.0)}),
    ("Adamax", {"weight_decay": -0.1}),
    ("NAdam", {"lr": -0.1}), ("NAdam", {"betas": (-0.1, 0.9)}), ("NAdam", {"momentum_decay": -0.1}),
    ("RAdam", {"lr": -0.1}), ("RAdam", {"eps": -0.1}), ("RAdam", {"betas": (0.9, 1.0)}),
    ("RAdam", {"weight_decay": -0.1}),
    ("Adam", {"fused": True, "foreach": True}),
]


@pytest.mark.parametrize("name,kw", BAD)
def test_bad_hyperparameters_raise_torchs_error(name, kw):
    with pytest.raises(Exception) as ref:
        _make(torch, name, kw, [torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(type(ref.value)) as got:
        _make(lamina, name, kw, [lamina.nn.Parameter(lamina.zeros(2))])
    assert str(got.value) == str(ref.value)


def test_invalid_learning_rate_message():
    with pytest.raises(ValueError, match="^Invalid learning rate: -0.1$"):
        optim.SGD([lamina.nn.Parameter(lamina.zeros(2))], lr=-0.1)


def test_differentiable_is_refused_with_a_clear_message():
    with pytest.raises(RuntimeError, match="Adam: differentiable=True"):
        optim.Adam([lamina.nn.Parameter(lamina.zeros(2))], differentiable=True)
