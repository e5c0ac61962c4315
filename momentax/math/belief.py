"""The per-array rules of Adam's relatives: AdaBelief, Yogi, NovoGrad, Adan.

Each function takes one gradient array ``g``, the matching state arrays and scalar
hyperparameters, and returns ``(update, *new_state)``. Arithmetic runs in
``compute_dtype(g)`` (at least float32); the update is returned in ``g``'s dtype and each
state array in its own storage dtype. ``count`` is the step number ``t`` of the step being
taken (``t >= 1``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import bias_correction as _bias_correction
from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def belief(g: Array, m: Array, s: Array, b1: Array, b2: Array, eps: Array, eps_root: Array,
           count: Array, nesterov: bool) -> tuple[Array, Array, Array]:
    """AdaBelief: Adam with the second moment of the prediction error ``g - m'``.

    ::

        m' = b1 m + (1 - b1) g
        s' = b2 s + (1 - b2) (g - m')**2 + eps_root
        m_hat = m' / (1 - b1**t)        (nesterov: b1 m' / (1 - b1**(t+1)) + (1 - b1) g / (1 - b1**t))
        u  = m_hat / (sqrt(s' / (1 - b2**t)) + eps)

    ``eps_root`` is added to the stored ``s`` every step, as in the paper's Algorithm 2.
    """
    dt = compute_dtype(g)
    x, mu, nu, c1, c2, e, er = _up(dt, g, m, s, b1, b2, eps, eps_root)
    mu = c1 * mu + (1 - c1) * x
    err = x - mu
    nu = c2 * nu + (1 - c2) * err * err + er
    if nesterov:
        ahead = 1 - c1 ** (count.astype(dt) + 1)
        m_hat = c1 * mu / ahead + (1 - c1) * x / _bias_correction(c1, count, dt)
    else:
        m_hat = mu / _bias_correction(c1, count, dt)
    s_hat = nu / _bias_correction(c2, count, dt)
    u = m_hat / (jnp.sqrt(s_hat) + e)
    return u.astype(g.dtype), mu.astype(m.dtype), nu.astype(s.dtype)


def yogi(g: Array, m: Array, v: Array, b1: Array, b2: Array, eps: Array, eps_root: Array,
         count: Array) -> tuple[Array, Array, Array]:
    """Yogi: Adam whose second moment moves additively towards ``g**2``.

    ::

        m' = b1 m + (1 - b1) g
        v' = v - (1 - b2) sign(v - g**2) g**2
        u  = (m' / (1 - b1**t)) / (sqrt(v' / (1 - b2**t) + eps_root) + eps)

    Adam's ``v' = v + (1 - b2)(g**2 - v)`` moves by a fraction of ``g**2 - v``; Yogi moves by
    ``(1 - b2) g**2`` in that direction, so a burst of large gradients cannot shrink the
    effective step as fast.
    """
    dt = compute_dtype(g)
    x, mu, nu, c1, c2, e, er = _up(dt, g, m, v, b1, b2, eps, eps_root)
    mu = c1 * mu + (1 - c1) * x
    sq = x * x
    nu = nu - (1 - c2) * jnp.sign(nu - sq) * sq
    m_hat = mu / _bias_correction(c1, count, dt)
    v_hat = nu / _bias_correction(c2, count, dt)
    u = m_hat / (jnp.sqrt(v_hat + er) + e)
    return u.astype(g.dtype), mu.astype(m.dtype), nu.astype(v.dtype)


def novograd_norm(g: Array, nu: Array, b2: Array, first: Array) -> tuple[Array]:
    """NovoGrad's layer-wise second moment, a scalar per array.

    ``nu' = ||g||**2`` on the first step, else ``nu' = b2 nu + (1 - b2) ||g||**2``, with the
    norm over the whole array. ``nu`` is a scalar (shape ``()``).
    """
    dt = compute_dtype(g)
    x, n, c2 = _up(dt, g, nu, b2)
    sq = jnp.sum(x * x)
    n = jnp.where(first, sq, c2 * n + (1 - c2) * sq)
    return (n.astype(nu.dtype),)


def novograd(g: Array, m: Array, nu: Array, p: Array | None, b1: Array, eps: Array,
             eps_root: Array, weight_decay: Array | None) -> tuple[Array, Array]:
    """NovoGrad's momentum of layer-normalised gradients, for ``nu`` from :func:`novograd_norm`.

    ``m' = b1 m + g / (sqrt(nu + eps_root) + eps) + weight_decay * p``; ``u = m'``.
    ``nu`` is this array's scalar (or an array broadcastable to ``g``); with ``p`` or
    ``weight_decay`` ``None`` there is no decay term.
    """
    dt = compute_dtype(g)
    x, mu, n, w, c1, e, er, wd = _up(dt, g, m, nu, p, b1, eps, eps_root, weight_decay)
    step = x / (jnp.sqrt(n + er) + e)
    if w is not None and wd is not None:
        step = step + wd * w
    mu = c1 * mu + step
    return mu.astype(g.dtype), mu.astype(m.dtype)


def adan(g: Array, prev: Array, m: Array, d: Array, n: Array, b1: Array, b2: Array, b3: Array,
         eps: Array, eps_root: Array, count: Array, first: Array
         ) -> tuple[Array, Array, Array, Array, Array]:
    """Adan: Adam with a moving average of gradient differences (Nesterov momentum estimate).

    With ``delta = g - prev`` (zero on the first step, ``first``)::

        m' = b1 m + (1 - b1) g
        d' = b2 d + (1 - b2) delta
        n' = b3 n + (1 - b3) (g + b2 delta)**2
        u  = (m' / (1 - b1**t) + b2 d' / (1 - b2**t)) / (sqrt(n' / (1 - b3**t) + eps_root) + eps)

    Returns ``(u, g, m', d', n')``: the gradient is kept as the next step's ``prev``.
    ``b1, b2, b3`` are decay rates (0.98, 0.92, 0.99 by default), which are one minus the
    paper's betas; the paper's ``1 - beta_2`` coefficient is therefore ``b2`` here.
    """
    dt = compute_dtype(g)
    x, gp, mu, dv, nu, c1, c2, c3, e, er = _up(dt, g, prev, m, d, n, b1, b2, b3, eps, eps_root)
    delta = jnp.where(first, jnp.zeros_like(x), x - gp)
    mu = c1 * mu + (1 - c1) * x
    dv = c2 * dv + (1 - c2) * delta
    ahead = x + c2 * delta
    nu = c3 * nu + (1 - c3) * ahead * ahead
    direction = mu / _bias_correction(c1, count, dt) + c2 * dv / _bias_correction(c2, count, dt)
    u = direction / (jnp.sqrt(nu / _bias_correction(c3, count, dt) + er) + e)
    return (u.astype(g.dtype), x.astype(prev.dtype), mu.astype(m.dtype), dv.astype(d.dtype),
            nu.astype(n.dtype))
