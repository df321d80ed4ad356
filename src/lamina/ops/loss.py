"""Loss ops, each one fused op with a hand-written backward.

``CrossEntropy``: log-softmax and negative log-likelihood in one pass (class indices or class probabilities,
class weights, ignore_index, label smoothing, any extra dims); backward is (softmax - target distribution),
scaled.  ``NLL``: the negative log-likelihood of log-probabilities.  The element-wise losses (MSE, L1, smooth
L1, Huber, BCE, BCE with logits, KL divergence, soft margin) share one base, ``_Pointwise``: a subclass gives the
element-wise value and its derivatives; the base applies the weight, the reduction and their backward.
"""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import quiet, unbroadcast

# --------------------------------------------------------------------------- layout helpers


def _rows(xp, x):
    """(N, C, d1, ...) or (C,) as an (M, C) matrix, the class dim last (a view when no dims follow C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    c = x.shape[1]
    return xp.moveaxis(x, 1, -1).reshape(-1, c)


def _unrows(xp, z, shape):
    """The inverse of ``_rows``: an (M, C) matrix back to the input's layout."""
    if len(shape) <= 2:
        return z.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp.ascontiguousarray(xp.moveaxis(z.reshape(moved), -1, 1))


def _class_targets(xp, target, weight, ignore_index, c, op, dtype):
    """Flattened class indices (ignored ones replaced by 0), per-row weights (0 where ignored)."""
    t = target.reshape(-1)
    valid = t != ignore_index
    all_valid = bool(valid.all())
    tt = t if all_valid else xp.where(valid, t, 0)
    if tt.size and (int(tt.min()) < 0 or int(tt.max()) >= c):
        bad = tt[(tt < 0) | (tt >= c)][0]
        raise IndexError(f"{op}: target {int(bad)} is out of bounds for {c} classes (valid class indices are 0 to "
                         f"{c - 1}, or ignore_index={ignore_index})")
    if weight is not None:
        wt = weight[tt]
        if not all_valid:
            wt = wt * valid
    else:
        wt = None if all_valid else valid.astype(dtype)
    return tt, wt, valid, all_valid


def _needs(ctx, i):
    """Whether backward will want the gradient of argument i (False when forward runs without recording)."""
    n = ctx.needs_input_grad
    return bool(n) and n[i]


def _row_scale(g, reduction, denom):
    """The gradient reaching each row's loss: g itself ('none'), g ('sum'), g / denom ('mean')."""
    if reduction == "none":
        return g.reshape(-1)
    return g / denom if reduction == "mean" else g


# --------------------------------------------------------------------------- cross-entropy and NLL

