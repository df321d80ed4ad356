"""Which array module (NumPy or CuPy) holds a tensor's data, and lamina's device type."""

import numpy

numpy_module = numpy


def get_xp(array):
    """The array module of ``array``: CuPy for CuPy arrays, NumPy for everything else."""
    if type(array).__module__.startswith("cupy"):
        import cupy

        return cupy
    return numpy


class device:  # noqa: N801 - PyTorch spells it lowercase
    """Where a tensor lives: ``device("cpu")`` or ``device("cuda")`` / ``device("cuda:0")``."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index
        spec = str(spec)
        if ":" in spec:
            spec, idx = spec.split(":", 1)
            index = int(idx)
        if spec not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {spec}")
        self.type = spec
        self.index = index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def device_of(array):
    return CPU if get_xp(array) is numpy else device("cuda", int(array.device.id))
