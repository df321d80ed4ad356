"""Matrix multiplication with PyTorch's rules for 1-D, 2-D and batched (broadcast) operands."""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import quiet, unbroadcast


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


# --------------------------------------------------------------------------- einsum

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def parse_einsum(equation, shapes):
    """An explicit einsum plan: one subscript string per operand and for the output, ellipses expanded.

    A label whose size is 1 in one operand but larger elsewhere (broadcasting) gets a fresh label in that operand,
    so each label has one size and backward can sum it out. Raises ValueError with the reason.
    """
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"{len(terms)} operand subscripts for {len(shapes)} operands")
    used = set(c for c in eq if c.isalpha())
    bad = set(eq) - set(_LETTERS) - set(",->.")
    if bad:
        raise ValueError(f"invalid subscript characters {sorted(bad)}")
    fresh = iter(c for c in _LETTERS if c not in used)
    n_ell = 0
    for t, shp in zip(terms, shapes):
        if t.count("...") > 1 or t.replace("...", "").count(".") or ("..." not in t and len(t) != len(shp)):
            raise ValueError(f"subscripts '{t}' do not match an operand of {len(shp)} dims {tuple(shp)}")
        if "..." in t:
            k = len(shp) - (len(t) - 3)
            if k < 0:
                raise ValueError(f"subscripts '{t}' have more labels than the operand's {len(shp)} dims")
            n_ell = max(n_ell, k)
    ell = "".join(next(fresh) for _ in range(n_ell))
    subs = []
    for t, shp in zip(terms, shapes):
        if "..." in t:
            k = len(shp) - (len(t) - 3)
            t = t.replace("...", ell[n_ell - k:] if k else "")
        subs.append(t)
    if arrow:
        out = rhs.replace("...", ell)
        if rhs.replace("...", "").count(".") or len(set(out)) != len(out):
            raise ValueError(f"invalid output subscripts '{rhs}'")
        for c in out:
            if not any(c in s for s in subs):
                raise ValueError(f"output label '{c}' does not appear in the operands")
    else:
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted((c for c, n in counts.items() if n == 1 and c not in ell),
                                   key=_LETTERS.index))
    sizes = {}
    for s, shp in zip(subs, shapes):
        for c, n in zip(s, shp):
            if sizes.get(c, 1) != n and n != 1 and sizes.get(c, 1) != 1:
                raise ValueError(f"label '{c}' has sizes {sizes[c]} and {n}")
            sizes[c] = max(sizes.get(c, 1), n)
    subs = ["".join(next(fresh) if n == 1 and sizes[c] > 1 else c for c, n in zip(s, shp))
            for s, shp in zip(subs, shapes)]
    return subs, out


def _optimize(ops):
    # NumPy's path optimiser hands matrix-product-like contractions to BLAS (5-40x faster from ~64x64 on) but costs
    # ~20 µs of planning: worth it for three or more operands or for any operand past a few thousand elements
    return len(ops) > 2 or any(o.size > 4096 for o in ops)


class Einsum(Function):
    """y = einsum(subs -> out, *operands);  d operand_i = einsum of dy with the other operands, onto subs_i
    (labels summed out only in operand i are broadcast back, repeated labels are written onto the diagonal)."""

    @staticmethod
    def forward(ctx, subs, out, *ops):
        ctx.save_for_backward(*ops)
        ctx.meta = (subs, out)
        eq = ",".join(subs) + "->" + out
        return ctx.xp.einsum(eq, *ops, optimize=_optimize(ops))

    @staticmethod
    def backward(ctx, g):
        ops = ctx.saved_tensors
        subs, out = ctx.meta
        xp = ctx.xp
        grads = [None, None]
        for i, (s, x) in enumerate(zip(subs, ops)):
            if not ctx.needs_input_grad[i + 2]:
                grads.append(None)
                continue
            others = [subs[j] for j in range(len(ops)) if j != i]
            uniq = "".join(dict.fromkeys(s))
            present = "".join(c for c in uniq if c in out or any(c in o for o in others))
            eq = ",".join([out] + others) + "->" + present
            r = xp.einsum(eq, g, *ops[:i], *ops[i + 1:], optimize=_optimize(ops))
            size = {c: n for c, n in zip(s, x.shape)}
            r = xp.broadcast_to(r.reshape([size[c] if c in present else 1 for c in uniq]), [size[c] for c in uniq])
            if len(uniq) == len(s):
                grads.append(xp.ascontiguousarray(r).astype(x.dtype, copy=False))
                continue
            gx = xp.zeros(x.shape, dtype=g.dtype)
            idx = []
            for c in s:
                shape = [1] * len(uniq)
                shape[uniq.index(c)] = size[c]
                idx.append(xp.arange(size[c]).reshape(shape))
            gx[tuple(idx)] = r
            grads.append(gx)
        return tuple(grads)


