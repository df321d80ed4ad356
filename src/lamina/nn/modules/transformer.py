"""transformer layers (being written)."""

__all__ = []
