"""lamina.utils.data: datasets, samplers, splits and collation (torch.utils.data as the oracle)."""

import collections

import numpy as np
import pytest

import lamina
from lamina.utils.data import (
    BatchSampler,
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
    stratified_split,
)
from tests.conftest import to_np, torch


def _gen(seed):
    return lamina.Generator().manual_seed(seed)


# ---------------------------------------------------------------- datasets

def test_tensor_dataset_items_and_batches():
    x, y = lamina.randn(10, 3), lamina.arange(10)
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), x.numpy()[3])
    assert yi.shape == () and yi.item() == 3
    batch = ds.__getitems__([4, 1, 7])
    assert len(batch) == 3
    np.testing.assert_array_equal(batch[1][0].numpy(), x.numpy()[1])
    assert [s[1].item() for s in batch] == [4, 1, 7]
    xb, yb = default_collate(batch)
    np.testing.assert_array_equal(xb.numpy(), x.numpy()[[4, 1, 7]])
    assert yb.tolist() == [4, 1, 7]
    # the same batch built sample by sample collates identically
    xs, ys = default_collate([ds[i] for i in (4, 1, 7)])
    np.testing.assert_array_equal(xs.numpy(), xb.numpy())
    np.testing.assert_array_equal(ys.numpy(), yb.numpy())


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match="Size mismatch.*\\[3, 4\\]"):
        TensorDataset(lamina.zeros(3, 2), lamina.zeros(4))
    ds = TensorDataset(lamina.zeros(3, 2))
    with pytest.raises(IndexError, match="out of bounds"):
        ds[3]
    with pytest.raises(IndexError, match="out of bounds"):
        ds.__getitems__([0, 5])


def test_subset_and_concat():
    ds = TensorDataset(lamina.arange(10) * 10)
    sub = Subset(ds, [9, 2, 4])
    assert len(sub) == 3 and sub[0][0].item() == 90 and sub[-1][0].item() == 40
    (col,) = default_collate(sub.__getitems__([2, 0]))
    assert col.tolist() == [40, 90]
    cat = ds + Subset(ds, [1, 2])
    assert isinstance(cat, ConcatDataset) and len(cat) == 12
    assert cat[10][0].item() == 10 and cat[-1][0].item() == 20 and cat[3][0].item() == 30
    with pytest.raises(ValueError, match="should not exceed dataset length"):
        cat[-13]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


class _Stream(IterableDataset):
    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    def __iter__(self):
        return iter(range(self.start, self.stop))

    def __len__(self):
        return self.stop - self.start


def test_chain_dataset():
    ch = _Stream(0, 3) + _Stream(10, 12)
    assert isinstance(ch, ChainDataset) and list(ch) == [0, 1, 2, 10, 11] and len(ch) == 5
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([_Stream(0, 2)])


def test_base_dataset_needs_getitem():
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


# ---------------------------------------------------------------- samplers

def test_sequential_and_random_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    s = RandomSampler(range(20), generator=_gen(1))
    a = list(s)
    assert sorted(a) == list(range(20)) and a != list(range(20))
    assert list(RandomSampler(range(20), generator=_gen(1))) == a
    assert list(s) != a  # the generator moves on: a new order every epoch
    # without a generator: a seed from the default generator at each iteration
    lamina.manual_seed(3)
    first = list(RandomSampler(range(20)))
    lamina.manual_seed(3)
    assert list(RandomSampler(range(20))) == first


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(5), num_samples=12, generator=_gen(0))
    out = list(s)
    assert len(s) == 12 and len(out) == 12
    assert sorted(out[:5]) == list(range(5)) and sorted(out[5:10]) == list(range(5))
    r = list(RandomSampler(range(4), replacement=True, num_samples=8000, generator=_gen(0)))
    counts = np.bincount(r, minlength=4)
    assert np.all(np.abs(counts / 8000 - 0.25) < 0.03)
    assert len(set(list(RandomSampler(range(50), replacement=True, generator=_gen(0))))) < 50
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(5), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(5), replacement=1)
    with pytest.raises(ValueError, match="dataset is empty"):
        RandomSampler([])


def test_subset_random_sampler():
    idx = [3, 7, 11, 15]
    out = list(SubsetRandomSampler(idx, generator=_gen(0)))
    assert sorted(out) == idx
    assert sorted(SubsetRandomSampler(np.array(idx))) == idx


def test_weighted_random_sampler_statistics():
    w = [1.0, 0.0, 3.0, 6.0]
    s = WeightedRandomSampler(w, 20000, generator=_gen(0))
    counts = np.bincount(list(s), minlength=4) / 20000
    np.testing.assert_allclose(counts, np.array(w) / 10, atol=0.015)
    assert counts[1] == 0
    out = list(WeightedRandomSampler([1, 1, 1, 5], 3, replacement=False, generator=_gen(0)))
    assert len(set(out)) == 3
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    with pytest.raises(ValueError, match="1d sequence"):
        WeightedRandomSampler(np.ones((2, 2)), 3)


@pytest.mark.parametrize("n,bs,drop_last", [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)])
def test_batch_sampler_matches_torch(n, bs, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    ref = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), bs, drop_last)
    assert list(ours) == list(ref) and len(ours) == len(ref)


def test_batch_sampler_errors():
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(TypeError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 2, None)


# ---------------------------------------------------------------- splits

