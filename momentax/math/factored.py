"""The per-array rules of Adafactor: factored second moments, parameter scale, relative step.

Shazeer & Stern keep, for a matrix gradient ``G`` (m x n), only the row means ``R`` (m) and
the column means ``C`` (n) of ``G**2`` and estimate the second moment as the rank-one matrix
``V = R C^T / mean(R)``; smaller leaves keep the full ``V``. Leading (batch) dimensions of a
stacked leaf are kept, so a ``(layers, m, n)`` leaf holds ``(layers, m)`` and ``(layers, n)``.

Two placements of ``eps`` are supported, chosen by ``clamp_eps`` (static):

- added (the paper, optax): ``eps`` is added to ``G**2`` before the means are taken;
- clamped (torch.optim.Adafactor): the means are left alone, and ``eps`` bounds the
  normaliser ``mean(R)`` from below and ``eps**2`` bounds ``V`` from below.

Arithmetic runs in ``compute_dtype(g)``; the update is returned in ``g``'s dtype and each
state array in its storage dtype.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array


def factored_axes(shape: Sequence[int], factored: bool, dims: str,
                  min_dim_size_to_factor: int) -> tuple[int, int] | None:
    """``(row_axis, col_axis)`` of a leaf whose second moment is factored, or None.

    ``dims="last"`` factors the last two axes (torch, the paper); ``dims="largest"`` the two
    largest (optax), the larger being the column axis, ties broken by position as numpy's
    stable argsort. A leaf is factored only if it has at least two axes and the smaller of
    the two chosen axes has at least ``min_dim_size_to_factor`` entries.
    """
    if not factored or len(shape) < 2:
        return None
    if dims == "last":
        row, col = len(shape) - 2, len(shape) - 1
    else:
        order = np.argsort(np.asarray(shape), kind="stable")
        row, col = int(order[-2]), int(order[-1])
    if min(shape[row], shape[col]) < min_dim_size_to_factor:
        return None
    return row, col


def factored_rms(g: Array, row: Array, col: Array, v: Array, decay: Array, eps: Array | None,
                 threshold: Array | None, axes: tuple[int, int] | None,
                 clamp_eps: bool) -> tuple[Array, Array, Array, Array]:
    """One step of Adafactor's second-moment scaling and update clipping.

    With ``b = decay`` (this step's rate) and ``S = g**2 (+ eps unless clamp_eps)``::

        factored:   R' = b R + (1-b) mean(S, col_axis)     C' = b C + (1-b) mean(S, row_axis)
                    V  = R' C' / mean(R', row_axis)          (clamped: / max(mean(R'), eps))
        otherwise:  v' = b v + (1-b) S                       V = v'
        U = g / sqrt(V)                                      (clamped: g / sqrt(max(V, eps**2)))
        u = U / max(1, RMS(U) / threshold)                   (threshold None: u = U)

    ``row``/``col`` are used when ``axes`` is given and ``v`` otherwise; the unused ones are
    returned unchanged. ``eps=None`` means the machine epsilon of ``g``'s dtype.
    """
    dt = compute_dtype(g)
    x, b = _up(dt, g, decay)
    # eps=None is torch's default: the machine epsilon of the parameter's dtype.
    e = jnp.asarray(jnp.finfo(g.dtype).eps, dt) if eps is None else _up(dt, eps)[0]
    sq = x * x if clamp_eps else x * x + e
    if axes is not None:
        r_ax, c_ax = axes
        r, c = _up(dt, row, col)
        r = b * r + (1 - b) * jnp.mean(sq, axis=c_ax)
        c = b * c + (1 - b) * jnp.mean(sq, axis=r_ax)
        r_full, c_full = jnp.expand_dims(r, c_ax), jnp.expand_dims(c, r_ax)
        norm = jnp.mean(r_full, axis=r_ax, keepdims=True)
        if clamp_eps:
            norm = jnp.maximum(norm, e)
        # (R / mean(R)) * C, not R * C / mean(R): the product of two tiny statistics underflows
        # to 0 and 0 / 0 is NaN, while each quotient stays representable.
        second = (r_full / norm) * c_full
        new_row, new_col, new_v = r.astype(row.dtype), c.astype(col.dtype), v
    else:
        (acc,) = _up(dt, v)
        acc = b * acc + (1 - b) * sq
        second = acc
        new_row, new_col, new_v = row, col, acc.astype(v.dtype)
    if clamp_eps:
        second = jnp.maximum(second, e * e)
    u = x * jax.lax.rsqrt(second)
    if threshold is not None:
        (d,) = _up(dt, threshold)
        u = u / jnp.maximum(1, jnp.sqrt(jnp.mean(u * u)) / d)
    return u.astype(g.dtype), new_row, new_col, new_v


def param_block_rms(g: Array, p: Array, min_scale: Array) -> tuple[Array]:
    """``u = g * max(min_scale, RMS(p))``, with ``RMS(p) = sqrt(mean(p**2))`` over the whole leaf."""
    dt = compute_dtype(g)
    x, w, m = _up(dt, g, p, min_scale)
    return ((x * jnp.maximum(m, jnp.sqrt(jnp.mean(w * w)))).astype(g.dtype),)


def relative_step(g: Array, p: Array | None, learning_rate: Array, weight_decay: Array | None,
                  count: Array, relative: bool, lr_coupled_decay: bool) -> tuple[Array]:
    """Adafactor's step: ``u = -(rho * g + lam * p)`` for step ``t = count`` (>= 1).

    ``rho = min(learning_rate, 1/sqrt(t))`` if ``relative`` else ``learning_rate``;
    ``lam = learning_rate * weight_decay`` if ``lr_coupled_decay`` else ``weight_decay``;
    ``weight_decay=None`` (or ``p=None``) leaves the decay term out.
    """
    dt = compute_dtype(g)
    x, lr = _up(dt, g, learning_rate)
    rho = jnp.minimum(lr, jax.lax.rsqrt(count.astype(dt))) if relative else lr
    u = rho * x
    if weight_decay is not None and p is not None:
        w, wd = _up(dt, p, weight_decay)
        u = u + (lr * wd if lr_coupled_decay else wd) * w
    return ((-u).astype(g.dtype),)
