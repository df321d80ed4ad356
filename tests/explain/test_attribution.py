"""Attributions against Captum on the same weights (float64), integrated-gradients completeness, SmoothGrad,
chunking, errors, activation maximisation, feature maps and the attribution plots."""

import numpy as np
import pytest

import lamina
from lamina import explain, nn
from tests.conftest import assert_close, from_torch, torch

captum = pytest.importorskip("captum.attr")

F64 = lamina.float64


def _cnn_pair(act="relu"):
    """A small CNN in torch and in lamina with the same float64 weights (Conv2d/ReLU/MaxPool2d/Linear)."""
    torch.manual_seed(0)
    t_act, l_act = (torch.nn.ReLU, nn.ReLU) if act == "relu" else (torch.nn.Tanh, nn.Tanh)
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), t_act(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1), t_act(), torch.nn.Flatten(), torch.nn.Linear(6 * 4 * 4, 5)).double()
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, dtype=F64), l_act(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1, dtype=F64), l_act(), nn.Flatten(), nn.Linear(6 * 4 * 4, 5, dtype=F64))
    model.load_state_dict(from_torch(ref.state_dict()))
    return model, ref.eval()


@pytest.fixture(scope="module")
def pair_and_input():
    model, ref = _cnn_pair()
    x = np.random.default_rng(3).standard_normal((3, 2, 8, 8))
    return model, ref, x, [0, 3, 4]


def _ref_input(x):
    return torch.tensor(x, requires_grad=True)


def test_saliency_and_gradient_x_input_match_captum(pair_and_input):
    model, ref, x, t = pair_and_input
    assert_close(explain.saliency(model, x, t), captum.Saliency(ref).attribute(_ref_input(x), target=t),
                 rtol=1e-5, atol=1e-10)
    assert_close(explain.saliency(model, x, t, abs=False),
                 captum.Saliency(ref).attribute(_ref_input(x), target=t, abs=False), rtol=1e-5, atol=1e-10)
    assert_close(explain.gradient_x_input(model, x, t),
                 captum.InputXGradient(ref).attribute(_ref_input(x), target=t), rtol=1e-5, atol=1e-10)


@pytest.mark.parametrize("method,n_steps", [("gausslegendre", 50), ("gausslegendre", 7), ("riemann_trapezoid", 20),
                                            ("riemann_left", 10)])
def test_integrated_gradients_match_captum(pair_and_input, method, n_steps):
    model, ref, x, t = pair_and_input
    baseline = np.random.default_rng(4).standard_normal(x.shape) * 0.1
    attr, delta = explain.integrated_gradients(model, x, t, baselines=baseline, n_steps=n_steps, method=method,
                                               internal_batch_size=64, return_convergence_delta=True)
    want, want_delta = captum.IntegratedGradients(ref).attribute(
        _ref_input(x), baselines=torch.tensor(baseline), target=t, n_steps=n_steps, method=method,
        return_convergence_delta=True)
    assert_close(attr, want, rtol=1e-5, atol=1e-9)
    assert_close(delta, want_delta, rtol=1e-5, atol=1e-8)


def test_integrated_gradients_completeness_within_one_percent():
    model, ref = _cnn_pair(act="tanh")
    x = np.random.default_rng(5).standard_normal((4, 2, 8, 8))
    attr, delta = explain.integrated_gradients(model, x, target=2, n_steps=32, return_convergence_delta=True)
    err = explain.completeness(model, x, attr, target=2)
    with torch.no_grad():
        gap = (ref(torch.tensor(x)) - ref(torch.zeros(x.shape, dtype=torch.float64)))[:, 2].numpy()
    assert np.all(np.abs(gap) > 1e-3)  # a meaningful difference to explain
    np.testing.assert_allclose(attr.numpy().reshape(4, -1).sum(1), gap, rtol=1e-2)
    assert err.max() < 0.01
    np.testing.assert_allclose(np.abs(delta.numpy()) / np.abs(gap), err, rtol=1e-6)
    # too few steps on this curved path is visibly incomplete: the check can fail
    coarse = explain.integrated_gradients(model, x, target=2, n_steps=2, method="riemann_left")
    assert explain.completeness(model, x, coarse, target=2).max() > 0.01


@pytest.mark.parametrize("window,strides,baseline", [((1, 3, 3), 1, 0.0), ((2, 3, 3), (1, 2, 2), 0.5),
                                                     ((1, 4, 2), (1, 3, 1), 0.0)])
def test_occlusion_matches_captum(pair_and_input, window, strides, baseline):
    model, ref, x, t = pair_and_input
    got = explain.occlusion(model, x, t, sliding_window_shapes=window, strides=strides, baselines=baseline,
                            perturbations_per_eval=5)
    want = captum.Occlusion(ref).attribute(_ref_input(x), target=t, sliding_window_shapes=window, strides=strides,
                                           baselines=baseline)
    assert_close(got, want, rtol=1e-5, atol=1e-9)


def test_occlusion_short_window_covers_all_channels(pair_and_input):
    model, _, x, t = pair_and_input
    assert_close(explain.occlusion(model, x, t, (3, 3)), explain.occlusion(model, x, t, (2, 3, 3)))


