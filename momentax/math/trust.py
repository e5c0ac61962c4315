"""The per-array rule of the trust-ratio family (LARS, LAMB): layer-wise step normalisation.

The rule sees one whole leaf (one "layer") at a time: the norms are taken over the entire
array, so how parameters are grouped into leaves is part of the algorithm. Norms are computed
in ``compute_dtype(u)`` (at least float32); the update comes back in ``u``'s dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def _norm(x: Array) -> Array:
    """``||x||_2`` over the whole array, with a zero (not NaN) derivative at ``x = 0``."""
    sq = jnp.sum(x * x)
    positive = sq > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, sq, 1)), 0)


def trust_ratio(u: Array, p: Array, min_norm: Array, trust_coefficient: Array,
                eps: Array) -> tuple[Array]:
    """``u' = r * u`` with the layer-wise trust ratio ``r``.

    ::

        np = max(||p||, min_norm),  nu = max(||u||, min_norm)
        r  = trust_coefficient * np / (nu + eps)     if np > 0 and nu > 0
        r  = 1                                       otherwise

    The fallback ``r = 1`` keeps a zero-initialised parameter (``np = 0``) trainable and a
    zero update (``nu = 0``) from dividing by zero.
    """
    dt = compute_dtype(u)
    x, w, lo, tc, e = _up(dt, u, p, min_norm, trust_coefficient, eps)
    p_norm = jnp.maximum(_norm(w), lo)
    u_norm = jnp.maximum(_norm(x), lo)
    usable = jnp.logical_and(p_norm > 0, u_norm > 0)
    # The denominator is made 1 where the ratio is not used, so no 0/0 is ever evaluated.
    ratio = jnp.where(usable, tc * p_norm / jnp.where(usable, u_norm + e, 1), 1)
    return ((ratio * x).astype(u.dtype),)