class CrossEntropy(Function):
    """loss_i = -sum_c q_ic log softmax(x_i)_c, q the target distribution of row i (one-hot or probabilities,
    times class weights, smoothed); dx_i = a_i (sum_c q_ic · softmax(x_i) - q_i), a_i the reduction's scale."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction, probs, op):
        xp = ctx.xp
        c = x.shape[1] if x.ndim >= 2 else x.shape[0]
        z = _rows(xp, x)
        m = z.size
        with quiet(xp):
            sh = z - z.max(axis=1, keepdims=True) if m else z.copy()
            p = xp.exp(sh)
            s = p.sum(axis=1, keepdims=True)
            logs = xp.log(s)
            p /= s
        ls = label_smoothing
        ctx.meta = (x.shape, reduction, ls, probs, c)
        if probs:
            q = _rows(xp, target)
            if ls:
                q = q * (1 - ls) + ls / c
            qw = q * weight if weight is not None else q
            logp = sh - logs
            loss = -(logp * qw).sum(axis=1)
            denom = loss.shape[0]
            ctx.save_for_backward(p, qw, logp if _needs(ctx, 1) else None, weight)
            out_shape = (x.shape[0],) + tuple(x.shape[2:]) if x.ndim >= 2 else ()
        else:
            tt, wt, valid, all_valid = _class_targets(xp, target, weight, ignore_index, c, op, x.dtype)
            rows = xp.arange(z.shape[0])
            logp_t = sh[rows, tt] - logs[:, 0]
            loss = -logp_t if wt is None else -logp_t * wt
            if ls:
                # sum_c w_c log p_ic = sum_c w_c sh_ic - logs_i sum_c w_c, without forming log p
                wsum = float(weight.sum()) if weight is not None else c
                smooth = -((sh @ weight) if weight is not None else sh.sum(axis=1)) + logs[:, 0] * wsum
                if not all_valid:
                    smooth = smooth * valid
                loss = loss * (1 - ls) + smooth * (ls / c)
            denom = wt.sum() if wt is not None else loss.shape[0]
            ctx.save_for_backward(p, tt, wt, valid.astype(x.dtype) if not all_valid else None, weight)
            out_shape = tuple(target.shape)
        ctx.denom = denom
        if reduction == "none":
            return loss.reshape(out_shape)
        total = loss.sum()
        if reduction == "mean":
            with quiet(xp):
                total = total / denom
        return xp.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        shape, reduction, ls, probs, c = ctx.meta
        a = _row_scale(g, reduction, ctx.denom)
        gx = gt = None
        if probs:
            p, qw, logp, weight = ctx.saved_tensors
            if ctx.needs_input_grad[0]:
                coef = qw.sum(axis=1, keepdims=True)
                if a.ndim:
                    coef *= a[:, None]
                    gx = p * coef - qw * a[:, None]
                else:
                    gx = p * (coef * a) - qw * a
                gx = _unrows(xp, gx, shape)
            if ctx.needs_input_grad[1]:
                gq = logp * (-(1 - ls))
                if weight is not None:
                    gq = gq * weight
                gt = _unrows(xp, gq * (a[:, None] if a.ndim else a), shape)
            return gx, gt, None, None, None, None, None, None
        p, tt, wt, valid, weight = ctx.saved_tensors
        # row i: pick_i = (1 - ls) w_{t_i} (the one-hot part of q_i), s_i = sum_c q_ic = pick_i + ls/C sum_c w_c;
        # both are 0 for ignored rows.  dx_i = a_i (s_i p_i - q_i)
        pick = (1 - ls) if wt is None else wt * (1 - ls)
        s = pick
        if ls:
            spread = ls / c * (float(weight.sum()) if weight is not None else c)
            s = pick + (spread if valid is None else spread * valid)
        pick = pick * a
        s = s * a
        gx = p * (s[:, None] if getattr(s, "ndim", 0) else s)
        gx[xp.arange(p.shape[0]), tt] -= pick
        if ls:
            sm = a * (ls / c)
            if valid is not None:
                sm = sm * valid
            if getattr(sm, "ndim", 0):
                sm = sm[:, None]
            gx -= sm * weight if weight is not None else sm
        return _unrows(xp, gx, shape), None, None, None, None, None, None, None


class NLL(Function):
    """loss_i = -w_{t_i} x_{i, t_i};  dx_{i, t_i} = -a_i w_{t_i} (zero elsewhere)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, op):
        xp = ctx.xp
        c = x.shape[1] if x.ndim >= 2 else x.shape[0]
        z = _rows(xp, x)
        tt, wt, valid, _ = _class_targets(xp, target, weight, ignore_index, c, op, x.dtype)
        picked = z[xp.arange(z.shape[0]), tt]
        loss = -picked if wt is None else -picked * wt
        ctx.denom = wt.sum() if wt is not None else loss.shape[0]
        ctx.save_for_backward(tt, wt)
        ctx.meta = (x.shape, z.shape, reduction)
        if reduction == "none":
            return loss.reshape(target.shape)
        total = loss.sum()
        if reduction == "mean":
            with quiet(xp):
                total = total / ctx.denom
        return xp.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        tt, wt = ctx.saved_tensors
        shape, zshape, reduction = ctx.meta
        a = _row_scale(g, reduction, ctx.denom)
        gz = xp.zeros(zshape, dtype=g.dtype)
        val = -a if wt is None else -(a * wt)
        gz[xp.arange(zshape[0]), tt] = val
        return _unrows(xp, gz, shape), None, None, None, None, None


# --------------------------------------------------------------------------- element-wise losses

