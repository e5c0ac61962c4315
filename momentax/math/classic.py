"""The per-array rules of the classic family: scaling, momentum, EMA, Adagrad, RMSProp, Adadelta, Adam.

Each function takes one gradient array ``g``, the matching state arrays, and scalar
hyperparameters, and returns ``(update, *new_state)``. This module is the reference every
transform lifts over trees (:func:`momentax.trees.lift`) and every fused path must match.

Precision: arithmetic runs in ``compute_dtype(g)``, float32 for 16-bit inputs and the input's
own dtype otherwise; the update is returned in ``g``'s dtype and each state array in its own
storage dtype, so low-precision storage never changes the arithmetic.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import bias_correction as _bias_correction
from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def scale(g: Array, step_size: Array) -> tuple[Array]:
    """``u = step_size * g``."""
    dt = compute_dtype(g)
    x, s = _up(dt, g, step_size)
    return ((s * x).astype(g.dtype),)


def add_decayed_weights(g: Array, p: Array, weight_decay: Array) -> tuple[Array]:
    """``u = g + weight_decay * p``."""
    dt = compute_dtype(g)
    x, w, wd = _up(dt, g, p, weight_decay)
    return ((x + wd * w).astype(g.dtype),)


def trace(g: Array, v: Array, momentum: Array, dampening: Array, first: Array,
          nesterov: bool) -> tuple[Array, Array]:
    """Heavy-ball momentum, the "sum" form of torch.optim.SGD.

    ``v' = momentum * v + (1 - d) * g`` with ``d = 0`` on the first step (``first``) and
    ``d = dampening`` after; ``u = g + momentum * v'`` if ``nesterov`` else ``u = v'``.
    """
    dt = compute_dtype(g)
    x, buf, mu, damp = _up(dt, g, v, momentum, dampening)
    damp = jnp.where(first, jnp.zeros_like(damp), damp)
    buf = mu * buf + (1 - damp) * x
    u = x + mu * buf if nesterov else buf
    return u.astype(g.dtype), buf.astype(v.dtype)


def ema(g: Array, v: Array, decay: Array, count: Array, debias: bool,
        nesterov: bool) -> tuple[Array, Array]:
    """Exponential moving average, the "average" form.

    ``v' = decay * v + (1 - decay) * g``; ``u = v'``, or with ``nesterov``
    ``u = decay * v' + (1 - decay) * g``; with ``debias`` ``u`` is divided by ``1 - decay**t``.
    """
    dt = compute_dtype(g)
    x, avg, b = _up(dt, g, v, decay)
    avg = b * avg + (1 - b) * x
    u = b * avg + (1 - b) * x if nesterov else avg
    if debias:
        u = u / _bias_correction(b, count, dt)
    return u.astype(g.dtype), avg.astype(v.dtype)


def _divide(x: Array, second_moment: Array, eps: Array, eps_in_sqrt: bool) -> Array:
    # torch places eps outside the root (x / (sqrt(s) + eps)); optax inside (x / sqrt(s + eps)).
    if eps_in_sqrt:
        return x / jnp.sqrt(second_moment + eps)
    return x / (jnp.sqrt(second_moment) + eps)


def rss(g: Array, s: Array, eps: Array, eps_in_sqrt: bool) -> tuple[Array, Array]:
    """Adagrad: ``s' = s + g**2``; ``u = g / (sqrt(s') + eps)`` (or ``g / sqrt(s' + eps)``)."""
    dt = compute_dtype(g)
    x, acc, e = _up(dt, g, s, eps)
    acc = acc + x * x
    return _divide(x, acc, e, eps_in_sqrt).astype(g.dtype), acc.astype(s.dtype)


def rms(g: Array, nu: Array, mu: Array | None, decay: Array, eps: Array, centered: bool,
        eps_in_sqrt: bool) -> tuple[Array, Array, Array | None]:
    """RMSProp: ``nu' = decay * nu + (1 - decay) * g**2``; ``u = g / (sqrt(nu') + eps)``.

    With ``centered``, also ``mu' = decay * mu + (1 - decay) * g`` and the denominator uses the
    variance ``nu' - mu'**2`` in place of ``nu'``.
    """
    dt = compute_dtype(g)
    x, sq, avg, b, e = _up(dt, g, nu, mu, decay, eps)
    sq = b * sq + (1 - b) * x * x
    second = sq
    if centered:
        avg = b * avg + (1 - b) * x
        # nu' >= mu'**2 holds exactly for two EMAs started at zero; rounding can break it by an
        # ulp, and a negative variance would turn into NaN under the root.
        second = jnp.maximum(sq - avg * avg, 0)
    u = _divide(x, second, e, eps_in_sqrt)
    new_mu = avg.astype(mu.dtype) if centered else mu
    return u.astype(g.dtype), sq.astype(nu.dtype), new_mu


def adadelta(g: Array, nu: Array, delta: Array, rho: Array, eps: Array) -> tuple[Array, Array, Array]:
    """Adadelta: ``nu' = rho nu + (1-rho) g**2``; ``u = sqrt(delta + eps) / sqrt(nu' + eps) * g``;
    ``delta' = rho delta + (1-rho) u**2``."""
    dt = compute_dtype(g)
    x, sq, acc, r, e = _up(dt, g, nu, delta, rho, eps)
    sq = r * sq + (1 - r) * x * x
    u = jnp.sqrt(acc + e) / jnp.sqrt(sq + e) * x
    acc = r * acc + (1 - r) * u * u
    return u.astype(g.dtype), sq.astype(nu.dtype), acc.astype(delta.dtype)


def adam(g: Array, m: Array, v: Array, b1: Array, b2: Array, eps: Array, eps_root: Array,
         count: Array) -> tuple[Array, Array, Array]:
    """Adam's bias-corrected moments, for step ``t = count`` (>= 1).

    ``m' = b1 m + (1-b1) g``; ``v' = b2 v + (1-b2) g**2``;
    ``u = m_hat / (sqrt(v_hat + eps_root) + eps)`` with ``m_hat = m' / (1 - b1**t)`` and
    ``v_hat = v' / (1 - b2**t)``.
    """
    dt = compute_dtype(g)
    x, mu, nu, c1, c2, e, er = _up(dt, g, m, v, b1, b2, eps, eps_root)
    mu = c1 * mu + (1 - c1) * x
    nu = c2 * nu + (1 - c2) * x * x
    bc2 = _bias_correction(c2, count, dt)
    m_hat = mu / _bias_correction(c1, count, dt)
    # sqrt(v_hat + eps_root) computed as sqrt(v + eps_root * bc2) / sqrt(bc2), torch's order:
    # v / bc2 overflows for |g| near sqrt(float max) where the root of v does not.
    u = m_hat / (jnp.sqrt(nu + er * bc2) / jnp.sqrt(bc2) + e)
    return u.astype(g.dtype), mu.astype(m.dtype), nu.astype(v.dtype)
