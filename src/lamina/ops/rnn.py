"""Recurrent ops: a whole multi-layer RNN / LSTM / GRU (every layer, direction and time step) is ONE op.

Forward projects the input of a layer for all time steps with one GEMM (bias folded in as an extra ones
column), then loops over time steps on raw arrays: one GEMM per step for the recurrent term of all gates at
once, gate nonlinearities in place on preallocated buffers.  Backward is a hand-written BPTT loop (one GEMM
per step for the gradient flowing to the previous state); the weight gradients and the input gradient are
then one GEMM each over all time steps.

Two numerical tricks, both exact in floating point:
  * sigmoid(x) = 0.5 + 0.5 * tanh(x / 2): never overflows, and one ``tanh`` call covers every gate of a step.
    The 1/2 is folded into the rows of the weights that feed sigmoid gates, so a step runs one tanh over all
    gates.  With t = tanh(x / 2), d sigmoid / dx = (1 - t²) / 4 and d tanh / dx = 1 - t²: backward computes
    V = dL/dy * (1 - t²) for every gate at once and folds the 1/4 into the weights it multiplies V by.
  * LSTM gates are kept internally in the order (o, f, i, g) rather than PyTorch's (i, f, g, o): the three
    sigmoid gates are then one contiguous block.
"""

import math
import sys
import threading

import numpy as np

from lamina.autograd.function import ArrayFunction as Function

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNNReLU", "RNNReLUCell", "RNNTanh", "RNNTanhCell"]


class _ScratchPool:
    """Large scratch arrays reused once nothing views them any more.

    A fresh large NumPy array is mapped page by page on first touch; at RNN sizes those page faults cost as much
    as the recurrent GEMMs themselves.  A block returns to service when its reference count shows that no view
    of it is alive (outputs held by the user and states saved for backward keep theirs alive).  CuPy has its own
    memory pool and is served directly.
    """

    MIN_BYTES = 1 << 16
    MAX_BLOCKS = 64

    def __init__(self):
        self.blocks = []
        self.lock = threading.Lock()

    def empty(self, xp, shape, dtype):
        dtype = np.dtype(dtype)
        n = math.prod(shape) * dtype.itemsize
        if xp is not np or n < self.MIN_BYTES:
            return xp.empty(shape, dtype)
        with self.lock:
            blocks = self.blocks
            best = small = None
            for i in range(len(blocks)):
                b = blocks[i]
                if sys.getrefcount(b) > 3:  # this list, ``b`` and the call's argument: anything more is a view
                    continue
                if b.nbytes >= n:
                    if best is None or b.nbytes < blocks[best].nbytes:
                        best = i
                elif small is None:
                    small = i
            if best is not None:
                block = blocks[best]
            else:
                block = np.empty(n, np.uint8)
                if small is not None:
                    blocks[small] = block
                elif len(blocks) < self.MAX_BLOCKS:
                    blocks.append(block)
            return block[:n].view(dtype).reshape(shape)


_empty = _ScratchPool().empty


def _steps(T, reverse):
    """(time index, index of the state read, index of the state written) in processing order.

    States live in an array of T + 1 slots: the initial state in slot 0 (forward) or slot T (reverse), the
    state after time step t in slot t + 1 (forward) or slot t (reverse).
    """
    if reverse:
        return [(t, t + 1, t) for t in range(T - 1, -1, -1)]
    return [(t, t, t + 1) for t in range(T)]


# ----------------------------------------------------------------------------- per-kind time loops
# forward(xp, xg, w, h0, c0, reverse) -> (hs, cs, saved):  xg (T, B, G) holds the input projection of every
# step (bias included); it is overwritten in place with the tanh of the gate pre-activations.
# backward(xp, xg, hs, cs, saved, w, dout, dhn, dcn, reverse, need_h0) -> (vi, vh, dh0, dc0, dw_hr): vi (T, B, G)
# is dL/d(input-side pre-activation) and vh the same for the hidden side (the same array except for GRU), both
# up to the per-row scale that ``_Weights`` folds in.


