"""Scaled dot-product attention as one fused op with a hand-written backward (batched matmuls, no loop over heads).

    S = scale Q Kᵀ + M,   P = softmax(S) (last axis),   P' = P ⊙ D (dropout),   O = P' V

    dV = P'ᵀ dO,   dP' = dO Vᵀ (+ the gradient of the returned weights),   dP = dP' ⊙ D,
    dS = P ⊙ (dP - rowsum(dP ⊙ P)),   dQ = scale dS K,   dK = scale dSᵀ Q,   dM = dS (summed to M's shape)

``M`` is an additive float mask (-inf where a key must not be attended to), ``D`` the scaled dropout keep-mask.
The multi-head form splits the model dim into heads inside the op, from (N, L, E) or (L, N, E) layouts, and
merges them back, so multi-head attention is this one op between the projections.
"""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import quiet, unbroadcast


def _split(x, heads, batch_first):
    """(N, L, E) or (L, N, E) -> (N, H, L, E/H), a view."""
    if batch_first:
        n, seq, e = x.shape
        return x.reshape(n, seq, heads, e // heads).transpose(0, 2, 1, 3)
    seq, n, e = x.shape
    return x.reshape(seq, n, heads, e // heads).transpose(1, 2, 0, 3)


def _merge(x, batch_first):
    """(N, H, L, D) -> (N, L, H*D) or (L, N, H*D), contiguous."""
    n, h, seq, d = x.shape
    t = x.transpose(0, 2, 1, 3) if batch_first else x.transpose(2, 0, 1, 3)
    return t.reshape(t.shape[0], t.shape[1], h * d)


def softmax_keys(xp, s, safe):
    """softmax over axis -2 (the keys, in the transposed (..., S, L) scores), in place in ``s``.

    Columns with every entry -inf give zeros when ``safe`` (as PyTorch's scaled_dot_product_attention does) and
    NaN otherwise (as a plain softmax does).
    """
    m = s.max(axis=-2, keepdims=True)
    if safe:
        m[m == -xp.inf] = 0
    with quiet(xp):
        s -= m
        xp.exp(s, out=s)
        z = s.sum(axis=-2, keepdims=True)
        if safe:
            z[z == 0] = 1
        s /= z
    return s


class Attention(Function):
    """O = softmax(scale Q Kᵀ + M) ⊙ D @ V, optionally with the (dropped-out) attention weights as second output.

    Args of forward (after q, k, v, mask): ``dmask`` (dropout keep-mask scaled by 1/(1-p), or None), ``scale``,
    ``heads`` (None: q, k, v are (..., L, E) with broadcastable batch dims; an int: they are (N, L, E) or (L, N, E)
    per ``batch_first`` and split into that many heads inside), ``safe`` (fully masked rows give 0, not NaN) and
    ``weights`` (None, "all": (N, H, L, S), or "mean": averaged over heads).

    The scores are held transposed, (..., S, L): the softmax then reduces over a leading axis, which NumPy
    vectorises across the L queries (about 3x faster than reducing short contiguous rows); every product reads
    the transposes as BLAS flags, without copies.
    """

    @staticmethod
    def forward(ctx, q, k, v, mask, dmask, scale, heads, batch_first, safe, weights):
        xp = ctx.xp
        if heads is not None:
            q, k, v = (_split(t, heads, batch_first) for t in (q, k, v))
        st = xp.matmul(k, q.swapaxes(-1, -2))
        st *= scale
        if mask is not None:
            mt = mask.reshape((1,) * max(0, 2 - mask.ndim) + mask.shape).swapaxes(-1, -2)
            if xp.broadcast_shapes(st.shape, mt.shape) == st.shape:
                st += mt
            else:
                st = st + mt
        pt = softmax_keys(xp, st, safe)
        dt = None if dmask is None else xp.ascontiguousarray(dmask.swapaxes(-1, -2))
        pdt = pt if dt is None else pt * dt
        out = xp.matmul(pdt.swapaxes(-1, -2), v)
        ctx.save_for_backward(q, k, v, pt, dt)
        ctx.cfg = (scale, heads, batch_first, weights, None if mask is None else mask.shape)
        if heads is not None:
            out = _merge(out, batch_first)
        if weights is None:
            return out
        ctx.set_materialize_grads(False)  # unused weights (the common case) cost no zero-filled gradient
        w = pdt.swapaxes(-1, -2)
        return out, (w.mean(axis=1) if weights == "mean" else xp.ascontiguousarray(w))

    @staticmethod
    def backward(ctx, g, gw=None):
        q, k, v, pt, dt = ctx.saved_tensors
        scale, heads, batch_first, weights, mask_shape = ctx.cfg
        xp = ctx.xp
        need = ctx.needs_input_grad
        if g is None:
            g = xp.zeros(q.shape[:-1] + v.shape[-1:], dtype=v.dtype)
        elif heads is not None:
            g = _split(g, heads, batch_first)
        pdt = pt if dt is None else pt * dt
        dv = xp.matmul(pdt, g) if need[2] else None
        dpt = xp.matmul(v, g.swapaxes(-1, -2))  # dP'ᵀ
        if gw is not None:
            dpt += (gw[:, None] / heads if weights == "mean" else gw).swapaxes(-1, -2)
        if dt is not None:
            dpt *= dt
        # dSᵀ = Pᵀ (dPᵀ - colsum(dPᵀ Pᵀ)), in place in dpt
        t = dpt * pt
        dpt -= t.sum(axis=-2, keepdims=True)
        dpt *= pt
        dst = dpt
        dmask_grad = unbroadcast(dst.swapaxes(-1, -2), mask_shape) if need[3] else None
        dq = dk = None
        if need[0]:
            dq = xp.matmul(dst.swapaxes(-1, -2), k)
            dq *= scale
        if need[1]:
            dk = xp.matmul(dst, q)
            dk *= scale
        if heads is not None:
            dq, dk, dv = (None if t is None else _merge(t, batch_first) for t in (dq, dk, dv))
        else:
            dq, dk, dv = (None if t is None else unbroadcast(t, x.shape) for t, x in ((dq, q), (dk, k), (dv, v)))
        return dq, dk, dv, dmask_grad, None, None, None, None, None, None


class InProjection(Function):
    """(Q, K, V) = (q Wqᵀ + bq, k Wkᵀ + bk, v Wvᵀ + bv), the input projections of multi-head attention.

    The weight is packed (3E, in) (``w``) or three blocks (``wq``, ``wk``, ``wv``); the bias packed (3E,).
    ``groups`` lists (input position, first block, block count): inputs that are one tensor (self-attention,
    key is value) share one GEMM over their adjacent blocks of the packed weight. Backward per group:
    G = [dQ | dK | dV] of its blocks,  dx = G W_g,  dW_g = Gᵀ x,  db_g = column sums of G.
    """

    @staticmethod
    def forward(ctx, q, k, v, w, wq, wk, wv, b, groups):
        xs = (q, k, v)
        e = w.shape[0] // 3 if w is not None else wq.shape[0]
        weights = [w[i * e:(i + 1) * e] for i in range(3)] if w is not None else [wq, wk, wv]
        outs = [None, None, None]
        inputs = []
        for pos, first, count in groups:
            x = xs[pos]
            x2 = x.reshape(-1, x.shape[-1])
            wg = w[first * e:(first + count) * e] if w is not None else weights[first]
            y = x2 @ wg.T
            if b is not None:
                y += b[first * e:(first + count) * e]
            for j in range(count):
                outs[first + j] = y[:, j * e:(j + 1) * e].reshape(x.shape[:-1] + (e,))
            inputs.append(x2)
        ctx.save_for_backward(w, wq, wk, wv, *inputs)
        ctx.cfg = (groups, e, tuple(x.shape for x in xs), b is not None)
        return tuple(outs)

    @staticmethod
    def backward(ctx, gq, gk, gv):
        w, wq, wk, wv, *inputs = ctx.saved_tensors
        groups, e, shapes, has_bias = ctx.cfg
        xp = ctx.xp
        need = ctx.needs_input_grad
        grads = (gq, gk, gv)
        gx = [None, None, None]
        gw = xp.empty_like(w) if w is not None and need[3] else None
        gsep = [None, None, None]
        gb = xp.empty(3 * e, dtype=inputs[0].dtype) if has_bias and need[7] else None
        for (pos, first, count), x2 in zip(groups, inputs):
            gs = [grads[first + j].reshape(-1, e) for j in range(count)]
            g = gs[0] if count == 1 else xp.concatenate(gs, axis=1)
            rows = slice(first * e, (first + count) * e)
            wg = w[rows] if w is not None else (wq, wk, wv)[first]
            if need[pos]:
                gx[pos] = (g @ wg).reshape(shapes[pos])
            if gw is not None:
                gw[rows] = g.T @ x2
            elif w is None and need[4 + first]:
                gsep[first] = g.T @ x2
            if gb is not None:
                gb[rows] = g.sum(axis=0)
        return gx[0], gx[1], gx[2], gw, gsep[0], gsep[1], gsep[2], gb, None
