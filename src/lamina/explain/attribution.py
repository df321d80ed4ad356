"""Attribution methods: which input features a prediction depends on.

Every method takes a model, a batch of inputs (N, ...) and a ``target`` (class index: None for the predicted
class, an int, or one index per input), runs the model in eval mode and returns a Tensor of attributions with the
inputs' shape (Grad-CAM: (N, 1, H, W)). Methods that evaluate many perturbed copies of the inputs (the
integrated-gradients path, SmoothGrad's noisy samples, occlusion windows) stack them into one batch and run it in
chunks of ``internal_batch_size`` rows, so a whole attribution takes a few forward/backward passes.

The definitions follow Captum's (same defaults where Captum has them), so results agree with it on the same weights.
"""

import math

import numpy as np

from lamina.explain._common import (
    DEFAULT_CHUNK,
    as_baseline,
    as_input,
    eval_mode,
    find_layer,
    forward,
    resolve_targets,
    target_gradients,
    to_tensor,
)

__all__ = ["saliency", "smoothgrad", "gradient_x_input", "integrated_gradients", "grad_cam", "occlusion",
           "integration_points", "METHODS"]


def _prepare(model, inputs, target, who, chunk):
    x = as_input(model, inputs, who)
    if x.shape[0] == 0:
        raise ValueError(f"{who}: got an empty batch of inputs")
    probe = x if target is None else x[:1]  # a given target only needs the number of outputs checked
    return x, resolve_targets(target, forward(model, probe, chunk), who, n=x.shape[0])


def _chunk(internal_batch_size, who):
    if internal_batch_size is None:
        return DEFAULT_CHUNK
    if not isinstance(internal_batch_size, (int, np.integer)) or internal_batch_size < 1:
        raise ValueError(f"{who}: internal_batch_size must be a positive int, got {internal_batch_size!r}")
    return int(internal_batch_size)


def saliency(model, inputs, target=None, abs=True, internal_batch_size=None):  # noqa: A002 - Captum's name
    """Vanilla gradient saliency (Simonyan et al., 2014): |d y_target / d x|.

    Args:
        model: a ``lamina.nn.Module`` mapping (N, ...) to (N, classes).
        inputs: Tensor or array (N, ...).
        target: None (the predicted class), an int, or one class index per input.
        abs: return the absolute value of the gradient (Captum's default). Default: True.
        internal_batch_size: rows per forward/backward pass. Default: 256.

    Example:
        >>> explain.saliency(model, images, target=labels).shape
        (16, 1, 8, 8)
    """
    chunk = _chunk(internal_batch_size, "saliency")
    with eval_mode(model):
        x, targets = _prepare(model, inputs, target, "saliency", chunk)
        g, _ = target_gradients(model, x, targets, chunk)
    return to_tensor(np.abs(g) if abs else g)


def gradient_x_input(model, inputs, target=None, internal_batch_size=None):
    """Gradient times input (Shrikumar et al., 2016): x * d y_target / d x.

    Args: as ``saliency``.
    """
    chunk = _chunk(internal_batch_size, "gradient_x_input")
    with eval_mode(model):
        x, targets = _prepare(model, inputs, target, "gradient_x_input", chunk)
        g, _ = target_gradients(model, x, targets, chunk)
    return to_tensor(g * x)


def smoothgrad(model, inputs, target=None, n_samples=50, noise_level=0.15, stdev=None, abs=True,  # noqa: A002
               generator=None, internal_batch_size=None):
    """SmoothGrad (Smilkov et al., 2017): the saliency averaged over noisy copies of each input.

    Args:
        model, inputs, target: as ``saliency``.
        n_samples: noisy copies per input. Default: 50.
        noise_level: the noise's standard deviation as a fraction of each input's value range (max - min), the
            paper's 10-20 %. Default: 0.15.
        stdev: an absolute standard deviation instead of ``noise_level`` (Captum's ``stdevs``).
        abs: average |gradient| (Captum's NoiseTunnel over Saliency) instead of the signed gradient. Default: True.
        generator: a ``lamina.Generator`` for reproducible noise.
        internal_batch_size: rows per forward/backward pass. Default: 256.
    """
    from lamina.creation import randn

    if not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"smoothgrad: n_samples must be a positive int, got {n_samples!r}")
    if stdev is None and not noise_level >= 0 or stdev is not None and not stdev >= 0:
        raise ValueError(f"smoothgrad: the noise must be >= 0, got noise_level={noise_level}, stdev={stdev}")
    chunk = _chunk(internal_batch_size, "smoothgrad")
    with eval_mode(model):
        x, targets = _prepare(model, inputs, target, "smoothgrad", chunk)
        n = x.shape[0]
        if stdev is None:
            flat = x.reshape(n, -1)
            sigma = (noise_level * (flat.max(axis=1) - flat.min(axis=1))).astype(x.dtype)
            sigma = sigma.reshape((1, n) + (1,) * (x.ndim - 1))
        else:
            sigma = x.dtype.type(stdev)
        noise = randn(n_samples, *x.shape, generator=generator, dtype=_lamina_dtype(x.dtype))._data
        noisy = (x[None] + sigma * noise).reshape((n_samples * n,) + x.shape[1:])
        g, _ = target_gradients(model, noisy, np.tile(targets, n_samples), chunk)
    g = g.reshape((n_samples,) + x.shape)
    return to_tensor((np.abs(g) if abs else g).mean(axis=0))


