"""Writing float32 values into narrower storage: stochastic rounding and compensated sums.

These are the per-array rules behind low-precision state and parameters
(:mod:`momentax.storage`, :func:`momentax.stochastic_round_params`,
:func:`momentax.kahan_summation`). Arithmetic is in float32; only the stored result is narrow.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array

# bfloat16 is the upper half of a float32's bit pattern: rounding drops the low 16 bits.
_LOW_BITS = 16


def _mix(h: Array) -> Array:
    """An invertible 32-bit integer mixer (C. Wellons' "lowbias32"; each input bit flips
    each output bit with probability close to 1/2)."""
    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x7FEB352D)
    h = h ^ (h >> 15)
    h = h * jnp.uint32(0x846CA68B)
    return h ^ (h >> 16)


def hashed_bits(key: Array, shape: tuple[int, ...]) -> Array:
    """Pseudo-random uint32 of ``shape``: a counter-based hash of each element's row-major
    index, keyed by the two words of ``key`` (a ``jax.random.PRNGKey``).

    ``bits[i] = mix(mix(i ^ key[0]) + key[1])``, with ``mix`` an invertible integer hash
    (C. Wellons, "Prospecting for Hash Functions", 2018,
    https://nullprogram.com/blog/2018/07/31/). Unlike ``jax.random.bits`` (threefry), it is a
    handful of integer operations per element that fuse into the consumer, so stochastic
    rounding puts no random array in memory. Its quality is ample for rounding (decorrelated
    low bits); it is not meant for sampling.
    """
    index = jnp.zeros(shape, jnp.uint32)
    stride = 1
    for axis in reversed(range(len(shape))):
        index = index + lax.broadcasted_iota(jnp.uint32, shape, axis) * jnp.uint32(stride & 0xFFFFFFFF)
        stride *= shape[axis]
    words = jnp.asarray(key, jnp.uint32).reshape(-1)
    return _mix(_mix(index ^ words[0]) + words[1])


def stochastic_round_bf16(x: Array, key: Array) -> Array:
    """``x`` rounded to bfloat16, up or down at random, unbiased: ``E[round(x)] = x``.

    With ``lo <= x <= hi`` the two bfloat16 neighbours of ``x``, the result is ``hi`` with
    probability ``(x - lo) / (hi - lo)`` and ``lo`` otherwise (rounding is on the magnitude,
    so it is symmetric in sign). A random 16-bit integer (:func:`hashed_bits`) is added to the
    low half of ``x``'s float32 bit pattern, which is then truncated. Values that are already bfloat16 come back
    unchanged; infinities and NaN are cast as they are.

    Args:
      x: any shape, float32 (other float dtypes are cast to float32 first).
      key: a ``jax.random.PRNGKey``; the same key gives the same rounding.

    Returns:
      bfloat16, the shape of ``x``.

    Source: M. Gupta, A. Agrawal, P. Gopalakrishnan, P. Narayanan, "Deep Learning with
    Limited Numerical Precision", ICML 2015, https://arxiv.org/abs/1502.02551.
    """
    x = jnp.asarray(x).astype(jnp.float32)
    bits = lax.bitcast_convert_type(x, jnp.uint32)
    noise = hashed_bits(key, x.shape) >> (32 - _LOW_BITS)
    mask = jnp.uint32((0xFFFFFFFF << _LOW_BITS) & 0xFFFFFFFF)
    rounded = lax.bitcast_convert_type((bits + noise) & mask, jnp.float32)
    return jnp.where(jnp.isfinite(x), rounded, x).astype(jnp.bfloat16)


def kahan_add(p: Array, u: Array, c: Array) -> tuple[Array, Array]:
    """Adds ``u`` to a narrow parameter ``p``, carrying what rounding lost in ``c``.

    In float32: ``y = u + c``, ``s = p + y``; ``p' = round(s)`` to ``p``'s dtype (nearest) and
    ``c' = s - p'`` (stored in ``c``'s dtype). Small updates that round away in ``p`` pile up
    in ``c`` until they move ``p`` by a whole unit in the last place.

    Returns:
      ``(p', c')`` in the dtypes of ``p`` and ``c``.

    Source: W. Kahan, "Further remarks on reducing truncation errors", Communications of the
    ACM 8(1), 1965, https://doi.org/10.1145/363707.363723.
    """
    total = p.astype(jnp.float32) + (u.astype(jnp.float32) + c.astype(jnp.float32))
    new_p = total.astype(p.dtype)
    return new_p, (total - new_p.astype(jnp.float32)).astype(c.dtype)
