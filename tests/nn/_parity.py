"""Layer parity helpers shared by the nn tests: a lamina layer and its torch twin, same weights, same results."""

import numpy as np

import lamina
from tests.conftest import assert_close, from_torch, pair, torch


def _tuple(out):
    return out if isinstance(out, tuple) else (out,)


def layer_parity(layer, ref, *arrays, rtol=1e-7, atol=1e-9, seed=1):
    """Load ref's weights into layer; outputs, input gradients and every parameter gradient agree.

    ``arrays`` are the forward inputs as NumPy arrays (float ones require grad); the outputs are reduced with
    fixed random weights before backward, so every output element's gradient path is exercised.
    """
    layer.load_state_dict(from_torch(ref.state_dict()))
    pairs = [pair(a) for a in arrays]
    outs = _tuple(layer(*[p[0] for p in pairs]))
    outs_ref = _tuple(ref(*[p[1] for p in pairs]))
    assert len(outs) == len(outs_ref)
    rng = np.random.default_rng(seed)
    loss = loss_ref = 0
    for i, (o, r) in enumerate(zip(outs, outs_ref)):
        assert_close(o, r, rtol=rtol, atol=atol, msg=f"output {i}")
        if r.requires_grad:
            w = rng.standard_normal(tuple(r.shape))
            loss = loss + (o * lamina.tensor(w)).sum()
            loss_ref = loss_ref + (r * torch.tensor(w)).sum()
    loss.backward()
    loss_ref.backward()
    for i, (a, t) in enumerate(pairs):
        if t.requires_grad:
            assert_close(a.grad, t.grad, rtol=rtol, atol=atol, msg=f"grad of input {i}")
    params, params_ref = dict(layer.named_parameters()), dict(ref.named_parameters())
    assert params.keys() == params_ref.keys()
    for name, p in params.items():
        assert_close(p.grad, params_ref[name].grad, rtol=rtol, atol=atol, msg=f"grad of {name}")
    return outs


def float32_parity(layer, ref, *arrays, rtol=1e-6, atol=1e-6):
    """A float32 state_dict exported from torch loads into a float32 lamina layer and reproduces the outputs."""
    layer.load_state_dict({k: lamina.tensor(v.numpy()) for k, v in ref.state_dict().items()})
    for k, v in layer.state_dict().items():
        # integer state (BatchNorm's num_batches_tracked) keeps its dtype; every float entry is float32
        assert v.dtype is lamina.float32 or not v.dtype.is_floating_point, k
    ins = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in arrays]
    outs = _tuple(layer(*[lamina.tensor(a) for a in ins]))
    with torch.no_grad():
        outs_ref = _tuple(ref(*[torch.tensor(a) for a in ins]))
    for o, r in zip(outs, outs_ref):
        assert o.dtype is lamina.float32
        assert_close(o, r, rtol=rtol, atol=atol)
