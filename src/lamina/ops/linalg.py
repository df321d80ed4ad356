"""Matrix multiplication with PyTorch's rules for 1-D, 2-D and batched (broadcast) operands."""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import unbroadcast


def check_matmul(a_shape, b_shape, op="matmul"):
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise RuntimeError(f"{op}: both arguments need at least 1 dimension, got shapes {a_shape} and {b_shape}")
    k_a = a_shape[-1]
    k_b = b_shape[0] if len(b_shape) == 1 else b_shape[-2]
    if k_a != k_b:
        raise RuntimeError(f"{op}: shapes {a_shape} and {b_shape} cannot be multiplied ({k_a} != {k_b})")
    ba, bb = a_shape[:-2], b_shape[:-2]
    n = max(len(ba), len(bb))
    pa, pb = (1,) * (n - len(ba)) + tuple(ba), (1,) * (n - len(bb)) + tuple(bb)
    for x, y in zip(pa, pb):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"{op}: batch dimensions of shapes {a_shape} and {b_shape} cannot be broadcast")


class Matmul(Function):
    """C = A @ B;  dA = dC @ Bᵀ,  dB = Aᵀ @ dC (1-D operands are promoted and the result squeezed)"""

    @staticmethod
    def forward(ctx, a, b):
        check_matmul(a.shape, b.shape)
        ctx.save_for_backward(a, b)
        return ctx.xp.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp = ctx.xp
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1 and b.ndim == 1:
            g = g.reshape(1, 1)
        elif a.ndim == 1:
            g = xp.expand_dims(g, -2)
        elif b.ndim == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = xp.matmul(g, xp.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and a2.ndim > 2:
                # (batch..., n, k) x (k, m): fold the batch into rows for one large GEMM
                k = a2.shape[-1]
                gb = xp.matmul(a2.reshape(-1, k).T, g.reshape(-1, g.shape[-1]))
            else:
                gb = unbroadcast(xp.matmul(xp.swapaxes(a2, -1, -2), g), b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb
