"""The per-array rules of the clipping family: by value, by norm, by RMS, unit-wise (AGC).

Each function takes one gradient array (and for AGC its parameter) and scalar thresholds and
returns a tuple of arrays. Arithmetic runs in ``compute_dtype(g)`` (float32 for 16-bit
inputs, the input's own dtype otherwise); updates are returned in ``g``'s dtype.

Clipping by the *global* norm needs one number from every leaf: :func:`sum_of_squares` gives
each leaf's share, :func:`global_norm_factor` turns the total into the common factor, and
:func:`momentax.math.classic.scale` applies it.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp

from momentax.math.common import compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array
Axes = int | Sequence[int] | None


def clip(g: Array, max_delta: Array) -> tuple[Array]:
    """``u = min(max(g, -max_delta), max_delta)``, elementwise."""
    dt = compute_dtype(g)
    x, m = _up(dt, g, max_delta)
    return (jnp.clip(x, -m, m).astype(g.dtype),)


def sum_of_squares(g: Array) -> Array:
    """``sum(g**2)`` over every element, as a scalar in ``compute_dtype(g)``."""
    x = jnp.asarray(g).astype(compute_dtype(g))
    return jnp.sum(x * x)


def _safe_sqrt(s: Array) -> Array:
    # sqrt has an infinite derivative at 0; differentiating through the clip (meta-gradients)
    # would turn a zero gradient tree into NaN. The double where keeps both directions finite.
    # A NaN sum must stay NaN (as torch and optax): the norm then poisons every leaf, which
    # apply_if_finite can catch, instead of silently reading as zero.
    positive = s > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, s, 1)), jnp.where(jnp.isnan(s), s, 0))


def global_norm_factor(total_sum_of_squares: Array, max_norm: Array, eps: Array) -> Array:
    """``max_norm / max(norm + eps, max_norm)`` with ``norm = sqrt(total_sum_of_squares)``.

    That is ``min(1, max_norm / (norm + eps))``: exactly 1 while ``norm + eps <= max_norm``
    (``max_norm / max_norm``), and never a division by zero since ``max_norm > 0``.
    """
    dt = jnp.promote_types(jnp.asarray(total_sum_of_squares).dtype, jnp.asarray(max_norm).dtype)
    s, m, e = _up(dt, total_sum_of_squares, max_norm, eps)
    return m / jnp.maximum(_safe_sqrt(s) + e, m)


def clip_by_rms(g: Array, threshold: Array) -> tuple[Array]:
    """``u = g / max(1, rms(g) / threshold)`` with ``rms(g) = sqrt(mean(g**2))``."""
    dt = compute_dtype(g)
    x, t = _up(dt, g, threshold)
    rms = _safe_sqrt(jnp.mean(x * x)) if x.size else jnp.zeros((), dt)
    return ((x / jnp.maximum(1, rms / t)).astype(g.dtype),)


def unit_axes(x: Array, axis: Axes = None) -> tuple[int, ...]:
    """The axes summed over to get the norm of each unit of ``x`` (see :func:`unitwise_norm`).

    Raises:
      ValueError: ``axis`` is None and ``x`` has rank above 5.
    """
    shape = jnp.shape(x)
    if axis is not None:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        return tuple(a % len(shape) for a in axes) if shape else ()
    if sum(d != 1 for d in shape) <= 1:  # scalars and vectors (also shaped like (1, n))
        return tuple(range(len(shape)))
    if len(shape) in (2, 3):  # (in, out) dense layers; (in, heads, head_dim) attention
        return (0,)
    if len(shape) in (4, 5):  # HWIO / DHWIO convolution kernels
        return tuple(range(len(shape) - 1))
    raise ValueError(
        f"adaptive_grad_clip: cannot tell the units of an array of shape {list(shape)} (rank "
        f"{len(shape)}); pass axis= with the axes to take each unit's norm over."
    )


def unitwise_norm(x: Array, axis: Axes = None) -> Array:
    """The L2 norm of each unit of ``x``, kept with reduced axes of size 1 (broadcastable).

    A unit is one output neuron: the norm runs over the given ``axis``, or by default over the
    whole array for scalars and vectors, axis 0 for rank 2 (``(in, out)``) and rank 3
    (``(in, heads, head_dim)``), and every axis but the last for rank 4 and 5 convolution
    kernels (``HWIO``, ``DHWIO``).
    """
    y = jnp.asarray(x).astype(compute_dtype(x))
    return _safe_sqrt(jnp.sum(y * y, axis=unit_axes(x, axis), keepdims=True))


def adaptive_clip(g: Array, p: Array, clipping: Array, eps: Array, axis: Axes = None) -> tuple[Array]:
    """Adaptive gradient clipping, unit-wise.

    With ``G`` and ``W`` the norms of a unit of ``g`` and ``p`` and
    ``M = clipping * max(W, eps)``: ``u = g * M / G`` where ``G > M``, else ``u = g``.
    """
    dt = compute_dtype(g)
    x, c, e = _up(dt, g, clipping, eps)
    g_norm = unitwise_norm(x, axis)
    max_norm = c * jnp.maximum(unitwise_norm(p, axis).astype(dt), e)
    over = g_norm > max_norm
    factor = jnp.where(over, max_norm / jnp.where(over, g_norm, 1), 1)
    return ((x * factor).astype(g.dtype),)
