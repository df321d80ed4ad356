"""Distance layers: ``CosineSimilarity`` and ``PairwiseDistance`` (PyTorch's classes, arguments and reprs)."""

from lamina.nn.functional import distance as F
from lamina.nn.modules.module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    """Cosine similarity of x1 and x2 along ``dim``: Σ x1 x2 / (max(|x1|, eps) max(|x2|, eps)).

    Args:
        dim: the dimension reduced. Default: 1.
        eps: the smallest norm divided by. Default: 1e-8.

    Shape:
        x1 (*, D, *), x2 broadcastable to it -> output without ``dim``

    Example:
        >>> nn.CosineSimilarity()(lamina.randn(4, 3), lamina.randn(4, 3)).shape
        lamina.Size([4])
    """

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim.

    Args:
        p: the norm degree. Default: 2.
        eps: added to the difference to avoid a zero norm. Default: 1e-6.
        keepdim: keep the reduced dim. Default: False.

    Shape:
        x1 (N, D) or (D,), x2 broadcastable to it -> (N,) or ()

    Example:
        >>> nn.PairwiseDistance()(lamina.randn(4, 3), lamina.randn(4, 3)).shape
        lamina.Size([4])
    """

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
