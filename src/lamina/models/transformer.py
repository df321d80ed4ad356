"""Transformer models: an encoder classifier over token sequences and a decoder-only character language model.

    from lamina.models import get_model
    clf = get_model("transformer", input_shape=(1, 28, 28), num_classes=10)   # image rows as 28 tokens
    lm = get_model("char_transformer", vocab_size=98, block_size=128)
    text_ids = lm.generate(prompt_ids, max_new_tokens=200, temperature=0.8, top_k=20)
"""

import math

import lamina
from lamina import nn
from lamina.autograd.grad_mode import no_grad
from lamina.models.registry import register_model
from lamina.nn import functional as F
from lamina.nn import init

__all__ = ["CharTransformer", "TransformerClassifier", "char_transformer", "transformer_classifier"]


def _positive(owner, **kwargs):
    for k, v in kwargs.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{owner}: {k} must be a positive int, got {v!r}")


class TransformerClassifier(nn.Module):
    """Token sequences -> class scores: a linear token embedding plus learned positions, a Transformer encoder,
    the mean over positions, and a linear head.

    An image (C, H, W) is read as H tokens of C*W features (its rows).

    Args:
        seq_len: number of tokens per sequence.
        in_features: features per token.
        num_classes: number of classes.
        d_model: width of the encoder. Default: 64.
        nhead: attention heads. Default: 4.
        num_layers: encoder layers. Default: 2.
        dim_feedforward: width of each feed-forward network. Default: 4 * d_model.
        dropout: dropout probability inside the encoder. Default: 0.1.
        activation: ``"relu"`` or ``"gelu"``. Default: ``"gelu"``.
        norm_first: pre-norm layers (and a final LayerNorm). Default: True.

    Shape:
        input (N, seq_len, in_features) or (N, C, H, W) with H = seq_len, C*W = in_features -> (N, num_classes)
    """

    def __init__(self, seq_len, in_features, num_classes, d_model=64, nhead=4, num_layers=2, dim_feedforward=None,
                 dropout=0.1, activation="gelu", norm_first=True):
        super().__init__()
        _positive("TransformerClassifier", seq_len=seq_len, in_features=in_features, num_classes=num_classes,
                  num_layers=num_layers)
        self.seq_len, self.in_features = seq_len, in_features
        self.embed = nn.Linear(in_features, d_model)
        self.pos_embed = nn.Parameter(lamina.zeros(1, seq_len, d_model))
        init.normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward or 4 * d_model, dropout, activation,
                                           batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, num_layers, nn.LayerNorm(d_model) if norm_first else None,
                                             enable_nested_tensor=False)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x):
        if x.ndim == 4 and x.shape[2] == self.seq_len and x.shape[1] * x.shape[3] == self.in_features:
            x = x.permute(0, 2, 1, 3).reshape(x.shape[0], self.seq_len, self.in_features)  # rows as tokens
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.seq_len, self.in_features):
            raise ValueError(f"TransformerClassifier: expected input of shape (N, {self.seq_len}, {self.in_features}) "
                             f"or an image batch (N, C, {self.seq_len}, W) with C*W = {self.in_features}, "
                             f"got {tuple(x.shape)}")
        h = self.encoder(self.embed(x) + self.pos_embed)
        return self.head(h.mean(1))


