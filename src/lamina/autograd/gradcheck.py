"""Check analytical gradients against central finite differences, in float64."""

import numpy as np


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0):
    """True when the backward of ``func`` matches finite differences for every input that requires grad.

    ``func`` maps the input tensors to a tensor or a tuple of tensors; the inputs that require grad must be
    float64 (as in PyTorch, lower precision makes finite differences meaningless).
    """
    from lamina.autograd import grad as autograd_grad
    from lamina.autograd.grad_mode import no_grad
    from lamina.tensor import Tensor

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    for i in diff:
        if inputs[i]._data.dtype != np.float64:
            msg = f"gradcheck: input {i} requires grad but is {inputs[i].dtype}; use float64 inputs"
            if raise_exception:
                raise ValueError(msg)
            return False

    def outputs():
        out = func(*inputs)
        return out if isinstance(out, (tuple, list)) else (out,)

    outs = [o for o in outputs() if isinstance(o, Tensor) and o.requires_grad]
    for k, out in enumerate(outs):
        n_out = out._data.size
        analytic = {i: np.zeros((n_out, inputs[i]._data.size)) for i in diff}
        for j in range(n_out):  # one backward per output element: the Jacobian row by row
            go = np.zeros(out._data.shape)
            go.reshape(-1)[j] = 1.0
            res = autograd_grad([outputs()[k]], [inputs[i] for i in diff], [Tensor._make(go, False, None, 0)],
                                allow_unused=True)
            for i, g in zip(diff, res):
                if g is not None:
                    analytic[i][j] = g._data.reshape(-1)
        for i in diff:
            if not (inputs[i]._data.flags.c_contiguous and inputs[i]._data.flags.writeable):  # perturbed in place
                inputs[i]._data = inputs[i]._data.copy()
            x = inputs[i]._data
            numeric = np.zeros((n_out, x.size))
            flat = x.reshape(-1)
            with no_grad():
                for p in range(x.size):  # finite differences perturb one coordinate at a time by definition
                    orig = flat[p]
                    flat[p] = orig + eps
                    plus = np.array(outputs()[k]._data, dtype=np.float64).reshape(-1)
                    flat[p] = orig - eps
                    minus = np.array(outputs()[k]._data, dtype=np.float64).reshape(-1)
                    flat[p] = orig
                    numeric[:, p] = (plus - minus) / (2 * eps)
            if not np.allclose(analytic[i], numeric, atol=atol, rtol=rtol):
                err = np.abs(analytic[i] - numeric).max()
                msg = (f"gradcheck: Jacobian mismatch for output {k} with respect to input {i} "
                       f"(max abs difference {err:.3g}).\nnumerical:\n{numeric}\nanalytical:\n{analytic[i]}")
                if raise_exception:
                    raise RuntimeError(msg)
                return False
    return True
