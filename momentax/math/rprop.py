"""The per-array rule of Rprop (resilient backpropagation), as torch.optim.Rprop computes it.

Rprop ignores the gradient's magnitude: each element keeps its own step size, grown while
the gradient keeps its sign and shrunk when the sign flips. Arithmetic runs in
``compute_dtype(g)``; the update is returned in ``g``'s dtype and each state array in its
own storage dtype.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def rprop(g: Array, prev: Array, step_size: Array, eta_minus: Array, eta_plus: Array, min_step_size: Array,
          max_step_size: Array) -> tuple[Array, Array, Array]:
    """One Rprop step for one array; ``u`` is the ascent direction (negate it to descend).

    ::

        s      = sign(g * prev)
        step'  = clip(step * (eta_plus if s > 0 else eta_minus if s < 0 else 1),
                      min_step_size, max_step_size)
        g'     = 0 where s < 0, else g        (a sign flip skips this element's move)
        u      = sign(g') * step'
        prev'  = g'

    The step of the current gradient is returned at once (torch's order); ``prev`` holds
    the last gradient after the zeroing, so a sign flip is never counted twice.
    """
    dt = compute_dtype(g)
    x, last, size, lo_eta, hi_eta, lo, hi = _up(dt, g, prev, step_size, eta_minus, eta_plus, min_step_size,
                                                max_step_size)
    s = jnp.sign(x * last)
    factor = jnp.where(s > 0, hi_eta, jnp.where(s < 0, lo_eta, jnp.ones_like(lo_eta)))
    size = jnp.clip(size * factor, lo, hi)
    x = jnp.where(s < 0, jnp.zeros_like(x), x)
    u = jnp.sign(x) * size
    return u.astype(g.dtype), x.astype(prev.dtype), size.astype(step_size.dtype)
