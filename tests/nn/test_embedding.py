"""Embedding and F.embedding against PyTorch: values, weight gradients, padding, max_norm, freq scaling, errors."""

import numpy as np
import pytest

import lamina
import lamina.nn.functional as F
from lamina import nn
from lamina.autograd import gradcheck
from tests.conftest import assert_close, from_torch, to_np, torch
from tests.nn._parity import float32_parity, layer_parity

IDX = np.array([[1, 4, 4, 0], [9, 4, 1, 7], [0, 0, 2, 9]])


@pytest.mark.parametrize("padding_idx", [None, 4, -1, 0])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
@pytest.mark.parametrize("idx", [IDX, IDX[0], IDX[:, :0], np.array(3)])
def test_embedding_matches_torch(padding_idx, scale_grad_by_freq, idx):
    kw = dict(padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq)
    ref = torch.nn.Embedding(10, 3, **kw).double()
    layer = nn.Embedding(10, 3, dtype=lamina.float64, **kw)
    out = layer_parity(layer, ref, idx)
    assert tuple(out[0].shape) == idx.shape + (3,)
    assert layer.padding_idx == ref.padding_idx
    assert repr(layer) == repr(ref)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_embedding_max_norm_renormalises_like_torch(rng, norm_type):
    ref = torch.nn.Embedding(10, 4, max_norm=1.5, norm_type=norm_type).double()
    with torch.no_grad():
        ref.weight.mul_(torch.linspace(0.1, 2, 10, dtype=torch.float64)[:, None])
    layer = nn.Embedding(10, 4, max_norm=1.5, norm_type=norm_type, dtype=lamina.float64)
    layer_parity(layer, ref, IDX)
    assert_close(layer.weight, ref.weight)  # the looked-up rows were renormalised in place, the others kept
    assert repr(layer) == repr(ref)


def test_embedding_float32_state_dict_and_gradient_dtype(rng):
    float32_parity(nn.Embedding(10, 5, padding_idx=2), torch.nn.Embedding(10, 5, padding_idx=2), IDX)
    layer = nn.Embedding(10, 5)
    out = layer(lamina.tensor(IDX))
    out.sum().backward()
    assert out.dtype is lamina.float32 and layer.weight.grad.dtype is lamina.float32
    assert_close(layer(lamina.tensor(IDX.astype(np.int32))), out)


def test_embedding_default_init_and_padding_row():
    layer = nn.Embedding(400, 50, padding_idx=-3)
    w = to_np(layer.weight)
    assert layer.padding_idx == 397 and not w[397].any()
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02
    assert list(layer.state_dict()) == list(torch.nn.Embedding(4, 2).state_dict()) == ["weight"]


def test_from_pretrained_freeze_and_sharing():
    table = lamina.tensor([[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]])
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert_close(frozen(lamina.tensor([1])), [[4.0, 5.1, 6.3]])
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
    assert trainable.weight.requires_grad and trainable.padding_idx == 0
    assert_close(trainable.weight[0], [1.0, 2.3, 3.0])  # a pretrained padding row is kept, as in PyTorch
    trainable(lamina.tensor([0, 1, 1])).sum().backward()
    assert_close(trainable.weight.grad, [[0, 0, 0], [2, 2, 2]])
    with pytest.raises(ValueError, match="expected to be 2-dimensional"):
        nn.Embedding.from_pretrained(lamina.randn(3))


def test_f_embedding_matches_torch(rng):
    w_np = rng.standard_normal((6, 3))
    w, wt = lamina.tensor(w_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    idx = np.array([[5, 0, 5], [1, 5, 2]])
    out = F.embedding(lamina.tensor(idx), w, padding_idx=-1)
    ref = torch.nn.functional.embedding(torch.tensor(idx), wt, padding_idx=-1)
    g = rng.standard_normal(out.shape)
    out.backward(lamina.tensor(g))
    ref.backward(torch.tensor(g))
    assert_close(out, ref)
    assert_close(w.grad, wt.grad)
    assert gradcheck(lambda t: F.embedding(lamina.tensor(idx), t), (w,))


def test_embedding_errors():
    layer = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding: index 10 is out of range for num_embeddings=10"):
        layer(lamina.tensor([[1, 10]]))
    with pytest.raises(IndexError, match=r"Embedding: index -1 is out of range for num_embeddings=10"):
        layer(lamina.tensor([-1, 2]))
    with pytest.raises(IndexError, match=r"embedding: index 7 is out of range for num_embeddings=3"):
        F.embedding(lamina.tensor([7]), lamina.randn(3, 2))
    with pytest.raises(RuntimeError, match="integer dtype.*got lamina.float32"):
        layer(lamina.tensor([1.0]))
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
        F.embedding(lamina.tensor([1]), lamina.randn(3, 2), padding_idx=-4)
    with pytest.raises(ValueError, match="sparse=True"):
        nn.Embedding(10, 3, sparse=True)
    with pytest.raises(ValueError, match=r"Shape of weight does not match.*\(4, 3\).*\(4, 2\)"):
        nn.Embedding(4, 3, _weight=lamina.randn(4, 2))
    with pytest.raises(RuntimeError, match=r"embedding: weight must be 2-D"):
        F.embedding(lamina.tensor([1]), lamina.randn(3))


def test_embedding_backward_is_scatter_add_of_repeats(rng):
    layer = nn.Embedding(5, 2, dtype=lamina.float64)
    layer.load_state_dict(from_torch(torch.nn.Embedding(5, 2).double().state_dict()))
    idx = rng.integers(0, 5, 200)
    g = rng.standard_normal((200, 2))
    layer(lamina.tensor(idx)).backward(lamina.tensor(g))
    expected = np.zeros((5, 2))
    np.add.at(expected, idx, g)
    assert_close(layer.weight.grad, expected, rtol=1e-12)


BAG_IDX = np.array([1, 2, 4, 5, 4, 3, 2, 9, 2, 2])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 2])
@pytest.mark.parametrize("form", ["2d", "offsets", "last_offset"])
def test_embedding_bag_matches_torch(rng, mode, padding_idx, form):
    last = form == "last_offset"
    ref = torch.nn.EmbeddingBag(10, 3, mode=mode, padding_idx=padding_idx, include_last_offset=last).double()
    layer = nn.EmbeddingBag(10, 3, mode=mode, padding_idx=padding_idx, include_last_offset=last,
                            dtype=lamina.float64)
    assert repr(layer) == repr(ref)
    if form == "2d":
        args = (BAG_IDX.reshape(2, 5),)
    else:  # an empty bag (4:4) and bags of padding only (8:10)
        offsets = np.array([0, 4, 4, 8] + ([10] if last else []))
        args = (BAG_IDX, offsets)
    layer_parity(layer, ref, *args)