class Kron(Function):
    """Kronecker product: out[i*nb + j] = a[i] b[j] per dim;  da = Σ_j g[i, j] b[j],  db = Σ_i g[i, j] a[i]"""

    @staticmethod
    def forward(ctx, a, b):
        nd = max(a.ndim, b.ndim)
        a2 = a.reshape((1,) * (nd - a.ndim) + a.shape)
        b2 = b.reshape((1,) * (nd - b.ndim) + b.shape)
        ar = a2.reshape([v for s in a2.shape for v in (s, 1)])
        br = b2.reshape([v for s in b2.shape for v in (1, s)])
        ctx.save_for_backward(ar, br)
        ctx.shapes = (a.shape, b.shape)
        return (ar * br).reshape([p * q for p, q in zip(a2.shape, b2.shape)])

    @staticmethod
    def backward(ctx, g):
        ar, br = ctx.saved_tensors
        sa, sb = ctx.shapes
        gr = g.reshape([v for p, q in zip(ar.shape[::2], br.shape[1::2]) for v in (p, q)])
        odd, even = tuple(range(1, gr.ndim, 2)), tuple(range(0, gr.ndim, 2))
        ga = (gr * br).sum(axis=odd).reshape(sa) if ctx.needs_input_grad[0] else None
        gb = (gr * ar).sum(axis=even).reshape(sb) if ctx.needs_input_grad[1] else None
        return ga, gb


class Cross(Function):
    """c = a × b along ``dim`` (size 3);  da = b × g,  db = g × a (summed back over broadcast dims)"""

    @staticmethod
    def forward(ctx, a, b, dim):
        ctx.save_for_backward(a, b)
        ctx.dim = dim
        return ctx.xp.cross(a, b, axis=dim)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xp, dim = ctx.xp, ctx.dim
        ga = unbroadcast(xp.cross(b, g, axis=dim), a.shape) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(xp.cross(g, a, axis=dim), b.shape) if ctx.needs_input_grad[1] else None
        return ga, gb, None


# --------------------------------------------------------------------------- distances


class Cdist(Function):
    """d[..., p, r] = ||x1[..., p, :] - x2[..., r, :]||_p (batch dims broadcast).

    p = 2 on large inputs goes through one matrix product (|a|² + |b|² - 2 a·b, as PyTorch does past 25 rows);
    otherwise the differences are formed once. Backward: dx1 = Σ_r g ∂d/∂diff, dx2 = -Σ_p g ∂d/∂diff, with the
    gradient taken as 0 where a distance is 0.
    """

    @staticmethod
    def forward(ctx, x1, x2, p, use_mm):
        xp = ctx.xp
        ctx.meta = (p, use_mm, x1.shape, x2.shape)
        if use_mm:
            s1 = (x1 * x1).sum(-1)[..., :, None]
            s2 = (x2 * x2).sum(-1)[..., None, :]
            d = xp.sqrt(xp.maximum(s1 + s2 - 2 * xp.matmul(x1, xp.swapaxes(x2, -1, -2)), 0))
            ctx.save_for_backward(x1, x2, d)
            return d
        diff = x1[..., :, None, :] - x2[..., None, :, :]
        a = xp.abs(diff)
        if p == 0:
            d = (a != 0).sum(-1).astype(x1.dtype)
        elif p == 1:
            d = a.sum(-1)
        elif p == 2:
            d = xp.sqrt((diff * diff).sum(-1))
        elif p == float("inf"):
            d = a.max(-1) if a.shape[-1] else a.sum(-1)
        else:
            d = xp.power(xp.power(a, p).sum(-1), 1.0 / p)
        ctx.save_for_backward(x1, x2, d)
        return d

    @staticmethod
    def backward(ctx, g):
        x1, x2, d = ctx.saved_tensors
        p, use_mm, s1, s2 = ctx.meta
        xp = ctx.xp
        if p == 0:
            return (x1 * 0 if ctx.needs_input_grad[0] else None), (x2 * 0 if ctx.needs_input_grad[1] else None), \
                None, None
        with quiet(xp):
            if p == 2 and use_mm:
                w = xp.where(d == 0, 0, g / d)
                g1 = w.sum(-1)[..., None] * x1 - xp.matmul(w, x2)
                g2 = xp.swapaxes(w, -1, -2).sum(-1)[..., None] * x2 - xp.matmul(xp.swapaxes(w, -1, -2), x1)
            else:
                diff = x1[..., :, None, :] - x2[..., None, :, :]
                dd = d[..., None]
                if p == 1:
                    t = xp.sign(diff)
                elif p == 2:
                    t = xp.where(dd == 0, 0, diff / dd)
                elif p == float("inf"):
                    t = xp.sign(diff) * (xp.abs(diff) == dd)
                else:
                    t = xp.where(dd == 0, 0, diff * xp.power(xp.abs(diff), p - 2) / xp.power(dd, p - 1))
                t = t * g[..., None]
                g1, g2 = t.sum(-2), -t.sum(-3)
        ga = unbroadcast(g1.astype(g.dtype, copy=False), s1) if ctx.needs_input_grad[0] else None
        gb = unbroadcast(g2.astype(g.dtype, copy=False), s2) if ctx.needs_input_grad[1] else None
        return ga, gb, None, None


