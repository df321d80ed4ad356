"""lamina's dtypes: thin named wrappers around NumPy dtypes, spelled as PyTorch spells them."""

import numpy as np


class dtype:  # noqa: N801 - PyTorch spells it lowercase
    """A tensor element type (``lamina.float32``, ``lamina.int64``...)."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "if"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"lamina.{self.name}"

    def __reduce__(self):
        return (to_lamina_dtype, (self.name,))


float16 = dtype("float16", np.float16)
float32 = dtype("float32", np.float32)
float64 = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = dtype("int16", np.int16)
int32 = dtype("int32", np.int32)
int64 = dtype("int64", np.int64)
bool_ = dtype("bool", np.bool_)

_ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "float": float32, "double": float64, "long": int64, "int": int32, "short": int16})

_default = [float32]


def get_default_dtype():
    """The dtype of floating-point tensors created without an explicit dtype (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d):
    d = to_lamina_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating-point dtypes are allowed, got {d}")
    _default[0] = d


def to_lamina_dtype(d):
    """Accept a lamina dtype, a NumPy dtype or type, or a name, and return the lamina dtype."""
    if isinstance(d, dtype):
        return d
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    if d is float:
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    try:
        return _BY_NP[np.dtype(d)]
    except (TypeError, KeyError):
        raise TypeError(f"lamina: unsupported dtype {d!r}; use one of {', '.join(x.name for x in _ALL)}") from None


def to_numpy_dtype(d):
    """The NumPy dtype behind a lamina dtype (or anything ``to_lamina_dtype`` accepts); None stays None."""
    if d is None:
        return None
    if isinstance(d, dtype):
        return d.np
    return to_lamina_dtype(d).np


def from_numpy_dtype(np_dtype):
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(f"lamina: NumPy dtype {np_dtype} has no lamina equivalent") from None
