"""Functional linear (being written)."""

__all__ = []
