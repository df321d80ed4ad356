"""lamina.datasets: Digits, MNIST5k, Sunspots, TextCorpus (real data, offline)."""

import os
import sys

import numpy as np
import pytest

import lamina
from lamina.datasets import Digits, MNIST5k, Sunspots, TextCorpus
from lamina.utils.data import DataLoader


@pytest.fixture(scope="module")
def digits():
    return Digits(train=True), Digits(train=False)


@pytest.fixture(scope="module")
def mnist5k():
    return MNIST5k(train=True), MNIST5k(train=False)


def _check_images(ds, hw):
    x, y = ds[0]
    assert isinstance(x, lamina.Tensor) and x.shape == (1, *hw) and x.dtype == lamina.float32
    assert isinstance(y, int) and 0 <= y <= 9
    assert ds.targets.dtype == lamina.int64 and ds.targets.shape == (len(ds),)
    imgs = ds.data.numpy()
    assert imgs.shape == (len(ds), *hw)


def test_digits_sizes_classes_and_values(digits):
    train, test = digits
    assert len(train) + len(test) == 1797 and len(train) == 1438 and len(test) == 359
    _check_images(train, (8, 8))
    counts_tr = np.bincount(train.targets.numpy(), minlength=10)
    counts_te = np.bincount(test.targets.numpy(), minlength=10)
    assert np.count_nonzero(counts_tr) == 10 and np.count_nonzero(counts_te) == 10
    np.testing.assert_allclose(counts_te / (counts_tr + counts_te), 0.2, atol=0.02)  # stratified
    xb, yb = next(iter(DataLoader(train, batch_size=len(train))))
    assert xb.shape == (1438, 1, 8, 8) and xb.dtype == lamina.float32 and yb.dtype == lamina.int64
    v = xb.numpy()
    assert v.min() == 0.0 and v.max() == 1.0 and set(np.unique(v * 16)) <= set(range(17))
    # the split is fixed: same samples every time, train and test disjoint
    from sklearn.datasets import load_digits

    src = load_digits()
    flat = src.images.reshape(1797, -1)
    rows = {r.tobytes(): i for i, r in enumerate(flat)}
    tr_idx = {rows.get((train.data.numpy()[i].reshape(-1)).astype(np.float64).tobytes()) for i in range(len(train))}
    te_idx = {rows.get((test.data.numpy()[i].reshape(-1)).astype(np.float64).tobytes()) for i in range(len(test))}
    assert None not in tr_idx and not (tr_idx & te_idx)
    np.testing.assert_array_equal(Digits(train=False).targets.numpy(), test.targets.numpy())


def test_digits_transforms_and_batches_agree(digits):
    train, _ = digits
    plain = next(iter(DataLoader(train, batch_size=5)))
    per_sample = [train[i] for i in range(5)]
    np.testing.assert_array_equal(plain[0].numpy(), np.stack([s[0].numpy() for s in per_sample]))
    assert plain[1].tolist() == [s[1] for s in per_sample]
    tds = Digits(transform=lambda x: x * 2, target_transform=lambda y: y + 100)
    x, y = tds[3]
    np.testing.assert_allclose(x.numpy(), train[3][0].numpy() * 2)
    assert y == train[3][1] + 100
    xb, yb = next(iter(DataLoader(tds, batch_size=4)))
    assert yb.tolist() == [train[i][1] + 100 for i in range(4)]


def test_mnist5k(mnist5k):
    train, test = mnist5k
    assert len(train) == 4000 and len(test) == 1000
    _check_images(train, (28, 28))
    np.testing.assert_array_equal(np.bincount(test.targets.numpy()), [100] * 10)
    np.testing.assert_array_equal(np.bincount(train.targets.numpy()), [400] * 10)
    v = next(iter(DataLoader(test, batch_size=1000)))[0].numpy()
    assert v.dtype == np.float32 and v.min() == 0.0 and v.max() == 1.0 and 0.05 < v.mean() < 0.25


def test_missing_optional_package_names_the_install(monkeypatch):
    from lamina.datasets import digits as digits_module

    digits_module._digits_source.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install scikit-learn.*lamina\[data\]"):
        Digits()
    monkeypatch.setitem(sys.modules, "statsmodels.datasets.sunspots", None)
    with pytest.raises(ImportError, match="pip install statsmodels"):
        Sunspots()


