"""Utilities around the engine: ``lamina.utils.data`` (datasets, samplers, ``DataLoader``)."""

from lamina.utils import data

__all__ = ["data"]
