"""Recurrent ops: a whole multi-layer RNN / LSTM / GRU (every layer, direction and time step) is ONE op.

Forward projects the input of a layer for all time steps at once (bias folded in as an extra row of ones),
then loops over time steps on raw arrays: one GEMM per step for the recurrent term of all gates at once, gate
nonlinearities in place on preallocated buffers.  Backward is a hand-written BPTT loop (one GEMM per step for
the gradient flowing to the previous state); the weight gradients and the input gradient are then one GEMM
each over all time steps.

Inside the op every per-step array is feature-major, (features, batch): a gate's block of rows is then one
contiguous (H, B) array, so every element-wise call of a step runs NumPy's contiguous fast path (a strided
(B, H) slice of a (B, 4H) array costs two to three times as much per call), and the recurrent GEMM
W (G, P) @ h (P, B) runs faster than its transpose.  Sequences are (T, features, B); the caller's layout is
restored by views on the way out.

Two numerical tricks, both exact in floating point:
  * sigmoid(x) = 0.5 + 0.5 * tanh(x / 2): never overflows, and one ``tanh`` call covers every gate of a step.
    The 1/2 is folded into the rows of the weights that feed sigmoid gates.  With t = tanh(x / 2),
    d sigmoid / dx = (1 - t²) / 4 and d tanh / dx = 1 - t²: backward computes V = dL/dy * (1 - t²) for every
    gate at once and folds the 1/4 into the weights it multiplies V by.
  * LSTM gates are kept internally in the order (o, f, i, g) rather than PyTorch's (i, f, g, o): the three
    sigmoid gates are then one contiguous block.
"""

import math
import sys
import threading

import numpy as np

from lamina.autograd.function import ArrayFunction as Function
from lamina.backend.threads import single_threaded_blas

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "PadSequence", "RNNReLU", "RNNReLUCell", "RNNTanh", "RNNTanhCell"]


class _ScratchPool:
    """Large scratch arrays reused once nothing views them any more.

    A fresh large NumPy array is mapped page by page on first touch; at RNN sizes those page faults cost as much
    as the recurrent GEMMs themselves.  A block returns to service when its reference count shows that no view
    of it is alive (outputs held by the user and states saved for backward keep theirs alive).  CuPy has its own
    memory pool and is served directly.
    """

    MIN_BYTES = 1 << 16
    MAX_BLOCKS = 64
    MAX_BYTES = 1 << 28  # what the pool may keep mapped; beyond it arrays are allocated as usual

    def __init__(self):
        self.blocks = []
        self.nbytes = 0
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
                elif small is None or b.nbytes < blocks[small].nbytes:
                    small = i
            if best is not None:
                block = blocks[best]
            else:
                block = np.empty(n, np.uint8)
                if small is not None and self.nbytes - blocks[small].nbytes + n <= self.MAX_BYTES:
                    self.nbytes += n - blocks[small].nbytes
                    blocks[small] = block
                elif len(blocks) < self.MAX_BLOCKS and self.nbytes + n <= self.MAX_BYTES:
                    self.nbytes += n
                    blocks.append(block)
            return block[:n].view(dtype).reshape(shape)


_empty = _ScratchPool().empty


def _steps(T, reverse):
    """(t, t_prev) in processing order; t_prev is None on the first step, which reads the initial state."""
    if reverse:
        return [(t, t + 1 if t < T - 1 else None) for t in range(T - 1, -1, -1)]
    return [(t, t - 1 if t > 0 else None) for t in range(T)]


# ----------------------------------------------------------------------------- per-kind time loops
# forward(xp, g, w, hs, h0, c0, reverse) -> saved: g (T, G, B) holds the input projection of every step (bias
# included) and is overwritten in place with the tanh of the gate pre-activations; the state after step t is
# written to hs[t] (P, B); h0 (P, B) / c0 (H, B) are the initial states.
# backward(xp, g, w, hs, h0, saved, dhs, dhn, dcn, reverse, need_h0) -> (vi, vh, dh0, dc0, dw_hr): vi (T, G, B)
# is dL/d(input-side pre-activation) and vh the same for the hidden side (the same array except for GRU), both
# up to the per-row scale that ``_Weights`` folds in; dhs (T, P, B) is the gradient of hs, or None.


