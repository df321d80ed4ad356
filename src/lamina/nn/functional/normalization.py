"""Functional normalization (being written)."""

__all__ = []
