"""Differentiable primitives, one Function class per op, grouped by kind; ``functions`` is their public form."""