@pytest.mark.parametrize("n,lengths", [(10, [3, 7]), (10, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]), (7, [0.1, 0.9]),
                                       (100, [0.7, 0.2, 0.1])])
def test_random_split_sizes_match_torch_and_are_disjoint(n, lengths):
    parts = random_split(range(n), lengths, generator=_gen(0))
    ref = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(r) for r in ref]
    all_idx = [i for p in parts for i in p.indices]
    assert sorted(all_idx) == list(range(n))
    assert [p[i] for p in parts for i in range(len(p))] == all_idx  # Subset maps through its indices


def test_random_split_reproducible_and_errors():
    a = [p.indices for p in random_split(range(30), [10, 20], generator=_gen(5))]
    b = [p.indices for p in random_split(range(30), [10, 20], generator=_gen(5))]
    c = [p.indices for p in random_split(range(30), [10, 20], generator=_gen(6))]
    assert a == b and a != c
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(range(10), [3, 3])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        random_split(range(10), [1.5, -0.5])


def _class_counts(y, idx, k):
    return np.bincount(np.asarray(y)[idx], minlength=k)


def test_stratified_split_keeps_class_proportions():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])  # imbalanced classes
    ds = TensorDataset(lamina.randn(200, 2), lamina.tensor(y))
    train, val, test = stratified_split(ds, (0.8, 0.1, 0.1), labels=y, generator=_gen(0))
    assert len(train) + len(val) + len(test) == 200
    idx = [p.indices for p in (train, val, test)]
    assert len(set(idx[0]) | set(idx[1]) | set(idx[2])) == 200
    np.testing.assert_array_equal(_class_counts(y, idx[0], 4), [80, 40, 24, 16])
    np.testing.assert_array_equal(_class_counts(y, idx[1], 4), [10, 5, 3, 2])
    np.testing.assert_array_equal(_class_counts(y, idx[2], 4), [10, 5, 3, 2])
    # labels found on their own: dataset[i][1]
    t2, _, _ = stratified_split(ds, generator=_gen(0))
    assert t2.indices == train.indices


def test_stratified_split_on_labels_rounding():
    y = lamina.tensor(np.repeat(np.arange(3), [7, 11, 13]))
    parts = stratified_split(y, (0.5, 0.5), generator=_gen(1))
    for p in parts:
        counts = _class_counts(y.numpy(), p.indices, 3)
        assert np.all(np.abs(counts - np.array([3.5, 5.5, 6.5])) <= 0.5)
        assert p[0].item() == y.numpy()[p.indices[0]]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(31))
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(y, (0.5, 0.2))


# ---------------------------------------------------------------- collation

def _same(ours, ref):
    """Recursively: same structure and container types (tensors compared by value and dtype)."""
    if isinstance(ref, torch.Tensor):
        assert isinstance(ours, lamina.Tensor), type(ours)
        assert str(ours.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
        np.testing.assert_array_equal(to_np(ours), to_np(ref))
    elif isinstance(ref, dict):
        assert type(ours) is type(ref) and list(ours) == list(ref)
        for k in ref:
            _same(ours[k], ref[k])
    elif isinstance(ref, (list, tuple)):
        assert type(ours).__name__ == type(ref).__name__ and len(ours) == len(ref)
        for a, b in zip(ours, ref):
            _same(a, b)
    else:
        assert ours == ref


Point = collections.namedtuple("Point", "x y")


def _samples(rng, n=3):
    return [{"img": (rng.random((2, 3)).astype(np.float32), rng.integers(0, 9, 4)),
             "meta": {"name": f"s{i}", "score": float(i) / 2, "flag": i % 2 == 0, "id": i},
             "pt": Point(np.float32(i), [i, i + 1]),
             "scalar": np.int32(i)} for i in range(n)]


def test_default_collate_nested_matches_torch():
    rng = np.random.default_rng(0)
    batch = _samples(rng)
    ours = default_collate(batch)
    ref = torch.utils.data.default_collate(batch)
    _same(ours, ref)
    assert ours["img"][0].shape == (3, 2, 3) and ours["img"][0].dtype == lamina.float32
    assert ours["meta"]["score"].dtype == lamina.float64 and ours["meta"]["id"].dtype == lamina.int64
    assert ours["meta"]["flag"].dtype == lamina.bool


def test_default_collate_tensors_tuples_and_errors():
    batch = [(lamina.ones(2), 1), (lamina.zeros(2), 2)]
    xb, yb = default_collate(batch)
    assert xb.tolist() == [[1.0, 1.0], [0.0, 0.0]] and yb.tolist() == [1, 2]
    od = default_collate([collections.OrderedDict(a=1.0), collections.OrderedDict(a=2.0)])
    assert isinstance(od, collections.OrderedDict) and od["a"].tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match=r"\[2\] at entry 0 and \[3\] at entry 1"):
        default_collate([lamina.ones(2), lamina.ones(3)])
    with pytest.raises(TypeError, match="found <class 'object'>"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="<U1"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_collate_keeps_autograd():
    a, b = lamina.ones(2, requires_grad=True), lamina.ones(2, requires_grad=True)
    default_collate([a, b]).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_default_convert_matches_torch():
    data = {"a": np.arange(3), "b": (np.float64(2.0), "s"), "c": [np.zeros(2, np.float32)]}
    _same(default_convert(data), torch.utils.data.default_convert(data))
