"""A reader of the IDX format (MNIST's file format): big-endian typed arrays behind a tiny header.

Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64),
the number of dimensions, then one big-endian uint32 per dimension, then the data in row-major order.
Gzip-compressed files (recognised by their magic bytes, whatever the name) are read as well.
"""

import gzip
import math
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx"]

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read one IDX file (plain or gzip) into a NumPy array of native byte order.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not an IDX file (wrong magic number), a corrupt gzip stream, or a data section whose size
            does not match the header (truncated or padded file); the message names the file.

    Example:
        >>> images = read_idx("MNIST/raw/train-images-idx3-ubyte.gz")   # (60000, 28, 28) uint8
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"read_idx: no such file: {path}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"read_idx: {path} is a corrupt or truncated gzip file ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file: its magic number is 0x{raw[:4].hex() or '(empty)'}, "
                         f"expected 0x0000 followed by a type code (08, 09, 0B, 0C, 0D or 0E) and the number of "
                         f"dimensions")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated: the header announces {ndim} dimensions "
                         f"({header} header bytes) but the file has only {len(raw)} bytes")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = math.prod(dims)
    expected, found = count * dtype.itemsize, len(raw) - header
    if found != expected:
        what = "truncated" if found < expected else "corrupt (trailing bytes)"
        raise ValueError(f"read_idx: {path} is {what}: the header says shape {tuple(dims)} of {dtype.name} = "
                         f"{expected} data bytes, the file holds {found}")
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))
