"""``default_collate`` (a list of samples -> one batch) and ``default_convert`` (arrays -> tensors).

Same rules as PyTorch: tensors and NumPy arrays are stacked along a new first dimension, Python floats become a
float64 tensor, ints an int64 tensor, strings stay a list; mappings, namedtuples and sequences are collated
field by field (a tuple of fields comes back as a list, as in PyTorch).
"""

import collections.abc
import copy
import re

import numpy as np

from lamina.creation import as_tensor, tensor
from lamina.ops.functions import stack
from lamina.tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_np_str_obj = re.compile(r"[SaUO]")

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}")


def _stack_tensors(batch):
    first = batch[0]
    for i, t in enumerate(batch):
        if t.shape != first.shape:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                               f"{list(first.shape)} at entry 0 and {list(t.shape)} at entry {i}")
    if any(t.requires_grad for t in batch):
        return stack(batch, 0)
    return Tensor._make(first.xp.stack([t._data for t in batch]), False, None, 0)


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_collate(batch):
    """Merge a list of samples into a batch.

    ======================================  ==============================================
    sample element                          batch element
    ======================================  ==============================================
    Tensor / NumPy array of shape S         Tensor of shape (N, *S) (stacked)
    NumPy scalar                            1-D Tensor of its dtype
    float / int / bool                      float64 / int64 / bool Tensor of shape (N,)
    str / bytes                             list of N strings
    Mapping                                 same mapping type, each key collated
    namedtuple                              same namedtuple, each field collated
    tuple / list                            list / same sequence type, each position collated
    ======================================  ==============================================

    Example:
        >>> default_collate([(np.zeros(3), 1), (np.ones(3), 2)])
        [tensor([[0., 0., 0.], [1., 1., 1.]], dtype=lamina.float64), tensor([1, 2])]
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, Tensor):
        return _stack_tensors(batch)
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if isinstance(elem, np.ndarray) or elem_type.__name__ == "memmap":
            if _np_str_obj.search(elem.dtype.str) is not None:
                raise TypeError(_ERR.format(elem.dtype))
            arrs = [np.asarray(b) for b in batch]
            for i, a in enumerate(arrs):
                if a.shape != arrs[0].shape:
                    raise RuntimeError(f"default_collate: stack expects each array to be equal size, but got "
                                       f"{list(arrs[0].shape)} at entry 0 and {list(a.shape)} at entry {i}")
            return Tensor._make(np.stack(arrs), False, None, 0)
        if elem.shape == ():  # NumPy scalar: keep its dtype
            return as_tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return tensor(batch)
    if isinstance(elem, float):
        return Tensor._make(np.asarray(batch, dtype=np.float64), False, None, 0)
    if isinstance(elem, int):
        return Tensor._make(np.asarray(batch, dtype=np.int64), False, None, 0)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)  # keeps the mapping's type and settings (defaultdict factory...)
            clone.update(collated)
            return clone
        try:
            return elem_type(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return elem_type(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        transposed = [list(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, s in enumerate(transposed):
                clone[i] = default_collate(s)
            return clone
        try:
            return elem_type([default_collate(s) for s in transposed])
        except TypeError:
            return [default_collate(s) for s in transposed]
    raise TypeError(_ERR.format(elem_type))


def default_convert(data):
    """Turn NumPy arrays (also inside mappings and sequences) into tensors; leave everything else as it is.

    The ``collate_fn`` of a ``DataLoader`` built with ``batch_size=None``.
    """
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        if isinstance(data, np.ndarray) and _np_str_obj.search(data.dtype.str) is not None:
            return data
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(converted)
            return clone
        try:
            return elem_type(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        if isinstance(data, collections.abc.MutableSequence):
            clone = copy.copy(data)
            for i, d in enumerate(data):
                clone[i] = default_convert(d)
            return clone
        try:
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
