"""Functional dropout (being written)."""

__all__ = []
