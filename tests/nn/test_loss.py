"""Losses (functional and modules) against PyTorch: values and gradients in every reduction, errors, gradcheck."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, torch

TF = torch.nn.functional
REDUCTIONS = ["none", "mean", "sum"]


def _both(arr, grad):
    arr = np.asarray(arr)
    grad = grad and arr.dtype.kind == "f"
    return lamina.tensor(arr.copy(), requires_grad=grad), torch.tensor(arr.copy(), requires_grad=grad)


def _compare(lfn, tfn, arrays, grads, kwargs=None, lkwargs=None, tkwargs=None, rtol=1e-7, atol=1e-9):
    """Call both sides on the same arrays; compare the loss and the gradient of every array marked in grads."""
    kwargs = kwargs or {}
    pairs = [_both(a, g) for a, g in zip(arrays, grads)]
    out = lfn(*[p[0] for p in pairs], **kwargs, **(lkwargs or {}))
    ref = tfn(*[p[1] for p in pairs], **kwargs, **(tkwargs or {}))
    assert_close(out, ref, rtol=rtol, atol=atol, msg="loss")
    assert out.dtype is lamina.float64
    w = np.random.default_rng(5).standard_normal(tuple(ref.shape))
    (out * lamina.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    for i, (a, t) in enumerate(pairs):
        if t.requires_grad:
            assert_close(a.grad, t.grad, rtol=rtol, atol=atol, msg=f"grad of argument {i}")
    return out


def _ce_case(rng, shape, c_dim=1, ignore=None, n_classes=None):
    x = rng.standard_normal(shape)
    c = shape[c_dim] if len(shape) > 1 else shape[0]
    tshape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    t = rng.integers(0, c, tshape)
    if ignore is not None and t.ndim:
        t.reshape(-1)[::3] = ignore
    return x, t


CE_CONFIGS = [
    dict(shape=(6, 5)),
    dict(shape=(6, 5), weight=True),
    dict(shape=(6, 5), ignore=-100),
    dict(shape=(6, 5), ignore=2, kw=dict(ignore_index=2)),
    dict(shape=(6, 5), weight=True, ignore=-100),
    dict(shape=(6, 5), kw=dict(label_smoothing=0.1)),
    dict(shape=(6, 5), weight=True, ignore=-100, kw=dict(label_smoothing=0.25)),
    dict(shape=(2, 4, 3, 2)),
    dict(shape=(2, 4, 3), weight=True, ignore=-100, kw=dict(label_smoothing=0.2)),
    dict(shape=(5,)),
    dict(shape=(5,), weight=True, kw=dict(label_smoothing=0.3)),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("cfg", CE_CONFIGS, ids=str)
def test_cross_entropy_class_indices(rng, cfg, reduction):
    x, t = _ce_case(rng, cfg["shape"], ignore=cfg.get("ignore"))
    c = cfg["shape"][1] if len(cfg["shape"]) > 1 else cfg["shape"][0]
    kw = dict(cfg.get("kw", {}), reduction=reduction)
    arrays, grads = [x, t], [True, False]
    if cfg.get("weight"):
        wt = rng.uniform(0.2, 2.0, c)
        lk, tk = dict(weight=lamina.tensor(wt)), dict(weight=torch.tensor(wt))
    else:
        lk = tk = {}
    _compare(F.cross_entropy, TF.cross_entropy, arrays, grads, kw, lk, tk)
    # the module form, same numbers
    mod = nn.CrossEntropyLoss(**kw, **lk)
    ref = torch.nn.CrossEntropyLoss(**kw, **tk)
    _compare(mod, ref, arrays, grads)
    assert list(mod.state_dict()) == list(ref.state_dict())
    assert repr(mod) == repr(ref)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,weight,ls", [((4, 5), False, 0.0), ((4, 5), True, 0.0), ((4, 5), True, 0.2),
                                             ((2, 3, 4), False, 0.1), ((3,), False, 0.0)])
def test_cross_entropy_probabilities(rng, shape, weight, ls, reduction):
    x = rng.standard_normal(shape)
    c_dim = 1 if len(shape) > 1 else 0
    p = rng.uniform(0.1, 1.0, shape)
    p /= p.sum(axis=c_dim, keepdims=True)
    c = shape[c_dim]
    wt = rng.uniform(0.5, 2.0, c) if weight else None
    lk = dict(weight=lamina.tensor(wt)) if weight else {}
    tk = dict(weight=torch.tensor(wt)) if weight else {}
    _compare(F.cross_entropy, TF.cross_entropy, [x, p], [True, True],
             dict(reduction=reduction, label_smoothing=ls), lk, tk)


def test_cross_entropy_gradcheck(rng):
    x = lamina.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = lamina.tensor(np.array([1, -100, 3]))
    w = lamina.tensor(rng.uniform(0.5, 2, 4))
    assert gradcheck(lambda a: F.cross_entropy(a, t, weight=w, label_smoothing=0.1), (x,))
    assert gradcheck(lambda a: F.cross_entropy(a, t, reduction="none"), (x,))
    x3 = lamina.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    p = lamina.tensor(rng.dirichlet(np.ones(3), (2, 2)).transpose(0, 2, 1).copy(), requires_grad=True)
    assert gradcheck(lambda a, b: F.cross_entropy(a, b, label_smoothing=0.1), (x3, p))


def test_cross_entropy_float32_and_stability(rng):
    x = (rng.standard_normal((8, 10)) * 50).astype(np.float32)
    t = rng.integers(0, 10, 8)
    a = lamina.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    loss = F.cross_entropy(a, lamina.tensor(t))
    ref = TF.cross_entropy(b, torch.tensor(t))
    assert loss.dtype is lamina.float32
    assert_close(loss, ref, rtol=1e-6, atol=1e-5)
    loss.backward()
    ref.backward()
    assert a.grad.dtype is lamina.float32
    assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)
    t[::3] = -100
    w = rng.uniform(0.5, 2, 10).astype(np.float32)
    for red in REDUCTIONS:
        a = lamina.tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        kw = dict(reduction=red, label_smoothing=0.1)
        loss = F.cross_entropy(a, lamina.tensor(t), weight=lamina.tensor(w), **kw)
        ref = TF.cross_entropy(b, torch.tensor(t), weight=torch.tensor(w), **kw)
        loss.sum().backward()
        ref.sum().backward()
        assert loss.dtype is lamina.float32 and a.grad.dtype is lamina.float32
        assert_close(loss, ref, rtol=1e-5, atol=1e-5)
        assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-6)
    big = lamina.tensor(np.array([[1000.0, -1000.0, 0.0]]))
    assert_close(F.cross_entropy(big, lamina.tensor([1])), 2000.0)


def test_loss_buffers_load_torch_float32_state_dict(rng):
    x = rng.standard_normal((6, 4)).astype(np.float32)
    t = rng.integers(0, 4, 6)
    for cls, kw in [("CrossEntropyLoss", dict(label_smoothing=0.1)), ("NLLLoss", {})]:
        ref = getattr(torch.nn, cls)(weight=torch.rand(4), **kw)
        mod = getattr(nn, cls)(weight=lamina.ones(4), **kw)
        mod.load_state_dict({k: lamina.tensor(v.numpy()) for k, v in ref.state_dict().items()})
        a = lamina.tensor(x, requires_grad=True)
        out = mod(a, lamina.tensor(t))
        out.backward()
        assert out.dtype is lamina.float32 and a.grad.dtype is lamina.float32
        assert_close(out, ref(torch.tensor(x), torch.tensor(t)), rtol=1e-6, atol=1e-6)
    y = rng.uniform(0, 1, (6, 4)).astype(np.float32)
    ref = torch.nn.BCEWithLogitsLoss(weight=torch.rand(4), pos_weight=torch.rand(4) * 3)
    mod = nn.BCEWithLogitsLoss(weight=lamina.ones(4), pos_weight=lamina.ones(4))
    mod.load_state_dict({k: lamina.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    assert_close(mod(lamina.tensor(x), lamina.tensor(y)), ref(torch.tensor(x), torch.tensor(y)), rtol=1e-6,
                 atol=1e-6)


def test_cross_entropy_all_ignored_and_empty():
    x = lamina.zeros(2, 3, requires_grad=True)
    t = lamina.tensor([-100, -100])
    assert np.isnan(F.cross_entropy(x, t).item())
    assert F.cross_entropy(x, t, reduction="sum").item() == 0.0
    assert tuple(F.cross_entropy(lamina.zeros(0, 3), lamina.zeros(0, dtype=lamina.int64), reduction="none").shape) \
        == (0,)


def test_cross_entropy_errors():
    x = lamina.zeros(4, 5)
    with pytest.raises(ValueError, match=r"cross_entropy: expected target batch size \(3\) to match input batch size "
                                         r"\(4\); input shape \(4, 5\), target shape \(3,\)"):
        F.cross_entropy(x, lamina.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match=r"cross_entropy: target 7 is out of bounds for 5 classes"):
        F.cross_entropy(x, lamina.tensor([0, 7, 1, 2]))
    with pytest.raises(IndexError, match=r"target -3 is out of bounds"):
        F.cross_entropy(x, lamina.tensor([0, -3, 1, 2]))
    with pytest.raises(ValueError, match=r"cross_entropy: weight should be defined for all 5 classes"):
        F.cross_entropy(x, lamina.tensor([0, 1, 1, 2]), weight=lamina.ones(3))
    with pytest.raises(ValueError, match=r"expected target shape \(2, 3\) \(N, d1, ...\) for input shape \(2, 5, 3\)"):
        F.cross_entropy(lamina.zeros(2, 5, 3), lamina.zeros(2, 4, dtype=lamina.int64))
    with pytest.raises(ValueError, match="class probabilities and must have the input's shape"):
        F.cross_entropy(x, lamina.zeros(4, 3))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, lamina.tensor([0, 1, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,weight,ignore", [((6, 4), False, None), ((6, 4), True, -100), ((2, 4, 3), True, None),
                                                 ((4,), False, None), ((5, 3), False, 1)])
def test_nll_loss(rng, shape, weight, ignore, reduction):
    x, t = _ce_case(rng, shape, ignore=ignore)
    c = shape[1] if len(shape) > 1 else shape[0]
    wt = rng.uniform(0.5, 2.0, c) if weight else None
    kw = dict(reduction=reduction)
    if ignore is not None:
        kw["ignore_index"] = ignore
    lk = dict(weight=lamina.tensor(wt)) if weight else {}
    tk = dict(weight=torch.tensor(wt)) if weight else {}
    _compare(F.nll_loss, TF.nll_loss, [x, t], [True, False], kw, lk, tk)
    _compare(nn.NLLLoss(**kw, **lk), torch.nn.NLLLoss(**kw, **tk), [x, t], [True, False])


def test_nll_gradcheck_and_errors(rng):
    x = lamina.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = lamina.tensor([0, 3, 2])
    assert gradcheck(lambda a: F.nll_loss(a, t, weight=lamina.tensor([1.0, 2.0, 0.5, 1.0])), (x,))
    with pytest.raises(IndexError, match="nll_loss: target 4 is out of bounds for 4 classes"):
        F.nll_loss(x, lamina.tensor([0, 4, 1]))
    with pytest.raises(TypeError, match="nll_loss: target must hold class indices"):
        F.nll_loss(x, lamina.zeros(3))


# element-wise losses: (name, kwargs, input maker, target maker, target gets a gradient in torch)
def _normal(shape):
    return lambda rng: rng.standard_normal(shape)


def _prob(shape):
    return lambda rng: rng.uniform(0.05, 0.95, shape)


def _sign(shape):
    return lambda rng: rng.choice([-1.0, 1.0], shape)


def _log_prob(shape):
    return lambda rng: np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1]))


POINTWISE = [
    ("mse_loss", "MSELoss", {}, _normal((3, 4)), _normal((3, 4)), True),
    ("l1_loss", "L1Loss", {}, _normal((3, 4)), _normal((3, 4)), True),
    ("smooth_l1_loss", "SmoothL1Loss", {}, _normal((3, 4)), _normal((3, 4)), True),
    ("smooth_l1_loss", "SmoothL1Loss", {"beta": 0.5}, _normal((3, 4)), _normal((3, 4)), True),
    ("smooth_l1_loss", "SmoothL1Loss", {"beta": 0.0}, _normal((3, 4)), _normal((3, 4)), True),
    ("huber_loss", "HuberLoss", {}, _normal((3, 4)), _normal((3, 4)), True),
    ("huber_loss", "HuberLoss", {"delta": 0.3}, _normal((2, 3, 2)), _normal((2, 3, 2)), True),
    ("binary_cross_entropy", "BCELoss", {}, _prob((3, 4)), _prob((3, 4)), True),
    ("binary_cross_entropy_with_logits", "BCEWithLogitsLoss", {}, _normal((3, 4)), _prob((3, 4)), True),
    ("kl_div", "KLDivLoss", {}, _log_prob((3, 4)), lambda rng: rng.dirichlet(np.ones(4), 3), True),
    ("kl_div", "KLDivLoss", {"log_target": True}, _log_prob((3, 4)), _log_prob((3, 4)), True),
    ("soft_margin_loss", "SoftMarginLoss", {}, _normal((3, 4)), _sign((3, 4)), False),
    ("multilabel_soft_margin_loss", "MultiLabelSoftMarginLoss", {}, _normal((3, 4)),
     lambda rng: rng.integers(0, 2, (3, 4)).astype(float), True),
    ("hinge_embedding_loss", "HingeEmbeddingLoss", {}, _normal((3, 4)), _sign((3, 4)), False),
    ("hinge_embedding_loss", "HingeEmbeddingLoss", {"margin": 0.5}, _normal((5,)), _sign((5,)), False),
    ("poisson_nll_loss", "PoissonNLLLoss", {}, _normal((3, 4)), lambda rng: rng.poisson(2.0, (3, 4)) * 1.0, True),
    ("poisson_nll_loss", "PoissonNLLLoss", {"log_input": False, "full": True}, _prob((3, 4)),
     lambda rng: rng.poisson(2.0, (3, 4)) * 1.0, False),
    ("multi_margin_loss", "MultiMarginLoss", {}, _normal((4, 5)), lambda rng: rng.integers(0, 5, 4), False),
    ("multi_margin_loss", "MultiMarginLoss", {"p": 2, "margin": 0.7}, _normal((4, 5)),
     lambda rng: rng.integers(0, 5, 4), False),
]


POINTWISE_IDS = [f"{c[0]}{c[2] or ''}" for c in POINTWISE]


@pytest.mark.filterwarnings("ignore:.*divides the total loss by both the batch size")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fname,mname,kw,make_x,make_t,target_grad", POINTWISE, ids=POINTWISE_IDS)
def test_pointwise_losses(rng, fname, mname, kw, make_x, make_t, target_grad, reduction):
    x, t = make_x(rng), make_t(rng)
    kw = dict(kw, reduction=reduction)
    _compare(getattr(F, fname), getattr(TF, fname), [x, t], [True, target_grad], kw)
    mod, ref = getattr(nn, mname)(**kw), getattr(torch.nn, mname)(**kw)
    _compare(mod, ref, [x, t], [True, target_grad])
    assert repr(mod) == repr(ref)


@pytest.mark.filterwarnings("ignore:.*divides the total loss by both the batch size")
@pytest.mark.parametrize("fname,mname,kw,make_x,make_t,target_grad", POINTWISE, ids=POINTWISE_IDS)
def test_pointwise_gradcheck(rng, fname, mname, kw, make_x, make_t, target_grad):
    x = lamina.tensor(make_x(np.random.default_rng(1)), requires_grad=True)
    t_arr = make_t(np.random.default_rng(2))
    t = lamina.tensor(t_arr, requires_grad=target_grad and t_arr.dtype.kind == "f")
    if fname == "kl_div" and not kw.get("log_target"):
        t = lamina.tensor(t_arr)  # d/dy of y log y is fine, but keep the finite differences inside y > 0
    assert gradcheck(lambda a, b: getattr(F, fname)(a, b, **kw), (x, t), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_losses(rng, reduction):
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    w = rng.uniform(0.1, 2.0, (3, 4))
    for f in ("mse_loss", "l1_loss", "huber_loss"):
        _compare(lambda a, b, c, f=f: getattr(F, f)(a, b, weight=c, reduction=reduction),
                 lambda a, b, c, f=f: getattr(TF, f)(a, b, weight=c, reduction=reduction),
                 [x, t, w], [True, True, True])
    p, y = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    wb = rng.uniform(0.1, 2.0, (4,))
    _compare(lambda a, b: F.binary_cross_entropy(a, b, weight=lamina.tensor(wb), reduction=reduction),
             lambda a, b: TF.binary_cross_entropy(a, b, weight=torch.tensor(wb), reduction=reduction),
             [p, y], [True, False])
    pw = rng.uniform(0.5, 3.0, (4,))
    for kw_l, kw_t in [(dict(pos_weight=lamina.tensor(pw)), dict(pos_weight=torch.tensor(pw))),
                       (dict(weight=lamina.tensor(wb), pos_weight=lamina.tensor(pw)),
                        dict(weight=torch.tensor(wb), pos_weight=torch.tensor(pw)))]:
        _compare(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, [x, y], [True, True],
                 dict(reduction=reduction), kw_l, kw_t)
        mod = nn.BCEWithLogitsLoss(reduction=reduction, **kw_l)
        ref = torch.nn.BCEWithLogitsLoss(reduction=reduction, **kw_t)
        _compare(mod, ref, [x, y], [True, False])
        assert list(mod.state_dict()) == list(ref.state_dict())
    wm = rng.uniform(0.5, 2.0, 4)
    _compare(lambda a, b: F.multilabel_soft_margin_loss(a, b, weight=lamina.tensor(wm), reduction=reduction),
             lambda a, b: TF.multilabel_soft_margin_loss(a, b, weight=torch.tensor(wm), reduction=reduction),
             [x, (y > 0.5) * 1.0], [True, False])
    wc = rng.uniform(0.5, 2.0, 4)
    _compare(lambda a, b: F.multi_margin_loss(a, b, weight=lamina.tensor(wc), reduction=reduction),
             lambda a, b: TF.multi_margin_loss(a, b, weight=torch.tensor(wc), reduction=reduction),
             [x, rng.integers(0, 4, 3)], [True, False])


def test_kl_div_batchmean(rng):
    x, t = _log_prob((4, 5))(rng), rng.dirichlet(np.ones(5), 4)
    for log_target in (False, True):
        tt = np.log(t) if log_target else t
        _compare(F.kl_div, TF.kl_div, [x, tt], [True, True], dict(reduction="batchmean", log_target=log_target))
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(lamina.tensor(x), lamina.tensor(t))
    t0 = t.copy()
    t0[0, 0] = 0.0  # zero target probability contributes 0, not nan
    _compare(F.kl_div, TF.kl_div, [x, t0], [True, False], dict(reduction="sum"))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_and_cosine_embedding(rng, reduction, margin):
    a, b, y = rng.standard_normal(6), rng.standard_normal(6), rng.choice([-1.0, 1.0], 6)
    kw = dict(margin=margin, reduction=reduction)
    _compare(F.margin_ranking_loss, TF.margin_ranking_loss, [a, b, y], [True, True, False], kw)
    _compare(nn.MarginRankingLoss(**kw), torch.nn.MarginRankingLoss(**kw), [a, b, y], [True, True, False])
    x1, x2, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)), rng.choice([-1, 1], 5)
    _compare(F.cosine_embedding_loss, TF.cosine_embedding_loss, [x1, x2, t], [True, True, False], kw)
    _compare(nn.CosineEmbeddingLoss(**kw), torch.nn.CosineEmbeddingLoss(**kw), [x1, x2, t], [True, True, False])
    _compare(F.cosine_embedding_loss, TF.cosine_embedding_loss, [x1[0], x2[0], np.array(-1)], [True, True, False],
             kw)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("kw", [{}, {"margin": 0.5, "p": 1}, {"swap": True}, {"p": 3, "eps": 1e-3}])
def test_triplet_margin_loss(rng, reduction, kw):
    a, p, n = (rng.standard_normal((5, 4)) for _ in range(3))
    kw = dict(kw, reduction=reduction)
    _compare(F.triplet_margin_loss, TF.triplet_margin_loss, [a, p, n], [True, True, True], kw)
    _compare(nn.TripletMarginLoss(**kw), torch.nn.TripletMarginLoss(**kw), [a, p, n], [True, True, True])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("var_shape,full", [((4, 3), False), ((4,), True), ((4, 1), False)])
def test_gaussian_nll_loss(rng, reduction, var_shape, full):
    x, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    v = rng.uniform(0.1, 2.0, var_shape)
    v.reshape(-1)[0] = 1e-9  # below eps: clamped, gradient still flows as in PyTorch
    kw = dict(full=full, reduction=reduction)
    _compare(F.gaussian_nll_loss, TF.gaussian_nll_loss, [x, t, v], [True, True, True], kw)
    _compare(nn.GaussianNLLLoss(**kw), torch.nn.GaussianNLLLoss(**kw), [x, t, v], [True, True, True])
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative"):
        F.gaussian_nll_loss(lamina.tensor(x), lamina.tensor(t), lamina.tensor(-v))


def test_pointwise_float32(rng):
    x = rng.standard_normal((5, 3)).astype(np.float32)
    t = rng.uniform(0, 1, (5, 3)).astype(np.float32)
    for f in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy_with_logits",
              "soft_margin_loss"):
        a = lamina.tensor(x, requires_grad=True)
        out = getattr(F, f)(a, lamina.tensor(t))
        out.backward()
        assert out.dtype is lamina.float32 and a.grad.dtype is lamina.float32, f
        assert_close(out, getattr(TF, f)(torch.tensor(x), torch.tensor(t)), rtol=1e-6, atol=1e-6)


def test_loss_errors():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(lamina.tensor([0.5, 1.5]), lamina.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: expected target of the same size as the input, "
                                         r"got target shape \(3,\) and input shape \(3, 1\)"):
        F.binary_cross_entropy(lamina.full((3, 1), 0.5), lamina.zeros(3))
    with pytest.warns(UserWarning, match=r"mse_loss: using a target size \(3, 1\)"):
        F.mse_loss(lamina.zeros(3), lamina.zeros(3, 1))
    with pytest.raises(ValueError, match=r"mse_loss: shapes do not broadcast \(input shape \(3,\), "
                                         r"target shape \(4,\)"):
        F.mse_loss(lamina.zeros(3), lamina.zeros(4))
    with pytest.raises(ValueError, match="TripletMarginLoss: margin must be greater than 0"):
        nn.TripletMarginLoss(margin=0)
    with pytest.raises(ValueError, match=r"margin_ranking_loss: expected tensors of one shape"):
        F.margin_ranking_loss(lamina.zeros(3), lamina.zeros(3), lamina.zeros(4))
    with pytest.raises(IndexError, match="multi_margin_loss: target out of bounds for 3 classes"):
        F.multi_margin_loss(lamina.zeros(2, 3), lamina.tensor([0, 3]))


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
def test_legacy_reduction_flags(rng):
    x, t = rng.standard_normal(4), rng.standard_normal(4)
    for sa, red in [(None, False), (False, None), (True, True)]:
        assert nn.MSELoss(size_average=sa, reduce=red).reduction == torch.nn.MSELoss(size_average=sa,
                                                                                    reduce=red).reduction
    assert_close(F.mse_loss(lamina.tensor(x), lamina.tensor(t), reduce=False), (x - t) ** 2)
    with pytest.warns(UserWarning, match="please use reduction='sum' instead"):
        F.l1_loss(lamina.tensor(x), lamina.tensor(t), size_average=False)


def test_composite_losses_gradcheck(rng):
    def t(shape, grad=True):
        return lamina.tensor(rng.standard_normal(shape), requires_grad=grad)

    a, p, n = t((3, 4)), t((3, 4)), t((3, 4))
    assert gradcheck(lambda x, y, z: F.triplet_margin_loss(x, y, z, margin=2.0, swap=True), (a, p, n))
    y = lamina.tensor(np.array([1, -1, 1]))
    assert gradcheck(lambda x, z: F.cosine_embedding_loss(x, z, y, margin=-0.5), (a, p))
    v = lamina.tensor(rng.uniform(0.5, 2.0, (3, 4)), requires_grad=True)
    assert gradcheck(lambda x, z, w: F.gaussian_nll_loss(x, z, w, full=True), (a, p, v))
    assert gradcheck(lambda x, z: F.margin_ranking_loss(x, z, lamina.tensor([1.0, -1.0, 1.0]), margin=3.0),
                     (t(3), t(3)))
