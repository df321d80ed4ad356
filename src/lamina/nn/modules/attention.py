"""attention layers (being written)."""

__all__ = []