def _lstm_forward(xp, xg, w, h0, c0, reverse):
    T, B, G = xg.shape
    H = G // 4
    H2, H3 = 2 * H, 3 * H
    whh_t, whr_t = w.whh_t, w.whr_t
    P = whh_t.shape[0]
    dt = xg.dtype
    hs = _empty(xp, (T + 1, B, P), dt)
    cs = _empty(xp, (T + 1, B, H), dt)
    ys = _empty(xp, (T, B, H3), dt)  # o, f, i
    tcs = _empty(xp, (T, B, H), dt)  # tanh(c)
    hc = _empty(xp, (T, B, H), dt) if whr_t is not None else None  # o * tanh(c) before the projection
    first = T if reverse else 0
    hs[first] = 0 if h0 is None else h0
    cs[first] = 0 if c0 is None else c0
    rec = xp.empty((B, G), dt)
    ig = xp.empty((B, H), dt)
    matmul, add, mul, tanh = xp.matmul, xp.add, xp.multiply, xp.tanh
    for t, p, n in _steps(T, reverse):
        g4 = xg[t]
        matmul(hs[p], whh_t, out=rec)
        add(g4, rec, out=g4)
        tanh(g4, out=g4)
        y = ys[t]
        mul(g4[:, :H3], 0.5, out=y)
        add(y, 0.5, out=y)
        c = cs[n]
        mul(y[:, H:H2], cs[p], out=c)
        mul(y[:, H2:], g4[:, H3:], out=ig)
        add(c, ig, out=c)
        tc = tcs[t]
        tanh(c, out=tc)
        if hc is None:
            mul(y[:, :H], tc, out=hs[n])
        else:
            mul(y[:, :H], tc, out=hc[t])
            matmul(hc[t], whr_t, out=hs[n])
    return hs, cs, (ys, tcs, hc)


def _lstm_backward(xp, xg, hs, cs, saved, w, dout, dhn, dcn, reverse, need_h0):
    ys, tcs, hc = saved
    T, B, G = xg.shape
    H = G // 4
    H2, H3 = 2 * H, 3 * H
    P = hs.shape[2]
    dt = xg.dtype
    whh_b, whr = w.whh_b, w.whr
    v = _empty(xp, (T, B, G), dt)
    dh = xp.zeros((B, P), dt) if dhn is None else dhn.copy()
    dc = xp.zeros((B, H), dt) if dcn is None else dcn.copy()
    dhs = _empty(xp, (T, B, P), dt) if whr is not None else None
    dhc = xp.empty((B, H), dt) if whr is not None else dh
    tmp = xp.empty((B, H), dt)
    d4 = xp.empty((B, G), dt)
    matmul, add, sub, mul = xp.matmul, xp.add, xp.subtract, xp.multiply
    steps = _steps(T, reverse)[::-1]
    last = len(steps) - 1
    for k, (t, p, _) in enumerate(steps):
        if dout is not None:
            add(dh, dout[t], out=dh)
        if dhs is not None:
            dhs[t] = dh
            matmul(dh, whr, out=dhc)
        y, tc, g4 = ys[t], tcs[t], xg[t]
        # dc += dh * o * (1 - tanh(c)²)
        mul(tc, tc, out=tmp)
        sub(1, tmp, out=tmp)
        mul(tmp, y[:, :H], out=tmp)
        mul(tmp, dhc, out=tmp)
        add(dc, tmp, out=dc)
        # dL/d(gate activation) for o, f, i, g, then through the nonlinearity
        vt = v[t]
        mul(dhc, tc, out=vt[:, :H])
        mul(dc, cs[p], out=vt[:, H:H2])
        mul(dc, g4[:, H3:], out=vt[:, H2:H3])
        mul(dc, y[:, H2:], out=vt[:, H3:])
        mul(g4, g4, out=d4)
        sub(1, d4, out=d4)
        mul(vt, d4, out=vt)
        if k < last or need_h0:
            mul(dc, y[:, H:H2], out=dc)
            matmul(vt, whh_b, out=dh)
    dw_hr = None
    if dhs is not None:
        dw_hr = dhs.reshape(T * B, P).T @ hc.reshape(T * B, H)
    return v, v, dh, dc, dw_hr