def _lstm_forward(xp, g, w, hs, h0, c0, reverse):
    T, G, B = g.shape
    H = G // 4
    H2, H3 = 2 * H, 3 * H
    whh, whr = w.whh, w.whr
    dt = g.dtype
    cs = _empty(xp, (T, H, B), dt)
    ys = _empty(xp, (T, H3, B), dt)  # o, f, i
    tcs = _empty(xp, (T, H, B), dt)  # tanh(c)
    hc = _empty(xp, (T, H, B), dt) if whr is not None else None  # o * tanh(c) before the projection
    rec = xp.empty((G, B), dt)
    ig = xp.empty((H, B), dt)
    matmul, add, mul, tanh = xp.matmul, xp.add, xp.multiply, xp.tanh
    for t, q in _steps(T, reverse):
        hp, cp = (h0, c0) if q is None else (hs[q], cs[q])
        g4 = g[t]
        matmul(whh, hp, out=rec)
        add(g4, rec, out=g4)
        tanh(g4, out=g4)
        y = ys[t]
        mul(g4[:H3], 0.5, out=y)
        add(y, 0.5, out=y)
        c = cs[t]
        mul(y[H:H2], cp, out=c)
        mul(y[H2:], g4[H3:], out=ig)
        add(c, ig, out=c)
        tc = tcs[t]
        tanh(c, out=tc)
        if hc is None:
            mul(y[:H], tc, out=hs[t])
        else:
            mul(y[:H], tc, out=hc[t])
            matmul(whr, hc[t], out=hs[t])
    return cs, ys, tcs, hc, c0


def _lstm_backward(xp, g, w, hs, h0, saved, dhs, dhn, dcn, reverse, need_h0):
    cs, ys, tcs, hc, c0 = saved
    T, G, B = g.shape
    H = G // 4
    H2, H3 = 2 * H, 3 * H
    P = hs.shape[1]
    dt = g.dtype
    whh_bt = w.whh_bt()
    whr_t = w.whr_t()
    v = _empty(xp, (T, G, B), dt)
    dh = xp.zeros((P, B), dt) if dhn is None else xp.array(dhn, dt, order="C")
    dc = xp.zeros((H, B), dt) if dcn is None else xp.array(dcn, dt, order="C")
    dps = _empty(xp, (T, P, B), dt) if whr_t is not None else None  # dL/dh per step, for dW_hr
    dq = xp.empty((H, B), dt) if whr_t is not None else dh  # dL/d(o * tanh(c))
    tmp = xp.empty((H, B), dt)
    d4 = xp.empty((G, B), dt)
    matmul, add, sub, mul = xp.matmul, xp.add, xp.subtract, xp.multiply
    steps = _steps(T, reverse)[::-1]
    last = len(steps) - 1
    for k, (t, q) in enumerate(steps):
        if dhs is not None:
            add(dh, dhs[t], out=dh)
        if dps is not None:
            dps[t] = dh
            matmul(whr_t, dh, out=dq)
        y, tc, g4 = ys[t], tcs[t], g[t]
        # dc += dq * o * (1 - tanh(c)²) = dq * (o - (o * tanh(c)) * tanh(c))
        mul(hs[t] if hc is None else hc[t], tc, out=tmp)
        sub(y[:H], tmp, out=tmp)
        mul(tmp, dq, out=tmp)
        add(dc, tmp, out=dc)
        # dL/d(gate activation) for o, f, i, g, then through the nonlinearity
        vt = v[t]
        mul(dq, tc, out=vt[:H])
        mul(dc, c0 if q is None else cs[q], out=vt[H:H2])
        mul(dc, g4[H3:], out=vt[H2:H3])
        mul(dc, y[H2:], out=vt[H3:])
        mul(g4, g4, out=d4)
        sub(1, d4, out=d4)
        mul(vt, d4, out=vt)
        if k < last or need_h0:
            mul(dc, y[H:H2], out=dc)
            matmul(whh_bt, vt, out=dh)
    dw_hr = None
    if dps is not None:
        dw_hr = _bt_gemm(xp, dps, hc)
    return v, v, dh, dc, dw_hr


