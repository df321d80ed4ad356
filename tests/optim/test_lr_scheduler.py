"""lamina.optim.lr_scheduler against torch.optim.lr_scheduler: learning rates (and cycled momenta) equal exactly
over 200 steps, and a scheduler resumed from its state_dict continues exactly."""

import copy
import math
import warnings

import pytest

import lamina
from lamina import optim
from lamina.optim import lr_scheduler
from tests.conftest import torch

STEPS = 200


def _opt(lib, kind="SGD"):
    """Two param groups with different learning rates (and momenta), no gradients: step() changes nothing."""
    if lib is torch:
        ps = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))]
    else:
        ps = [lamina.nn.Parameter(lamina.zeros(2)), lamina.nn.Parameter(lamina.zeros(3))]
    groups = [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.05}]
    if kind == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return lib.optim.Adam(groups, lr=0.1)


def _lam(epoch):
    return 0.97**epoch + 0.01 * (epoch % 7)


def _mul(epoch):
    return 0.99 if epoch % 5 else 1.02


def _scale(x):
    return 1.0 / (1.0 + 0.1 * x)


# name -> (optimizer kind, constructor taking (module, optimizer) and returning a scheduler)
SCHEDULERS = {
    "StepLR": ("SGD", lambda m, o: m.StepLR(o, step_size=30, gamma=0.5)),
    "MultiStepLR": ("SGD", lambda m, o: m.MultiStepLR(o, milestones=[10, 50, 50, 120], gamma=0.3)),
    "ExponentialLR": ("SGD", lambda m, o: m.ExponentialLR(o, gamma=0.97)),
    "CosineAnnealingLR": ("SGD", lambda m, o: m.CosineAnnealingLR(o, T_max=37, eta_min=1e-4)),
    "CosineAnnealingLR-noeta": ("SGD", lambda m, o: m.CosineAnnealingLR(o, T_max=50)),
    "CosineAnnealingWarmRestarts": ("SGD", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2,
                                                                                       eta_min=1e-3)),
    "CosineAnnealingWarmRestarts-1": ("SGD", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7)),
    "LinearLR": ("SGD", lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=40)),
    "ConstantLR": ("SGD", lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=15)),
    "LambdaLR": ("SGD", lambda m, o: m.LambdaLR(o, lr_lambda=_lam)),
    "LambdaLR-list": ("SGD", lambda m, o: m.LambdaLR(o, lr_lambda=[_lam, lambda e: 1.0 / (1 + e)])),
    "MultiplicativeLR": ("SGD", lambda m, o: m.MultiplicativeLR(o, lr_lambda=_mul)),
    "PolynomialLR": ("SGD", lambda m, o: m.PolynomialLR(o, total_iters=120, power=2.0)),
    "OneCycleLR-cos": ("SGD", lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS + 1)),
    "OneCycleLR-linear-3phase": ("SGD", lambda m, o: m.OneCycleLR(o, max_lr=0.8, epochs=3, steps_per_epoch=70,
                                                                  pct_start=0.25, anneal_strategy="linear",
                                                                  three_phase=True, div_factor=10.0,
                                                                  final_div_factor=100.0)),
    "OneCycleLR-adam-betas": ("Adam", lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=STEPS + 5,
                                                                base_momentum=0.8, max_momentum=0.93)),
    "OneCycleLR-nomomentum": ("SGD", lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=STEPS + 1,
                                                               cycle_momentum=False)),
    "CyclicLR-triangular": ("SGD", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=13)),
    "CyclicLR-triangular2": ("SGD", lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3],
                                                            step_size_up=10, step_size_down=17,
                                                            mode="triangular2")),
    "CyclicLR-exp_range": ("SGD", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=9,
                                                          mode="exp_range", gamma=0.99, base_momentum=0.7,
                                                          max_momentum=0.95)),
    "CyclicLR-scale_fn": ("SGD", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=11,
                                                         scale_fn=_scale, scale_mode="iterations")),
    "CyclicLR-adam": ("Adam", lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=15)),
    "CyclicLR-nomomentum": ("Adam", lambda m, o: m.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=15,
                                                            cycle_momentum=False)),
    "SequentialLR": ("SGD", lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=10),
                                                            m.CosineAnnealingLR(o, T_max=60, eta_min=1e-3),
                                                            m.ExponentialLR(o, gamma=0.98)],
                                                        milestones=[10, 70])),
    "SequentialLR-constant-step": ("SGD", lambda m, o: m.SequentialLR(o, [m.ConstantLR(o, factor=0.5,
                                                                                       total_iters=5),
                                                                          m.StepLR(o, step_size=20, gamma=0.7)],
                                                                      milestones=[30])),
    "ChainedScheduler": ("SGD", lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.5, total_iters=20),
                                                                 m.ExponentialLR(o, gamma=0.99),
                                                                 m.MultiStepLR(o, milestones=[60, 90])])),
}


def _momenta(opt):
    g = opt.param_groups
    return [x["betas"] if "betas" in x else x["momentum"] for x in g]