def _gru_forward(xp, xg, w, h0, c0, reverse):
    T, B, G = xg.shape
    H = G // 3
    H2 = 2 * H
    whh_t, bhn = w.whh_t, w.bhn
    dt = xg.dtype
    hs = _empty(xp, (T + 1, B, H), dt)
    hh = _empty(xp, (T, B, G), dt)  # W_hh h (+ b_hn on the n block): its n block is needed by backward
    ys = _empty(xp, (T, B, H2), dt)  # r, z
    hs[T if reverse else 0] = 0 if h0 is None else h0
    tmp = xp.empty((B, H), dt)
    matmul, add, sub, mul, tanh = xp.matmul, xp.add, xp.subtract, xp.multiply, xp.tanh
    for t, p, n in _steps(T, reverse):
        h_t, g3, hp = hh[t], xg[t], hs[p]
        matmul(hp, whh_t, out=h_t)
        if bhn is not None:
            add(h_t[:, H2:], bhn, out=h_t[:, H2:])
        rz = g3[:, :H2]
        add(rz, h_t[:, :H2], out=rz)
        tanh(rz, out=rz)
        y = ys[t]
        mul(rz, 0.5, out=y)
        add(y, 0.5, out=y)
        nn = g3[:, H2:]
        mul(y[:, :H], h_t[:, H2:], out=tmp)
        add(nn, tmp, out=nn)
        tanh(nn, out=nn)
        # h = n + z * (h_prev - n)
        sub(hp, nn, out=tmp)
        mul(tmp, y[:, H:], out=tmp)
        add(nn, tmp, out=hs[n])
    return hs, None, (hh, ys)


def _gru_backward(xp, xg, hs, cs, saved, w, dout, dhn, dcn, reverse, need_h0):
    hh, ys = saved
    T, B, G = xg.shape
    H = G // 3
    H2 = 2 * H
    dt = xg.dtype
    whh_b = w.whh_b
    vi = _empty(xp, (T, B, G), dt)
    vh = _empty(xp, (T, B, G), dt)
    dh = xp.zeros((B, H), dt) if dhn is None else dhn.copy()
    dhz = xp.empty((B, H), dt)
    tmp = xp.empty((B, H), dt)
    d2 = xp.empty((B, H2), dt)
    matmul, add, sub, mul = xp.matmul, xp.add, xp.subtract, xp.multiply
    steps = _steps(T, reverse)[::-1]
    last = len(steps) - 1
    for k, (t, p, _) in enumerate(steps):
        if dout is not None:
            add(dh, dout[t], out=dh)
        y, g3, hp, vit, vht = ys[t], xg[t], hs[p], vi[t], vh[t]
        r, z, nn, hn = y[:, :H], y[:, H:], g3[:, H2:], hh[t][:, H2:]
        mul(dh, z, out=dhz)
        dn = vit[:, H2:]
        sub(dh, dhz, out=dn)  # dh * (1 - z)
        mul(nn, nn, out=tmp)
        sub(1, tmp, out=tmp)
        mul(dn, tmp, out=dn)  # through tanh: dL/d(n pre-activation)
        mul(dn, r, out=vht[:, H2:])  # dL/d(W_hn h + b_hn)
        mul(dn, hn, out=vht[:, :H])  # dL/dr
        sub(hp, nn, out=tmp)
        mul(dh, tmp, out=vht[:, H:H2])  # dL/dz
        rz = g3[:, :H2]
        mul(rz, rz, out=d2)
        sub(1, d2, out=d2)
        mul(vht[:, :H2], d2, out=vht[:, :H2])
        vit[:, :H2] = vht[:, :H2]
        if k < last or need_h0:
            matmul(vht, whh_b, out=dh)
            add(dh, dhz, out=dh)
    return vi, vh, dh, None, None


