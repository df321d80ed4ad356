"""Parameters as one flat vector and back: ``parameters_to_vector`` / ``vector_to_parameters``."""

from lamina.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D tensor (differentiable).

    Example:
        >>> nn.utils.parameters_to_vector(nn.Linear(3, 2).parameters()).shape
        (8,)
    """
    from lamina.ops.functions import cat

    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not params:
        raise RuntimeError("parameters_to_vector: got no parameters")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D tensor ``vec`` into ``parameters`` (in place, without autograd).

    Raises TypeError for a non-Tensor ``vec`` and ValueError when its length differs from the parameter count.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected vec to be a Tensor, but got: {type(vec).__name__}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector of {total} elements (the parameters' total "
                         f"size), got shape {tuple(vec.shape)}")
    data = vec._data
    pointer = 0
    for p in params:
        n = p.numel()
        p._data[...] = data[pointer:pointer + n].reshape(p._data.shape)
        p._version += 1
        pointer += n
