"""Attention layers: ``MultiheadAttention`` (PyTorch's parameters, state_dict keys, initialisation and forward)."""

import lamina
from lamina.nn import init
from lamina.nn.functional.attention import _mha_forward
from lamina.nn.modules.linear import Linear
from lamina.nn.modules.module import Module
from lamina.nn.parameter import Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """``Linear`` under the name PyTorch gives MultiheadAttention's output projection (same weights, same keys)."""


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces: softmax(Q_h K_hᵀ / sqrt(d)) V_h per head, heads concatenated and
    projected, with Q, K, V linear projections of query, key and value.

    Args:
        embed_dim: model dimension E (query features and output size).
        num_heads: number of heads; must divide embed_dim.
        dropout: dropout on the attention weights (training mode only). Default: 0.0
        bias: biases on the input and output projections. Default: True
        add_bias_kv: learn one extra key and value (bias_k, bias_v) appended to the sequence. Default: False
        add_zero_attn: append a zero key and value to the sequence. Default: False
        kdim, vdim: key / value features (default embed_dim); when either differs, the projections are
            q_proj_weight, k_proj_weight, v_proj_weight instead of the packed in_proj_weight.
        batch_first: inputs and output are (N, L, E) instead of (L, N, E). Default: False

    Shape:
        query (L, N, E), key (S, N, kdim), value (S, N, vdim) (or batch first, or unbatched (L, E)) ->
        output like query, weights (N, L, S) averaged over heads or (N, H, L, S).
        key_padding_mask (N, S): True (or -inf) = ignore that key; attn_mask (L, S) or (N*H, L, S): True (or
        -inf) = that query may not attend to that key; float masks are added to the scores.

    The in-projection starts from Xavier-uniform, biases from 0, bias_k/bias_v from Xavier-normal, the output
    projection as a Linear layer, as in PyTorch.

    Example:
        >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = lamina.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        ((2, 5, 16), (2, 5, 5))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if not isinstance(embed_dim, int) or embed_dim <= 0 or not isinstance(num_heads, int) or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} and "
                             f"num_heads={num_heads} instead")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads (got embed_dim="
                             f"{embed_dim}, num_heads={num_heads})")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout probability has to be between 0 and 1, but got {dropout}")
        kw = dict(dtype=dtype, device=device)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(lamina.empty(embed_dim, embed_dim, **kw))
            self.k_proj_weight = Parameter(lamina.empty(embed_dim, self.kdim, **kw))
            self.v_proj_weight = Parameter(lamina.empty(embed_dim, self.vdim, **kw))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(lamina.empty(3 * embed_dim, embed_dim, **kw))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(lamina.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(lamina.empty(1, 1, embed_dim, **kw))
            self.bias_v = Parameter(lamina.empty(1, 1, embed_dim, **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """(attn_output, attn_weights or None); weights only when ``need_weights`` (averaged over heads unless
        ``average_attn_weights=False``). ``is_causal`` is a hint that ``attn_mask`` is the causal mask."""
        return _mha_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal, batch_first=self.batch_first)
