"""nn.utils (being written)."""
from lamina.nn.utils import rnn  # noqa: F401 - nn.utils.rnn: pad_sequence, unpad_sequence
