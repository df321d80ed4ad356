"""The 'transformer' classifier and 'char_transformer' language model builders: shapes, causality, sampling."""

import numpy as np
import pytest

import lamina
from lamina.models import CharTransformer, TransformerClassifier, get_model


def test_classifier_reads_image_rows_as_tokens():
    m = get_model("transformer", input_shape=(1, 8, 8), num_classes=7, d_model=16, nhead=2, num_layers=1)
    assert isinstance(m, TransformerClassifier) and (m.seq_len, m.in_features) == (8, 8)
    x = lamina.randn(3, 1, 8, 8)
    m.eval()
    out = m(x)
    assert out.shape == (3, 7)
    same = m(x.reshape(3, 8, 8))  # (N, L, F) directly
    np.testing.assert_allclose(same.detach().numpy(), out.detach().numpy(), rtol=1e-6)
    m2 = get_model("transformer", input_shape=(2, 5, 3), num_classes=4, d_model=8, nhead=2)
    assert (m2.seq_len, m2.in_features) == (5, 6) and m2(lamina.randn(2, 2, 5, 3)).shape == (2, 4)
    with pytest.raises(ValueError, match=r"TransformerClassifier: expected input of shape \(N, 8, 8\)"):
        m(lamina.randn(3, 1, 8, 9))
    with pytest.raises(ValueError, match=r"transformer: input_shape must be \(C, H, W\) or \(L, F\)"):
        get_model("transformer", input_shape=(64,))
    m.train()
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_char_transformer_is_causal():
    lm = get_model("char_transformer", vocab_size=11, block_size=8, d_model=16, nhead=2, num_layers=2, dropout=0.0)
    assert isinstance(lm, CharTransformer)
    assert "causal_mask" not in lm.state_dict()  # a rebuilt buffer, not a checkpoint entry
    idx = lamina.randint(0, 11, (2, 6))
    logits = lm(idx)
    assert logits.shape == (2, 6, 11)
    changed = idx.numpy().copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % 11
    logits2 = lm(lamina.tensor(changed))
    np.testing.assert_allclose(logits2.detach().numpy()[:, :4], logits.detach().numpy()[:, :4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(logits2.detach().numpy()[:, 4:], logits.detach().numpy()[:, 4:])
    with pytest.raises(ValueError, match="1 <= L <= block_size = 8"):
        lm(lamina.randint(0, 11, (2, 9)))


def test_generate_top_k_and_temperature():
    lm = get_model("char_transformer", vocab_size=13, block_size=6, d_model=16, nhead=2, num_layers=1)
    prompt = lamina.randint(0, 13, (2, 3))
    out = lm.generate(prompt, 10, temperature=0.7, top_k=4, generator=lamina.Generator().manual_seed(1))
    assert out.shape == (2, 13) and out.dtype is lamina.int64
    assert np.array_equal(out.numpy()[:, :3], prompt.numpy()) and 0 <= out.numpy().min() and out.numpy().max() < 13
    assert lm.training  # generate() evaluates in eval mode and restores the mode
    greedy = lm.generate(prompt, 4, top_k=1)  # top-1 sampling is greedy decoding
    ctx = prompt
    lm.eval()
    for _ in range(4):
        nxt = lm(ctx[:, -6:])[:, -1].argmax(-1).reshape(2, 1)
        ctx = lamina.cat([ctx, nxt], dim=1)
    assert np.array_equal(greedy.numpy(), ctx.numpy())
    with pytest.raises(ValueError, match="temperature must be > 0"):
        lm.generate(prompt, 1, temperature=0)