class _Pointwise(Function):
    """Shared body of the element-wise losses: l = weight * f(x, y) over the broadcast shape, then reduced.

    Subclasses define ``_value(xp, x, y, *params) -> (f, saved)`` and
    ``_grads(xp, need_x, need_y, saved, *params) -> (df/dx, df/dy)``. ``mean_by_weight``: the mean divides by
    sum(weight) instead of the element count (PyTorch's weighted MSE and L1).
    """

    @staticmethod
    def forward(ctx, x, y, weight, reduction, mean_by_weight, *params):
        xp = ctx.xp
        with quiet(xp):
            f, saved = ctx._fn._value(xp, x, y, *params)
        need_w = weight is not None and _needs(ctx, 2)
        ctx.save_for_backward(saved, weight, f if need_w else None)
        ctx.meta = (x.shape, y.shape, None if weight is None else weight.shape, reduction, params)
        loss = f if weight is None else f * weight
        if reduction == "none":
            ctx.denom = None
            return loss
        total = loss.sum()
        if reduction == "mean":
            denom = weight.sum() if (mean_by_weight and weight is not None) else loss.size
            ctx.denom = denom
            ctx.mean_value = None
            with quiet(xp):
                total = total / denom
            if mean_by_weight and weight is not None:
                ctx.mean_value = total
        return xp.asarray(total, dtype=loss.dtype)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        saved, weight, f = ctx.saved_tensors
        xs, ys, ws, reduction, params = ctx.meta
        need = ctx.needs_input_grad
        scale = g / ctx.denom if reduction == "mean" else g
        gx = gy = gw = None
        if need[0] or need[1]:
            sw = scale * weight if weight is not None else scale
            with quiet(xp):
                dx, dy = ctx._fn._grads(xp, need[0], need[1], saved, *params)
            if need[0]:
                gx = unbroadcast(dx * sw, xs)
            if need[1]:
                gy = unbroadcast(dy * sw, ys)
        if f is not None:
            mv = getattr(ctx, "mean_value", None)
            gw = unbroadcast(scale * (f - mv) if mv is not None else scale * f, ws)
        return (gx, gy, gw) + (None,) * (2 + len(params))


class MSE(_Pointwise):
    """f = (x - y)²;  df/dx = 2 (x - y) = -df/dy"""

    @staticmethod
    def _value(xp, x, y):
        d = x - y
        return d * d, d

    @staticmethod
    def _grads(xp, nx, ny, d):
        gx = 2 * d
        return gx, -gx if ny else None


class L1(_Pointwise):
    """f = |x - y|;  df/dx = sign(x - y) = -df/dy"""

    @staticmethod
    def _value(xp, x, y):
        d = x - y
        return xp.abs(d), d

    @staticmethod
    def _grads(xp, nx, ny, d):
        s = xp.sign(d)
        return s, -s if ny else None


class SmoothL1(_Pointwise):
    """f = d²/(2 beta) where |d| < beta, else |d| - beta/2 (d = x - y);  df/dx = d / beta or sign(d)"""

    @staticmethod
    def _value(xp, x, y, beta):
        d = x - y
        ad = xp.abs(d)
        if beta == 0:
            return ad, d
        return xp.where(ad < beta, (0.5 / beta) * d * d, ad - 0.5 * beta), d

    @staticmethod
    def _grads(xp, nx, ny, d, beta):
        s = xp.sign(d) if beta == 0 else xp.where(xp.abs(d) < beta, d / beta, xp.sign(d))
        return s, -s if ny else None


class Huber(_Pointwise):
    """f = d²/2 where |d| <= delta, else delta (|d| - delta/2);  df/dx = clamp(d, -delta, delta)"""

    @staticmethod
    def _value(xp, x, y, delta):
        d = x - y
        ad = xp.abs(d)
        return xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta)), d

    @staticmethod
    def _grads(xp, nx, ny, d, delta):
        s = xp.clip(d, -delta, delta)
        return s, -s if ny else None


class BCE(_Pointwise):
    """f = -(y log x + (1 - y) log(1 - x)), logs clamped at -100 (PyTorch);
    df/dx = (x - y) / max(x (1 - x), 1e-12),  df/dy = log(1 - x) - log x"""

    @staticmethod
    def _value(xp, x, y):
        lx = xp.maximum(xp.log(x), -100)
        l1x = xp.maximum(xp.log1p(-x), -100)
        return -(y * lx + (1 - y) * l1x), (x, y, lx, l1x)

    @staticmethod
    def _grads(xp, nx, ny, saved):
        x, y, lx, l1x = saved
        gx = (x - y) / xp.maximum(x * (1 - x), 1e-12) if nx else None
        return gx, (l1x - lx) if ny else None