def _gru_forward(xp, g, w, hs, h0, c0, reverse):
    T, G, B = g.shape
    H = G // 3
    H2 = 2 * H
    whh, bhn = w.whh, w.bhn
    dt = g.dtype
    hh = _empty(xp, (T, G, B), dt)  # W_hh h (+ b_hn on the n block): its n block is needed by backward
    ys = _empty(xp, (T, H2, B), dt)  # r, z
    tmp = xp.empty((H, B), dt)
    matmul, add, sub, mul, tanh = xp.matmul, xp.add, xp.subtract, xp.multiply, xp.tanh
    for t, q in _steps(T, reverse):
        hp = h0 if q is None else hs[q]
        h_t, g3 = hh[t], g[t]
        matmul(whh, hp, out=h_t)
        if bhn is not None:
            add(h_t[H2:], bhn, out=h_t[H2:])
        rz = g3[:H2]
        add(rz, h_t[:H2], out=rz)
        tanh(rz, out=rz)
        y = ys[t]
        mul(rz, 0.5, out=y)
        add(y, 0.5, out=y)
        nn = g3[H2:]
        mul(y[:H], h_t[H2:], out=tmp)
        add(nn, tmp, out=nn)
        tanh(nn, out=nn)
        # h = n + z * (h_prev - n)
        sub(hp, nn, out=tmp)
        mul(tmp, y[H:], out=tmp)
        add(nn, tmp, out=hs[t])
    return hh, ys


def _gru_backward(xp, g, w, hs, h0, saved, dhs, dhn, dcn, reverse, need_h0):
    hh, ys = saved
    T, G, B = g.shape
    H = G // 3
    H2 = 2 * H
    dt = g.dtype
    whh_bt = w.whh_bt()
    vi = _empty(xp, (T, G, B), dt)
    vh = _empty(xp, (T, G, B), dt)
    dh = xp.zeros((H, B), dt) if dhn is None else xp.array(dhn, dt, order="C")
    dhz = xp.empty((H, B), dt)
    tmp = xp.empty((H, B), dt)
    d2 = xp.empty((H2, B), dt)
    matmul, add, sub, mul = xp.matmul, xp.add, xp.subtract, xp.multiply
    steps = _steps(T, reverse)[::-1]
    last = len(steps) - 1
    for k, (t, q) in enumerate(steps):
        if dhs is not None:
            add(dh, dhs[t], out=dh)
        hp = h0 if q is None else hs[q]
        y, g3, vit, vht = ys[t], g[t], vi[t], vh[t]
        r, z, nn, hn = y[:H], y[H:], g3[H2:], hh[t][H2:]
        mul(dh, z, out=dhz)
        dn = vit[H2:]
        sub(dh, dhz, out=dn)  # dh * (1 - z)
        mul(nn, nn, out=tmp)
        sub(1, tmp, out=tmp)
        mul(dn, tmp, out=dn)  # through tanh: dL/d(n pre-activation)
        mul(dn, r, out=vht[H2:])  # dL/d(W_hn h + b_hn)
        mul(dn, hn, out=vht[:H])  # dL/dr
        sub(hp, nn, out=tmp)
        mul(dh, tmp, out=vht[H:H2])  # dL/dz
        rz = g3[:H2]
        mul(rz, rz, out=d2)
        sub(1, d2, out=d2)
        mul(vht[:H2], d2, out=vht[:H2])
        vit[:H2] = vht[:H2]
        if k < last or need_h0:
            matmul(whh_bt, vht, out=dh)
            add(dh, dhz, out=dh)
    return vi, vh, dh, None, None


def _rnn_forward(relu):
    def forward(xp, g, w, hs, h0, c0, reverse):
        whh = w.whh
        matmul, add = xp.matmul, xp.add
        for t, q in _steps(g.shape[0], reverse):
            h = hs[t]
            matmul(whh, h0 if q is None else hs[q], out=h)
            add(h, g[t], out=h)
            if relu:
                xp.maximum(h, 0, out=h)
            else:
                xp.tanh(h, out=h)
        return ()

    return forward


