"""Shape ops: reshape, squeeze/unsqueeze, transpose/permute, expand, cat/stack/split, flip, pad."""

from lamina.autograd.function import ArrayFunction as Function
from lamina.ops._util import unbroadcast


class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None


class Permute(Function):
    """y = x with its axes reordered; the gradient is permuted back with the inverse order."""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return x.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        inv = [0] * len(ctx.axes)
        for i, a in enumerate(ctx.axes):
            inv[a] = i
        return g.transpose(inv), None


class Expand(Function):
    """y = x broadcast to a larger shape (a view); the gradient is summed back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape), None


class Cat(Function):
    """y = the inputs joined along ``dim``; each gets its slice of the gradient."""

    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        return ctx.xp.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        bounds = []
        acc = 0
        for s in ctx.sizes[:-1]:
            acc += s
            bounds.append(acc)
        return (None, *xp.split(g, bounds, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, dim, *xs):
        ctx.dim = dim
        ctx.n = len(xs)
        return ctx.xp.stack(xs, axis=dim)

    @staticmethod
    def backward(ctx, g):
        xp = ctx.xp
        return (None, *(xp.take(g, i, axis=ctx.dim) for i in range(ctx.n)))


class Split(Function):
    """Several outputs: consecutive pieces of ``x`` along ``dim``; backward joins their gradients."""

    @staticmethod
    def forward(ctx, x, sizes, dim):
        ctx.dim = dim
        bounds = []
        acc = 0
        for s in sizes[:-1]:
            acc += s
            bounds.append(acc)
        return tuple(ctx.xp.split(x, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *gs):
        return ctx.xp.concatenate(gs, axis=ctx.dim), None, None


class Flip(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return ctx.xp.flip(x, axis=axes)

    @staticmethod
    def backward(ctx, g):
        return ctx.xp.flip(g, axis=ctx.axes), None


class Pad(Function):
    """Constant padding with PyTorch's ``pad`` order (last dim first); negative widths crop."""

    @staticmethod
    def forward(ctx, x, pad, value):
        xp = ctx.xp
        n = len(pad) // 2
        widths = [(0, 0)] * (x.ndim - n) + [(pad[2 * i], pad[2 * i + 1]) for i in range(n)][::-1]
        crop = tuple(slice(max(-lo, 0), x.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(widths))
        x = x[crop]
        widths_pos = [(max(lo, 0), max(hi, 0)) for lo, hi in widths]
        ctx.meta = (widths, widths_pos, crop)
        return xp.pad(x, widths_pos, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, g):
        widths, widths_pos, crop = ctx.meta
        xp = ctx.xp
        inner = tuple(slice(lo, g.shape[d] - hi) for d, (lo, hi) in enumerate(widths_pos))
        g = g[inner]
        if any(lo < 0 or hi < 0 for lo, hi in widths):
            g = xp.pad(g, [(max(-lo, 0), max(-hi, 0)) for lo, hi in widths])
        return g, None, None


class Roll(Function):
    """y = x shifted cyclically by ``shifts`` along ``axes``; the gradient is rolled back."""

    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.meta = (shifts, axes)
        return ctx.xp.roll(x, shifts, axis=axes)

    @staticmethod
    def backward(ctx, g):
        shifts, axes = ctx.meta
        back = tuple(-s for s in shifts) if isinstance(shifts, tuple) else -shifts
        return ctx.xp.roll(g, back, axis=axes), None, None
