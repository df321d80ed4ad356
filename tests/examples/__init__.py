"""Smoke runs of the examples (their --quick modes)."""