@pytest.mark.parametrize("padding_idx", [None, 2])
def test_embedding_bag_per_sample_weights_and_freq(rng, padding_idx):
    w_np = rng.standard_normal((10, 4))
    w, wt = lamina.tensor(w_np, requires_grad=True), torch.tensor(w_np, requires_grad=True)
    psw_np = rng.standard_normal(BAG_IDX.shape)
    psw, pswt = lamina.tensor(psw_np, requires_grad=True), torch.tensor(psw_np, requires_grad=True)
    off = np.array([0, 3, 7])
    out = F.embedding_bag(lamina.tensor(BAG_IDX), w, lamina.tensor(off), mode="sum", per_sample_weights=psw,
                          padding_idx=padding_idx)
    ref = torch.nn.functional.embedding_bag(torch.tensor(BAG_IDX), wt, torch.tensor(off), mode="sum",
                                            per_sample_weights=pswt, padding_idx=padding_idx)
    g = rng.standard_normal(out.shape)
    out.backward(lamina.tensor(g))
    ref.backward(torch.tensor(g))
    assert_close(out, ref)
    assert_close(w.grad, wt.grad)
    assert_close(psw.grad, pswt.grad)
    # scale_grad_by_freq divides each row's gradient by its index count, as Embedding does (torch 2.13's CPU
    # embedding_bag misaligns its counts: it gives index 3, seen once here, a quarter of its gradient)
    ones = lamina.ones(10, 1, dtype=lamina.float64, requires_grad=True)
    F.embedding_bag(lamina.tensor(BAG_IDX), ones, lamina.tensor(off), mode="sum", scale_grad_by_freq=True,
                    padding_idx=padding_idx).sum().backward()
    present = np.isin(np.arange(10), BAG_IDX[BAG_IDX != (padding_idx if padding_idx is not None else -1)])
    assert_close(ones.grad[:, 0], present * 1.0)
    assert gradcheck(lambda a, b: F.embedding_bag(lamina.tensor(BAG_IDX), a, lamina.tensor(off), mode="sum",
                                                  per_sample_weights=b), (w, psw))
    assert gradcheck(lambda a: F.embedding_bag(lamina.tensor(BAG_IDX.reshape(5, 2)), a, mode="max"), (w,))


def test_embedding_bag_float32_and_errors():
    float32_parity(nn.EmbeddingBag(10, 5, mode="max"), torch.nn.EmbeddingBag(10, 5, mode="max"),
                   BAG_IDX.reshape(5, 2))
    bag = nn.EmbeddingBag.from_pretrained(lamina.randn(10, 3), mode="sum")
    assert not bag.weight.requires_grad and bag(lamina.tensor(BAG_IDX.reshape(2, 5))).dtype is lamina.float32
    x = lamina.tensor(BAG_IDX)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        bag(x)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        bag(x.reshape(2, 5), lamina.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"offsets\[0\] has to be 0"):
        bag(x, lamina.tensor([1, 4]))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        nn.EmbeddingBag(10, 3, mode="median")
    with pytest.raises(ValueError, match="max mode does not support scaling the gradient"):
        F.embedding_bag(x, lamina.randn(10, 3), lamina.tensor([0]), mode="max", scale_grad_by_freq=True)
    with pytest.raises(ValueError, match="per_sample_weights is only supported for mode='sum'"):
        nn.EmbeddingBag(10, 3)(x, lamina.tensor([0]), per_sample_weights=lamina.randn(10))
    with pytest.raises(IndexError, match="EmbeddingBag: index 12 is out of range for num_embeddings=10"):
        bag(lamina.tensor([[1, 12]]))
