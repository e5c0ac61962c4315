"""The per-array rules of the sign family: signSGD and Lion.

Each function takes one gradient array ``g``, the matching state arrays and scalar
hyperparameters, and returns ``(update, *new_state)``; arithmetic runs in
``compute_dtype(g)`` (at least float32), the update comes back in ``g``'s dtype and each
state array in its storage dtype. ``sign(0) = 0`` throughout, so a coordinate whose
direction is exactly zero does not move.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def sign(g: Array) -> tuple[Array]:
    """signSGD's direction: ``u = sign(g)``, elementwise, with ``sign(0) = 0``."""
    return (jnp.sign(g),)


def lion(g: Array, m: Array, b1: Array, b2: Array) -> tuple[Array, Array]:
    """Lion: ``u = sign(b1 * m + (1 - b1) * g)``; ``m' = b2 * m + (1 - b2) * g``.

    The direction interpolates with ``b1`` and the stored momentum decays with ``b2``; the
    momentum is updated after the direction is taken, from the old ``m``.
    """
    dt = compute_dtype(g)
    x, mu, c1, c2 = _up(dt, g, m, b1, b2)
    direction = jnp.sign(c1 * mu + (1 - c1) * x)
    mu = c2 * mu + (1 - c2) * x
    return direction.astype(g.dtype), mu.astype(m.dtype)
