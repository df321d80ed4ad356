"""rnn layers (being written)."""

__all__ = []
