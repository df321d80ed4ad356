"""The step engine shared by lamina's element-wise optimisers (SGD, Adam/AdamW, Adagrad, RMSprop, ...).

An optimiser says which per-parameter state arrays it keeps (``_array_kinds``), how a parameter's scalar state
advances and what the step depends on (``_prepare`` returns a key such as the step count), the step's
coefficients (``_coeffs``) and the update on arrays (``_kernel``). The engine runs that update fast:

* flat buffers: a group's state arrays of one kind (``exp_avg``...) live in one contiguous buffer per dtype;
  ``state[p]["exp_avg"]`` is a lamina Tensor viewing its slice, so ``state_dict``, serialisation and user code
  see ordinary per-parameter tensors;
* blocks: the update runs block by block (2 MiB per array), so the dozen in-place ufunc calls of an Adam step
  work on cached data instead of streaming each array from memory a dozen times. A large parameter is cut
  into blocks; small parameters are packed into one block (their values and gradients gathered into scratch
  arrays, the new values scattered back), so a model of many small tensors also costs a dozen calls per
  block, not per tensor;
* threads: NumPy releases the GIL inside ufuncs, so the blocks of a large step are shared among up to 4
  threads (``LAMINA_NUM_THREADS``, else ``OMP_NUM_THREADS``, else the CPUs this process may use). The blocks
  are large because every ufunc call hands the GIL over; the result is bit-identical whatever the count;
* no temporaries: every ufunc writes with ``out=`` into preallocated block-sized scratch arrays.

Parameters and gradients stay where they are: ``p._data`` and ``p.grad`` remain the user's arrays. When some
parameters of a group have no gradient (frozen layers) or another step count (they lacked a gradient at some
step), each run of consecutive parameters that share a step count is updated on its own, with the same kernel.
"""

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

from lamina.backend.xp import get_xp
from lamina.optim.optimizer import Optimizer
from lamina.tensor import Tensor

_BLOCK_BYTES = 1 << 21
_N_TMP = 3
_MAX_THREADS = 4
_MIN_PER_THREAD = 1 << 19  # fewer elements than this per thread: threads cost more than they save