def _rnn_backward(relu):
    def backward(xp, g, w, hs, h0, saved, dhs, dhn, dcn, reverse, need_h0):
        T, H, B = g.shape
        dt = g.dtype
        whh_bt = w.whh_bt()
        v = _empty(xp, (T, H, B), dt)
        dh = xp.zeros((H, B), dt) if dhn is None else xp.array(dhn, dt, order="C")
        tmp = xp.empty((H, B), dt)
        pos = xp.empty((H, B), bool)
        matmul, add, sub, mul = xp.matmul, xp.add, xp.subtract, xp.multiply
        steps = _steps(T, reverse)[::-1]
        last = len(steps) - 1
        for k, (t, _) in enumerate(steps):
            if dhs is not None:
                add(dh, dhs[t], out=dh)
            h = hs[t]
            if relu:
                xp.greater(h, 0, out=pos)
                mul(dh, pos, out=v[t])
            else:
                mul(h, h, out=tmp)
                sub(1, tmp, out=tmp)
                mul(dh, tmp, out=v[t])
            if k < last or need_h0:
                matmul(whh_bt, v[t], out=dh)
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
    """The weights of one layer-direction in the internal gate order and scale.

    wih: (G, in [+ 1]) input projection, sigmoid rows halved, bias folded in as a last column.
    whh: (G, P) recurrent weight, sigmoid rows halved.  whr: (P, H) the LSTM projection.  bhn: GRU's b_hn as a
    column (applied inside r * (W_hn h + b_hn)).  Backward asks for the transposes it multiplies by, with the
    sigmoid rows quartered instead (see the module docstring).
    """

    def __init__(self, xp, kind, w_ih, w_hh, b_ih, b_hh, w_hr):
        G = w_ih.shape[0]
        H = G // kind.chunks
        self.xp = xp
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
        In = w_ih.shape[1]
        self.w_ih, self.w_hh = w_ih, w_hh
        self.wih = xp.empty((G, In + (b_ih is not None)), w_ih.dtype)
        self.bhn = None
        if self.fscale is None:
            self.wih[:, :In] = w_ih
            self.whh = w_hh
        else:
            xp.multiply(w_ih, self.fscale, out=self.wih[:, :In])
            self.whh = w_hh * self.fscale
        if b_ih is not None:
            if kind.name == "GRU":
                b = b_ih.copy()
                b[:2 * H] += b_hh[:2 * H]
                self.bhn = b_hh[2 * H:, None]
            else:
                b = b_ih + b_hh
                if self.rows is not None:
                    b = b[self.rows]
            self.wih[:, In] = b if self.fscale is None else b * self.fscale[:, 0]
        self.whr = w_hr

    def _back(self, w):
        return w if self.bscale is None else w * self.bscale

    def whh_bt(self):
        return self.xp.ascontiguousarray(self._back(self.w_hh).T)

    def wih_bt(self):
        return self.xp.ascontiguousarray(self._back(self.w_ih).T)

    def whr_t(self):
        return None if self.whr is None else self.xp.ascontiguousarray(self.whr.T)

    def to_torch(self, g):
        """A gradient with rows in the internal order and scale, as PyTorch's rows of the true weight."""
        if self.bscale is not None:
            g = g * (self.bscale if g.ndim == 2 else self.bscale[:, 0])
        if self.rows is None:
            return g
        out = self.xp.empty_like(g)
        out[self.rows] = g
        return out


def _fm(xp, a):
    """(T, F, B) -> (F, T * B): the feature-major sequence with time and batch merged, for the weight GEMMs."""
    T, F, B = a.shape
    out = _empty(xp, (F, T, B), a.dtype)
    out[...] = a.transpose(1, 0, 2)
    return out.reshape(F, T * B)


def _bt_gemm(xp, a, b):
    """sum_t a[t] @ b[t].T for (T, M, B) and (T, N, B): one GEMM over time and batch."""
    return _fm(xp, a) @ _fm(xp, b).T


def _states_read(out, hs, h0, reverse):
    """Into out (P, T, B): the state each step read, h0 for the first step and the previous output after it."""
    if reverse:
        out[:, -1] = h0
        out[:, :-1] = hs[1:].transpose(1, 0, 2)
    else:
        out[:, 0] = h0
        out[:, 1:] = hs[:-1].transpose(1, 0, 2)


class _Layer:
    __slots__ = ("xt", "mask", "ys", "dirs")


