"""Softmax and log-softmax along one dimension: fused forward and backward, numerically stable."""

from lamina.autograd.function import ArrayFunction as Function


class Softmax(Function):
    """y = exp(x - max) / sum(exp(x - max));  dx = y * (dy - sum(dy * y))"""

    @staticmethod
    def forward(ctx, x, dim):
        xp = ctx.xp
        e = x - xp.max(x, axis=dim, keepdims=True) if x.size else x.copy()
        xp.exp(e, out=e)
        e /= xp.sum(e, axis=dim, keepdims=True)
        ctx.save_for_backward(e)
        ctx.dim = dim
        return e

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        gy = g * y
        gy -= y * ctx.xp.sum(gy, axis=ctx.dim, keepdims=True)
        return gy, None


class LogSoftmax(Function):
    """y = x - logsumexp(x);  dx = dy - exp(y) * sum(dy)"""

    @staticmethod
    def forward(ctx, x, dim):
        xp = ctx.xp
        if x.size == 0:
            out = x.copy()
        else:
            out = x - xp.max(x, axis=dim, keepdims=True)
            out -= xp.log(xp.sum(xp.exp(out), axis=dim, keepdims=True))
        ctx.save_for_backward(out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        xp = ctx.xp
        return g - xp.exp(y) * xp.sum(g, axis=ctx.dim, keepdims=True), None
