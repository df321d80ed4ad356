"""Functional conv (being written)."""

__all__ = []