def _rnn_forward(relu):
    def forward(xp, xg, w, h0, c0, reverse):
        T, B, H = xg.shape
        whh_t = w.whh_t
        hs = _empty(xp, (T + 1, B, H), xg.dtype)
        hs[T if reverse else 0] = 0 if h0 is None else h0
        matmul, add = xp.matmul, xp.add
        act = (lambda a: xp.maximum(a, 0, out=a)) if relu else (lambda a: xp.tanh(a, out=a))
        for t, p, n in _steps(T, reverse):
            h = hs[n]
            matmul(hs[p], whh_t, out=h)
            add(h, xg[t], out=h)
            act(h)
        return hs, None, ()

    return forward


def _rnn_backward(relu):
    def backward(xp, xg, hs, cs, saved, w, dout, dhn, dcn, reverse, need_h0):
        T, B, H = xg.shape
        dt = xg.dtype
        whh_b = w.whh_b
        v = _empty(xp, (T, B, H), dt)
        dh = xp.zeros((B, H), dt) if dhn is None else dhn.copy()
        tmp = xp.empty((B, H), dt)
        pos = xp.empty((B, H), bool)
        matmul, add, sub, mul = xp.matmul, xp.add, xp.subtract, xp.multiply
        steps = _steps(T, reverse)[::-1]
        last = len(steps) - 1
        for k, (t, _, n) in enumerate(steps):
            if dout is not None:
                add(dh, dout[t], out=dh)
            h = hs[n]
            if relu:
                xp.greater(h, 0, out=pos)
                mul(dh, pos, out=v[t])
            else:
                mul(h, h, out=tmp)
                sub(1, tmp, out=tmp)
                mul(dh, tmp, out=v[t])
            if k < last or need_h0:
                matmul(v[t], whh_b, out=dh)
        return v, v, dh, None, None

    return backward


class _Kind:
    """One recurrent kind: gate count, internal gate order, how many leading (internal) gates are sigmoids."""

    def __init__(self, name, chunks, perm, sig, forward, backward):
        self.name, self.chunks, self.perm, self.sig = name, chunks, perm, sig
        self.forward, self.backward = forward, backward


_LSTM = _Kind("LSTM", 4, (3, 1, 0, 2), 3, _lstm_forward, _lstm_backward)  # PyTorch's (i, f, g, o) -> (o, f, i, g)
_GRU = _Kind("GRU", 3, None, 2, _gru_forward, _gru_backward)
_RNN_TANH = _Kind("RNN_TANH", 1, None, 0, _rnn_forward(False), _rnn_backward(False))
_RNN_RELU = _Kind("RNN_RELU", 1, None, 0, _rnn_forward(True), _rnn_backward(True))