def test_sunspots_windows_and_chronological_split():
    tr, va, te = (Sunspots(split=s, window=10, horizon=2) for s in ("train", "val", "test"))
    x, y = tr[0]
    assert x.shape == (10, 1) and y.shape == (2,) and x.dtype == y.dtype == lamina.float32
    n = 309
    n_train, n_val = int(n * 0.7), int(n * 0.15)
    assert len(tr) == n_train - 10 - 2 + 1
    assert len(va) == n_val - 2 + 1 and len(te) == (n - n_train - n_val) - 2 + 1
    raw = tr.series.numpy().astype(np.float64)
    # statistics from the train years only
    assert tr.mean == pytest.approx(raw[:n_train].mean()) and tr.std == pytest.approx(raw[:n_train].std())
    assert va.mean == tr.mean and te.std == tr.std
    # the windows are the series, shifted: inputs then targets
    z = (raw - tr.mean) / tr.std
    np.testing.assert_allclose(x.numpy()[:, 0], z[:10], rtol=1e-6)
    np.testing.assert_allclose(y.numpy(), z[10:12], rtol=1e-5, atol=1e-6)
    # chronological: every target year of val lies after every train target year, test after val
    ty = [d.target_years.numpy() for d in (tr, va, te)]
    assert ty[0].max() + 1 < ty[1].min() and ty[1].max() + 1 < ty[2].min()
    assert ty[0].min() == 1710 and ty[2].max() + 1 == 2008
    np.testing.assert_allclose(tr.inverse_transform(y).numpy(), raw[10:12], rtol=1e-5)
    xb, yb = next(iter(DataLoader(va, batch_size=8)))
    assert xb.shape == (8, 10, 1) and yb.shape == (8, 2)
    with pytest.raises(ValueError, match="split must be one of"):
        Sunspots(split="validation")
    with pytest.raises(ValueError, match="too short"):
        Sunspots(split="val", window=5, horizon=60)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    (d / "a.txt").write_text("hello world\n" * 20)
    (d / "b.txt").write_text("the quick brown fox\n" * 10)
    (d / "skip.md").write_text("zzz")
    return d


def test_text_corpus_sequences_vocab_and_split(corpus_dir):
    full = "hello world\n" * 20 + "the quick brown fox\n" * 10
    tr = TextCorpus(corpus_dir, seq_len=16, pattern="*.txt", val_fraction=0.25)
    va = TextCorpus(corpus_dir, seq_len=16, pattern="*.txt", val_fraction=0.25, split="val")
    assert tr.vocab == sorted(set(full)) and va.vocab == tr.vocab and "z" not in tr.vocab
    n_val = int(len(full) * 0.25)
    assert len(tr) == (len(full) - n_val - 1) // 16 and len(va) == (n_val - 1) // 16
    x, y = tr[2]
    assert x.dtype == lamina.int64 and x.shape == (16,) == y.shape
    assert tr.decode(x) == full[32:48] and tr.decode(y) == full[33:49]
    assert va.decode(va[0][0]) == full[len(full) - n_val:][:16]
    assert tr.decode(tr.encode("brown")) == "brown"
    with pytest.raises(ValueError, match="outside the vocabulary: \\['Z'\\]"):
        tr.encode("Z")
    xb, yb = next(iter(DataLoader(tr, batch_size=3)))
    assert [tr.decode(r) for r in xb.numpy()] == [full[i * 16:(i + 1) * 16] for i in range(3)]
    np.testing.assert_array_equal(yb.numpy()[:, :-1], xb.numpy()[:, 1:])
    with pytest.raises(FileNotFoundError, match="no files matching"):
        TextCorpus(corpus_dir, pattern="*.csv")


def test_text_corpus_default_is_the_standard_library():
    tc = TextCorpus(seq_len=32, max_chars=20_000)
    assert tc.root == os.path.dirname(os.__file__) and len(tc.files) > 50
    assert len(tc) == (int(20_000 * 0.9) - 1) // 32 and "d" in tc.stoi and tc.vocab_size < 200
    x, y = tc[0]
    assert tc.decode(x)[1:] == tc.decode(y)[:-1]