class CharTransformer(nn.Module):
    """A decoder-only (GPT-style) language model: token and learned position embeddings, pre-norm Transformer
    layers with a causal mask, a final LayerNorm and a linear head giving next-token logits at every position.

    Args:
        vocab_size: number of tokens (characters).
        block_size: longest context (positions). Default: 128.
        d_model: width. Default: 128.
        nhead: attention heads. Default: 4.
        num_layers: layers. Default: 2.
        dim_feedforward: width of each feed-forward network. Default: 4 * d_model.
        dropout: dropout probability. Default: 0.1.
        activation: ``"relu"``, ``"gelu"`` or a callable. Default: ``"gelu"`` (as GPT).

    Shape:
        input (N, L) int64 token indices, L <= block_size -> logits (N, L, vocab_size)
    """

    def __init__(self, vocab_size, block_size=128, d_model=128, nhead=4, num_layers=2, dim_feedforward=None,
                 dropout=0.1, activation="gelu"):
        super().__init__()
        _positive("CharTransformer", vocab_size=vocab_size, block_size=block_size, num_layers=num_layers)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.tok_embed = nn.Embedding(vocab_size, d_model)
        self.pos_embed = nn.Embedding(block_size, d_model)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward or 4 * d_model, dropout, activation,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers, nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab_size)
        for emb in (self.tok_embed, self.pos_embed):
            init.normal_(emb.weight, std=0.02)
        self.register_buffer("causal_mask", nn.Transformer.generate_square_subsequent_mask(block_size),
                             persistent=False)

    def forward(self, idx):
        if idx.ndim != 2 or idx.dtype is not lamina.int64 or not 1 <= idx.shape[1] <= self.block_size:
            raise ValueError(f"CharTransformer: expected int64 token indices of shape (N, L) with "
                             f"1 <= L <= block_size = {self.block_size}, got {idx.dtype} {tuple(idx.shape)}")
        n = idx.shape[1]
        x = self.drop(self.tok_embed(idx) + self.pos_embed(lamina.arange(n)))
        x = self.blocks(x, mask=self.causal_mask[:n, :n], is_causal=True)
        return self.head(x)

    @no_grad()
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, generator=None):
        """Extend each row of ``idx`` (N, L) by ``max_new_tokens`` sampled tokens (the model in eval mode).

        Each step samples from softmax(logits / temperature) of the last position, restricted to the ``top_k``
        most likely tokens when given; the context is the last ``block_size`` tokens.
        """
        if not temperature > 0:
            raise ValueError(f"CharTransformer.generate: temperature must be > 0, got {temperature}")
        if top_k is not None and not 1 <= top_k:
            raise ValueError(f"CharTransformer.generate: top_k must be >= 1, got {top_k}")
        was_training = self.training
        self.eval()
        try:
            for _ in range(max_new_tokens):
                logits = self(idx[:, -self.block_size:])[:, -1] / temperature
                if top_k is not None and top_k < self.vocab_size:
                    kth = lamina.topk(logits, top_k, dim=-1).values[:, -1:]
                    logits = logits.masked_fill(logits < kth, -math.inf)
                nxt = lamina.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
                idx = lamina.cat([idx, nxt], dim=1)
        finally:
            self.train(was_training)
        return idx


@register_model("transformer")
def transformer_classifier(input_shape=(1, 8, 8), num_classes=10, d_model=64, nhead=4, num_layers=2,
                           dim_feedforward=None, dropout=0.1, activation="gelu", norm_first=True):
    """A Transformer-encoder classifier; images (C, H, W) are read as H row tokens of C*W features, sequences
    given as (L, F)."""
    if len(input_shape) == 3:
        c, h, w = input_shape
        seq_len, in_features = h, c * w
    elif len(input_shape) == 2:
        seq_len, in_features = input_shape
    else:
        raise ValueError(f"transformer: input_shape must be (C, H, W) or (L, F), got {tuple(input_shape)}")
    return TransformerClassifier(seq_len, in_features, num_classes, d_model, nhead, num_layers, dim_feedforward,
                                 dropout, activation, norm_first)


@register_model("char_transformer")
def char_transformer(vocab_size, block_size=128, d_model=128, nhead=4, num_layers=2, dim_feedforward=None,
                     dropout=0.1, activation="gelu"):
    """A decoder-only character language model (causal self-attention, learned positions)."""
    return CharTransformer(vocab_size, block_size, d_model, nhead, num_layers, dim_feedforward, dropout, activation)
