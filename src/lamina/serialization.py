"""``lamina.save`` / ``lamina.load``: tensors in a safetensors file, everything else as JSON in its header.

One file holds any nesting of dicts, lists and tuples over tensors, NumPy arrays, numbers, strings, bools and
None (a ``state_dict``, an optimizer's ``state_dict`` with its integer keys, a whole training checkpoint).
The tensors are the safetensors entries (named after their path in the structure, so a plain model
``state_dict`` keeps its own keys); the structure is tagged JSON in the ``__metadata__`` header, which records
key types (``int`` keys stay ``int``), tuples, dict order and a CRC-32 of every tensor's bytes.

Nothing in a load path can run code: there is no pickle, and the JSON is only ever decoded into plain data.
Saving is atomic: the bytes go to a temporary file in the target's folder, which is flushed, fsync'ed and
renamed over the target (then the folder is fsync'ed), so a process killed mid-save leaves the previous file.
"""

import base64
import json
import math
import os
import zlib
from collections import OrderedDict

import numpy as np

from lamina.backend.dtypes import dtype as _lamina_dtype
from lamina.backend.dtypes import to_lamina_dtype
from lamina.tensor import Tensor

__all__ = ["save", "load", "SerializationError", "atomic_write_bytes"]

_FORMAT = "lamina"
_VERSION = "1"
_PICKLE_HINT = ("lamina never loads pickle files because unpickling can run arbitrary code; convert it once "
                "with PyTorch and safetensors (safetensors.torch.save_file(torch.load(path), 'x.safetensors')) "
                "and load that")


class SerializationError(RuntimeError):
    """A file given to ``lamina.load`` is truncated, corrupt or not a lamina/safetensors file."""


def _require_safetensors():
    try:
        import safetensors.numpy as st_numpy
        from safetensors import safe_open
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("lamina.save/lamina.load need the safetensors package: pip install 'lamina[io]' "
                          "(or pip install safetensors)") from None
    return st_numpy, safe_open


# ---------------------------------------------------------------------------------------------- encoding


class _Encoder:
    """Turns a Python structure into tagged JSON plus a flat ``{name: array}`` dict of tensors."""

    def __init__(self):
        self.arrays = OrderedDict()
        self._by_id = {}  # the same tensor object reached twice is stored once (tied weights)

    def _name(self, path):
        base = "/".join(path) or "tensor"
        name, n = base, 1
        while name in self.arrays:
            name, n = f"{base}#{n}", n + 1
        return name

    def _array_ref(self, tag, arr, path, obj, extra=None):
        key = id(obj)
        if key in self._by_id:
            name = self._by_id[key][0]
        else:
            name = self._name(path)
            arr = _contiguous(arr)
            if arr.dtype.byteorder == ">":
                arr = arr.astype(arr.dtype.newbyteorder("<"))
            self.arrays[name] = arr
            self._by_id[key] = (name, obj)  # keep obj alive so its id is not reused during encoding
        ref = {tag: name, "crc32": _crc32(self.arrays[name])}
        if extra:
            ref.update(extra)
        return ref

    def encode(self, obj, path=()):
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"__float__": repr(float(obj))}
        if isinstance(obj, Tensor):
            arr = np.asarray(obj)  # __array__ brings CuPy data to the host
            extra = {}
            if obj.requires_grad:
                extra["requires_grad"] = True
            if type(obj).__name__ == "Parameter":
                extra["parameter"] = True
            return self._array_ref("__tensor__", arr, path, obj, extra)
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind not in "biuf":
                raise TypeError(f"lamina.save: cannot store a NumPy array of dtype {obj.dtype} at {_where(path)}")
            return self._array_ref("__ndarray__", obj, path, obj)
        if isinstance(obj, np.generic):
            if obj.dtype.kind not in "biuf":
                raise TypeError(f"lamina.save: cannot store a NumPy scalar of dtype {obj.dtype} at {_where(path)}")
            return {"__npscalar__": obj.dtype.str, "value": self.encode(obj.item(), path)}
        if isinstance(obj, _lamina_dtype):
            return {"__dtype__": obj.name}
        if isinstance(obj, (bytes, bytearray)):
            return {"__bytes__": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, dict):
            tag = "__odict__" if isinstance(obj, OrderedDict) else "__dict__"
            if all(type(k) is str for k in obj):
                return {tag: {k: self.encode(v, path + (k,)) for k, v in obj.items()}}
            return {tag: [[self._key(k, path), self.encode(v, path + (str(k),))] for k, v in obj.items()]}
        if isinstance(obj, list):
            return [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, path + (str(i),)) for i, v in enumerate(obj)]}
        raise TypeError(f"lamina.save: cannot store an object of type {type(obj).__name__} at {_where(path)}; "
                        f"lamina files hold tensors, NumPy arrays, numbers, strings, bools, None, bytes and "
                        f"dicts/lists/tuples of them (no pickle)")

    def _key(self, k, path):
        if k is None or isinstance(k, (bool, int, float, str, tuple)):
            return self.encode(k, path)
        raise TypeError(f"lamina.save: cannot store a dict key of type {type(k).__name__} at {_where(path)}")


