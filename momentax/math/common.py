"""Helpers shared by the per-array rules: the compute dtype and bias correction."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def compute_dtype(x: Array) -> jnp.dtype:
    """float32 for 16-bit floats, otherwise the array's own float dtype."""
    return jnp.promote_types(jnp.asarray(x).dtype, jnp.float32)


def upcast(dtype, *xs):
    """Each of ``xs`` as an array of ``dtype`` (``None`` stays ``None``)."""
    return [None if x is None else jnp.asarray(x).astype(dtype) for x in xs]


def bias_correction(decay: Array, count: Array, dtype) -> Array:
    """``1 - decay**t`` for step ``t = count`` (count >= 1), in ``dtype``."""
    return 1 - decay.astype(dtype) ** count.astype(dtype)
