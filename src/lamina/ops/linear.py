"""Fully connected layers as single fused ops: ``y = x Wᵀ + b`` and the bilinear form ``y = x1ᵀ W x2 + b``."""

import math

from lamina.autograd.function import ArrayFunction as Function


class Linear(Function):
    """y = x Wᵀ + b over any leading dims of x (folded into rows, so every product is one GEMM).

    dx = dy W,  dW = dyᵀ x (one GEMM over the flattened batch),  db = sum of dy over the rows.
    """

    @staticmethod
    def forward(ctx, x, w, b):
        out_f, in_f = w.shape
        x2 = x if x.ndim == 2 else x.reshape(math.prod(x.shape[:-1]), in_f)
        y = x2 @ w.T
        if b is not None:
            y += b
        ctx.save_for_backward(x2, w)
        ctx.x_shape = x.shape
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (out_f,))

    @staticmethod
    def backward(ctx, g):
        x2, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = g if g.ndim == 2 else g.reshape(x2.shape[0], w.shape[0])
        gx = gw = gb = None
        if need[0]:
            gx = g2 @ w
            if len(ctx.x_shape) != 2:
                gx = gx.reshape(ctx.x_shape)
        if need[1]:
            gw = g2.T @ x2
        if need[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


class Bilinear(Function):
    """y[n, k] = sum_ij x1[n, i] W[k, i, j] x2[n, j] + b[k], over any leading dims (folded into n).

    With T[n, k, j] = sum_i x1[n, i] W[k, i, j] (one GEMM):  y = sum_j T x2,  dx2 = sum_k dy T,
    dx1 = (dy ⊗ x2) W,  dW = x1ᵀ (dy ⊗ x2), where (dy ⊗ x2)[n, (k, j)] = dy[n, k] x2[n, j].
    """

    @staticmethod
    def forward(ctx, x1, x2, w, b):
        xp = ctx.xp
        out_f, in1, in2 = w.shape
        lead = x1.shape[:-1]
        n = math.prod(lead)
        a = x1.reshape(n, in1)
        c = x2.reshape(n, in2)
        wr = xp.ascontiguousarray(w.transpose(1, 0, 2)).reshape(in1, out_f * in2)  # (i, (k, j))
        t = (a @ wr).reshape(n, out_f, in2)
        y = xp.matmul(t, c[:, :, None])[:, :, 0]
        if b is not None:
            y += b
        ctx.save_for_backward(a, c, wr, t)
        ctx.shapes = (x1.shape, x2.shape, w.shape)
        return y.reshape(lead + (out_f,))

    @staticmethod
    def backward(ctx, g):
        a, c, wr, t = ctx.saved_tensors
        xp = ctx.xp
        need = ctx.needs_input_grad
        s1, s2, sw = ctx.shapes
        out_f, in1, in2 = sw
        g2 = g.reshape(a.shape[0], out_f)
        gx1 = gx2 = gw = gb = None
        if need[0] or need[2]:
            outer = (g2[:, :, None] * c[:, None, :]).reshape(a.shape[0], out_f * in2)
            if need[0]:
                gx1 = (outer @ wr.T).reshape(s1)
            if need[2]:
                gw = (a.T @ outer).reshape(in1, out_f, in2).transpose(1, 0, 2)
                gw = xp.ascontiguousarray(gw)
        if need[1]:
            gx2 = xp.matmul(g2[:, None, :], t)[:, 0, :].reshape(s2)
        if need[3]:
            gb = g2.sum(axis=0)
        return gx1, gx2, gw, gb
