"""Distance layers (CosineSimilarity, PairwiseDistance) and the distance-based losses (TripletMarginWithDistanceLoss,
MultiLabelMarginLoss, BCEWithLogitsLoss with pos_weight) against PyTorch in float64, gradchecks, errors."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from tests.conftest import assert_close, pair, torch
from tests.nn._parity import layer_parity


@pytest.mark.parametrize("dim,eps,s1,s2", [(1, 1e-8, (4, 3), (4, 3)), (-1, 1e-8, (2, 3, 5), (3, 5)),
                                           (0, 0.5, (3, 2), (3, 1)), (1, 1e-8, (2, 4, 3), (2, 4, 3))])
def test_cosine_similarity_matches_torch(dim, eps, s1, s2, rng):
    layer, ref = nn.CosineSimilarity(dim, eps), torch.nn.CosineSimilarity(dim, eps)
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(s1), rng.standard_normal(s2))


def test_cosine_similarity_clamped_norm_matches_torch():
    # a near-zero vector: PyTorch clamps each norm at eps and differentiates the norm unclamped
    a = np.array([[1e-5, 0.0], [1.0, 2.0]])
    b = np.array([[1.0, 1.0], [3e-9, 1e-9]])
    (x, xt), (y, yt) = pair(a), pair(b)
    out, ref = F.cosine_similarity(x, y, eps=1e-3), torch.nn.functional.cosine_similarity(xt, yt, eps=1e-3)
    assert_close(out, ref)
    out.sum().backward()
    ref.sum().backward()
    assert_close(x.grad, xt.grad, rtol=1e-9)
    assert_close(y.grad, yt.grad, rtol=1e-9)


@pytest.mark.parametrize("p,eps,keepdim,s1,s2", [(2.0, 1e-6, False, (4, 3), (4, 3)), (1.0, 0.0, True, (4, 3), (3,)),
                                                 (3.0, 1e-6, False, (2, 3, 4), (2, 3, 4)),
                                                 (float("inf"), 1e-6, False, (5,), (5,))])
def test_pairwise_distance_matches_torch(p, eps, keepdim, s1, s2, rng):
    layer, ref = nn.PairwiseDistance(p, eps, keepdim), torch.nn.PairwiseDistance(p, eps, keepdim)
    assert repr(layer) == repr(ref)
    layer_parity(layer, ref, rng.standard_normal(s1), rng.standard_normal(s2))


def test_distance_gradcheck(rng):
    a = lamina.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = lamina.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert lamina.autograd.gradcheck(lambda u, v: F.cosine_similarity(u, v), [a, b], eps=1e-6, atol=1e-5)
    assert lamina.autograd.gradcheck(lambda u, v: F.pairwise_distance(u, v, p=3), [a, b], eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("kw", [{}, {"margin": 0.5, "swap": True}, {"reduction": "sum"}, {"reduction": "none"},
                                {"distance_function": "cos"}])
def test_triplet_margin_with_distance_loss_matches_torch(kw, rng):
    kw_l, kw_t = dict(kw), dict(kw)
    if kw.get("distance_function") == "cos":
        kw_l["distance_function"] = lambda u, v: 1 - F.cosine_similarity(u, v)
        kw_t["distance_function"] = lambda u, v: 1 - torch.nn.functional.cosine_similarity(u, v)
    layer, ref = nn.TripletMarginWithDistanceLoss(**kw_l), torch.nn.TripletMarginWithDistanceLoss(**kw_t)
    arrays = [rng.standard_normal((5, 3)) for _ in range(3)]
    layer_parity(layer, ref, *arrays)
    pairs = [pair(a) for a in arrays]
    out = F.triplet_margin_with_distance_loss(*[p[0] for p in pairs], **kw_l)
    assert_close(out, torch.nn.functional.triplet_margin_with_distance_loss(*[p[1] for p in pairs], **kw_t))


MLM_TARGETS = [np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]]), np.array([[0, 1, 2, 3], [2, 2, -1, 0],
                                                                                 [1, -1, 2, 3]])]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("target", MLM_TARGETS)
def test_multilabel_margin_loss_matches_torch(reduction, target, rng):
    layer, ref = nn.MultiLabelMarginLoss(reduction=reduction), torch.nn.MultiLabelMarginLoss(reduction=reduction)
    x = rng.standard_normal((3, 4)) * 0.6
    layer_parity(layer, ref, x, target)
    layer_parity(layer, ref, x[1], target[1])


def test_multilabel_margin_loss_gradcheck_and_example(rng):
    x = lamina.tensor(rng.standard_normal((3, 4)) * 0.6, requires_grad=True)
    t = lamina.tensor(MLM_TARGETS[0])
    assert lamina.autograd.gradcheck(lambda u: F.multilabel_margin_loss(u, t), [x], eps=1e-6, atol=1e-5)
    loss = nn.MultiLabelMarginLoss()(lamina.tensor([[0.1, 0.2, 0.4, 0.8]]), lamina.tensor([[3, 0, -1, 1]]))
    assert loss.item() == pytest.approx(0.85)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bce_with_logits_pos_weight_gradients_match_torch(reduction, rng):
    # pos_weight itself is not differentiable in PyTorch; input and target gradients must agree with it
    pw = torch.tensor(rng.random(3) + 0.5)
    layer = nn.BCEWithLogitsLoss(pos_weight=lamina.tensor(pw.numpy()), reduction=reduction)
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=pw, reduction=reduction)
    layer_parity(layer, ref, rng.standard_normal((4, 3)), rng.random((4, 3)))


def test_distance_and_loss_errors():
    with pytest.raises(RuntimeError, match=r"cosine_similarity: shapes \(2, 3\) \(x1\) and \(4,\) \(x2\)"):
        F.cosine_similarity(lamina.randn(2, 3), lamina.randn(4))
    with pytest.raises(RuntimeError, match=r"pairwise_distance: shapes \(2, 3\) \(x1\) and \(2, 2\)"):
        F.pairwise_distance(lamina.randn(2, 3), lamina.randn(2, 2))
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: margin must be greater than 0"):
        nn.TripletMarginWithDistanceLoss(margin=0)
    with pytest.raises(RuntimeError, match=r"same number of dimensions.*\(2, 3\).*\(3,\)"):
        F.triplet_margin_with_distance_loss(lamina.randn(2, 3), lamina.randn(2, 3), lamina.randn(3))
    with pytest.raises(RuntimeError, match=r"multilabel_margin_loss.*input \(2, 3\) and target \(2, 2\)"):
        F.multilabel_margin_loss(lamina.randn(2, 3), lamina.zeros(2, 2, dtype=lamina.int64))
    with pytest.raises(RuntimeError, match=r"multilabel_margin_loss: target values.*\[0, 2\].*\[-1, 5\]"):
        F.multilabel_margin_loss(lamina.randn(2, 3), lamina.tensor([[5, -1, 0], [0, 1, 2]]))
    with pytest.raises(RuntimeError, match="multilabel_margin_loss: expected an integer"):
        F.multilabel_margin_loss(lamina.randn(2, 3), lamina.zeros(2, 3))
