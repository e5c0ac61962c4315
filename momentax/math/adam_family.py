"""The per-array rules of Adam's relatives: AMSGrad, Adamax, NAdam, RAdam.

Each function takes one gradient array ``g``, the matching state arrays and scalar
hyperparameters, and returns ``(update, *new_state)``; the step ``t = count`` counts from 1.
Arithmetic runs in ``compute_dtype(g)`` (float32 for 16-bit inputs); the update comes back
in ``g``'s dtype and each state array in its own storage dtype.

The two scalar helpers (:func:`nadam_momentum`, :func:`radam_rectification`) compute the
per-step coefficients once per step; the transforms pass them to the per-array rules.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from momentax.math.common import bias_correction as _bias_correction
from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def amsgrad(g: Array, m: Array, v: Array, v_max: Array, b1: Array, b2: Array, eps: Array, eps_root: Array,
            count: Array, debias_before_max: bool) -> tuple[Array, Array, Array, Array]:
    """AMSGrad: Adam divided by the running maximum of the second moment.

    ``m' = b1 m + (1-b1) g``; ``v' = b2 v + (1-b2) g**2``; ``c1 = 1 - b1**t``, ``c2 = 1 - b2**t``.
    torch's form (``debias_before_max=False``) keeps the maximum of the raw moment::

        v_max' = max(v_max, v');          u = (m' / c1) / (sqrt(v_max' / c2 + eps_root) + eps)

    optax's form (``debias_before_max=True``) keeps the maximum of the corrected moment::

        v_max' = max(v_max, v' / c2);     u = (m' / c1) / (sqrt(v_max' + eps_root) + eps)
    """
    dt = compute_dtype(g)
    x, mu, nu, top, c1, c2, e, er = _up(dt, g, m, v, v_max, b1, b2, eps, eps_root)
    mu = c1 * mu + (1 - c1) * x
    nu = c2 * nu + (1 - c2) * x * x
    correction = _bias_correction(c2, count, dt)
    if debias_before_max:
        top = jnp.maximum(top, nu / correction)
        second = top
    else:
        top = jnp.maximum(top, nu)
        second = top / correction
    u = (mu / _bias_correction(c1, count, dt)) / (jnp.sqrt(second + er) + e)
    return u.astype(g.dtype), mu.astype(m.dtype), nu.astype(v.dtype), top.astype(v_max.dtype)


def adamax(g: Array, m: Array, u_inf: Array, b1: Array, b2: Array, eps: Array,
           count: Array) -> tuple[Array, Array, Array]:
    """Adamax: Adam with the infinity norm in place of the second moment.

    ``m' = b1 m + (1-b1) g``; ``n' = max(b2 n, |g| + eps)``; ``u = (m' / (1 - b1**t)) / n'``.
    ``eps`` sits inside the maximum (as torch and optax), so ``n' >= eps > 0``.
    """
    dt = compute_dtype(g)
    x, mu, norm, c1, c2, e = _up(dt, g, m, u_inf, b1, b2, eps)
    mu = c1 * mu + (1 - c1) * x
    norm = jnp.maximum(c2 * norm, jnp.abs(x) + e)
    u = (mu / _bias_correction(c1, count, dt)) / norm
    return u.astype(g.dtype), mu.astype(m.dtype), norm.astype(u_inf.dtype)


def nadam_momentum(b1: Array, momentum_decay: Array, count: Array) -> Array:
    """Dozat's momentum schedule as torch.optim.NAdam uses it, for step ``t = count``.

    ``mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``, in ``b1``'s dtype. It rises
    from about ``b1 / 2`` towards ``b1``; with ``momentum_decay = 0`` it stays ``b1 / 2``.
    """
    t = count.astype(b1.dtype)
    return b1 * (1 - 0.5 * jnp.asarray(0.96, b1.dtype) ** (t * momentum_decay))


def nadam(g: Array, m: Array, v: Array, b1: Array, b2: Array, eps: Array, eps_root: Array, count: Array,
          mu_t: Array, mu_next: Array, product: Array, product_next: Array) -> tuple[Array, Array, Array]:
    """NAdam: Adam with Nesterov's look-ahead on the first moment.

    ``m' = b1 m + (1-b1) g``; ``v' = b2 v + (1-b2) g**2``; ``v_hat = v' / (1 - b2**t)``; ::

        u = ((1 - mu_t) / (1 - product) * g + mu_next / (1 - product_next) * m')
            / (sqrt(v_hat + eps_root) + eps)

    where ``product = mu_1 * ... * mu_t`` and ``product_next = product * mu_next``. With a
    constant ``mu_t = mu_next = b1`` (``product = b1**t``) this is optax's ``nadam``; with
    :func:`nadam_momentum` it is torch.optim.NAdam.
    """
    dt = compute_dtype(g)
    x, mu, nu, c1, c2, e, er, m_t, m_n, pr, pr_n = _up(
        dt, g, m, v, b1, b2, eps, eps_root, mu_t, mu_next, product, product_next)
    mu = c1 * mu + (1 - c1) * x
    nu = c2 * nu + (1 - c2) * x * x
    v_hat = nu / _bias_correction(c2, count, dt)
    numerator = (1 - m_t) / (1 - pr) * x + m_n / (1 - pr_n) * mu
    u = numerator / (jnp.sqrt(v_hat + er) + e)
    return u.astype(g.dtype), mu.astype(m.dtype), nu.astype(v.dtype)


def radam_rectification(b2: Array, count: Array) -> tuple[Array, Array]:
    """RAdam's length of the approximated simple moving average and its rectification.

    ``rho_inf = 2 / (1 - b2) - 1``; ``rho_t = rho_inf - 2 t b2**t / (1 - b2**t)``;
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``.
    Returns ``(rho_t, r_t)`` in ``b2``'s dtype; ``r_t`` is only meaningful where
    ``rho_t > 4`` (the rule uses it where ``rho_t`` exceeds the threshold, 5 by default) and
    is 1 elsewhere, so no NaN is ever formed.
    """
    t = count.astype(b2.dtype)
    rho_inf = 2 / (1 - b2) - 1
    b2t = b2**t
    rho = rho_inf - 2 * t * b2t / (1 - b2t)
    ratio = (rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho)
    r = jnp.sqrt(jnp.where(rho > 4, ratio, jnp.ones_like(ratio)))
    return rho, r


def radam(g: Array, m: Array, v: Array, b1: Array, b2: Array, eps: Array, eps_root: Array, count: Array,
          rectify: Array, r: Array) -> tuple[Array, Array, Array]:
    """RAdam: Adam whose adaptive step is switched on (and rectified) once its variance is tractable.

    ``m' = b1 m + (1-b1) g``; ``v' = b2 v + (1-b2) g**2``; ``c1 = 1 - b1**t``, ``c2 = 1 - b2**t``;
    ``rectify`` (a boolean scalar) is ``rho_t > threshold``; then ::

        u = r_t * (m' / c1) * sqrt(c2) / (sqrt(v' + c2 * eps_root) + eps)     if rectify
        u = m' / c1                                                          otherwise

    ``eps`` is added to ``sqrt(v')`` before the bias correction, as torch.optim.RAdam does; it
    equals ``(m'/c1) / (sqrt(v'/c2 + eps_root) + eps / sqrt(c2))``.
    """
    dt = compute_dtype(g)
    x, mu, nu, c1, c2, e, er, rr = _up(dt, g, m, v, b1, b2, eps, eps_root, r)
    mu = c1 * mu + (1 - c1) * x
    nu = c2 * nu + (1 - c2) * x * x
    m_hat = mu / _bias_correction(c1, count, dt)
    correction = _bias_correction(c2, count, dt)
    adaptive = jnp.sqrt(correction) / (jnp.sqrt(nu + correction * er) + e)
    u = jnp.where(rectify, m_hat * rr * adaptive, m_hat)
    return u.astype(g.dtype), mu.astype(m.dtype), nu.astype(v.dtype)