def _lamina_dtype(np_dtype):
    import lamina

    return lamina.float64 if np_dtype == np.float64 else lamina.float32


_RIEMANN = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid")


def integration_points(n_steps, method="gausslegendre"):
    """The path points alpha in [0, 1] and their weights for integrated gradients (Captum's rules).

    ``"gausslegendre"`` (Gauss-Legendre quadrature, exact for polynomials of degree < 2 n_steps) or
    ``"riemann_left"``, ``"riemann_right"``, ``"riemann_middle"``, ``"riemann_trapezoid"``.
    Returns (alphas, step_sizes) as float64 arrays.
    """
    if not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise ValueError(f"integrated_gradients: n_steps must be a positive int, got {n_steps!r}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(int(n_steps))
        return 0.5 * (1 + nodes), 0.5 * weights
    if method not in _RIEMANN:
        raise ValueError(f"integrated_gradients: unknown method {method!r}; expected 'gausslegendre' or one of "
                         f"{', '.join(_RIEMANN)}")
    if n_steps < 2:
        raise ValueError(f"integrated_gradients: Riemann methods need n_steps >= 2, got {n_steps}")
    n = int(n_steps)
    steps = np.full(n, 1.0 / n)
    if method == "riemann_trapezoid":
        steps[0] /= 2
        steps[-1] /= 2
        alphas = np.linspace(0, 1, n)
    elif method == "riemann_left":
        alphas = np.linspace(0, 1 - 1 / n, n)
    elif method == "riemann_middle":
        alphas = np.linspace(1 / (2 * n), 1 - 1 / (2 * n), n)
    else:
        alphas = np.linspace(1 / n, 1, n)
    return alphas, steps


def integrated_gradients(model, inputs, target=None, baselines=None, n_steps=50, method="gausslegendre",
                         internal_batch_size=None, return_convergence_delta=False):
    """Integrated gradients (Sundararajan et al., 2017): (x - x') * integral_0^1 grad f(x' + a (x - x')) da.

    The integral is a quadrature over ``n_steps`` points of the straight path from the baseline x' to x; all
    points of all inputs go through the model as one stacked batch (in chunks of ``internal_batch_size`` rows).

    Completeness: the attributions of each input sum to f(x) - f(x'); ``return_convergence_delta=True`` also
    returns delta = sum(attributions) - (f(x) - f(x')) per input, as Captum does (``completeness`` turns it into
    a relative error).

    Args:
        model, inputs, target: as ``saliency``.
        baselines: x', a number or an array of the inputs' shape (or one input's). Default: 0 (a black image).
        n_steps: quadrature points. Default: 50.
        method: ``"gausslegendre"`` (Captum's default) or a Riemann rule (see ``integration_points``).
        internal_batch_size: rows per forward/backward pass. Default: 256.
        return_convergence_delta: also return the completeness error per input.

    Example:
        >>> attr, delta = explain.integrated_gradients(model, images, target=labels, return_convergence_delta=True)
    """
    alphas, steps = integration_points(n_steps, method)
    chunk = _chunk(internal_batch_size, "integrated_gradients")
    with eval_mode(model):
        x, targets = _prepare(model, inputs, target, "integrated_gradients", chunk)
        b = as_baseline(baselines, x, "integrated_gradients")
        diff = x - b
        a = alphas.astype(x.dtype).reshape((-1,) + (1,) * x.ndim)
        path = (b + a * diff).reshape((len(alphas) * x.shape[0],) + x.shape[1:])  # step-major, as Captum
        g, _ = target_gradients(model, path, np.tile(targets, len(alphas)), chunk)
        g = g.reshape((len(alphas),) + x.shape)
        total = np.tensordot(steps.astype(x.dtype), g, axes=(0, 0))
        attributions = total * diff
        if not return_convergence_delta:
            return to_tensor(attributions)
        ends = forward(model, np.concatenate([x, np.broadcast_to(b, x.shape)]), chunk)
    sel = _pick(ends, np.tile(targets, 2))
    n = x.shape[0]
    delta = attributions.reshape(n, -1).sum(axis=1) - (sel[:n] - sel[n:])
    return to_tensor(attributions), to_tensor(delta)


def completeness(model, inputs, attributions, target=None, baselines=None):
    """How well attributions satisfy completeness: |sum(attr) - (f(x) - f(x'))| / |f(x) - f(x')| per input.

    Integrated gradients should give < 0.01 (1 %) with enough steps. Returns a float64 array (N,)."""
    with eval_mode(model):
        x, targets = _prepare(model, inputs, target, "completeness", DEFAULT_CHUNK)
        b = as_baseline(baselines, x, "completeness")
        ends = forward(model, np.concatenate([x, np.broadcast_to(b, x.shape)]))
    sel = _pick(ends, np.tile(targets, 2)).astype(np.float64)
    n = x.shape[0]
    attr = attributions._data if hasattr(attributions, "_data") else np.asarray(attributions)
    gap = sel[:n] - sel[n:]
    err = np.abs(attr.reshape(n, -1).sum(axis=1, dtype=np.float64) - gap)
    return err / np.maximum(np.abs(gap), np.finfo(np.float64).tiny)


def _pick(outputs, targets):
    if outputs.ndim == 1:
        return outputs
    if outputs.shape[1] == 1:
        return outputs[:, 0]
    return outputs[np.arange(outputs.shape[0]), targets]


def grad_cam(model, inputs, target=None, layer=None, relu=True, upsample=True, interpolate_mode="nearest",
             internal_batch_size=None):
    """Grad-CAM (Selvaraju et al., 2017): a class-discriminative map from a convolutional layer.

    The layer's feature maps A_k are weighted by the spatial mean of d y_target / d A_k and summed over channels;
    ``relu`` keeps the positive evidence. The map is upsampled to the input's size with
    ``lamina.nn.functional.interpolate`` (Captum's ``LayerGradCam`` + ``LayerAttribution.interpolate``).

    Args:
        model, inputs, target: as ``saliency``.
        layer: the layer (a Module or its qualified name, e.g. ``"features.3"``). Default: the last ``Conv2d``.
        relu: apply ReLU to the map. Default: True.
        upsample: resize the map to the input's spatial size. Default: True.
        interpolate_mode: ``"nearest"`` (Captum's default) or ``"bilinear"``.
        internal_batch_size: rows per forward/backward pass. Default: 256.

    Shape:
        inputs (N, C, H, W) -> (N, 1, H, W) (or the layer's (N, 1, h, w) without ``upsample``)
    """
    from lamina.nn.modules.conv import Conv2d

    chunk = _chunk(internal_batch_size, "grad_cam")
    layer = find_layer(model, layer, "grad_cam", kind=Conv2d)
    with eval_mode(model):
        x, targets = _prepare(model, inputs, target, "grad_cam", chunk)
        _, _, acts, act_grads = target_gradients(model, x, targets, chunk, layer=layer)
    if acts.ndim < 3:
        raise ValueError(f"grad_cam: the layer must output feature maps (N, C, H, W), got shape {acts.shape}; "
                         f"choose a convolutional layer")
    weights = act_grads.mean(axis=tuple(range(2, act_grads.ndim)), keepdims=True)
    cam = (weights * acts).sum(axis=1, keepdims=True)
    if relu:
        cam = np.maximum(cam, 0)
    if upsample and cam.shape[2:] != x.shape[2:]:
        if x.ndim != cam.ndim:
            raise ValueError(f"grad_cam: cannot upsample a {cam.ndim - 2}-D map to inputs of shape {x.shape}")
        from lamina.autograd.grad_mode import no_grad
        from lamina.nn.functional import interpolate

        with no_grad():
            cam = interpolate(to_tensor(cam), size=tuple(x.shape[2:]), mode=interpolate_mode)._data
    return to_tensor(cam)


def _window_masks(shape, window, strides):
    """Occlusion windows as masks (K, *shape) of 0/1 in Captum's order and clipping (windows at the far edge
    are cut off by the border), built per axis and combined by broadcasting."""
    axes = []
    for size, w, s in zip(shape, window, strides):
        count = int(math.ceil((size - w) / s)) + 1
        starts = np.arange(count) * s
        idx = np.arange(size)
        axes.append((idx[None, :] >= starts[:, None]) & (idx[None, :] < starts[:, None] + w))  # (count, size)
    mask = np.ones((1,) * (2 * len(shape)), dtype=bool)
    d = len(shape)
    for i, m in enumerate(axes):
        view = [1] * (2 * d)
        view[i], view[d + i] = m.shape
        mask = mask & m.reshape(view)
    # axes 0..d-1: window index per axis (Captum varies the first axis fastest; the order does not change sums)
    return mask.reshape(-1, *shape)


def occlusion(model, inputs, target=None, sliding_window_shapes=(1, 3, 3), strides=1, baselines=0,
              perturbations_per_eval=None):
    """Occlusion sensitivity (Zeiler and Fergus, 2014): how much the target output drops when a window of the
    input is replaced by the baseline; each feature gets the mean drop over the windows that cover it.

    Args:
        model, inputs, target: as ``saliency``.
        sliding_window_shapes: the window over one input's shape (e.g. (1, 3, 3) for (1, H, W) images); a shorter
            tuple covers the leading axes whole, so (3, 3) is (C, 3, 3). Default: (1, 3, 3).
        strides: the window's step per axis (an int for all). Must not exceed the window. Default: 1.
        baselines: the value (or an array of one input's shape) that fills the window. Default: 0.
        perturbations_per_eval: occluded copies per forward pass. Default: as many as fit 256 rows.
    """
    who = "occlusion"
    with eval_mode(model):
        x, targets = _prepare(model, inputs, target, who, DEFAULT_CHUNK)
        shape = x.shape[1:]
        window = tuple(int(w) for w in (sliding_window_shapes if isinstance(sliding_window_shapes, (tuple, list))
                                        else (sliding_window_shapes,)))
        if len(window) > len(shape) or any(w < 1 for w in window):
            raise ValueError(f"{who}: sliding_window_shapes must be positive and fit one input of shape {shape}, "
                             f"got {window}")
        window = tuple(shape[:len(shape) - len(window)]) + window
        stride = (int(strides),) * len(shape) if isinstance(strides, (int, np.integer)) else tuple(strides)
        stride = tuple(shape[:len(shape) - len(stride)]) + tuple(int(s) for s in stride)
        if len(stride) != len(shape) or any(s < 1 for s in stride):
            raise ValueError(f"{who}: strides must be positive, one per window axis, got {strides}")
        for size, w, s in zip(shape, window, stride):
            if w > size:
                raise ValueError(f"{who}: window {window} exceeds the input shape {shape}")
            if s > w and size > w:
                raise ValueError(f"{who}: stride {stride} exceeds the window {window}; features would be skipped")
        b = as_baseline(baselines, x, who)
        masks = _window_masks(shape, window, stride)  # (K, *shape) bool
        k, n = masks.shape[0], x.shape[0]
        per = perturbations_per_eval or max(1, DEFAULT_CHUNK // max(n, 1))
        if not isinstance(per, (int, np.integer)) or per < 1:
            raise ValueError(f"{who}: perturbations_per_eval must be a positive int, got {per!r}")
        base_out = _pick(forward(model, x), targets)
        drops = np.empty((k, n), dtype=x.dtype)
        bb = np.broadcast_to(b, x.shape)
        for start in range(0, k, per):
            m = masks[start:start + per, None]  # (p, 1, *shape)
            occluded = np.where(m, bb[None], x[None]).reshape((-1,) + shape)
            out = forward(model, occluded)
            drops[start:start + per] = base_out[None] - _pick(out, np.tile(targets, m.shape[0])).reshape(-1, n)
    fmask = masks.reshape(k, -1).astype(x.dtype)
    total = drops.T @ fmask  # (N, features): each feature's summed drop over its windows
    attributions = (total / fmask.sum(axis=0)).reshape(x.shape)
    return to_tensor(attributions)


METHODS = {"saliency": saliency, "smoothgrad": smoothgrad, "gradient_x_input": gradient_x_input,
           "integrated_gradients": integrated_gradients, "grad_cam": grad_cam, "occlusion": occlusion}