def _trace(lib, name, start=0, stop=STEPS, opt=None, sched=None):
    kind, make = SCHEDULERS[name]
    if opt is None:
        opt = _opt(lib, kind)
        sched = make(lib.optim.lr_scheduler, opt)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(start, stop):
            opt.step()
            sched.step()
            out.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], _momenta(opt)))
    return out, opt, sched


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_learning_rates_equal_torch_exactly_and_resume(name):
    got, lopt, lsched = _trace(lamina, name)
    ref, _, _ = _trace(torch, name)
    assert got == ref  # exact: the same float operations in the same order
    assert lsched.get_last_lr() == [g["lr"] for g in lopt.param_groups]

    # pause after 100 steps: new optimizer and scheduler, load both states (scheduler first, as PyTorch advises)
    first, opt, sched = _trace(lamina, name, 0, STEPS // 2)
    sd_sched, sd_opt = copy.deepcopy(sched.state_dict()), copy.deepcopy(opt.state_dict())
    kind, make = SCHEDULERS[name]
    opt2 = _opt(lamina, kind)
    sched2 = make(lr_scheduler, opt2)
    sched2.load_state_dict(sd_sched)
    opt2.load_state_dict(sd_opt)
    rest, _, _ = _trace(lamina, name, STEPS // 2, STEPS, opt2, sched2)
    assert first + rest == got


@pytest.mark.parametrize("mode,threshold_mode,cooldown,min_lr", [
    ("min", "rel", 0, 0), ("min", "abs", 3, 1e-3), ("max", "rel", 2, [0.0, 1e-2]), ("max", "abs", 0, 0.005)])
def test_reduce_lr_on_plateau_equals_torch(mode, threshold_mode, cooldown, min_lr):
    def metric(k):  # improves, plateaus, jitters, improves again
        base = 1.0 / (1 + k) if k < 40 else 1 / 41 + 1e-5 * math.sin(k) if k < 120 else 1 / 41 - 0.001 * (k - 120)
        return base if mode == "min" else 2.0 - base

    def run(lib, start, stop, opt=None, sched=None):
        if opt is None:
            opt = _opt(lib)
            sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=4,
                                                             threshold=1e-3, threshold_mode=threshold_mode,
                                                             cooldown=cooldown, min_lr=min_lr)
        out = []
        for k in range(start, stop):
            opt.step()
            sched.step(metric(k))
            out.append((list(sched.get_last_lr()), sched.num_bad_epochs, sched.cooldown_counter, sched.best))
        return out, opt, sched

    got, _, _ = run(lamina, 0, STEPS)
    ref, _, _ = run(torch, 0, STEPS)
    assert got == ref
    assert got[-1][0] != got[0][0]  # the rate did change
    first, opt, sched = run(lamina, 0, STEPS // 2)
    sd = copy.deepcopy(sched.state_dict())
    opt2 = _opt(lamina)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    sched2 = lr_scheduler.ReduceLROnPlateau(opt2)
    sched2.load_state_dict(sd)
    rest, _, _ = run(lamina, STEPS // 2, STEPS, opt2, sched2)
    assert first + rest == got


@pytest.mark.parametrize("name,make", [
    ("StepLR", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    ("MultiStepLR", lambda m, o: m.MultiStepLR(o, milestones=[2, 5], gamma=0.5)),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    ("CosineAnnealingLR", lambda m, o: m.CosineAnnealingLR(o, T_max=10)),
    ("LinearLR", lambda m, o: m.LinearLR(o, total_iters=4)),
    ("ConstantLR", lambda m, o: m.ConstantLR(o, total_iters=4)),
    ("PolynomialLR", lambda m, o: m.PolynomialLR(o, total_iters=6, power=0.5)),
    ("CosineAnnealingWarmRestarts", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)),
])
def test_step_with_an_epoch_uses_the_closed_form_like_torch(name, make):
    epochs = [0, 1, 4, 2, 7, 7, 3, 9, 12]
    if name == "CosineAnnealingWarmRestarts":
        epochs = [0, 0.5, 1.25, 4, 2.5, 9.75, 3, 20]
    out = []
    for lib in (lamina, torch):
        opt = _opt(lib)
        sched = make(lib.optim.lr_scheduler, opt)
        seq = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in epochs:
                opt.step()
                sched.step(e)
                seq.append(list(sched.get_last_lr()))
        out.append(seq)
    assert out[0] == out[1]


def test_scheduler_checks_and_warnings():
    opt = _opt(lamina)
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        lr_scheduler.StepLR([], step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="Constant multiplicative factor expected to be between 0 and 1."):
        lr_scheduler.ConstantLR(opt, factor=2.0)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="Factor should be < 1.0."):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode is invalid and scale_fn is None"):
        lr_scheduler.CyclicLR(opt, 0.1, 1.0, mode="saw")
    with pytest.raises(ValueError, match="expects all schedulers to belong to the same optimizer"):
        lr_scheduler.SequentialLR(opt, [lr_scheduler.StepLR(opt, 2), lr_scheduler.StepLR(_opt(lamina), 2)], [3])
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.CyclicLR(optim.Adagrad([lamina.nn.Parameter(lamina.zeros(1))]), 0.1, 1.0)
    sched = lr_scheduler.OneCycleLR(_opt(lamina), max_lr=0.1, total_steps=2)
    sched.optimizer.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times. The specified number of total steps is 2"):
        sched.step()
        sched.step()
    fresh = lr_scheduler.ExponentialLR(_opt(lamina), gamma=0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        fresh.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        fresh.get_lr()
