"""Transformer layers: ``Transformer``, ``TransformerEncoder(Layer)``, ``TransformerDecoder(Layer)``.

PyTorch's arguments, defaults, submodule names (so state_dict keys are identical: ``self_attn``,
``multihead_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1..3``, ``dropout1..3``, ``layers.N``, ``norm``,
``encoder.``/``decoder.``) and the forward of "Attention Is All You Need" (post-norm) or pre-norm
(``norm_first=True``, Fig. 1 of https://arxiv.org/pdf/2002.04745v1.pdf). The layers are compositions; the speed
comes from the fused ops underneath (multi-head attention, linear, layer norm).
"""

import copy
import numbers

import lamina
from lamina.nn import functional as F
from lamina.nn import init
from lamina.nn.modules.attention import MultiheadAttention
from lamina.nn.modules.container import ModuleList
from lamina.nn.modules.dropout import Dropout
from lamina.nn.modules.linear import Linear
from lamina.nn.modules.module import Module
from lamina.nn.modules.normalization import LayerNorm

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerEncoderLayer"]


def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    """(sz, sz) float mask: 0 on and below the diagonal, -inf above it (position i sees positions <= i)."""
    if not isinstance(sz, int) or isinstance(sz, bool) or sz < 0:
        raise ValueError(f"generate_square_subsequent_mask: sz must be a non-negative int, got {sz!r}")
    above = lamina.triu(lamina.ones(sz, sz, dtype=lamina.bool, device=device), 1)
    return lamina.zeros(sz, sz, dtype=dtype, device=device).masked_fill(above, float("-inf"))


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """``is_causal`` when given; otherwise whether ``mask`` (float or bool) is the square causal mask."""
    if is_causal is not None or mask is None:
        return is_causal is True
    sz = size if size is not None else mask.shape[-2]
    if tuple(mask.shape) != (sz, sz):
        return False
    causal = _generate_square_subsequent_mask(sz, device=mask.device)
    if mask.dtype is lamina.bool:
        return bool((mask == (causal != 0)).all())
    return bool((mask == causal.to(mask.dtype)).all())


def _seq_len(src, batch_first):
    if src.ndim == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _get_activation_fn(activation, layer):
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"{layer}: activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"{layer}: activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}")
    return activation


