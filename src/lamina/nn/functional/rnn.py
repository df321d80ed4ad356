"""Functional rnn (being written)."""

__all__ = []