@pytest.mark.parametrize("layer,relu", [(3, True), (3, False), (0, True)])
def test_grad_cam_matches_captum(pair_and_input, layer, relu):
    model, ref, x, t = pair_and_input
    cam = captum.LayerGradCam(ref, ref[layer])
    want = cam.attribute(_ref_input(x), target=t, relu_attributions=relu)
    got = explain.grad_cam(model, x, t, layer=str(layer), relu=relu, upsample=False)
    assert_close(got, want, rtol=1e-5, atol=1e-10)
    up = explain.grad_cam(model, x, t, layer=model[layer], relu=relu)
    assert_close(up, captum.LayerAttribution.interpolate(want, (8, 8)), rtol=1e-5, atol=1e-10)
    bilinear = explain.grad_cam(model, x, t, layer=str(layer), relu=relu, interpolate_mode="bilinear")
    assert_close(bilinear, captum.LayerAttribution.interpolate(want, (8, 8), "bilinear"), rtol=1e-5, atol=1e-10)


def test_grad_cam_defaults_to_last_conv(pair_and_input):
    model, _, x, t = pair_and_input
    assert_close(explain.grad_cam(model, x, t), explain.grad_cam(model, x, t, layer="3"))


def test_default_target_is_predicted_class_and_chunks_agree(pair_and_input):
    model, ref, x, _ = pair_and_input
    with torch.no_grad():
        pred = ref(torch.tensor(x)).argmax(1).tolist()
    assert_close(explain.saliency(model, x), explain.saliency(model, x, pred))
    full = explain.integrated_gradients(model, x, pred, n_steps=9)
    assert_close(explain.integrated_gradients(model, x, n_steps=9, internal_batch_size=4), full, rtol=1e-12)
    assert_close(explain.saliency(model, lamina.tensor(x), np.array(pred)), explain.saliency(model, x, pred))


def test_smoothgrad_is_the_mean_saliency_of_noisy_copies(pair_and_input):
    model, _, x, t = pair_and_input
    got = explain.smoothgrad(model, x, t, n_samples=4, noise_level=0.2, abs=False,
                             generator=lamina.Generator().manual_seed(7), internal_batch_size=5)
    noise = lamina.randn(4, *x.shape, generator=lamina.Generator().manual_seed(7), dtype=F64).numpy()
    sigma = 0.2 * (x.reshape(3, -1).max(1) - x.reshape(3, -1).min(1))
    want = np.mean([explain.saliency(model, x + sigma[:, None, None, None] * n, t, abs=False).numpy()
                    for n in noise], axis=0)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-14)
    assert_close(explain.smoothgrad(model, x, t, n_samples=3, stdev=0.0), explain.saliency(model, x, t))
    assert not np.allclose(got.numpy(), explain.saliency(model, x, t, abs=False).numpy())


def test_bad_arguments_name_the_method(pair_and_input):
    model, _, x, _ = pair_and_input
    with pytest.raises(ValueError, match=r"saliency: target 7 is out of range for a model with 5 outputs"):
        explain.saliency(model, x, 7)
    with pytest.raises(ValueError, match=r"integrated_gradients: target must be one int or 3 indices"):
        explain.integrated_gradients(model, x, [1, 2])
    with pytest.raises(ValueError, match=r"saliency: expected a batch of inputs of shape \(N, \.\.\.\)"):
        explain.saliency(model, x[0, 0, 0], 1)
    with pytest.raises(ValueError, match=r"integrated_gradients: unknown method 'simpson'"):
        explain.integrated_gradients(model, x, 1, method="simpson")
    with pytest.raises(ValueError, match=r"occlusion: stride .* exceeds the window"):
        explain.occlusion(model, x, 1, (1, 2, 2), strides=3)
    with pytest.raises(ValueError, match=r"grad_cam: the model has no layer named 'conv9'"):
        explain.grad_cam(model, x, 1, layer="conv9")
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(128, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"grad_cam: the model has no Conv2d layer"):
        explain.grad_cam(mlp, x, 1)
    with pytest.raises(ValueError, match=r"integrated_gradients: baselines must be a number or of shape"):
        explain.integrated_gradients(model, x, 1, baselines=np.zeros((2, 2)))


def test_activation_maximization_finds_the_unit_direction():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 4, dtype=F64))
    img, value = explain.activation_maximization(model, model[1], 2, (1, 4, 4), steps=300, lr=0.05, l2=1.0)
    assert img.shape == (1, 1, 4, 4)
    w = model[1].weight.detach().numpy()[2]
    # w.x + b - l2 * mean(x**2) peaks at x = w * 16 / (2 * l2): the input points along the unit's weights
    np.testing.assert_allclose(img.numpy().ravel(), w * 8, rtol=0.05, atol=0.02)
    start = float(model(lamina.tensor(np.zeros((1, 1, 4, 4))))[0, 2].item())
    assert value > start + 1.0
    clipped, _ = explain.activation_maximization(model, "1", 0, (1, 4, 4), steps=20, value_range=(0.0, 1.0))
    assert clipped.numpy().min() >= 0 and clipped.numpy().max() <= 1


def test_feature_maps_and_plots(pair_and_input, tmp_path):
    model, ref, x, t = pair_and_input
    maps = explain.feature_maps(model, x)
    with torch.no_grad():
        assert_close(maps, ref[0](torch.tensor(x)))
    assert explain.feature_maps(model, x, "4").shape == (3, 6, 4, 4)
    explain.plot_feature_maps(maps[0], tmp_path / "maps.png")
    explain.plot_filters(model, tmp_path / "filters.png")
    attrs = {"saliency": explain.saliency(model, x, t), "integrated_gradients": explain.integrated_gradients(
        model, x, t, n_steps=8), "grad_cam": explain.grad_cam(model, x, t)}
    fig = explain.plot_attributions(x, attrs, tmp_path / "attr.png", labels=["a", "b", "c"], max_images=2)
    assert len(fig.axes) == 2 * 4
    for name in ("maps.png", "filters.png", "attr.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="plot_attributions: grad_cam has shape"):
        explain.plot_attributions(x, {"grad_cam": np.zeros((3, 1, 4, 4))})
