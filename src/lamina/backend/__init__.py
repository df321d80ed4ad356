"""Array-module selection, the dtype table and seeded random generators.

Op code never imports NumPy for its math: it asks for the array module of its
inputs (``get_xp``), which is NumPy today and CuPy for tensors on a GPU.
"""

from lamina.backend.dtypes import (
    bool_,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    to_lamina_dtype,
    to_numpy_dtype,
    uint8,
)
from lamina.backend.xp import device, get_xp, numpy_module

__all__ = [
    "bool_", "device", "dtype", "float16", "float32", "float64", "get_default_dtype", "get_xp", "int8", "int16",
    "int32", "int64", "numpy_module", "set_default_dtype", "to_lamina_dtype", "to_numpy_dtype", "uint8",
]