class _Weights:
    """The weights of one layer-direction in the internal layout.

    wih_t: (in [+ 1], G) input projection, sigmoid rows halved, bias folded in as a last row.
    whh_t: (P, G) recurrent weight for forward (sigmoid rows halved); whh_b: (G, P) for backward (sigmoid rows
    quartered); whr_t / whr: the LSTM projection; bhn: GRU's b_hn (applied inside r * (W_hn h + b_hn)).
    """

    def __init__(self, xp, kind, w_ih, w_hh, b_ih, b_hh, w_hr):
        G = w_ih.shape[0]
        H = G // kind.chunks
        self.rows = None
        if kind.perm is not None:
            self.rows = xp.concatenate([xp.arange(k * H, (k + 1) * H) for k in kind.perm])
            w_ih, w_hh = w_ih[self.rows], w_hh[self.rows]
        self.fscale = self.bscale = None
        if kind.sig:
            self.fscale = xp.ones((G, 1), w_ih.dtype)
            self.fscale[:kind.sig * H] = 0.5
            self.bscale = xp.ones((G, 1), w_ih.dtype)
            self.bscale[:kind.sig * H] = 0.25
        fs = 1 if self.fscale is None else self.fscale
        In = w_ih.shape[1]
        self.wih = w_ih
        self.wih_t = xp.empty((In + (b_ih is not None), G), w_ih.dtype)
        self.wih_t[:In] = (w_ih * fs).T
        self.bhn = None
        if b_ih is not None:
            if kind.name == "GRU":
                b = b_ih.copy()
                b[:2 * H] += b_hh[:2 * H]
                self.bhn = b_hh[2 * H:]
            else:
                b = b_ih + b_hh
                if self.rows is not None:
                    b = b[self.rows]
            self.wih_t[In] = b * fs[:, 0] if self.fscale is not None else b
        self.whh_t = xp.ascontiguousarray((w_hh * fs).T)
        self.whh_b = w_hh * self.bscale if self.bscale is not None else w_hh
        self.whr = w_hr
        self.whr_t = None if w_hr is None else xp.ascontiguousarray(w_hr.T)

    def to_torch(self, xp, g):
        """A gradient with rows in the internal layout and scale, as PyTorch's rows of the true weight."""
        if self.bscale is not None:
            g = g * (self.bscale if g.ndim == 2 else self.bscale[:, 0])
        if self.rows is None:
            return g
        out = xp.empty_like(g)
        out[self.rows] = g
        return out


class _LayerState:
    __slots__ = ("xa", "mask", "dirs")


def _forward(ctx, kind, x, hx, cx, weights, num_layers, bidirectional, batch_first, has_biases, proj_size, dropout,
             train, generator):
    xp = ctx.xp
    D = 2 if bidirectional else 1
    L = num_layers
    per = 2 + 2 * bool(has_biases) + (proj_size > 0)
    xt = x.transpose(1, 0, 2) if batch_first else x
    T, B, In = xt.shape
    dt = x.dtype
    G = weights[0].shape[0]
    H = G // kind.chunks
    P = proj_size or H
    record = any(ctx.needs_input_grad)
    p = float(dropout) if train and L > 1 else 0.0
    nb = 1 if has_biases else 0
    xa = _empty(xp, (T, B, In + nb), dt)
    xa[..., :In] = xt
    if nb:
        xa[..., In] = 1
    mask = None
    hn = xp.empty((L * D, B, P), dt)
    cn = xp.empty((L * D, B, H), dt) if kind is _LSTM else None
    layers = []
    out = None
    for layer in range(L):
        dirs = []
        K = xa.shape[2]
        for d in range(D):
            k = layer * D + d
            ws = weights[k * per:(k + 1) * per]
            w = _Weights(xp, kind, ws[0], ws[1], ws[2] if nb else None, ws[3] if nb else None,
                         ws[-1] if proj_size else None)
            xg = _empty(xp, (T, B, G), dt)
            xp.matmul(xa.reshape(T * B, K), w.wih_t, out=xg.reshape(T * B, G))
            h0 = None if hx is None else hx[k]
            c0 = None if cx is None else cx[k]
            hs, cs, saved = kind.forward(xp, xg, w, h0, c0, d == 1)
            hn[k] = hs[0] if d else hs[T]
            if cn is not None:
                cn[k] = cs[0] if d else cs[T]
            dirs.append((w, xg, hs, cs, saved, h0 is None))
        if record:
            st = _LayerState()
            st.xa, st.mask, st.dirs = xa, mask, dirs
            layers.append(st)
        if layer < L - 1:
            xa = _empty(xp, (T, B, D * P + nb), dt)
            for d, (_, _, hs, _, _, _) in enumerate(dirs):
                xa[..., d * P:(d + 1) * P] = hs[:-1] if d else hs[1:]
            if nb:
                xa[..., D * P] = 1
            mask = None
            if p > 0:
                keep = generator.random((T, B, D * P), dtype=np.float32) >= p
                mask = xp.asarray(keep, dtype=dt)
                mask *= 0.0 if p >= 1 else 1.0 / (1.0 - p)
                xa[..., :D * P] *= mask
        elif D == 1:
            out = dirs[0][2][1:]
        else:
            out = _empty(xp, (T, B, D * P), dt)
            out[..., :P] = dirs[0][2][1:]
            out[..., P:] = dirs[1][2][:-1]
    if record:
        ctx.save_for_backward(layers)
        ctx.cfg = (kind, D, L, per, nb, batch_first, len(weights))
        ctx.set_materialize_grads(False)
    if batch_first:
        out = out.transpose(1, 0, 2)
    return (out, hn, cn) if cn is not None else (out, hn)


