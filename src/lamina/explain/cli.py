"""``lamina explain CHECKPOINT INPUT --method integrated_gradients --out DIR``: attributions for a trained model.

Reads a checkpoint written by ``lamina train`` (the model is rebuilt from the configuration it records) and a
.npy file of images in any layout ``lamina predict`` takes; writes into DIR:

- ``attributions.npy``: the attributions, shape (N, C, H, W) ((N, 1, H, W) for Grad-CAM), float32;
- ``<method>.png``: each image with its attributions laid over it;
- ``explain.json``: per image the predicted class, its probability, the explained target and, for integrated
  gradients, the completeness error |sum(attributions) - (f(x) - f(baseline))| / |f(x) - f(baseline)|.
"""

import os

__all__ = ["add_command"]

METHOD_NAMES = ("saliency", "smoothgrad", "gradient_x_input", "integrated_gradients", "grad_cam", "occlusion")


def add_command(subparsers):
    """Add the ``explain`` subcommand to the ``lamina`` command's subparsers."""
    from lamina.cli import _existing_file, _int_at_least

    p = subparsers.add_parser(
        "explain", help="explain a checkpoint's predictions (saliency, integrated gradients, Grad-CAM...)",
        description="Attribute a trained model's predictions on images (a .npy file, as 'lamina predict' takes) to "
                    "their pixels; writes attributions.npy, <method>.png and explain.json into --out.")
    p.add_argument("checkpoint", type=_existing_file, help="a checkpoint written by 'lamina train'")
    p.add_argument("input", type=_existing_file, help="a .npy file of images")
    p.add_argument("--method", choices=METHOD_NAMES, default="integrated_gradients",
                   help="attribution method (default: integrated_gradients)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--target", type=_int_at_least(0), default=None,
                   help="class to explain (default: each image's predicted class)")
    p.add_argument("--layer", default=None, help="Grad-CAM layer, by its name in the model (default: the last "
                                                 "Conv2d)")
    p.add_argument("--steps", type=_int_at_least(2), default=50,
                   help="integrated gradients: quadrature points (default: 50)")
    p.add_argument("--samples", type=_int_at_least(1), default=50, help="smoothgrad: noisy samples (default: 50)")
    p.add_argument("--window", type=_int_at_least(1), default=3, help="occlusion: window size (default: 3)")
    p.add_argument("--stride", type=_int_at_least(1), default=1, help="occlusion: window stride (default: 1)")
    p.add_argument("--max-images", type=_int_at_least(1), default=8,
                   help="images shown in the picture (default: 8); all are attributed")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed for smoothgrad (default: 0)")
    p.set_defaults(func=_cmd_explain)
    return p


def _load(args):

    from lamina.cli import UsageError, _build_model, _checkpoint_and_images

    state, config, images = _checkpoint_and_images(args.checkpoint, args.input)
    if images.shape[0] == 0:
        raise UsageError(f"{args.input}: holds no images")
    model = _build_model(config)
    model.load_state_dict(state["model"])
    model.eval()
    return model, config, images


def _attribute(args, model, images, target):
    import lamina
    from lamina import explain
    from lamina.cli import UsageError

    method = args.method
    kwargs = {}
    if method == "integrated_gradients":
        kwargs = {"n_steps": args.steps, "return_convergence_delta": True}
    elif method == "smoothgrad":
        kwargs = {"n_samples": args.samples, "generator": lamina.Generator().manual_seed(args.seed)}
    elif method == "grad_cam":
        kwargs = {"layer": args.layer, "interpolate_mode": "bilinear"}
    elif method == "occlusion":
        if args.stride > args.window:
            raise UsageError(f"--stride {args.stride} must not exceed --window {args.window}")
        h, w = images.shape[-2:]
        if args.window > min(h, w):
            raise UsageError(f"--window {args.window} is larger than the images ({h}x{w})")
        kwargs = {"sliding_window_shapes": (args.window, args.window), "strides": args.stride}
    if args.layer is not None and method != "grad_cam":
        raise UsageError(f"--layer applies to --method grad_cam, not {method}")
    try:
        return explain.METHODS[method](model, images, target=target, **kwargs)
    except ValueError as e:
        raise UsageError(str(e)) from None


def _cmd_explain(args):
    import numpy as np

    from lamina import explain
    from lamina.cli import UsageError, _write_json
    from lamina.explain._common import forward

    model, config, images = _load(args)
    classes = config.get("classes") or [str(i) for i in range(config["num_classes"])]
    if args.target is not None and args.target >= config["num_classes"]:
        raise UsageError(f"--target {args.target} is out of range: the model has {config['num_classes']} classes "
                         f"(0 to {config['num_classes'] - 1})")
    logits = np.asarray(forward(model, images), dtype=np.float64)
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = z / z.sum(axis=1, keepdims=True)
    pred = probs.argmax(axis=1)
    target = pred if args.target is None else np.full(len(images), args.target, dtype=np.int64)

    result = _attribute(args, model, images, target)
    errors = None
    if isinstance(result, tuple):
        attributions, delta = result
        gap = logits[np.arange(len(images)), target] - np.asarray(forward(model, np.zeros_like(images)),
                                                                  dtype=np.float64)[np.arange(len(images)), target]
        errors = np.abs(np.asarray(delta._data, dtype=np.float64)) / np.maximum(np.abs(gap), 1e-12)
    else:
        attributions = result
    attr = np.asarray(attributions._data, dtype=np.float32)

    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "attributions.npy"), attr)
    labels = [f"{classes[p]} ({probs[i, p]:.2f})" for i, p in enumerate(pred)]
    picture = os.path.join(args.out, f"{args.method}.png")
    explain.plot_attributions(images, {args.method: attr}, picture, labels=labels, max_images=args.max_images,
                              title=f"{config['model']} on {config['dataset']}: {args.method.replace('_', ' ')}")
    rows = []
    for i in range(len(images)):
        row = {"index": i, "predicted": int(pred[i]), "label": classes[pred[i]],
               "probability": round(float(probs[i, pred[i]]), 6), "target": int(target[i])}
        if errors is not None:
            row["completeness_error"] = float(errors[i])
        rows.append(row)
        line = f"{i}\t{classes[pred[i]]}\t{probs[i, pred[i]]:.4f}\ttarget {classes[target[i]]}"
        print(line + (f"\tcompleteness error {100 * errors[i]:.3f}%" if errors is not None else ""))
    summary = {"checkpoint": args.checkpoint, "input": args.input, "method": args.method, "images": rows}
    if errors is not None:
        summary["max_completeness_error"] = float(errors.max())
        print(f"Integrated gradients completeness: attributions sum to f(x) - f(baseline) within "
              f"{100 * errors.max():.3f}% (worst image, {args.steps} steps)"
              + ("; above 1%: use more --steps" if errors.max() > 0.01 else ""))
    _write_json(os.path.join(args.out, "explain.json"), summary)
    print(f"Saved {args.method} attributions of {len(images)} image(s) to {args.out} "
          f"(attributions.npy, {args.method}.png, explain.json)")
    return 0
