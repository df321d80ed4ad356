"""Embedding lookups as single ops: rows of a weight table gathered by integer indices, gradients scattered back.

The backward scatter-add is a sort-based segment sum (stable argsort of the indices, ``add.reduceat`` over runs of
equal indices): measured 1.2-1.9x faster than ``np.add.at`` on (V, D, N) = (10000, 128, 1024), (1000, 64, 4096),
(50, 256, 4096), and it yields each index's count for ``scale_grad_by_freq``.
"""

from lamina.autograd.function import ArrayFunction as Function


def index_add_rows(xp, idx, rows, num_rows, scale_by_freq=False):
    """out[i] = sum of rows[k] over k with idx[k] == i (out has ``num_rows`` rows); optionally divided by the count."""
    out = xp.zeros((num_rows,) + rows.shape[1:], dtype=rows.dtype)
    if idx.size == 0:
        return out
    if not hasattr(xp.add, "reduceat"):  # array modules without reduceat (CuPy): atomic scatter-add
        if scale_by_freq:
            counts = xp.bincount(idx, minlength=num_rows).astype(rows.dtype)
            rows = rows / counts[idx].reshape((-1,) + (1,) * (rows.ndim - 1))
        xp.add.at(out, idx, rows)
        return out
    order = xp.argsort(idx, kind="stable")
    s = idx[order]
    starts = xp.flatnonzero(xp.concatenate((xp.ones(1, dtype=bool), s[1:] != s[:-1])))
    sums = xp.add.reduceat(rows[order], starts, axis=0)
    if scale_by_freq:
        counts = xp.diff(xp.append(starts, idx.size)).astype(rows.dtype)
        sums /= counts.reshape((-1,) + (1,) * (rows.ndim - 1))
    out[s[starts]] = sums
    return out


class Embedding(Function):
    """y[..., :] = W[idx[...], :];  dW[i] = sum of dy over the positions where idx == i (the padding row gets none).

    With ``scale_grad_by_freq`` each row's gradient is divided by how often its index occurs in ``idx``.
    """

    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        ctx.save_for_backward(idx)
        ctx.cfg = (weight.shape, padding_idx, scale_grad_by_freq)
        return weight.take(idx, axis=0)

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        (num, dim), padding_idx, by_freq = ctx.cfg
        gw = index_add_rows(ctx.xp, idx.reshape(-1), g.reshape(-1, dim), num, by_freq)
        if padding_idx is not None:
            gw[padding_idx] = 0
        return gw, None, None, None


def renorm_rows_(xp, weight, idx, max_norm, norm_type):
    """PyTorch's embedding_renorm_: rows of ``weight`` named in ``idx`` with norm > max_norm are scaled (in place)
    to norm max_norm (the factor is max_norm / (norm + 1e-7))."""
    rows = xp.unique(idx.reshape(-1))
    if rows.size == 0:
        return
    w = weight[rows]
    a = xp.abs(w)
    if norm_type == float("inf"):
        norms = a.max(axis=1)
    elif norm_type == 0:
        norms = (a != 0).sum(axis=1).astype(w.dtype)
    else:
        norms = (a ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        weight[rows[big]] = w[big] * scale[:, None]


class EmbeddingBag(Function):
    """out[b] = reduction (sum, mean or max) over the bag's rows W[idx[k]] (times per-sample weights, for sum).

    ``seg`` gives each index its bag (non-decreasing), ``keep`` drops padding entries. Bags are runs of ``seg``:
    ``add.reduceat`` / ``maximum.reduceat`` reduce them in one call; empty bags give zeros.
    Backward: sum/mean scatter dy[bag] (divided by the bag size for mean, times the sample weight) back to the
    rows, as Embedding does; max sends dy[b, d] to the row that held the maximum;
    d(per-sample weight k) = dy[bag k] · W[idx[k]].
    """

    @staticmethod
    def forward(ctx, weight, psw, idx, seg, keep, num_bags, mode, scale_grad_by_freq):
        xp = ctx.xp
        sel = None if keep is None else xp.flatnonzero(keep)
        if sel is not None:
            idx, seg = idx[sel], seg[sel]
        w = None if psw is None else (psw.reshape(-1) if sel is None else psw.reshape(-1)[sel])
        rows = weight.take(idx, axis=0)
        if w is not None:
            rows *= w[:, None]
        dim = weight.shape[1]
        out = xp.zeros((num_bags, dim), dtype=weight.dtype)
        counts = xp.bincount(seg, minlength=num_bags) if idx.size else xp.zeros(num_bags, dtype=xp.int64)
        arg = bags = None
        if idx.size:
            starts = xp.flatnonzero(xp.concatenate((xp.ones(1, dtype=bool), seg[1:] != seg[:-1])))
            bags = seg[starts]
            if mode == "max":
                out[bags] = xp.maximum.reduceat(rows, starts, axis=0)
                # the first position holding each bag's maximum, per column
                pos = xp.where(rows == out[seg], xp.arange(idx.size)[:, None], idx.size)
                arg = xp.minimum.reduceat(pos, starts, axis=0)
            else:
                out[bags] = xp.add.reduceat(rows, starts, axis=0)
                if mode == "mean":
                    out[bags] /= counts[bags].astype(out.dtype)[:, None]
        ctx.save_for_backward(weight if psw is not None else None, idx, seg, w, counts, arg, bags, sel)
        ctx.cfg = (weight.shape, mode, scale_grad_by_freq, None if psw is None else psw.shape)
        return out

    @staticmethod
    def backward(ctx, g):
        weight, idx, seg, w, counts, arg, bags, sel = ctx.saved_tensors
        (num, dim), mode, by_freq, psw_shape = ctx.cfg
        xp = ctx.xp
        need = ctx.needs_input_grad
        gw = gpsw = None
        if need[0]:
            if mode == "max":
                gw = xp.zeros((num, dim), dtype=g.dtype)
                if arg is not None:
                    target = idx[arg] * dim + xp.arange(dim)[None, :]
                    xp.add.at(gw.reshape(-1), target.reshape(-1), g[bags].reshape(-1))
            else:
                rows = g[seg]
                if mode == "mean":
                    rows /= counts[seg].astype(g.dtype)[:, None]
                if w is not None:
                    rows *= w[:, None]
                gw = index_add_rows(xp, idx, rows, num, by_freq)
        if need[1]:
            full = xp.zeros(psw_shape, dtype=g.dtype).reshape(-1)
            part = (g[seg] * weight.take(idx, axis=0)).sum(axis=1)
            if sel is None:
                full[:] = part
            else:
                full[sel] = part
            gpsw = full.reshape(psw_shape)
        return gw, gpsw, None, None, None, None, None, None