def _backward(ctx, dout, dhn, dcn=None):
    xp = ctx.xp
    (layers,) = ctx.saved_tensors
    kind, D, L, per, nb, batch_first, nw = ctx.cfg
    needs = ctx.needs_input_grad
    gw = [None] * nw
    if dout is not None and batch_first:
        dout = dout.transpose(1, 0, 2)
    first = layers[0].dirs[0]
    dt = first[1].dtype
    dhx = xp.empty((L * D,) + first[2].shape[1:], dt) if needs[1] else None
    dcx = xp.empty((L * D,) + first[3].shape[1:], dt) if needs[2] else None
    need_h0 = needs[1] or needs[2]
    dx = None
    for layer in range(L - 1, -1, -1):
        st = layers[layer]
        xa = st.xa
        T, B, K = xa.shape
        In = K - nb
        need_dx = layer > 0 or needs[0]
        dx = _empty(xp, (T * B, In), xa.dtype) if need_dx else None
        xa2 = xa.reshape(T * B, K)
        for d, (w, xg, hs, cs, saved, h0_zero) in enumerate(st.dirs):
            k = layer * D + d
            P = hs.shape[2]
            dd = None if dout is None else dout[..., d * P:(d + 1) * P]
            vi, vh, dh0, dc0, dw_hr = kind.backward(
                xp, xg, hs, cs, saved, w, dd, None if dhn is None else dhn[k], None if dcn is None else dcn[k],
                d == 1, need_h0)
            if dhx is not None:
                dhx[k] = dh0
            if dcx is not None:
                dcx[k] = dc0
            G = vi.shape[2]
            vi2 = vi.reshape(T * B, G)
            base = 3 + k * per
            if needs[base] or (nb and (needs[base + 2] or needs[base + 3])):
                g = vi2.T @ xa2
                if needs[base]:
                    gw[base - 3] = w.to_torch(xp, g[:, :In])
                if nb:
                    db = w.to_torch(xp, g[:, In])
                    gw[base - 1] = db
                    if kind is _GRU:
                        H = G // 3
                        db = db.copy()
                        db[2 * H:] = vh[..., 2 * H:].sum(axis=(0, 1))
                        gw[base] = db
                    else:
                        gw[base] = db.copy()
            if needs[base + 1]:
                # the states each step read: skip the initial one when it was zero
                prev = hs[1:] if d else hs[:-1]
                v_used = vh
                if h0_zero:
                    prev, v_used = (prev[:-1], vh[:-1]) if d else (prev[1:], vh[1:])
                n_rows = prev.shape[0] * B
                gw[base - 2] = w.to_torch(xp, v_used.reshape(n_rows, G).T @ prev.reshape(n_rows, P))
            if dw_hr is not None and needs[base + per - 1]:
                gw[base + per - 4] = dw_hr
            if need_dx:
                wih_b = w.wih * w.bscale if w.bscale is not None else w.wih
                if d == 0:
                    xp.matmul(vi2, wih_b, out=dx)
                else:
                    dx += vi2 @ wih_b
        if layer > 0:
            dout = dx.reshape(T, B, In)
            if st.mask is not None:
                dout *= st.mask
    if needs[0]:
        dx = dx.reshape(T, B, In)
        if batch_first:
            dx = dx.transpose(1, 0, 2)
    else:
        dx = None
    return (dx, dhx, dcx, *gw)


