"""The per-array rules of averaged SGD (torch.optim.ASGD): the decayed step and the iterate average.

Arithmetic runs in ``compute_dtype(g)``; the update is returned in ``g``'s dtype and each
state array in its own storage dtype. The scalar helpers compute the per-step learning rate
and averaging weight once per step; ``t`` counts steps from 1.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def asgd_learning_rate(learning_rate: Array, lambd: Array, alpha: Array, count: Array) -> Array:
    """The step size that ASGD uses at step ``t = count``.

    ``eta_t = learning_rate / (1 + lambd * learning_rate * (t - 1)) ** alpha``, so
    ``eta_1 = learning_rate`` (torch computes ``eta`` after each step for the next one).
    """
    t = count.astype(learning_rate.dtype)
    return learning_rate / (1 + lambd * learning_rate * (t - 1)) ** alpha


def asgd(g: Array, p: Array, eta: Array, lambd: Array) -> tuple[Array]:
    """ASGD's step: ``u = -eta * (g + lambd * p)``, i.e. ``p' = p * (1 - lambd * eta) - eta * g``."""
    dt = compute_dtype(g)
    x, w, e, lam = _up(dt, g, p, eta, lambd)
    return ((-e * (x + lam * w)).astype(g.dtype),)


def averaging_weight(t0: Array, count: Array) -> Array:
    """The weight of the newest iterate in the average at step ``t = count``.

    ``mu_t = 1 / max(1, t - 1 - t0)``: the average is the iterate itself up to step
    ``t0 + 2``, and from there a running mean of the iterates since ``t0`` (torch's rule).
    """
    t = count.astype(t0.dtype)
    return 1 / jnp.maximum(jnp.ones_like(t), t - 1 - t0)


def average(p: Array, u: Array, ax: Array, mu: Array) -> tuple[Array]:
    """The running average of the iterates after the step ``u`` is applied to ``p``.

    ``p' = p + u`` (in ``p``'s dtype, as ``apply_updates`` computes it); ``ax' = p'`` when
    ``mu == 1``, else ``ax' = ax + mu * (p' - ax)``. The exact copy at ``mu == 1`` keeps
    ``ax`` equal to the parameters bit for bit until averaging starts.
    """
    new = jnp.asarray(p + u).astype(p.dtype)
    dt = compute_dtype(new)
    w, avg, weight = _up(dt, new, ax, mu)
    mixed = avg + weight * (w - avg)
    return (jnp.where(weight == 1, w, mixed).astype(ax.dtype),)
