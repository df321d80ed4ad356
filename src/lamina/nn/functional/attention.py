"""Functional attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward`` (PyTorch's names).

The attention core is one fused op (``lamina.ops.attention.Attention``) with a hand-written backward; multi-head
attention adds the input projections (one fused op) and the output projection (the fused linear op) around it.
"""

import math

from lamina.backend.random import _rng
from lamina.backend.xp import numpy_module as np
from lamina.ops import attention as _ops
from lamina.ops import functions as _fn
from lamina.ops import linear as _linear
from lamina.tensor import Tensor

__all__ = ["multi_head_attention_forward", "scaled_dot_product_attention"]


def _check_p(op, p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _dropout_mask(xp, shape, p, dtype):
    """The scaled keep-mask for attention dropout (None for p = 0), drawn from lamina's seeded generator."""
    if p == 0:
        return None
    if p == 1:
        return xp.zeros(shape, dtype=dtype)
    keep = _rng(None).random(shape, dtype=np.float32) >= np.float32(p)
    if xp is not np:
        keep = xp.asarray(keep)
    m = keep.astype(dtype)
    m *= dtype.type(1.0 / (1.0 - p))
    return m


def _additive_mask(op, mask, dtype, name, true_means_keep):
    """A bool mask as an additive float mask (0 or -inf) in ``dtype``; a float mask of ``dtype`` as it is."""
    xp = mask.xp
    arr = mask._data
    if arr.dtype == bool:
        out = xp.zeros(arr.shape, dtype=dtype)
        out[~arr if true_means_keep else arr] = -xp.inf
        return out
    if arr.dtype != dtype:
        raise RuntimeError(f"{op}: Expected {name} dtype to be bool or float or to match query dtype, but got "
                           f"{name}.dtype: {mask.dtype} and  query.dtype: {dtype} instead.")
    return arr


def _repeat_heads(x, groups):
    """(..., H, S, E) -> (..., H * groups, S, E), each head repeated ``groups`` times in a row (repeat_interleave)."""
    shape = tuple(x.shape)
    y = _fn.expand(_fn.unsqueeze(x, -3), shape[:-2] + (groups,) + shape[-2:])
    return _fn.reshape(y, shape[:-3] + (shape[-3] * groups,) + shape[-2:])


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(Q Kᵀ · scale + mask) V over the last two dims, scale = 1/sqrt(E) unless given.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev) (batch dims broadcast).
        attn_mask: bool (True = may attend) or float (added to the scores), broadcastable to (..., L, S).
        dropout_p: dropout on the attention weights (applied whenever > 0, as in PyTorch).
        is_causal: attend only to keys j <= i (a top-left aligned lower-triangular mask); no attn_mask then.
        enable_gqa: key/value may have fewer heads (dim -3) than query; each is shared by a group of query heads.

    Rows where every key is masked give zeros (and zero gradients), as in PyTorch.

    Example:
        >>> F.scaled_dot_product_attention(lamina.randn(2, 4, 8, 16), lamina.randn(2, 4, 6, 16),
        ...                                lamina.randn(2, 4, 6, 16)).shape
        (2, 4, 8, 16)
    """
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2 or t._data.dtype.kind != "f":
            raise RuntimeError(f"{op}: {name} must be a floating tensor with at least 2 dims (..., seq, features), "
                               f"got shape {tuple(t.shape)} and dtype {t.dtype}")
    dtype = query._data.dtype
    if key._data.dtype != dtype or value._data.dtype != dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead.")
    qs, ks, vs = tuple(query.shape), tuple(key.shape), tuple(value.shape)
    if qs[-1] != ks[-1] or ks[-2] != vs[-2]:
        raise RuntimeError(f"{op}: expected query (..., L, E), key (..., S, E) and value (..., S, Ev); got shapes "
                           f"{qs}, {ks} and {vs}")
    if enable_gqa and len(qs) >= 3 and len(ks) >= 3 and ks[-3] != qs[-3]:
        if qs[-3] % ks[-3] or ks[-3] != vs[-3]:
            raise RuntimeError(f"{op}: with enable_gqa the number of query heads ({qs[-3]}) must be a multiple of "
                               f"the key/value heads ({ks[-3]}, {vs[-3]})")
        key, value = _repeat_heads(key, qs[-3] // ks[-3]), _repeat_heads(value, qs[-3] // vs[-3])
        ks, vs = tuple(key.shape), tuple(value.shape)
    try:
        batch = np.broadcast_shapes(qs[:-2], ks[:-2], vs[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: the batch dims of query {qs}, key {ks} and value {vs} do not broadcast") from None
    _check_p(op, dropout_p)
    xp = query.xp
    L, S = qs[-2], ks[-2]
    mask = None
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                               "is_causal=True")
        mask = xp.zeros((L, S), dtype=dtype)
        mask[xp.triu(xp.ones((L, S), dtype=bool), 1)] = -xp.inf
    elif attn_mask is not None:
        mask = _additive_mask(op, attn_mask, dtype, "attn_mask", True)
        try:
            np.broadcast_shapes(tuple(mask.shape), batch + (L, S))
        except ValueError:
            raise RuntimeError(f"{op}: attn_mask of shape {tuple(mask.shape)} does not broadcast to the scores' "
                               f"shape {batch + (L, S)}") from None
        if attn_mask._data.dtype != bool and attn_mask.requires_grad:
            mask = attn_mask  # a float mask that requires grad gets its gradient
    scale = 1.0 / math.sqrt(qs[-1]) if scale is None else float(scale)
    dshape = np.broadcast_shapes(batch + (L, S), () if mask is None else tuple(mask.shape))
    dmask = _dropout_mask(xp, dshape, float(dropout_p), dtype)
    return _ops.Attention.apply(query, key, value, mask, dmask, scale, None, False, True, None)


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's checks of batched (3-D) and unbatched (2-D) inputs; True when batched."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got {type(t).__name__}")
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be 3-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D but "
                                 f"found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D but "
                                 f"found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be 2-D but found "
                                 f"{key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D "
                                 f"but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D "
                                     f"but found {attn_mask.ndim}-D tensor instead")
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.ndim}-D query "
                         f"tensor")


def _mask_array(mask, dtype, name):
    """An MHA mask (bool: True = masked out; float: added) as an additive float array in ``dtype``."""
    arr = mask._data
    if arr.dtype == bool:
        out = mask.xp.zeros(arr.shape, dtype=dtype)
        out[arr] = -mask.xp.inf
        return out
    if arr.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return arr.astype(dtype, copy=False)


def _in_groups(query, key, value, packed):
    """Which inputs share a GEMM: (position, first block, block count) per distinct input tensor."""
    if packed and query is key and key is value:
        return ((0, 0, 3),)
    if packed and key is value:
        return ((0, 0, 1), (1, 1, 2))
    return ((0, 0, 1), (1, 1, 1), (2, 2, 1))


def _heads_to_layout(x, bsz, num_heads, batch_first):
    """static_k/static_v (N*H, S, D) -> (N, S, H*D) or (S, N, H*D), the layout of the projected keys."""
    s, d = x.shape[1], x.shape[2]
    x = _fn.reshape(x, (bsz, num_heads, s, d))
    x = _fn.permute(x, (0, 2, 1, 3) if batch_first else (2, 0, 1, 3))
    return _fn.reshape(x, (bsz, s, num_heads * d) if batch_first else (s, bsz, num_heads * d))


def _mha_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k, bias_v,
                 add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training=True, key_padding_mask=None,
                 need_weights=True, attn_mask=None, use_separate_proj_weight=False, q_proj_weight=None,
                 k_proj_weight=None, v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                 is_causal=False, batch_first=False):
    """Multi-head attention on (L, N, E) inputs, or (N, L, E) with ``batch_first``; (output, weights or None)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    seq_axis, batch_axis = (1, 0) if batch_first else (0, 1)
    if not is_batched:
        query, key, value = (_fn.unsqueeze(t, batch_axis) for t in (query, key, value))
    tgt_len, bsz, embed_dim = query.shape[seq_axis], query.shape[batch_axis], query.shape[2]
    src_len = key.shape[seq_axis]
    dtype = query._data.dtype
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    k_shape, v_shape = tuple(key.shape), tuple(value.shape)
    if use_separate_proj_weight:
        if k_shape[:2] != v_shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {k_shape[:2]} do not match value's {v_shape[:2]}")
    elif k_shape != v_shape:
        raise AssertionError(f"key shape {k_shape} does not match value shape {v_shape}")
    if key.shape[batch_axis] != bsz:
        raise AssertionError(f"MultiheadAttention: query batch size {bsz} does not match key batch size "
                             f"{key.shape[batch_axis]}")
    if dtype.kind != "f" or key._data.dtype != dtype or value._data.dtype != dtype:
        raise RuntimeError(f"MultiheadAttention: query, key and value must share one floating dtype, got "
                           f"{query.dtype}, {key.dtype} and {value.dtype}")

    # the masks: one additive float array, (1 | N, 1 | H, L, S)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    kpm = None
    if key_padding_mask is not None:
        kpm = _mask_array(key_padding_mask, dtype, "key_padding_mask")
        if not is_batched:
            kpm = kpm[None]
        if kpm.shape != (bsz, src_len):
            if kpm.shape[0] != bsz:
                raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got {kpm.shape[0]}")
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got {kpm.shape[1]}")
    xp = query.xp
    am = None
    if attn_mask is not None:
        if is_causal and kpm is None and not need_weights:  # PyTorch then trusts the hint over the mask
            am = xp.zeros((tgt_len, src_len), dtype=dtype)
            am[xp.triu(xp.ones((tgt_len, src_len), dtype=bool), 1)] = -xp.inf
        else:
            am = _mask_array(attn_mask, dtype, "attn_mask")
            if am.ndim == 3 and not is_batched:
                am = am[None]
            elif am.ndim == 2:
                if am.shape != (tgt_len, src_len):
                    raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(am.shape)}, but should be "
                                       f"{(tgt_len, src_len)}.")
            else:
                if am.shape != (bsz * num_heads, tgt_len, src_len):
                    raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(am.shape)}, but should be "
                                       f"{(bsz * num_heads, tgt_len, src_len)}.")
                am = am.reshape(bsz, num_heads, tgt_len, src_len)

    # input projections: one fused op
    if use_separate_proj_weight:
        for name, w in (("q_proj_weight", q_proj_weight), ("k_proj_weight", k_proj_weight),
                        ("v_proj_weight", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name} is None")
        weights = (None, q_proj_weight, k_proj_weight, v_proj_weight)
    else:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        weights = (in_proj_weight, None, None, None)
    for (x, w, name) in ((query, weights[0] if weights[0] is not None else weights[1], "query"),
                         (key, weights[0] if weights[0] is not None else weights[2], "key"),
                         (value, weights[0] if weights[0] is not None else weights[3], "value")):
        if x.shape[-1] != w.shape[-1]:
            raise RuntimeError(f"MultiheadAttention: expected {name} with last dimension {w.shape[-1]}, got shape "
                               f"{tuple(x.shape)}")
    groups = _in_groups(query, key, value, not use_separate_proj_weight)
    q, k, v = _ops.InProjection.apply(query, key, value, *weights, in_proj_bias, groups)

    pad_cols = 0
    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key.")
        shape = (bsz, 1, embed_dim) if batch_first else (1, bsz, embed_dim)
        k = _fn.cat([k, _fn.expand(bias_k, shape)], seq_axis)
        v = _fn.cat([v, _fn.expand(bias_v, shape)], seq_axis)
        pad_cols += 1
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k is set but bias_v is None" if bias_k is not None
                             else "bias_v is set but bias_k is None")
    for name, static in (("static_k", static_k), ("static_v", static_v)):
        if static is not None and (static.shape[0] != bsz * num_heads or static.shape[2] != head_dim):
            raise AssertionError(f"expecting {name} of shape ({bsz * num_heads}, S, {head_dim}), but got "
                                 f"{tuple(static.shape)}")
    if static_k is not None:
        k = _heads_to_layout(static_k, bsz, num_heads, batch_first)
    if static_v is not None:
        v = _heads_to_layout(static_v, bsz, num_heads, batch_first)
    if add_zero_attn:
        shape = (bsz, 1, embed_dim) if batch_first else (1, bsz, embed_dim)
        zeros = Tensor._make(xp.zeros(shape, dtype=dtype), False, None, 0)
        k, v = _fn.cat([k, zeros], seq_axis), _fn.cat([v, zeros], seq_axis)
        pad_cols += 1
    s_total = k.shape[seq_axis]

    mask = None
    if am is not None:
        mask = am
    if kpm is not None:
        if kpm.shape[1] + pad_cols != s_total:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {s_total}, but got "
                                 f"{kpm.shape[1] + pad_cols}")
        kpm4 = kpm.reshape(bsz, 1, 1, -1)
        mask = kpm4 if mask is None else mask + kpm4
    if mask is not None and pad_cols:
        widths = [(0, 0)] * (mask.ndim - 1) + [(0, pad_cols)]
        mask = xp.pad(mask, widths)
    if mask is not None and mask.shape[-1] != s_total:
        raise RuntimeError(f"MultiheadAttention: the masks cover {mask.shape[-1]} keys but there are {s_total}")

    p = float(dropout_p) if training else 0.0
    _check_p("MultiheadAttention", p)
    dmask = _dropout_mask(xp, (bsz, num_heads, tgt_len, s_total), p, dtype)
    mode = None if not need_weights else ("mean" if average_attn_weights else "all")
    res = _ops.Attention.apply(q, k, v, mask, dmask, 1.0 / math.sqrt(head_dim), num_heads, batch_first,
                               not need_weights, mode)
    out, weights_out = res if need_weights else (res, None)
    out = _linear.Linear.apply(out, out_proj_weight, out_proj_bias)
    if not is_batched:
        out = _fn.squeeze(out, batch_axis)
        if weights_out is not None:
            weights_out = _fn.squeeze(weights_out, 0)
    return out, weights_out


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """Multi-head attention (PyTorch's functional form) on (L, N, E) query and (S, N, E) key/value, or unbatched
    (L, E)/(S, E); returns (output, attention weights or None). See ``nn.MultiheadAttention``."""
    return _mha_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias, bias_k,
                        bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training, key_padding_mask,
                        need_weights, attn_mask, use_separate_proj_weight, q_proj_weight, k_proj_weight,
                        v_proj_weight, static_k, static_v, average_attn_weights, is_causal, batch_first=False)