class RNNTanh(Function):
    """A multi-layer Elman RNN with tanh: args (x, hx, None, *flat_weights), config as keywords."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights, **cfg):
        return _forward(ctx, _RNN_TANH, x, hx, None, weights, **cfg)

    @staticmethod
    def backward(ctx, dout, dhn):
        return _backward(ctx, dout, dhn)


class RNNReLU(Function):
    """A multi-layer Elman RNN with ReLU: args (x, hx, None, *flat_weights), config as keywords."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights, **cfg):
        return _forward(ctx, _RNN_RELU, x, hx, None, weights, **cfg)

    @staticmethod
    def backward(ctx, dout, dhn):
        return _backward(ctx, dout, dhn)


class LSTM(Function):
    """A multi-layer LSTM: args (x, h0, c0, *flat_weights), config as keywords; returns (out, h_n, c_n)."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights, **cfg):
        return _forward(ctx, _LSTM, x, hx, cx, weights, **cfg)

    @staticmethod
    def backward(ctx, dout, dhn, dcn):
        return _backward(ctx, dout, dhn, dcn)


class GRU(Function):
    """A multi-layer GRU: args (x, hx, None, *flat_weights), config as keywords."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights, **cfg):
        return _forward(ctx, _GRU, x, hx, None, weights, **cfg)

    @staticmethod
    def backward(ctx, dout, dhn):
        return _backward(ctx, dout, dhn)


# ----------------------------------------------------------------------------- cells: one step of one layer


_CELL_CFG = dict(num_layers=1, bidirectional=False, batch_first=False, proj_size=0, dropout=0.0, train=False,
                 generator=None)


def _cell_forward(ctx, kind, x, hx, cx, weights):
    res = _forward(ctx, kind, x[None], None if hx is None else hx[None], None if cx is None else cx[None], weights,
                   has_biases=len(weights) == 4, **_CELL_CFG)
    if kind is _LSTM:
        return res[1][0], res[2][0]
    return res[1][0]


def _cell_backward(ctx, dh, dc=None):
    res = _backward(ctx, None, None if dh is None else dh[None], None if dc is None else dc[None])
    return tuple(None if g is None else g[0] for g in res[:3]) + res[3:]


class RNNTanhCell(Function):
    """One step of an Elman RNN with tanh: args (x, hx, None, w_ih, w_hh[, b_ih, b_hh])."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights):
        return _cell_forward(ctx, _RNN_TANH, x, hx, None, weights)

    @staticmethod
    def backward(ctx, dh):
        return _cell_backward(ctx, dh)


class RNNReLUCell(Function):
    """One step of an Elman RNN with ReLU: args (x, hx, None, w_ih, w_hh[, b_ih, b_hh])."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights):
        return _cell_forward(ctx, _RNN_RELU, x, hx, None, weights)

    @staticmethod
    def backward(ctx, dh):
        return _cell_backward(ctx, dh)


class LSTMCell(Function):
    """One LSTM step: args (x, h, c, w_ih, w_hh[, b_ih, b_hh]); returns (h', c')."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights):
        return _cell_forward(ctx, _LSTM, x, hx, cx, weights)

    @staticmethod
    def backward(ctx, dh, dc):
        return _cell_backward(ctx, dh, dc)


class GRUCell(Function):
    """One GRU step: args (x, hx, None, w_ih, w_hh[, b_ih, b_hh])."""

    @staticmethod
    def forward(ctx, x, hx, cx, *weights):
        return _cell_forward(ctx, _GRU, x, hx, None, weights)

    @staticmethod
    def backward(ctx, dh):
        return _cell_backward(ctx, dh)
