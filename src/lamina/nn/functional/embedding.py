"""Functional embeddings: ``embedding`` (a row lookup) and ``embedding_bag`` (sums, means or maxima of bags of rows).

Each is one op with a hand-written backward (a sort-based scatter-add); indices out of range raise an error naming
the layer, the index and ``num_embeddings``.
"""

from lamina.ops import embedding as _ops
from lamina.tensor import Tensor

__all__ = ["embedding"]


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
