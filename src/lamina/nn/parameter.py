"""``Parameter``: a tensor that a Module registers as learnable."""

from lamina.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigning it to a Module attribute registers it.

    Args:
        data: the initial value (shared, not copied). Default: an empty float tensor.
        requires_grad: whether it is trained. Default: True.
    """

    def __init__(self, data=None, requires_grad=True):
        from lamina.creation import empty

        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            from lamina.creation import tensor

            data = tensor(data)
        self._init(data._data, False)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (Parameter, (Tensor._make(self._data, False, None, 0), self.requires_grad))


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __init__(self, data, persistent=True):
        self._init(data._data, False)
        self.persistent = persistent