def _contiguous(arr):
    # np.ascontiguousarray would turn a 0-d array into a 1-d one
    return arr if arr.flags.c_contiguous else arr.copy(order="C")


def _crc32(arr):
    return zlib.crc32(_contiguous(arr).reshape(-1).view(np.uint8))


def _where(path):
    return "/".join(path) if path else "the top level"


class _Decoder:
    def __init__(self, arrays, filename):
        self.arrays = arrays
        self.filename = filename
        self._made = {}

    def fail(self, what):
        raise SerializationError(f"lamina.load: {self.filename} is corrupt: {what}")

    def decode(self, node):
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            self.fail(f"unexpected JSON value {str(node)[:60]!r}")
        tag = next(iter(node))
        val = node[tag]
        if tag in ("__dict__", "__odict__"):
            out = OrderedDict() if tag == "__odict__" else {}
            if isinstance(val, dict):
                for k, v in val.items():
                    out[k] = self.decode(v)
            elif isinstance(val, list):
                for item in val:
                    if not isinstance(item, list) or len(item) != 2:
                        self.fail("malformed dict entry")
                    k = self.decode(item[0])
                    if isinstance(k, list):
                        self.fail("a dict key decodes to a list")
                    out[k] = self.decode(item[1])
            else:
                self.fail("malformed dict")
            return out
        if tag == "__tuple__":
            if not isinstance(val, list):
                self.fail("malformed tuple")
            return tuple(self.decode(v) for v in val)
        if tag == "__float__":
            if val not in ("nan", "inf", "-inf"):
                self.fail(f"bad float {val!r}")
            return float(val)
        if tag in ("__tensor__", "__ndarray__"):
            return self._array(tag, val, node)
        if tag == "__npscalar__":
            try:
                dt = np.dtype(val)
            except TypeError:
                self.fail(f"bad NumPy dtype {val!r}")
            if dt.kind not in "biuf":
                self.fail(f"bad NumPy dtype {val!r}")
            return dt.type(self.decode(node.get("value")))
        if tag == "__dtype__":
            try:
                return to_lamina_dtype(val)
            except TypeError:
                self.fail(f"unknown dtype {val!r}")
        if tag == "__bytes__":
            try:
                return base64.b64decode(val.encode("ascii"), validate=True)
            except (ValueError, AttributeError):
                self.fail("bad base64 bytes")
        self.fail(f"unknown tag {tag!r}")

    def _array(self, tag, name, node):
        if not isinstance(name, str) or name not in self.arrays:
            self.fail(f"the structure refers to a tensor {name!r} that is not in the file")
        key = (tag, name)
        if key in self._made:
            return self._made[key]
        arr = self.arrays[name]
        crc = node.get("crc32")
        if crc is not None and _crc32(arr) != crc:
            self.fail(f"tensor {name!r} fails its CRC-32 check (the data bytes were altered)")
        if tag == "__ndarray__":
            out = arr
        else:
            out = Tensor._make(arr, False, None, 0)
            if node.get("parameter"):
                from lamina.nn.parameter import Parameter

                out = Parameter(out, bool(node.get("requires_grad", True)))
            elif node.get("requires_grad") and arr.dtype.kind == "f":
                out.requires_grad_(True)
        self._made[key] = out
        return out


# ---------------------------------------------------------------------------------------------- saving


