"""The per-array rules of Muon: momentum, Newton-Schulz orthogonalisation, shape scaling.

A leaf with two or more axes is a stack of matrices over its last two axes; every matrix of
the stack is orthogonalised on its own (the leading axes are batch axes).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp

from momentax.math.common import bias_correction, compute_dtype
from momentax.math.common import upcast as _up

Array = jax.Array

_HIGHEST = jax.lax.Precision.HIGHEST


def muon_momentum(g: Array, m: Array, momentum: Array, count: Array, nesterov: bool,
                  debias: bool) -> tuple[Array, Array]:
    """The average-form momentum of Muon, for step ``t = count`` (>= 1).

    ``m' = momentum * m + (1 - momentum) * g``, and the direction handed to Newton-Schulz is
    ``u = m'`` or, with ``nesterov``, ``u = momentum * m' + (1 - momentum) * g``. With
    ``debias`` (optax) the two terms are bias-corrected separately as in NAdam:
    ``u = momentum * m' / (1 - momentum**(t+1)) + (1 - momentum) * g / (1 - momentum**t)``
    (without ``nesterov``: ``u = m' / (1 - momentum**t)``).
    """
    dt = compute_dtype(g)
    x, buf, mu = _up(dt, g, m, momentum)
    buf = mu * buf + (1 - mu) * x
    if nesterov and debias:
        u = mu * buf / bias_correction(mu, count + 1, dt) + (1 - mu) * x / bias_correction(mu, count, dt)
    elif nesterov:
        u = mu * buf + (1 - mu) * x
    else:
        u = buf / bias_correction(mu, count, dt) if debias else buf
    return u.astype(g.dtype), buf.astype(m.dtype)


def _t(x: Array) -> Array:
    return jnp.swapaxes(x, -1, -2)


def newton_schulz(x: Array, coeffs: Sequence[Array], steps: int, eps: Array, clamp_eps: bool,
                  ns_dtype: Any = None) -> Array:
    """Approximate orthogonalisation ``U V^T`` of each matrix of ``x`` (``x = U S V^T``).

    Each ``m x n`` matrix is transposed if ``m > n``, divided by its Frobenius norm plus
    ``eps`` (``clamp_eps``: by ``max(norm, eps)``), and iterated ``steps`` times with
    ``(a, b, c) = coeffs``::

        A = X X^T;   X = a X + (b A + c A A) X

    then transposed back. The quintic's fixed point is not 1: singular values end up near
    [0.7, 1.2] rather than exactly 1, which is what Muon uses.

    ``ns_dtype=None`` computes in ``compute_dtype(x)`` with full-precision matrix products.
    ``ns_dtype=jnp.bfloat16`` reproduces torch.optim.Muon, which casts to bfloat16: every
    torch operation's result is rounded to bfloat16 once, with float32 accumulation inside
    the matrix products, as torch's CPU and CUDA kernels do.
    """
    a, b, c = coeffs
    wide = x.shape[-2] > x.shape[-1]
    if wide:
        x = _t(x)
    if ns_dtype is None:
        dt = compute_dtype(x)
        y, a, b, c, e = _up(dt, x, a, b, c, eps)
        norm = jnp.sqrt(jnp.sum(y * y, axis=(-2, -1), keepdims=True))
        y = y / (jnp.maximum(norm, e) if clamp_eps else norm + e)
        for _ in range(steps):
            gram = jnp.matmul(y, _t(y), precision=_HIGHEST)
            poly = b * gram + c * jnp.matmul(gram, gram, precision=_HIGHEST)
            y = a * y + jnp.matmul(poly, y, precision=_HIGHEST)
    else:
        low, f32 = jnp.dtype(ns_dtype), jnp.float32
        a, b, c, e = _up(f32, a, b, c, eps)

        def mm(p, q):
            return jnp.matmul(p, q, preferred_element_type=f32)

        y = x.astype(low)
        yf = y.astype(f32)
        norm = jnp.sqrt(jnp.sum(yf * yf, axis=(-2, -1), keepdims=True)).astype(low).astype(f32)
        if clamp_eps:
            norm = jnp.maximum(norm, e.astype(low).astype(f32))
        else:
            norm = (norm + e).astype(low).astype(f32)
        y = (yf / norm).astype(low)
        for _ in range(steps):
            gram = mm(y, _t(y)).astype(low)
            poly = (b * gram.astype(f32) + c * mm(gram, gram)).astype(low)
            y = (a * y.astype(f32) + mm(poly, y)).astype(low)
    if wide:
        y = _t(y)
    return y


def shape_scale(shape: Sequence[int], adjust_lr: str | None, consistent_rms: Array, fan_in_axis: int,
                dtype: Any) -> Array:
    """The factor Muon multiplies an orthogonalised ``(..., fan_in, fan_out)`` update by.

    ``"original"`` (K. Jordan): ``sqrt(max(1, fan_out / fan_in))``; ``"match_rms_adamw"``
    (Moonshot): ``consistent_rms * sqrt(max(fan_in, fan_out))``; ``None``: 1. ``fan_in_axis``
    is -2 for JAX's ``(in, out)`` kernels and -1 for torch's ``(out, in)`` weights.
    """
    fan_in, fan_out = shape[fan_in_axis], shape[-1 if fan_in_axis == -2 else -2]
    if adjust_lr == "original":
        return jnp.asarray(math.sqrt(max(1.0, fan_out / fan_in)), dtype)
    if adjust_lr == "match_rms_adamw":
        return consistent_rms.astype(dtype) * math.sqrt(max(fan_in, fan_out))
    return jnp.ones((), dtype)


def muon(g: Array, m: Array, momentum: Array, coeffs: Sequence[Array], eps: Array, consistent_rms: Array,
         count: Array, *, steps: int, nesterov: bool, debias: bool, clamp_eps: bool, ns_dtype: Any,
         adjust_lr: str | None, fan_in_axis: int) -> tuple[Array, Array]:
    """Muon's direction for one matrix (or stack of matrices): ``u = s * NS(momentum(g))``.

    See :func:`muon_momentum`, :func:`newton_schulz` and :func:`shape_scale`.
    """
    direction, buf = muon_momentum(g, m, momentum, count, nesterov, debias)
    ortho = newton_schulz(direction, coeffs, steps, eps, clamp_eps, ns_dtype)
    dt = compute_dtype(g)
    scale = shape_scale(g.shape, adjust_lr, consistent_rms, fan_in_axis, dt)
    return (scale * ortho.astype(dt)).astype(g.dtype), buf