def _check_args(layer, d_model, nhead, dim_feedforward, dropout):
    for arg, v in (("d_model", d_model), ("nhead", nhead), ("dim_feedforward", dim_feedforward)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{layer}: {arg} must be a positive int, got {v!r}")
    if d_model % nhead:
        raise ValueError(f"{layer}: d_model ({d_model}) must be divisible by nhead ({nhead})")
    if not isinstance(dropout, numbers.Real) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
        raise ValueError(f"{layer}: dropout must be a probability in [0, 1], got {dropout!r}")


def _check_input(layer, name, x, d_model, batch_first):
    if not isinstance(x, lamina.Tensor):
        raise TypeError(f"{layer}: {name} must be a Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        layout = "(N, L, E)" if batch_first else "(L, N, E)"
        raise ValueError(f"{layer}: expected {name} of shape {layout} or (L, E) with E = d_model = {d_model}, "
                         f"got {tuple(x.shape)}")


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, each with a residual connection and layer norm.

    Post-norm (default): ``x = norm1(x + SA(x)); x = norm2(x + FF(x))``.
    Pre-norm (``norm_first=True``): ``x = x + SA(norm1(x)); x = x + FF(norm2(x))``,
    with ``FF(x) = linear2(dropout(activation(linear1(x))))`` and dropout after each block.

    Args:
        d_model: number of features of the input (required).
        nhead: number of attention heads (required); must divide ``d_model``.
        dim_feedforward: width of the feed-forward network. Default: 2048.
        dropout: dropout probability. Default: 0.1.
        activation: ``"relu"``, ``"gelu"`` or a unary callable. Default: relu.
        layer_norm_eps: eps of the layer norms. Default: 1e-5.
        batch_first: inputs and outputs as (N, L, E) instead of (L, N, E). Default: False.
        norm_first: layer norm before each block instead of after. Default: False.
        bias: the Linear and LayerNorm layers learn additive biases. Default: True.

    Shape:
        src (L, N, E), (N, L, E) if batch_first, or unbatched (L, E) -> output of the same shape.

    Example:
        >>> layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, batch_first=True)
        >>> layer(lamina.randn(8, 10, 64)).shape
        (8, 10, 64)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        _check_args(type(self).__name__, d_model, nhead, dim_feedforward, dropout)
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _get_activation_fn(activation, type(self).__name__)
        self.d_model, self.batch_first = d_model, batch_first

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        _check_input(type(self).__name__, "src", src, self.d_model, self.batch_first)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal=is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal=is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's output (memory) and a feed-forward network.

    Post-norm (default): ``x = norm1(x + SA(x)); x = norm2(x + MHA(x, memory)); x = norm3(x + FF(x))``;
    pre-norm (``norm_first=True``) applies each norm to the block's input instead.

    Args:
        d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias:
            as in :class:`TransformerEncoderLayer`.

    Shape:
        tgt (T, N, E), memory (S, N, E) ((N, T, E), (N, S, E) if batch_first; unbatched (T, E), (S, E))
        -> output of tgt's shape.

    Example:
        >>> layer = nn.TransformerDecoderLayer(d_model=64, nhead=4)
        >>> layer(lamina.randn(20, 8, 64), lamina.randn(10, 8, 64)).shape
        (20, 8, 64)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        _check_args(type(self).__name__, d_model, nhead, dim_feedforward, dropout)
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, bias=bias,
                                            **factory)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first,
                                                 bias=bias, **factory)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **factory)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **factory)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation, type(self).__name__)
        self.d_model, self.batch_first = d_model, batch_first

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        name = type(self).__name__
        _check_input(name, "tgt", tgt, self.d_model, self.batch_first)
        _check_input(name, "memory", memory, self.d_model, self.batch_first)
        if tgt.ndim != memory.ndim:
            raise ValueError(f"{name}: tgt and memory must both be batched or both unbatched, got shapes "
                             f"{tuple(tgt.shape)} and {tuple(memory.shape)}")
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, is_causal=is_causal,
                           need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                is_causal=is_causal, need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (deep copies: same initial weights), then ``norm``.

    Args:
        encoder_layer: a :class:`TransformerEncoderLayer` (required).
        num_layers: number of layers (required).
        norm: a final layer normalisation (or any module), optional.
        enable_nested_tensor, mask_check: accepted for compatibility; PyTorch's nested-tensor inference fast path
            does not exist here, so padded positions are computed like any other (PyTorch's fast path, taken
            only in inference, returns zeros there).

    Example:
        >>> enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(64, 4, batch_first=True), num_layers=2)
        >>> enc(lamina.randn(8, 10, 64)).shape
        (8, 10, 64)
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"TransformerEncoder: num_layers must be a positive int, got {num_layers!r}")
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """``is_causal=None`` detects whether ``mask`` is the square causal mask (PyTorch's rule)."""
        batch_first = getattr(self.layers[0], "batch_first", False)
        if isinstance(src, lamina.Tensor) and src.ndim in (2, 3):
            is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then ``norm``.

    Args:
        decoder_layer: a :class:`TransformerDecoderLayer` (required).
        num_layers: number of layers (required).
        norm: a final layer normalisation (or any module), optional.

    Example:
        >>> dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(64, 4), num_layers=2)
        >>> dec(lamina.randn(20, 8, 64), lamina.randn(10, 8, 64)).shape
        (20, 8, 64)
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        if not isinstance(decoder_layer, Module):
            raise TypeError(f"TransformerDecoder: decoder_layer must be a Module, got {type(decoder_layer).__name__}")
        if not isinstance(num_layers, int) or isinstance(num_layers, bool) or num_layers < 1:
            raise ValueError(f"TransformerDecoder: num_layers must be a positive int, got {num_layers!r}")
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        output = tgt
        batch_first = getattr(self.layers[0], "batch_first", False)
        if isinstance(tgt, lamina.Tensor) and tgt.ndim in (2, 3):
            tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, _seq_len(tgt, batch_first))
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention Is All You Need".

    An encoder of ``num_encoder_layers`` :class:`TransformerEncoderLayer` and a final LayerNorm, a decoder of
    ``num_decoder_layers`` :class:`TransformerDecoderLayer` and a final LayerNorm; every parameter with more than
    one dimension starts Xavier-uniform, as in PyTorch.

    Args:
        d_model: number of features of the inputs. Default: 512.
        nhead: number of attention heads. Default: 8.
        num_encoder_layers: Default: 6.
        num_decoder_layers: Default: 6.
        dim_feedforward: width of the feed-forward networks. Default: 2048.
        dropout: dropout probability. Default: 0.1.
        activation: ``"relu"``, ``"gelu"`` or a unary callable. Default: relu.
        custom_encoder, custom_decoder: modules used instead of the built ones. Default: None.
        layer_norm_eps: Default: 1e-5.
        batch_first: (N, L, E) instead of (L, N, E). Default: False.
        norm_first: pre-norm layers. Default: False.
        bias: Linear and LayerNorm biases. Default: True.

    Shape:
        src (S, N, E), tgt (T, N, E) ((N, S, E), (N, T, E) if batch_first; unbatched (S, E), (T, E))
        -> output (T, N, E) (the tgt's shape). Masks: src_mask (S, S) or (N*nhead, S, S), tgt_mask (T, T),
        memory_mask (T, S); key padding masks (N, S) / (N, T); a bool mask is True where attention is not allowed,
        a float mask is added to the attention scores.

    Example:
        >>> model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2)
        >>> tgt_mask = nn.Transformer.generate_square_subsequent_mask(20)
        >>> model(lamina.randn(10, 8, 32), lamina.randn(20, 8, 32), tgt_mask=tgt_mask).shape
        (20, 8, 32)
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **factory)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias, **factory)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **factory))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        for name, x in (("src", src), ("tgt", tgt)):
            if not isinstance(x, lamina.Tensor):
                raise TypeError(f"Transformer: {name} must be a Tensor, got {type(x).__name__}")
        if src.ndim == 3 and tgt.ndim == 3:
            b = 0 if self.batch_first else 1
            if src.shape[b] != tgt.shape[b]:
                raise RuntimeError(f"Transformer: the batch number of src and tgt must be equal, got shapes "
                                   f"{tuple(src.shape)} and {tuple(tgt.shape)} (batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError(f"Transformer: the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}), got shapes {tuple(src.shape)} and {tuple(tgt.shape)}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """A float (sz, sz) causal mask: -inf above the diagonal, 0 elsewhere."""
        return _generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
