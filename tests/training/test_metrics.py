"""Metrics against scikit-learn's on the same arrays."""

import numpy as np
import pytest
import sklearn.metrics as skm

import lamina
from lamina.training import metrics as M


def _data(n=200, c=5, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n, c))
    y_true = rng.integers(0, c, n)
    scores[np.arange(n), y_true] += 1.0  # better than chance, not perfect
    return scores, y_true


def test_accuracy_on_scores_labels_tensors_and_binary_probabilities():
    scores, y = _data()
    expected = skm.accuracy_score(y, scores.argmax(1))
    assert M.accuracy(scores, y) == pytest.approx(expected, abs=0)
    assert M.accuracy(lamina.tensor(scores.astype(np.float32)), lamina.tensor(y)) == pytest.approx(expected, abs=0)
    assert M.accuracy(scores.argmax(1), y) == pytest.approx(expected, abs=0)
    assert M.accuracy(scores, y.astype(np.float32)) == pytest.approx(expected, abs=0)  # float labels are fine
    prob = np.random.default_rng(1).random(50)
    yb = (np.random.default_rng(2).random(50) < 0.5).astype(np.int64)
    assert M.accuracy(prob, yb) == skm.accuracy_score(yb, prob >= 0.5)
    assert M.accuracy(prob[:, None], yb) == skm.accuracy_score(yb, prob >= 0.5)


def test_accuracy_on_segmentation_layout():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((4, 3, 5, 6))  # (N, C, H, W) as PyTorch's cross_entropy takes them
    y = rng.integers(0, 3, (4, 5, 6))
    assert M.accuracy(scores, y) == skm.accuracy_score(y.ravel(), scores.argmax(1).ravel())


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_top_k_accuracy(k):
    scores, y = _data()
    assert M.top_k_accuracy(scores, y, k=k) == pytest.approx(skm.top_k_accuracy_score(y, scores, k=k, labels=range(5)))


def test_confusion_matrix():
    scores, y = _data()
    np.testing.assert_array_equal(M.confusion_matrix(scores, y), skm.confusion_matrix(y, scores.argmax(1)))
    np.testing.assert_array_equal(M.confusion_matrix(scores.argmax(1), y, num_classes=7),
                                  skm.confusion_matrix(y, scores.argmax(1), labels=range(7)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        M.confusion_matrix(np.array([0, 4]), np.array([0, 1]), num_classes=3)


@pytest.mark.parametrize("fn,ref", [(M.precision, skm.precision_score), (M.recall, skm.recall_score),
                                    (M.f1, skm.f1_score)])
@pytest.mark.parametrize("average", ["macro", "micro", "weighted", None])
def test_precision_recall_f1(fn, ref, average):
    scores, y = _data()
    pred = scores.argmax(1)
    pred[pred == 4] = 3  # class 4 is never predicted: exercises zero division
    got, want = fn(pred, y, average=average), ref(y, pred, average=average, zero_division=0)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # classes absent from both predictions and targets are left out of the average, as scikit-learn does
    y2, p2 = np.where(y == 2, 0, y), np.where(pred == 2, 0, pred)
    labels = None if average is not None else range(5)  # per-class arrays keep every class id 0..C-1
    np.testing.assert_allclose(fn(p2, y2, average=average),
                               ref(y2, p2, average=average, labels=labels, zero_division=0), rtol=1e-12)
    np.testing.assert_allclose(fn(p2, y2, average=average, num_classes=5),
                               ref(y2, p2, average=average, labels=range(5), zero_division=0), rtol=1e-12)


@pytest.mark.parametrize("fn,ref", [(M.precision, skm.precision_score), (M.recall, skm.recall_score),
                                    (M.f1, skm.f1_score)])
def test_binary_average(fn, ref):
    rng = np.random.default_rng(4)
    y, p = rng.integers(0, 2, 80), rng.random(80)
    assert fn(p, y, average="binary") == pytest.approx(ref(y, p >= 0.5))


def test_regression_metrics():
    rng = np.random.default_rng(5)
    y = rng.standard_normal(100)
    p = y + 0.3 * rng.standard_normal(100)
    assert M.mse(p, y) == pytest.approx(skm.mean_squared_error(y, p), rel=1e-12)
    assert M.mae(p, y) == pytest.approx(skm.mean_absolute_error(y, p), rel=1e-12)
    assert M.rmse(p, y) == pytest.approx(skm.root_mean_squared_error(y, p), rel=1e-12)
    assert M.r2(p, y) == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    assert M.r2(lamina.tensor(p[:, None]), lamina.tensor(y)) == pytest.approx(skm.r2_score(y, p), rel=1e-12)
    Y = rng.standard_normal((60, 3)) * [1, 5, 0.1]
    P = Y + rng.standard_normal((60, 3))
    assert M.r2(P, Y) == pytest.approx(skm.r2_score(Y, P), rel=1e-12)
    assert M.mse(P, Y) == pytest.approx(skm.mean_squared_error(Y, P), rel=1e-12)
    const = np.ones(5)
    assert M.r2(const, const) == skm.r2_score(const, const) == 1.0
    assert M.r2(const + 1, const) == skm.r2_score(const, const + 1) == 0.0


def test_get_metric_names():
    assert M.get_metric("acc")[0] == "accuracy"
    name, fn = M.get_metric("f1_weighted")
    scores, y = _data()
    assert name == "f1_weighted" and fn(scores, y) == pytest.approx(skm.f1_score(y, scores.argmax(1),
                                                                                average="weighted"))
    name, fn = M.get_metric("top3_accuracy")
    assert fn(scores, y) == pytest.approx(skm.top_k_accuracy_score(y, scores, k=3))
    with pytest.raises(ValueError, match="unknown metric 'bogus'"):
        M.get_metric("bogus")
    with pytest.raises(ValueError, match="needs a name"):
        M.get_metric(lambda p, t: 0.0)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"accuracy: scores of shape \(4, 3\) do not match targets of shape \(5,\)"):
        M.accuracy(np.zeros((4, 3)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="integer class labels"):
        M.accuracy(np.zeros((2, 3)), np.array([0.5, 1.0]))
