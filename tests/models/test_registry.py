"""The model registry and the mlp/cnn builders: shapes, options, errors."""

import pytest

import lamina
from lamina import nn
from lamina.models import CNN, MLP, get_model, list_models, register_model, registry


def test_registry():
    assert {"mlp", "cnn"} <= set(list_models())
    with pytest.raises(ValueError, match="unknown model 'nope'; available: .*cnn.*mlp"):
        get_model("nope")

    @register_model("_test_tiny")
    def tiny(input_shape=(1, 8, 8), num_classes=10):
        return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    try:
        assert "_test_tiny" in list_models()
        assert get_model("_test_tiny", num_classes=3)(lamina.randn(2, 1, 8, 8)).shape == (2, 3)
        with pytest.raises(ValueError, match="already registered"):
            register_model("_test_tiny", lambda: None)
    finally:
        registry._REGISTRY.pop("_test_tiny")
    with pytest.raises(TypeError, match="unexpected keyword"):
        get_model("mlp", bogus=1)


def test_mlp_options():
    m = get_model("mlp", input_shape=(1, 8, 8), num_classes=10, depth=3, width=32, activation="tanh", dropout=0.1,
                  batchnorm=True)
    assert isinstance(m, MLP)
    kinds = [type(x).__name__ for x in m.layers]
    assert kinds == ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 3 + ["Linear"]
    assert m(lamina.randn(5, 1, 8, 8)).shape == (5, 10)
    assert m(lamina.randn(5, 64)).shape == (5, 10)
    m = get_model("mlp", input_shape=(4,), num_classes=2, hidden=[7, 5])
    assert [x.out_features for x in m.layers if isinstance(x, nn.Linear)] == [7, 5, 2]
    with pytest.raises(ValueError, match=r"MLP: expected input of shape \(N, \.\.\.\) with 4 features"):
        m(lamina.randn(3, 5))
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        get_model("mlp", activation="swishy")


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 5, 5)])
def test_cnn_sizes_itself_from_the_input(shape):
    m = get_model("cnn", input_shape=shape, num_classes=7, channels=(4, 8))
    assert isinstance(m, CNN)
    assert m(lamina.randn(2, *shape)).shape == (2, 7)
    assert any(isinstance(x, nn.BatchNorm2d) for x in m.features)
    with pytest.raises(ValueError, match=r"CNN: expected input of shape \(N, "):
        m(lamina.randn(2, shape[0], shape[1] + 1, shape[2]))


def test_cnn_learns_backward():
    m = get_model("cnn", channels=(4,), hidden=8)
    out = m(lamina.randn(3, 1, 8, 8))
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
