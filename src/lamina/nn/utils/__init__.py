"""``lamina.nn.utils``: gradient clipping, parameters as a vector, and (``nn.utils.rnn``) padded sequences."""

from lamina.nn.utils import rnn  # noqa: F401 - nn.utils.rnn: pad_sequence, unpad_sequence
from lamina.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm
from lamina.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector",
           "rnn", "vector_to_parameters"]
