"""History: records epochs side by side, survives a state_dict round trip, draws learning curves and confusion
matrices as real image files."""

import math

import numpy as np
import pytest

from lamina.training import History, plot_confusion_matrix
from lamina.training.metrics import confusion_matrix


def _history():
    h = History()
    h.record(1, {"loss": 1.0, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": 0.4, "lr": 0.1})
    h.record(2, {"loss": 0.6, "accuracy": 0.7, "val_loss": 0.9, "val_accuracy": 0.6, "lr": 0.05})
    h.record(3, {"loss": 0.4, "accuracy": 0.8, "lr": 0.05})  # no validation this epoch
    return h


def test_record_keeps_lists_aligned():
    h = _history()
    assert h.epoch == [1, 2, 3]
    assert h.history["loss"] == [1.0, 0.6, 0.4]
    assert h.history["val_loss"][:2] == [1.2, 0.9] and math.isnan(h.history["val_loss"][2])
    h.record(4, {"loss": 0.3, "f1": 0.9})
    assert len(h.history["f1"]) == 4 and math.isnan(h.history["f1"][0]) and h.history["f1"][3] == 0.9
    assert all(len(v) == 4 for v in h.history.values())
    assert h["loss"][-1] == 0.3 and len(h) == 4


def test_state_dict_round_trip():
    h = _history()
    g = History()
    g.load_state_dict(h.state_dict())
    assert g.epoch == h.epoch
    assert list(g.history) == list(h.history)
    np.testing.assert_array_equal(np.array(g.history["val_loss"]), np.array(h.history["val_loss"]))


def _png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image as mpimg

    img = mpimg.imread(str(path))
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.01  # something is drawn
    return img


def test_plot_writes_png(tmp_path):
    h = _history()
    fig = h.plot(tmp_path / "sub" / "curves.png", title="run")
    _png(tmp_path / "sub" / "curves.png")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy", "lr"]  # lr changes, so it gets a panel
    loss_ax = fig.axes[0]
    labels = [line.get_label() for line in loss_ax.get_lines()]
    assert labels == ["train", "validation"]
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_ydata(), [1.0, 0.6, 0.4])
    fig = h.plot(metrics=["accuracy"])
    assert [ax.get_title() for ax in fig.axes] == ["accuracy"]
    with pytest.raises(ValueError, match="no values for"):
        h.plot(metrics=["f1"])
    with pytest.raises(ValueError, match="nothing recorded"):
        History().plot()


def test_confusion_matrix_plot(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 100)
    p = np.where(rng.random(100) < 0.8, y, rng.integers(0, 4, 100))
    cm = confusion_matrix(p, y, num_classes=4)
    fig = plot_confusion_matrix(cm, tmp_path / "cm.png", class_names=["a", "b", "c", "d"])
    _png(tmp_path / "cm.png")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == [str(v) for v in cm.ravel()]
    fig = plot_confusion_matrix(cm, normalize=True)
    assert fig.axes[0].texts[0].get_text() == f"{cm[0, 0] / cm[0].sum():.2f}"
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(np.zeros((2, 3)))