def _forward(ctx, kind, x, hx, cx, weights, num_layers, bidirectional, batch_first, has_biases, proj_size, dropout,
             train, generator):
    xp = ctx.xp
    D = 2 if bidirectional else 1
    L = num_layers
    nb = 1 if has_biases else 0
    per = 2 + 2 * nb + (proj_size > 0)
    T, B = (x.shape[1], x.shape[0]) if batch_first else x.shape[:2]
    In = x.shape[2]
    dt = x.dtype
    G = weights[0].shape[0]
    H = G // kind.chunks
    P = proj_size or H
    record = any(ctx.needs_input_grad)
    p = float(dropout) if train and L > 1 else 0.0
    # the layer input as (T, In [+ ones], B)
    xt = _empty(xp, (T, In + nb, B), dt)
    xt[:, :In] = x.transpose(1, 2, 0) if batch_first else x.transpose(0, 2, 1)
    if nb:
        xt[:, In] = 1
    mask = None
    hn = xp.empty((L * D, B, P), dt)
    cn = xp.empty((L * D, B, H), dt) if kind is _LSTM else None
    zeros_h = zeros_c = None
    layers = []
    for layer in range(L):
        # the layer's output (T, D * P, B): the next layer's input, with its row of ones when no dropout intervenes
        ones = nb if layer < L - 1 and p == 0 else 0
        ys = _empty(xp, (T, D * P + ones, B), dt)
        if ones:
            ys[:, D * P] = 1
        dirs = []
        for d in range(D):
            k = layer * D + d
            ws = weights[k * per:(k + 1) * per]
            w = _Weights(xp, kind, ws[0], ws[1], ws[2] if nb else None, ws[3] if nb else None,
                         ws[-1] if proj_size else None)
            g = _empty(xp, (T, G, B), dt)
            xp.matmul(w.wih, xt, out=g)
            if hx is not None:
                h0 = xp.ascontiguousarray(hx[k].T)
            else:
                if zeros_h is None:
                    zeros_h = xp.zeros((P, B), dt)
                h0 = zeros_h
            c0 = None
            if kind is _LSTM:
                if cx is not None:
                    c0 = xp.ascontiguousarray(cx[k].T)
                else:
                    if zeros_c is None:
                        zeros_c = xp.zeros((H, B), dt)
                    c0 = zeros_c
            hs = ys[:, d * P:(d + 1) * P]
            with single_threaded_blas():
                saved = kind.forward(xp, g, w, hs, h0, c0, d == 1)
            hn[k] = hs[0 if d else T - 1].T
            if cn is not None:
                cn[k] = saved[0][0 if d else T - 1].T
            dirs.append((w, g, h0 if hx is not None else None, saved))
        if record:
            st = _Layer()
            st.xt, st.mask, st.ys, st.dirs = xt, mask, ys, dirs
            layers.append(st)
        if layer < L - 1:
            mask = None
            if p > 0:
                keep = generator.random((T, B, D * P), dtype=np.float32) >= p
                mask = xp.ascontiguousarray(keep.transpose(0, 2, 1), dtype=dt)
                mask *= 0.0 if p >= 1 else 1.0 / (1.0 - p)
                xt = _empty(xp, (T, D * P + nb, B), dt)
                xp.multiply(ys, mask, out=xt[:, :D * P])
                if nb:
                    xt[:, D * P] = 1
            else:
                xt = ys
    if record:
        ctx.save_for_backward(layers)
        ctx.cfg = (kind, D, L, per, nb, batch_first, len(weights), P)
        ctx.set_materialize_grads(False)
    out = ys.transpose(2, 0, 1) if batch_first else ys.transpose(0, 2, 1)
    return (out, hn, cn) if cn is not None else (out, hn)


