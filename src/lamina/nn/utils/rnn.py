"""Utilities for batches of sequences of unequal length: ``pad_sequence`` and ``unpad_sequence`` (PyTorch's names)."""

from lamina.ops import rnn as _ops

__all__ = ["pad_sequence", "unpad_sequence"]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shape (L_i, *) into one (L_max, N, *) tensor (or (N, L_max, *)), padding the short ones.

    Args:
        sequences: a list (or tuple) of tensors whose trailing dimensions agree.
        batch_first: put the batch first, (N, L_max, *). Default: False.
        padding_value: the value of the padding. Default: 0.
        padding_side: 'right' (pad after each sequence) or 'left'. Default: 'right'.

    Differentiable with respect to every sequence.

    Example:
        >>> pad_sequence([lamina.ones(3, 2), lamina.ones(1, 2)]).shape
        (3, 2, 2)
    """
    from lamina.tensor import Tensor

    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"pad_sequence: expected a list of Tensors, got {type(s).__name__} at index {i}")
        if s.dim() == 0:
            raise RuntimeError(f"pad_sequence: sequence {i} is 0-d; each sequence needs a length dimension")
        if tuple(s.shape[1:]) != tuple(sequences[0].shape[1:]) or s.dtype != sequences[0].dtype:
            raise RuntimeError(
                f"pad_sequence: every sequence must have the trailing shape and dtype of the first, "
                f"{tuple(sequences[0].shape[1:])} {sequences[0].dtype}; sequence {i} has {tuple(s.shape[1:])} "
                f"{s.dtype}")
    return _ops.PadSequence.apply(*sequences, batch_first=bool(batch_first), padding_value=padding_value,
                                  padding_side=padding_side)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The inverse of ``pad_sequence`` (right padding): a list of tensors (L_i, *) cut from a padded batch.

    Example:
        >>> seqs = unpad_sequence(pad_sequence([lamina.ones(3), lamina.ones(1)]), lamina.tensor([3, 1]))
        >>> [s.shape for s in seqs]
        [(3,), (1,)]
    """
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lengths = [int(n) for n in (lengths.tolist() if hasattr(lengths, "tolist") else lengths)]
    if len(lengths) != x.shape[0]:
        raise ValueError(f"unpad_sequence: got {len(lengths)} lengths for a batch of {x.shape[0]} sequences")
    if any(n < 0 or n > x.shape[1] for n in lengths):
        raise ValueError(f"unpad_sequence: lengths must lie in [0, {x.shape[1]}], got {lengths}")
    return [x[i, :n] for i, n in enumerate(lengths)]
