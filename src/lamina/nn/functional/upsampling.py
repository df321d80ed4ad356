"""Functional upsampling (being written)."""

__all__ = []
