"""The per-array update rules, one module per family, written once on arrays.

Each rule takes one gradient array, the matching state arrays and scalar hyperparameters, and
returns ``(update, *new_state)``. Transforms lift these over trees; fused paths must match them.
"""
