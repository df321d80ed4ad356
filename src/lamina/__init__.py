"""lamina: a deep-learning framework on NumPy, with PyTorch's names and semantics.

    import lamina
    from lamina import nn, optim
    import lamina.nn.functional as F
"""

from lamina import autograd
from lamina.autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from lamina.backend.dtypes import (
    bool_,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from lamina.backend.malloc import tune_allocator as _tune_allocator
from lamina.backend.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from lamina.backend.xp import device
from lamina.creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    tril,
    triu,
    zeros,
    zeros_like,
)
from lamina.ops.functions import (
    abs,
    add,
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    argsort,
    bmm,
    broadcast_tensors,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    concat,
    concatenate,
    cos,
    cumsum,
    detach,
    div,
    dot,
    eq,
    equal,
    exp,
    expand,
    flatten,
    flip,
    gather,
    ge,
    greater,
    greater_equal,
    gt,
    hstack,
    index_select,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    less,
    less_equal,
    log,
    log1p,
    log_softmax,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    logsumexp,
    lt,
    masked_fill,
    masked_select,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mm,
    mul,
    ne,
    neg,
    nonzero,
    norm,
    not_equal,
    outer,
    pad,
    permute,
    pow,
    prod,
    reciprocal,
    relu,
    repeat,
    reshape,
    rsqrt,
    scatter_add,
    sigmoid,
    sign,
    sin,
    softmax,
    sort,
    split,
    sqrt,
    square,
    squeeze,
    stack,
    std,
    std_mean,
    sub,
    sum,
    swapaxes,
    t,
    tanh,
    tile,
    topk,
    transpose,
    true_divide,
    unbind,
    unflatten,
    unsqueeze,
    var,
    var_mean,
    vstack,
    where,
)
from lamina.tensor import Size, Tensor, is_tensor

_tune_allocator()  # large temporaries reused from the heap, not page-faulted in every step (glibc only)

bool = bool_  # noqa: A001 - lamina.bool, as torch.bool
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
multiply, subtract, divide = mul, sub, div

__version__ = "0.1.0"


from lamina.ops import functions as _functions  # noqa: E402 - the ops beyond the first core set

for _name in _functions.EXTRA_FUNCTIONS:
    globals()[_name] = getattr(_functions, _name)
del _name


def numel(input):
    return input.numel()


def is_floating_point(input):
    return input.is_floating_point()


def _lazy(name):
    import importlib

    return importlib.import_module(f"lamina.{name}")


def __getattr__(name):
    if name in ("nn", "optim", "utils", "datasets", "transforms", "training", "models", "tune", "explain",
                "profiler", "serialization", "cli", "cuda", "linalg"):
        mod = _lazy(name)
        globals()[name] = mod
        return mod
    if name in ("save", "load"):
        from lamina import serialization

        return getattr(serialization, name)
    raise AttributeError(f"module 'lamina' has no attribute '{name}'")