def _plan(sizes, offsets, block, indices):
    """Cut the parameters ``indices`` (consecutive in the flat buffer) into blocks ``(lo, hi, pieces)``; a piece
    ``(i, a, b, o)`` is elements ``a:b`` of parameter ``i``, at offset ``o`` of the block."""
    blocks, cur, cur_lo, cur_n = [], [], 0, 0
    for i in indices:
        n, lo = sizes[i], offsets[i]
        if n == 0:
            continue
        if n > block // 16:  # gathering costs two extra passes over it: run a mid-sized parameter in place
            if cur:
                blocks.append((cur_lo, cur_lo + cur_n, tuple(cur)))
                cur, cur_n = [], 0
            k = -(-n // block)
            step = -(-n // k)
            for a in range(0, n, step):
                b = min(a + step, n)
                blocks.append((lo + a, lo + b, ((i, a, b, 0),)))
            continue
        if cur and cur_n + n > block:
            blocks.append((cur_lo, cur_lo + cur_n, tuple(cur)))
            cur, cur_n = [], 0
        if not cur:
            cur_lo = lo
        cur.append((i, 0, n, cur_n))
        cur_n += n
    if cur:
        blocks.append((cur_lo, cur_lo + cur_n, tuple(cur)))
    return blocks


class _Layout:
    """The flat state buffers of the parameters of one group that share an array module and dtype."""

    def __init__(self, group, params, kinds, state):
        first = params[0]._data
        self.group, self.params, self.kinds = group, list(params), kinds
        self.xp, self.dtype = get_xp(first), first.dtype
        self.shapes = [p._data.shape for p in params]
        self.sizes = [p._data.size for p in params]
        offsets = [0]
        for n in self.sizes:
            offsets.append(offsets[-1] + n)
        self.offsets = offsets
        self.block = max(1024, _BLOCK_BYTES // first.itemsize)
        self.bufs = [self.xp.zeros(offsets[-1], dtype=self.dtype) for _ in kinds]
        self.views = [[Tensor._make(buf[offsets[i]:offsets[i + 1]].reshape(shape), False, None, 0)
                       for i, shape in enumerate(self.shapes)] for buf in self.bufs]
        for i, p in enumerate(params):  # adopt state that exists already (earlier layout, load_state_dict)
            st = state.get(p)
            if not st:
                continue
            for k, kind in enumerate(kinds):
                old = st.get(kind)
                if isinstance(old, Tensor):
                    view = self.views[k][i]
                    if old._data.shape != view._data.shape:
                        raise ValueError(f"optimizer state {kind!r} of shape {tuple(old._data.shape)} doesn't match "
                                         f"its parameter of shape {tuple(view._data.shape)}")
                    view._data[...] = old._data
                    st[kind] = view
        self.blocks = _plan(self.sizes, offsets, self.block, range(len(params)))
        self._runs = {}

    def view(self, kind, i):
        return self.views[self.kinds.index(kind)][i]

    def run_blocks(self, first, last):
        """The blocks of parameters ``first..last`` (cached: the same runs recur step after step)."""
        blocks = self._runs.get((first, last))
        if blocks is None:
            if len(self._runs) > 256:
                self._runs.clear()
            blocks = self._runs[(first, last)] = _plan(self.sizes, self.offsets, self.block, range(first, last + 1))
        return blocks

    def valid(self, kinds, state):
        if kinds != self.kinds:
            return False
        views = self.views
        for i, p in enumerate(self.params):
            d = p._data
            if d.shape != self.shapes[i] or d.dtype != self.dtype:
                return False
            st = state.get(p)
            if st:
                for k, kind in enumerate(kinds):
                    v = st.get(kind)
                    if v is not None and v is not views[k][i]:
                        return False
        return True


class FlatOptimizer(Optimizer):
    """Base of the element-wise optimisers: ``step`` runs ``_kernel`` over flat state buffers, block by block.

    A subclass defines:
      ``_array_kinds(group)`` -> tuple of state names holding one array per parameter (``("exp_avg", ...)``);
      ``_prepare(group, p, layout, i)`` -> initialise ``self.state[p]`` on first use (arrays are
          ``layout.view(kind, i)``), advance its scalar state, return a hashable key the coefficients depend on;
      ``_coeffs(group, key)`` -> the step's coefficients (any object);
      ``_kernel(xp, c, p, g, s, t)`` -> update ``p`` and the state arrays ``s`` (in ``_array_kinds`` order) in
          place from the gradient ``g`` (read only), using the scratch arrays ``t`` (``len(t) == 3``).
    """

    def __init__(self, params, defaults):
        if defaults.get("differentiable"):
            raise RuntimeError(f"{type(self).__name__}: differentiable=True (differentiating through the "
                               "optimizer step) is not supported by lamina")
        super().__init__(params, defaults)
        self._layouts = {}
        self._scratch = {}

    def step(self, closure=None):
        """Perform a single optimisation step.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss (run with grad enabled).
        """
        loss = self._eval_closure(closure)
        for gi, group in enumerate(self.param_groups):
            self._step_group(gi, group)
        return loss

    def _state_loaded(self):
        self._layouts.clear()

    def __getstate__(self):
        # the flat buffers are a cache: a copy (deepcopy, pickle) rebuilds them from its own state tensors
        d = self.__dict__.copy()
        d["_layouts"], d["_scratch"] = {}, {}
        return d

    def __setstate__(self, d):
        self.__dict__.update(d)

    def _group_layouts(self, gi, group, kinds):
        params = group["params"]
        cached = self._layouts.get(gi)
        if cached is not None:
            c_group, c_params, layouts = cached
            if (c_group is group and len(c_params) == len(params) and all(a is b for a, b in zip(c_params, params))
                    and all(lay.valid(kinds, self.state) for lay in layouts)):
                return layouts
        buckets = {}
        for p in params:
            if p._data.dtype.kind == "f":
                buckets.setdefault((get_xp(p._data), p._data.dtype), []).append(p)
        layouts = [_Layout(group, ps, kinds, self.state) for ps in buckets.values()]
        self._layouts[gi] = (group, list(params), layouts)
        return layouts

    def _step_group(self, gi, group):
        kinds = self._array_kinds(group)
        for lay in self._group_layouts(gi, group, kinds):
            idxs = [i for i, p in enumerate(lay.params) if p.grad is not None]
            if not idxs:
                continue
            keys = [self._prepare(group, lay.params[i], lay, i) for i in idxs]
            if len(idxs) == len(lay.params) and keys.count(keys[0]) == len(keys):
                self._run(lay, self._coeffs(group, keys[0]), lay.blocks, idxs)
                continue
            # some parameters have no gradient (frozen, unused) or another step count: update each run of
            # consecutive parameters that share a key on its own blocks
            runs = []
            for i, key in zip(idxs, keys):
                if runs and runs[-1][0] == key and runs[-1][1][-1] == i - 1:
                    runs[-1][1].append(i)
                else:
                    runs.append((key, [i]))
            for key, run in runs:
                self._run(lay, self._coeffs(group, key), lay.run_blocks(run[0], run[-1]), run)

    def _scratch_for(self, lay, worker):
        key = (lay.xp, lay.dtype, worker)
        s = self._scratch.get(key)
        if s is None or s[0].size < lay.block:
            s = self._scratch[key] = [lay.xp.empty(lay.block, dtype=lay.dtype) for _ in range(2 + _N_TMP)]
        return s

    def _run(self, lay, c, blocks, idxs):
        pf, gf, back = {}, {}, []
        for i in idxs:
            p = lay.params[i]
            d, g = p._data, p.grad._data
            if g.size != d.size:
                raise RuntimeError(f"{type(self).__name__}: the gradient of a parameter of shape {tuple(d.shape)} "
                                   f"has shape {tuple(g.shape)}")
            if d.flags.c_contiguous:
                pf[i] = d.reshape(-1)
            else:
                pf[i] = d.flatten()
                back.append(i)
            gf[i] = g.reshape(-1)
            p._version += 1
        workers = _threads_for(lay, blocks)
        if workers == 1:
            self._run_blocks(lay, c, blocks, pf, gf, self._scratch_for(lay, 0))
        else:
            # the threads take the next block from a shared counter (next() on it is atomic under the GIL):
            # the calling thread starts at once and a helper that wakes late simply takes fewer blocks
            order = itertools.count()
            pool = _pool()
            futures = [pool.submit(self._run_blocks, lay, c, blocks, pf, gf, self._scratch_for(lay, k), order)
                       for k in range(1, workers)]
            self._run_blocks(lay, c, blocks, pf, gf, self._scratch_for(lay, 0), order)
            for f in futures:
                f.result()
        for i in back:
            lay.params[i]._data[...] = pf[i].reshape(lay.shapes[i])

    def _run_blocks(self, lay, c, blocks, pf, gf, scratch, order=None):
        """Run the kernel over ``blocks`` (all of them, or those whose index ``next(order)`` hands out)."""
        xp, bufs, kernel = lay.xp, lay.bufs, self._kernel
        pbuf, gbuf, tmps = scratch[0], scratch[1], scratch[2:]
        if order is not None:
            blocks = _take(blocks, order)
        for lo, hi, pieces in blocks:
            n = hi - lo
            s = [b[lo:hi] for b in bufs]
            t = [x[:n] for x in tmps]
            if len(pieces) == 1:
                i, a, b, _ = pieces[0]
                kernel(xp, c, pf[i][a:b], gf[i][a:b], s, t)
            else:
                pb, gb = pbuf[:n], gbuf[:n]
                for i, a, b, o in pieces:
                    pb[o:o + b - a] = pf[i][a:b]
                    gb[o:o + b - a] = gf[i][a:b]
                kernel(xp, c, pb, gb, s, t)
                for i, a, b, o in pieces:
                    pf[i][a:b] = pb[o:o + b - a]


def _default_threads():
    env = os.environ.get("LAMINA_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if env and env.strip().isdigit():
        n = int(env)
    else:
        n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(n, _MAX_THREADS))


_threads = [_default_threads()]
_pool_box = []


def _pool():
    if not _pool_box:
        _pool_box.append(ThreadPoolExecutor(max_workers=_MAX_THREADS - 1, thread_name_prefix="lamina-optim"))
    return _pool_box[0]


def _forget_pool():  # threads do not survive fork: a child process makes its own pool
    _pool_box.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _threads_for(lay, blocks):
    if _threads[0] == 1 or lay.xp.__name__ != "numpy" or len(blocks) < 2:
        return 1
    n = sum(hi - lo for lo, hi, _ in blocks)
    return max(1, min(_threads[0], len(blocks), n // _MIN_PER_THREAD))


def _take(blocks, order):
    while True:
        i = next(order)
        if i >= len(blocks):
            return
        yield blocks[i]


def effective_grad(xp, g, p, weight_decay, maximize, out):
    """The gradient an update uses: ``-g`` when maximising, plus ``weight_decay * p`` (coupled L2) when non-zero.

    PyTorch's order: ``grad = -grad`` then ``grad = grad + weight_decay * param``; ``g`` itself is never written.
    """
    if weight_decay != 0:
        xp.multiply(p, weight_decay, out=out)
        (xp.subtract if maximize else xp.add)(out, g, out=out)
        return out
    if maximize:
        return xp.negative(g, out=out)
    return g


def lerp_(xp, a, b, w, tmp):
    """``a.lerp_(b, w)`` as PyTorch computes it: ``a + w (b - a)`` for ``w < 0.5``, else ``b - (b - a)(1 - w)``."""
    xp.subtract(b, a, out=tmp)
    if w < 0.5:
        tmp *= w
        a += tmp
    else:
        tmp *= 1 - w
        xp.subtract(b, tmp, out=a)


def ema_sq_(xp, v, g, beta, tmp):
    """``v.mul_(beta).addcmul_(g, g, value=1 - beta)``: the running average of squared gradients."""
    v *= beta
    xp.multiply(g, 1 - beta, out=tmp)
    tmp *= g
    v += tmp


def check(ok, message):
    """Raise PyTorch's ``ValueError(message)`` for a bad hyperparameter."""
    if not ok:
        raise ValueError(message)


def check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    check(0.0 <= lr, f"Invalid learning rate: {lr}")


def check_betas(betas):
    check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
    check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")


def check_fused(fused, foreach):
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def init_arrays(state, layout, i, kinds, fill=0):
    """Point the missing array states of parameter ``i`` at its slices of the flat buffers, filled with ``fill``."""
    for kind in kinds:
        if kind not in state:
            view = layout.view(kind, i)
            view._data.fill(fill)
            state[kind] = view


def advance_step(state):
    """``state["step"] += 1`` (a 0-d tensor, as in PyTorch); returns the new step as a Python float."""
    step = state["step"]._data
    step += 1
    return float(step)
