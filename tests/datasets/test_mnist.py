"""The IDX reader and MNIST / FashionMNIST on IDX files written by the test."""

import gzip
import struct

import numpy as np
import pytest

import lamina
from lamina.datasets import MNIST, FashionMNIST, read_idx
from lamina.utils.data import DataLoader

_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def _idx_bytes(arr):
    """The IDX encoding, written out by hand: 0, 0, type code, ndim, big-endian dims, big-endian data."""
    arr = np.asarray(arr)
    header = bytes([0, 0, _CODES[arr.dtype.type], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write(path, arr, gz=False):
    data = _idx_bytes(arr)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, gz):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    out = read_idx(_write(tmp_path / "x.idx", arr, gz))
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_read_idx_big_endian_on_disk(tmp_path):
    p = tmp_path / "labels"
    p.write_bytes(bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + bytes([0, 0, 1, 0, 0x12, 0x34, 0x56, 0x78]))
    assert read_idx(p).tolist() == [256, 0x12345678]


def test_read_idx_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.idx"):
        read_idx(tmp_path / "nope.idx")
    bad = tmp_path / "bad-magic"
    bad.write_bytes(b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00")
    with pytest.raises(ValueError, match="bad-magic is not an IDX file: its magic number is 0x12340801"):
        read_idx(bad)
    good = _idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    trunc = tmp_path / "short"
    trunc.write_bytes(good[:-5])
    with pytest.raises(ValueError, match=r"short is truncated: the header says shape \(2, 3, 4\) of uint8 = 24 data "
                                         r"bytes, the file holds 19"):
        read_idx(trunc)
    hdr = tmp_path / "header"
    hdr.write_bytes(good[:9])
    with pytest.raises(ValueError, match="header is truncated: the header announces 3 dimensions"):
        read_idx(hdr)
    extra = tmp_path / "long"
    extra.write_bytes(good + b"\x00")
    with pytest.raises(ValueError, match="long is corrupt"):
        read_idx(extra)
    gz = tmp_path / "cut.gz"
    gz.write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(ValueError, match="cut.gz is a corrupt or truncated gzip file"):
        read_idx(gz)


def _mnist_folder(root, name, n_train=12, n_test=5, gz=True):
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        _write(raw / f"{prefix}-images-idx3-ubyte{suffix}", imgs, gz)
        _write(raw / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        files[prefix] = (imgs, labels)
    return files


@pytest.mark.parametrize("cls,gz", [(MNIST, True), (FashionMNIST, False)])
def test_mnist_from_idx_files(tmp_path, cls, gz):
    files = _mnist_folder(tmp_path, cls.__name__, gz=gz)
    train, test = cls(tmp_path, train=True), cls(str(tmp_path), train=False)
    assert len(train) == 12 and len(test) == 5 and len(cls.classes) == 10
    x, y = train[3]
    assert x.shape == (1, 28, 28) and x.dtype == lamina.float32 and y == 3
    np.testing.assert_allclose(x.numpy()[0], files["train"][0][3] / np.float32(255))
    assert train.data.dtype == lamina.uint8 and train.targets.dtype == lamina.int64
    np.testing.assert_array_equal(test.targets.numpy(), files["t10k"][1])
    xb, yb = next(iter(DataLoader(train, batch_size=12)))
    v = xb.numpy()
    assert xb.shape == (12, 1, 28, 28) and 0 <= v.min() and v.max() <= 1 and yb.dtype == lamina.int64
    np.testing.assert_array_equal(v[:, 0], files["train"][0] / np.float32(255))


def test_mnist_files_in_root_and_errors(tmp_path):
    _mnist_folder(tmp_path, "MNIST")
    flat = tmp_path / "flat"
    flat.mkdir()
    for p in (tmp_path / "MNIST" / "raw").iterdir():
        (flat / p.name).write_bytes(p.read_bytes())
    assert len(MNIST(flat, train=False)) == 5
    (flat / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="MNIST: missing file t10k-labels-idx1-ubyte"):
        MNIST(flat, train=False)
    _write(flat / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="one label per image \\(5\\)"):
        MNIST(flat, train=False)
    with pytest.raises(ValueError, match="does not download"):
        MNIST(flat, download=True)
    with pytest.raises(FileNotFoundError, match="FashionMNIST: missing file train-images-idx3-ubyte"):
        FashionMNIST(tmp_path)