# --------------------------------------------------------------------------- determinant, inverse, solve


def _mT(a):  # noqa: N802
    return a.swapaxes(-1, -2)


class Det(Function):
    """y = det(A);  dA = g y A⁻ᵀ"""

    @staticmethod
    def forward(ctx, a):
        y = ctx.xp.linalg.det(a)
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved_tensors
        xp = ctx.xp
        try:
            return (g * y)[..., None, None] * _mT(xp.linalg.inv(a))
        except xp.linalg.LinAlgError:  # a singular matrix: the adjugate through the pseudo-inverse of the SVD
            u, s, vt = xp.linalg.svd(a)
            prod_others = _prod_except(xp, s)
            adj_t = xp.matmul(u * prod_others[..., None, :], vt) * xp.linalg.det(xp.matmul(u, vt))[..., None, None]
            return g[..., None, None] * adj_t


def _prod_except(xp, s):
    n = s.shape[-1]
    out = xp.ones_like(s)
    for k in range(n):  # n is a matrix side, not a batch: a short loop
        others = xp.concatenate([s[..., :k], s[..., k + 1:]], axis=-1)
        out[..., k] = others.prod(-1)
    return out


class Inv(Function):
    """Y = A⁻¹;  dA = -Yᵀ g Yᵀ"""

    @staticmethod
    def forward(ctx, a):
        y = ctx.xp.linalg.inv(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        yt = _mT(y)
        return -ctx.xp.matmul(yt, ctx.xp.matmul(g, yt))


class Solve(Function):
    """X = A⁻¹ B;  dB = A⁻ᵀ g,  dA = -dB Xᵀ (B a batch of column matrices here; batch dims broadcast)"""

    @staticmethod
    def forward(ctx, a, b):
        x = ctx.xp.linalg.solve(a, b)
        ctx.save_for_backward(a, x)
        ctx.shapes = (a.shape, b.shape)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        sa, sb = ctx.shapes
        xp = ctx.xp
        gb = xp.linalg.solve(_mT(a), g)
        ga = unbroadcast(-xp.matmul(gb, _mT(x)), sa) if ctx.needs_input_grad[0] else None
        return ga, (unbroadcast(gb, sb) if ctx.needs_input_grad[1] else None)


class CosineSimilarity(Function):
    """y = Σ (x1 / max(|x1|, eps)) (x2 / max(|x2|, eps)) along ``dim`` (PyTorch's clamped-norm form);
    dx1 = v / c1 - y x1 / (c1 |x1|) with v = x2 / c2 (the norm's own derivative taken unclamped, as PyTorch)."""

    @staticmethod
    def forward(ctx, x1, x2, dim, eps):
        xp = ctx.xp
        n1 = xp.sqrt((x1 * x1).sum(dim, keepdims=True))
        n2 = xp.sqrt((x2 * x2).sum(dim, keepdims=True))
        c1, c2 = xp.maximum(n1, eps), xp.maximum(n2, eps)
        y = ((x1 / c1) * (x2 / c2)).sum(dim, keepdims=True)
        ctx.save_for_backward(x1, x2, n1, n2, c1, c2, y)
        ctx.dim = dim
        return y.squeeze(dim)

    @staticmethod
    def backward(ctx, g):
        x1, x2, n1, n2, c1, c2, y = ctx.saved_tensors
        xp = ctx.xp
        g = xp.expand_dims(g, ctx.dim)
        with quiet(xp):
            g1 = g * (x2 / (c2 * c1) - xp.where(n1 == 0, 0, y * x1 / (c1 * n1))) if ctx.needs_input_grad[0] else None
            g2 = g * (x1 / (c1 * c2) - xp.where(n2 == 0, 0, y * x2 / (c2 * n2))) if ctx.needs_input_grad[1] else None
        return (unbroadcast(g1, x1.shape) if g1 is not None else None,
                unbroadcast(g2, x2.shape) if g2 is not None else None, None, None)
