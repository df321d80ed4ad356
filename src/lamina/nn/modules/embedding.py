"""Embedding layers: ``Embedding`` (a learnable lookup table of vectors) and ``EmbeddingBag`` (sums, means or
maxima of bags of its rows)."""

import lamina
from lamina.nn import init
from lamina.nn.functional.embedding import _embedding, _embedding_bag, _no_sparse, _padding_idx
from lamina.nn.modules.module import Module
from lamina.nn.parameter import Parameter

__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    """A lookup table: row i of ``weight`` (num_embeddings, embedding_dim) is the vector of index i.

    Args:
        num_embeddings: size of the table.
        embedding_dim: size of each vector.
        padding_idx: this row (negative counts from the end) starts at zero and gets no gradient. Default: None
        max_norm: looked-up rows with a larger ``norm_type``-norm are renormalised in place to it. Default: None
        norm_type: the p of the p-norm for ``max_norm``. Default: 2.0
        scale_grad_by_freq: divide each row's gradient by its count in the mini-batch. Default: False
        sparse: must be False (lamina has no sparse gradients).

    Shape:
        input (*) integer indices -> output (*, embedding_dim)

    The weight starts from N(0, 1) with the padding row zeroed, as in PyTorch.

    Example:
        >>> nn.Embedding(10, 3)(lamina.tensor([[1, 2, 4, 5], [4, 3, 2, 9]])).shape
        (2, 4, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        super().__init__()
        for k, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"Embedding: {k} must be a non-negative int, got {v!r}")
        _no_sparse("Embedding", sparse)
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = _padding_idx("Embedding", padding_idx, num_embeddings)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(lamina.empty(num_embeddings, embedding_dim, dtype=dtype, device=device),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: Shape of weight does not match num_embeddings and embedding_dim: "
                                 f"expected ({num_embeddings}, {embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with lamina.no_grad():
                self.weight._data[self.padding_idx] = 0

    def forward(self, input):
        return _embedding("Embedding", input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                          self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is ``embeddings`` (2-D, shared, not copied); frozen unless ``freeze=False``.

        Example:
            >>> nn.Embedding.from_pretrained(lamina.tensor([[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]]))(lamina.tensor([1]))
        """
        if embeddings.dim() != 2:
            raise ValueError(f"Embedding.from_pretrained: Embeddings parameter is expected to be 2-dimensional, got "
                             f"shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse, _weight=embeddings, _freeze=freeze)


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings, without building the per-index lookup.

    Args:
        num_embeddings, embedding_dim, max_norm, norm_type, scale_grad_by_freq, sparse: as in ``Embedding``.
        mode: "sum", "mean" or "max" over each bag. Default: "mean"
        include_last_offset: ``offsets`` has B + 1 entries, the last one the input length. Default: False
        padding_idx: entries equal to it are left out of their bag; its row starts at zero. Default: None

    Shape:
        input (B, N) or 1-D with offsets (B,) -> output (B, embedding_dim); per_sample_weights like input
        (mode "sum" only).

    Example:
        >>> bag = nn.EmbeddingBag(10, 3, mode="sum")
        >>> bag(lamina.tensor([1, 2, 4, 5, 4, 3, 2, 9]), lamina.tensor([0, 4])).shape
        (2, 3)
    """

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None):
        super().__init__()
        for k, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"EmbeddingBag: {k} must be a non-negative int, got {v!r}")
        _no_sparse("EmbeddingBag", sparse)
        if mode not in ("sum", "mean", "max"):
            raise ValueError("mode has to be one of sum, mean or max")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.mode, self.sparse = scale_grad_by_freq, mode, sparse
        self.padding_idx = _padding_idx("EmbeddingBag", padding_idx, num_embeddings)
        self.include_last_offset = include_last_offset
        if _weight is None:
            self.weight = Parameter(lamina.empty(num_embeddings, embedding_dim, dtype=dtype, device=device))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ValueError(f"EmbeddingBag: Shape of weight does not match num_embeddings and embedding_dim: "
                                 f"expected ({num_embeddings}, {embedding_dim}), got {tuple(_weight.shape)}")
            self.weight = Parameter(_weight)

    reset_parameters = Embedding.reset_parameters

    def forward(self, input, offsets=None, per_sample_weights=None):
        return _embedding_bag("EmbeddingBag", input, self.weight, offsets, self.max_norm, self.norm_type,
                              self.scale_grad_by_freq, self.mode, self.sparse, per_sample_weights,
                              self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is ``embeddings`` (2-D, shared); frozen unless ``freeze=False``."""
        if embeddings.dim() != 2:
            raise ValueError(f"EmbeddingBag.from_pretrained: Embeddings parameter is expected to be 2-dimensional, "
                             f"got shape {tuple(embeddings.shape)}")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm=max_norm, norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq,
                  mode=mode, sparse=sparse, _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag
