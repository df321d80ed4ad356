"""lamina.utils.data.DataLoader: batching, shuffling reproducibility, and real worker processes."""

import os
import time

import numpy as np
import pytest

import lamina
from lamina.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    SequentialSampler,
    Subset,
    TensorDataset,
    get_worker_info,
)
from tests.conftest import torch


def _tds(n=23):
    return TensorDataset(lamina.arange(n * 2).reshape(n, 2).float(), lamina.arange(n))


def _labels(loader):
    return [b[1].tolist() for b in loader]


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u.numpy(), v.numpy())


class _Squares(Dataset):
    """Per-sample path (no __getitems__): returns (array, int, dict)."""

    def __init__(self, n):
        self.n = n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full(3, i * i, np.float32), i, {"i": i}

    def __len__(self):
        return self.n


def test_batches_len_and_drop_last():
    ds = _tds(23)
    loader = DataLoader(ds, batch_size=5)
    batches = list(loader)
    assert len(loader) == 5 and [len(b[1]) for b in batches] == [5, 5, 5, 5, 3]
    assert batches[0][0].shape == (5, 2) and batches[0][0].dtype == lamina.float32
    assert sum(_labels(loader), []) == list(range(23))
    dl = DataLoader(ds, batch_size=5, drop_last=True)
    assert len(dl) == 4 and [len(b[1]) for b in dl] == [5, 5, 5, 5]
    assert len(DataLoader(ds)) == 23  # batch_size=1 by default


def test_matches_torch_loader_structure():
    ds = _Squares(7)
    ref = list(torch.utils.data.DataLoader(ds, batch_size=3))
    ours = list(DataLoader(ds, batch_size=3))
    for (a, i, d), (ra, ri, rd) in zip(ours, ref):
        np.testing.assert_array_equal(a.numpy(), ra.numpy())
        assert i.tolist() == ri.tolist() and d["i"].tolist() == rd["i"].tolist()


def test_no_batching_and_batch_sampler():
    ds = _Squares(4)
    items = list(DataLoader(ds, batch_size=None))
    assert isinstance(items[2][0], lamina.Tensor) and items[2][0].tolist() == [4.0] * 3 and items[2][1] == 2
    bs = BatchSampler(SequentialSampler(range(4)), 3, False)
    assert [b[1].tolist() for b in DataLoader(ds, batch_sampler=bs)] == [[0, 1, 2], [3]]
    assert [b[1].tolist() for b in DataLoader(ds, sampler=[3, 1], batch_size=2)] == [[3, 1]]


def test_argument_errors():
    ds = _tds()
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="num_workers option should be a non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(_Stream(4), shuffle=True)
    with pytest.raises(ValueError, match="valid start method"):
        DataLoader(ds, num_workers=1, multiprocessing_context="nope")
    loader = DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3


def test_shuffle_reproducible_with_manual_seed_and_generator():
    ds = _tds(30)
    lamina.manual_seed(7)
    e1, e2 = _labels(DataLoader(ds, batch_size=4, shuffle=True)), None
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    lamina.manual_seed(7)
    assert _labels(loader) == e1
    e2 = _labels(loader)
    assert e2 != e1 and sorted(sum(e2, [])) == list(range(30))  # a new order each epoch
    g1 = DataLoader(ds, batch_size=4, shuffle=True, generator=lamina.Generator().manual_seed(1))
    g2 = DataLoader(ds, batch_size=4, shuffle=True, generator=lamina.Generator().manual_seed(1))
    assert _labels(g1) == _labels(g2) and _labels(g1) == _labels(g2)


def test_fast_path_gathers_without_per_sample_work(monkeypatch):
    ds = _tds(12)
    expected = [b for b in DataLoader(ds, batch_size=5)]

    def boom(self, i):
        raise AssertionError("per-sample fetching used")

    monkeypatch.setattr(TensorDataset, "__getitem__", boom)
    monkeypatch.setattr(TensorDataset, "__getitems__", boom)
    got = list(DataLoader(ds, batch_size=5))
    _assert_same_batches(got, expected)
    sub = list(DataLoader(Subset(ds, [11, 0, 5, 6]), batch_size=3))
    assert [b[1].tolist() for b in sub] == [[11, 0, 5], [6]]


def test_custom_collate_gets_a_list_of_samples():
    ds = _tds(7)
    for workers in (0, 2):
        batches = list(DataLoader(ds, batch_size=3, collate_fn=lambda b: b, num_workers=workers, pin_memory=True))
        assert [type(b) for b in batches] == [list] * 3 and [len(b) for b in batches] == [3, 3, 1]
        x, y = batches[1][0]
        assert y.item() == 3 and x.tolist() == [6.0, 7.0]


# ---------------------------------------------------------------- workers

@pytest.mark.parametrize("shuffle,drop_last,bs", [(True, False, 4), (False, True, 3)])
def test_workers_give_identical_batches(shuffle, drop_last, bs):
    ds = _tds(25)
    lamina.manual_seed(11)
    ref = list(DataLoader(ds, batch_size=bs, shuffle=shuffle, drop_last=drop_last))
    lamina.manual_seed(11)
    got = list(DataLoader(ds, batch_size=bs, shuffle=shuffle, drop_last=drop_last, num_workers=2))
    _assert_same_batches(got, ref)


def test_workers_per_sample_dataset_and_dicts():
    ds = _Squares(9)
    ref = list(DataLoader(ds, batch_size=2))
    got = list(DataLoader(ds, batch_size=2, num_workers=2, prefetch_factor=1))
    assert len(got) == len(ref) == 5
    for (a, i, d), (ra, ri, rd) in zip(got, ref):
        np.testing.assert_array_equal(a.numpy(), ra.numpy())
        assert i.tolist() == ri.tolist() and d["i"].tolist() == rd["i"].tolist()


class _WhoAmI(Dataset):
    """Reports which process served each sample and a random draw from that process's seeded generator."""

    def __getitem__(self, i):
        info = get_worker_info()
        return (-1 if info is None else info.id), os.getpid(), lamina.rand(()).item(), i, np.random.random()

    def __len__(self):
        return 8


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None
    lamina.manual_seed(0)
    a = list(DataLoader(_WhoAmI(), batch_size=2, num_workers=2))
    lamina.manual_seed(0)
    b = list(DataLoader(_WhoAmI(), batch_size=2, num_workers=2))
    assert [x[0].tolist() for x in a] == [[0, 0], [1, 1], [0, 0], [1, 1]]  # round-robin over workers
    assert len({x[1][0].item() for x in a} - {os.getpid()}) == 2  # two other processes
    assert [x[2].tolist() for x in a] == [x[2].tolist() for x in b]  # worker seeds follow lamina.manual_seed
    assert a[0][2].tolist() != a[1][2].tolist()  # ... and differ between workers
    assert a[0][4].tolist() != a[1][4].tolist()  # NumPy's global generator is seeded per worker too
    assert [x[4].tolist() for x in a] == [x[4].tolist() for x in b]

    def init(worker_id):
        lamina.manual_seed(1000 + worker_id)

    c = list(DataLoader(_WhoAmI(), batch_size=2, num_workers=2, worker_init_fn=init))
    lamina.manual_seed(1000)
    assert c[0][2][0].item() == pytest.approx(lamina.rand(()).item())


class _Stream(IterableDataset):
    """Shards itself between workers with get_worker_info."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def test_iterable_dataset_single_and_workers():
    assert [b.tolist() for b in DataLoader(_Stream(7), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(_Stream(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    assert len(DataLoader(_Stream(7), batch_size=3)) == 3
    assert list(DataLoader(_Stream(3), batch_size=None)) == [0, 1, 2]
    assert sorted(DataLoader(_Stream(5), batch_size=None, num_workers=2)) == [0, 1, 2, 3, 4]
    # with two workers: worker 0 streams 0,2,4,6,8 and worker 1 streams 1,3,5,7; batches alternate (as PyTorch)
    got = [b.tolist() for b in DataLoader(_Stream(9), batch_size=2, num_workers=2)]
    ref = [b.tolist() for b in torch.utils.data.DataLoader(_TorchStream(9), batch_size=2, num_workers=2)]
    assert got == ref == [[0, 2], [1, 3], [4, 6], [5, 7], [8]]


class _TorchStream(torch.utils.data.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class _Failing(Dataset):
    def __getitem__(self, i):
        if i == 5:
            raise ValueError("bad sample 5")
        return i

    def __len__(self):
        return 8


def test_worker_errors_are_reraised_with_traceback():
    it = iter(DataLoader(_Failing(), batch_size=2, num_workers=2))
    assert next(it).tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(ValueError, match="(?s)Caught ValueError in DataLoader worker process 0.*bad sample 5"):
        next(it)


class _Slow(Dataset):
    def __getitem__(self, i):
        time.sleep(1.5 if i == 1 else 0)
        return i

    def __len__(self):
        return 3


def test_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        list(DataLoader(_Slow(), batch_size=1, num_workers=1, timeout=0.2))


class _Dies(Dataset):
    def __getitem__(self, i):
        if i == 2:
            os._exit(3)
        return i

    def __len__(self):
        return 6


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match="exited unexpectedly with exit code 3"):
        list(DataLoader(_Dies(), num_workers=1))


def test_early_delete_shuts_workers_down():
    it = iter(DataLoader(_tds(40), batch_size=2, num_workers=2))
    next(it)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    del it
    # the loader's own reaper thread joins them; a second joiner racing it can see waitpid fail (ECHILD) and
    # return before the exit code is recorded, so poll the exit code instead of joining here
    deadline = time.monotonic() + 10
    while any(w.exitcode is None for w in workers) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [w.exitcode for w in workers] == [0, 0]  # they left on their own: not terminated


def test_exhausted_iterator_shuts_down_and_persistent_workers_survive():
    ds = _tds(10)
    it = iter(DataLoader(ds, batch_size=4, num_workers=2))
    assert len(list(it)) == 3 and not any(w.is_alive() for w in it._workers)
    with pytest.raises(StopIteration):
        next(it)
    def run():
        loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2, persistent_workers=True)
        lamina.manual_seed(2)
        e1 = list(loader)
        pids = [w.pid for w in loader._iterator._workers]
        abandoned = iter(loader)
        next(abandoned)  # an epoch left half-way: its late batches must not leak into the next one
        e3 = list(loader)
        assert [w.pid for w in loader._iterator._workers] == pids and all(w.is_alive() for w in
                                                                          loader._iterator._workers)
        loader._iterator._shutdown_workers()
        return e1, e3

    e1, e3 = run()
    lamina.manual_seed(2)
    _assert_same_batches(e1, list(DataLoader(ds, batch_size=4, shuffle=True)))  # first epoch as without workers
    assert sorted(sum(_labels(e3), [])) == list(range(10))
    f1, f3 = run()
    _assert_same_batches(e1, f1)
    _assert_same_batches(e3, f3)