class BCEWithLogits(_Pointwise):
    """f = (1 - y) x + L softplus(-x), L = 1 + (pos_weight - 1) y;
    df/dx = (1 - y) - L sigmoid(-x),  df/dy = -x + (pos_weight - 1) softplus(-x)"""

    @staticmethod
    def _value(xp, x, y, pos_weight):
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x), no overflow
        lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        return (1 - y) * x + lw * sp, (x, y, sp, lw)

    @staticmethod
    def _grads(xp, nx, ny, saved, pos_weight):
        x, y, sp, lw = saved
        gx = gy = None
        if nx:
            e = xp.exp(-xp.abs(x))
            sig_neg = xp.where(x >= 0, e / (1 + e), 1 / (1 + e))  # sigmoid(-x)
            gx = (1 - y) - lw * sig_neg
        if ny:
            gy = -x if pos_weight is None else -x + (pos_weight - 1) * sp
        return gx, gy


class KLDiv(_Pointwise):
    """f = y (log y - x) (0 where y = 0), or exp(y) (y - x) with log_target;
    df/dx = -y (or -exp(y)),  df/dy = log y + 1 - x (or exp(y) (y - x + 1))"""

    @staticmethod
    def _value(xp, x, y, log_target):
        if log_target:
            ey = xp.exp(y)
            return ey * (y - x), (x, y, ey)
        ylogy = xp.where(y > 0, y * xp.log(xp.where(y > 0, y, 1)), 0)
        ylogy = xp.where(xp.isnan(y), y, ylogy)
        return ylogy - y * x, (x, y, None)

    @staticmethod
    def _grads(xp, nx, ny, saved, log_target):
        x, y, ey = saved
        if log_target:
            return (-ey if nx else None), (ey * (y - x + 1) if ny else None)
        return (-y if nx else None), (xp.log(y) + 1 - x if ny else None)


class SoftMargin(_Pointwise):
    """f = log(1 + exp(-y x));  df/dx = -y sigmoid(-y x),  df/dy = -x sigmoid(-y x)"""

    @staticmethod
    def _value(xp, x, y):
        z = -y * x
        return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z))), (x, y, z)

    @staticmethod
    def _grads(xp, nx, ny, saved):
        x, y, z = saved
        e = xp.exp(-xp.abs(z))
        s = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))  # sigmoid(z)
        return (-y * s if nx else None), (-x * s if ny else None)



# --------------------------------------------------------------------------- multilabel margin


class MultiLabelMargin(Function):
    """l_n = Σ_{j target} Σ_{i not target} max(0, 1 - (x[y_j] - x[i])) / C for (N, C) scores; the targets of a
    row are its class indices up to the first -1.  Backward: each active hinge adds 1/C to x[i] and -1/C to
    x[y_j]."""

    @staticmethod
    def forward(ctx, x, target, reduction):
        xp = ctx.xp
        n, c = x.shape
        valid = xp.cumprod(target != -1, axis=1).astype(bool)
        tgt = xp.where(valid, target, 0)
        is_target = xp.zeros((n, c), dtype=bool)
        rows = xp.broadcast_to(xp.arange(n)[:, None], (n, c))
        is_target[rows[valid], tgt[valid]] = True
        xy = xp.take_along_axis(x, tgt, axis=1)
        hinge = 1 - xy[:, :, None] + x[:, None, :]
        active = (hinge > 0) & valid[:, :, None] & ~is_target[:, None, :]
        loss = (xp.where(active, hinge, 0).sum(axis=(1, 2)) / c).astype(x.dtype, copy=False)
        ctx.save_for_backward(active, tgt)
        ctx.meta = (x.shape, reduction)
        if reduction == "mean":
            return loss.mean() if n else xp.asarray(float("nan"), dtype=x.dtype)
        return loss.sum() if reduction == "sum" else loss

    @staticmethod
    def backward(ctx, g):
        active, tgt = ctx.saved_tensors
        (n, c), reduction = ctx.meta
        xp = ctx.xp
        scale = (g / (c * n) if reduction == "mean" else g / c) if reduction != "none" else (g / c)[:, None]
        a = active.astype(g.dtype)
        gx = a.sum(axis=1) * scale
        xp.add.at(gx, (xp.broadcast_to(xp.arange(n)[:, None], (n, c)), tgt), -a.sum(axis=2) * scale)
        return gx, None, None
