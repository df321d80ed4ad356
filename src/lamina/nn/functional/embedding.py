"""Functional embeddings: ``embedding`` (a row lookup) and ``embedding_bag`` (sums, means or maxima of bags of rows).

Each is one op with a hand-written backward (a sort-based scatter-add); indices out of range raise an error naming
the layer, the index and ``num_embeddings``.
"""

from lamina.ops import embedding as _ops
from lamina.tensor import Tensor

__all__ = ["embedding", "embedding_bag"]


def _indices(op, input, num):
    """The index array of ``input`` (an integer Tensor), checked against [0, num)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor of indices, got {type(input).__name__}")
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected indices of an integer dtype (int64 or int32), got {input.dtype}")
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < 0 or hi >= num:
            bad = int(lo) if lo < 0 else int(hi)
            raise IndexError(f"{op}: index {bad} is out of range for num_embeddings={num} (valid indices are 0 to "
                             f"{num - 1})")
    return idx


def _weight(op, weight):
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim != 2:
        raise RuntimeError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape "
                           f"{tuple(weight.shape)}")
    return weight._data.shape[0]


def _padding_idx(op, padding_idx, num):
    """PyTorch's padding_idx: None, or an index in [-num, num), negative ones counted from the end."""
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(f"{op}: Padding_idx must be within num_embeddings (got padding_idx={padding_idx}, "
                         f"num_embeddings={num})")
    return padding_idx % num


def _no_sparse(op, sparse):
    if sparse:
        raise ValueError(f"{op}: sparse=True (sparse gradients) is not supported by lamina; use sparse=False")


def _embedding(op, input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse):
    num = _weight(op, weight)
    idx = _indices(op, input, num)
    padding_idx = _padding_idx(op, padding_idx, num)
    _no_sparse(op, sparse)
    if max_norm is not None:
        _ops.renorm_rows_(weight.xp, weight._data, idx, float(max_norm), float(norm_type))
        weight._version += 1
    return _ops.Embedding.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer ``input`` (*): output (*, dim).

    ``padding_idx``'s row gets no gradient; ``max_norm`` first renormalises (in place) the looked-up rows whose
    ``norm_type``-norm exceeds it; ``scale_grad_by_freq`` divides each row's gradient by its count in ``input``.

    Example:
        >>> F.embedding(lamina.tensor([[0, 2], [1, 0]]), lamina.randn(3, 4)).shape
        (2, 2, 4)
    """
    return _embedding("embedding", input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)


def _embedding_bag(op, input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                   per_sample_weights, include_last_offset, padding_idx):
    num = _weight(op, weight)
    _no_sparse(op, sparse)
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported "
                             f"for mode='sum' (got mode='{mode}')")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights.shape)}) is not None, "
                             f"then it must have the same shape as the input ({tuple(input.shape)})")
        if per_sample_weights._data.dtype != weight._data.dtype:
            raise RuntimeError(f"{op}: per_sample_weights dtype {per_sample_weights.dtype} must match the weight "
                               f"dtype {weight.dtype}")
    idx = _indices(op, input, num)
    xp = weight.xp
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets).__name__}")
        num_bags, length = idx.shape
        seg = xp.repeat(xp.arange(num_bags), length)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        off = offsets._data
        if off.dtype.kind not in "iu":
            raise RuntimeError(f"{op}: offsets must be integers, got {offsets.dtype}")
        if off.size and int(off[0]) != 0:
            raise ValueError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from "
                             f"position 0. However, got {int(off[0])}")
        if off.size and (int(off[-1]) > idx.size or (off.size > 1 and (off[1:] < off[:-1]).any())):
            raise ValueError(f"{op}: offsets must be non-decreasing and at most the input length {idx.size}, got "
                             f"{off.tolist()}")
        if include_last_offset:
            off = off[:-1]
        num_bags = off.size
        # each index's bag: how many bag starts lie at or before it
        seg = xp.searchsorted(off, xp.arange(idx.size), side="right") - 1
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")
    flat = idx.reshape(-1)
    padding_idx = _padding_idx(op, padding_idx, num)
    keep = None if padding_idx is None else flat != padding_idx
    if max_norm is not None:
        _ops.renorm_rows_(xp, weight._data, flat, float(max_norm), float(norm_type))
        weight._version += 1
    return _ops.EmbeddingBag.apply(weight, per_sample_weights, flat, seg, keep, num_bags, mode,
                                   bool(scale_grad_by_freq))


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embedding rows, without building the (bags, length, dim) lookup.

    ``input`` is (B, N) (B bags of N indices) or 1-D with ``offsets`` (B,) marking where each bag starts (B + 1
    with ``include_last_offset``); ``per_sample_weights`` (input's shape, mode "sum" only) scale the rows; entries
    equal to ``padding_idx`` are left out (and not counted by "mean"); empty bags give zeros.

    Example:
        >>> F.embedding_bag(lamina.tensor([1, 2, 4, 5, 4, 3, 2, 9]), lamina.randn(10, 3),
        ...                 lamina.tensor([0, 4])).shape
        (2, 3)
    """
    return _embedding_bag("embedding_bag", input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode,
                          sparse, per_sample_weights, include_last_offset, padding_idx)