def _serialize(obj):
    st_numpy, _ = _require_safetensors()
    enc = _Encoder()
    tree = enc.encode(obj)
    meta = {"format": _FORMAT, "lamina_version": _VERSION, "lamina_tree": json.dumps(tree, allow_nan=False)}
    return st_numpy.save(dict(enc.arrays), metadata=meta)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` so that readers see either the old file or the complete new one.

    The bytes go to a temporary file in the same folder (same file system, so the rename is atomic), which is
    flushed and fsync'ed before ``os.replace`` puts it in place; the folder is then fsync'ed so the rename itself
    survives a power cut.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)


def _fsync_dir(folder):
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened; the rename is still atomic
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def save(obj, f, **kwargs):
    """Save ``obj`` to ``f`` (a path or a writable binary file) as a safetensors file; never pickle.

    Args:
        obj: a tensor, a NumPy array, or nested dicts/lists/tuples of tensors, arrays, numbers, strings,
            bools, bytes and None (a ``state_dict``, an optimizer ``state_dict``, a checkpoint dict...).
        f: a file path (written atomically) or an object with ``write``.

    PyTorch's extra arguments (``pickle_module``, ``pickle_protocol``...) are accepted and ignored.

    Example:
        >>> lamina.save(model.state_dict(), "model.safetensors")
        >>> model.load_state_dict(lamina.load("model.safetensors"))
    """
    data = _serialize(obj)
    if hasattr(f, "write"):
        f.write(data)
        return
    atomic_write_bytes(f, data)


# ---------------------------------------------------------------------------------------------- loading


def _display_name(f):
    return os.path.basename(os.fspath(f)) if not hasattr(f, "read") else getattr(f, "name", "<file object>")


def _check_prefix(head, size, name):
    """Cheap structural checks on the first bytes, for messages that say what the file is."""
    n = int.from_bytes(head[:8], "little") if size >= 8 else 0
    if size >= 9 and head[8:9] == b"{":
        if n > size - 8:
            raise SerializationError(f"lamina.load: {name} is truncated: the header announces {n} bytes but the "
                                     f"file has {size - 8} after the length field")
        return
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise SerializationError(f"lamina.load: {name} is a pickle file, not a lamina file; {_PICKLE_HINT}")
    if head[:4] == b"PK\x03\x04":
        raise SerializationError(f"lamina.load: {name} is a zip archive (a PyTorch .pt/.pth checkpoint?), not a "
                                 f"lamina file; {_PICKLE_HINT}")
    if size < 9:
        raise SerializationError(f"lamina.load: {name} is truncated or not a lamina file: only {size} bytes")
    raise SerializationError(f"lamina.load: {name} is not a lamina file (no safetensors header)")


def load(f, map_location=None, weights_only=True, **kwargs):
    """Load what ``lamina.save`` stored (or any safetensors file) from a path or a readable binary file.

    Args:
        f: a file path or an object with ``read``.
        map_location: a device (``"cpu"``, ``"cuda"``) to move the tensors to. Default: the CPU.
        weights_only: accepted for PyTorch compatibility; loading is always safe (no pickle).

    A safetensors file written by another tool (no lamina header) loads as a dict ``{name: tensor}``.

    Raises:
        FileNotFoundError: ``f`` does not exist.
        SerializationError: the file is truncated, corrupt or not a safetensors file; the message names it.
    """
    st_numpy, safe_open = _require_safetensors()
    name = _display_name(f)
    if hasattr(f, "read"):
        data = f.read()
        _check_prefix(data[:9], len(data), name)
        try:
            arrays = st_numpy.load(data)
        except Exception as e:  # SafetensorError is not exported under a stable name
            raise SerializationError(f"lamina.load: {name} is truncated or not a lamina file: {e}") from None
        try:
            meta = _header_metadata(data)
        except ValueError as e:
            raise SerializationError(f"lamina.load: {name} is corrupt: {e}") from None
    else:
        path = os.fspath(f)
        if not os.path.exists(path):
            raise FileNotFoundError(f"lamina.load: no such file: {path}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"lamina.load: {path} is a folder, not a file")
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            head = fh.read(9)
        _check_prefix(head, size, name)
        try:
            with safe_open(path, framework="numpy") as sf:
                meta = sf.metadata() or {}
                arrays = {k: sf.get_tensor(k) for k in sf.keys()}
        except Exception as e:
            raise SerializationError(f"lamina.load: {name} is truncated or not a lamina file: {e}") from None
    if meta.get("format") != _FORMAT or "lamina_tree" not in meta:
        out = OrderedDict((k, Tensor._make(v, False, None, 0)) for k, v in arrays.items())
        return _move(out, map_location)
    if meta.get("lamina_version") != _VERSION:
        raise SerializationError(f"lamina.load: {name} was written by a newer lamina (format version "
                                 f"{meta.get('lamina_version')!r}); this lamina reads version {_VERSION}")
    try:
        tree = json.loads(meta["lamina_tree"])
    except ValueError as e:
        raise SerializationError(f"lamina.load: {name} is corrupt: its structure is not valid JSON ({e})") from None
    obj = _Decoder(arrays, name).decode(tree)
    return _move(obj, map_location)


def _header_metadata(data):
    n = int.from_bytes(data[:8], "little")
    header = json.loads(bytes(data[8:8 + n]))
    return header.get("__metadata__") or {}


def _move(obj, map_location):
    if map_location is None or str(map_location) == "cpu":
        return obj
    memo = {}

    def walk(x):
        if isinstance(x, Tensor):
            if id(x) not in memo:
                memo[id(x)] = x.to(map_location)
            return memo[id(x)]
        if isinstance(x, dict):
            out = type(x)()
            for k, v in x.items():
                out[k] = walk(v)
            return out
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, tuple):
            return tuple(walk(v) for v in x)
        return x

    return walk(obj)