def _backward(ctx, dout, dhn, dcn=None):
    xp = ctx.xp
    (layers,) = ctx.saved_tensors
    kind, D, L, per, nb, batch_first, nw, P = ctx.cfg
    needs = ctx.needs_input_grad
    gw = [None] * nw
    dt = layers[0].xt.dtype
    T, _, B = layers[0].xt.shape
    dys = None
    if dout is not None:
        dys = _empty(xp, (T, D * P, B), dt)
        dys[...] = dout.transpose(1, 2, 0) if batch_first else dout.transpose(0, 2, 1)
    dhx = xp.empty((L * D, B, P), dt) if needs[1] else None
    dcx = xp.empty((L * D, B, layers[0].dirs[0][1].shape[1] // 4), dt) if needs[2] else None
    need_h0 = needs[1] or needs[2]
    dx = None
    for layer in range(L - 1, -1, -1):
        st = layers[layer]
        xt = st.xt
        In = xt.shape[1] - nb
        need_dx = layer > 0 or needs[0]
        K = xt.shape[1]
        TB = T * B
        dx = None
        for d, (w, g, h0, saved) in enumerate(st.dirs):
            k = layer * D + d
            hs = st.ys[:, d * P:(d + 1) * P]
            dhs = None if dys is None else dys[:, d * P:(d + 1) * P]
            h0_ = h0 if h0 is not None else xp.zeros((P, B), dt)
            with single_threaded_blas():
                vi, vh, dh0, dc0, dw_hr = kind.backward(
                    xp, g, w, hs, h0_, saved, dhs, None if dhn is None else dhn[k].T,
                    None if dcn is None else dcn[k].T, d == 1, need_h0)
            if dhx is not None:
                dhx[k] = dh0.T
            if dcx is not None:
                dcx[k] = dc0.T
            G = vi.shape[1]
            vi2 = _fm(xp, vi)
            vh2 = vi2 if vh is vi else _fm(xp, vh)
            base = 3 + k * per
            want_i = needs[base] or (nb and (needs[base + 2] or needs[base + 3]))
            want_h = needs[base + 1]
            # weight gradients: sum over steps of V_t @ [x_t; h_read_t]ᵀ as one GEMM over (time, batch)
            gi = gh = None
            if vh is vi and want_i and want_h:
                operand = _empty(xp, (K + P, T, B), dt)
                operand[:K] = xt.transpose(1, 0, 2)
                _states_read(operand[K:], hs, h0_, d == 1)
                both = vi2 @ operand.reshape(K + P, TB).T
                gi, gh = both[:, :K], both[:, K:]
            else:
                if want_i:
                    gi = vi2 @ _fm(xp, xt).T
                if want_h:
                    operand = _empty(xp, (P, T, B), dt)
                    _states_read(operand, hs, h0_, d == 1)
                    gh = vh2 @ operand.reshape(P, TB).T
            if gi is not None:
                if needs[base]:
                    gw[base - 3] = w.to_torch(gi[:, :In])
                if nb:
                    db = w.to_torch(gi[:, In])
                    gw[base - 1] = db
                    db = db.copy()
                    if kind is _GRU:
                        db[2 * (G // 3):] = vh2[2 * (G // 3):].sum(axis=1)
                    gw[base] = db
            if gh is not None:
                gw[base - 2] = w.to_torch(gh)
            if dw_hr is not None and needs[base + per - 1]:
                gw[base + per - 4] = dw_hr
            if need_dx:
                part = w.wih_bt() @ vi2
                if dx is None:
                    dx = part
                else:
                    dx += part
        if layer > 0:
            # (In, T * B) -> the previous layer's output gradient (T, In, B)
            dys = _empty(xp, (T, In, B), dt)
            dys[...] = dx.reshape(In, T, B).transpose(1, 0, 2)
            if st.mask is not None:
                dys *= st.mask
    if needs[0]:
        dx = dx.reshape(In, T, B)
        dx = dx.transpose(2, 1, 0) if batch_first else dx.transpose(1, 2, 0)
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


# ----------------------------------------------------------------------------- padding sequences of unequal length


class PadSequence(Function):
    """Sequences (L_i, *) stacked into one (L_max, N, *) array (or (N, L_max, *)), padded with a constant.

    Backward hands each sequence its slice of the gradient.  The copy is one assignment per sequence: the
    inputs are separate arrays.
    """

    @staticmethod
    def forward(ctx, *seqs, batch_first=False, padding_value=0.0, padding_side="right"):
        xp = ctx.xp
        longest = max(s.shape[0] for s in seqs)
        out = xp.full((len(seqs), longest) + seqs[0].shape[1:], padding_value, dtype=seqs[0].dtype)
        spans = []
        for i, s in enumerate(seqs):
            span = slice(0, s.shape[0]) if padding_side == "right" else slice(longest - s.shape[0], longest)
            out[i, span] = s
            spans.append(span)
        ctx.spans, ctx.batch_first = spans, batch_first
        return out if batch_first else xp.ascontiguousarray(out.swapaxes(0, 1))

    @staticmethod
    def backward(ctx, grad):
        if not ctx.batch_first:
            grad = grad.swapaxes(0, 1)
        return tuple(grad[i, span] if need else None
                     for i, (span, need) in enumerate(zip(ctx.spans, ctx.needs_input_grad)))
