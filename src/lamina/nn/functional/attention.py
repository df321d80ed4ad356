"""Functional attention (being written)."""

__all__ = []
