"""The per-array rule of schedule-free learning (Defazio et al. 2024).

Three sequences share one parameter vector: gradients are taken at ``y``, the base steps move
``z``, and ``x``, the running average of ``z`` that a model is evaluated at, is implied by the
other two through ``y = b1 * x + (1 - b1) * z``. The parameters handed to the optimizer are
``y``; the state keeps ``z``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def schedule_free(g: Array, y: Array, z: Array, nu: Array | None, step: Array, ck: Array, b1: Array,
                  b2: Array | None, eps: Array | None, weight_decay: Array | None,
                  first: Array) -> tuple[Array, Array, Array | None]:
    """One schedule-free step at ``y``, returning ``(y' - y, z', nu')``.

    ::

        z  = y                                   on the first step (``first``)
        nu' = b2 nu + (1 - b2) g**2;  d = g / (sqrt(nu') + eps)     (Adam form, b2 given)
        d  = g                                                     (SGD form, b2 None)
        d  = d + weight_decay * y
        z' = z - step * d
        y' = (1 - ck) y + ck z + step * (b1 (1 - ck) - 1) * d

    which is ``y' = b1 x' + (1 - b1) z'`` for the average ``x' = (1 - ck) x + ck z'``.
    ``step`` is the step size of this iteration (learning rate, warmup and, in the Adam form,
    ``sqrt(1 - b2**t)`` folded in) and ``ck`` the averaging weight.
    """
    dt = compute_dtype(g)
    x, w, zz, h, c, beta = _up(dt, g, y, z, step, ck, b1)
    zz = jnp.where(first, w, zz)
    new_nu = nu
    d = x
    if b2 is not None:
        acc, b, e = _up(dt, nu, b2, eps)
        acc = b * acc + (1 - b) * x * x
        d = x / (jnp.sqrt(acc) + e)
        new_nu = acc.astype(nu.dtype)
    if weight_decay is not None:
        d = d + weight_decay.astype(dt) * w
    u = c * (zz - w) + h * (beta * (1 - c) - 1) * d
    return u.astype(g.dtype), (zz - h * d).astype(z.dtype), new_nu


def eval_point(y: Array, z: Array, b1: Array) -> Array:
    """The averaged parameters ``x = (y - (1 - b1) z) / b1``, in ``y``'s dtype."""
    dt = compute_dtype(y)
    w, zz, beta = _up(dt, y, z, b1)
    return ((w - (1 - beta) * zz) / beta).astype(y.dtype)
