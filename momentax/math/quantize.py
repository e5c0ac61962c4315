"""Blockwise 8-bit quantisation of optimizer moments with a dynamic (exponent) map.

An array is cut, in row-major order, into blocks of ``block_size`` elements (the last block may
be shorter). Each block keeps its largest magnitude ``scale`` in float32 and one byte per
element: the index of the nearest value of a fixed 256-entry map of ``[-1, 1]`` (signed, for
first moments) or ``[0, 1]`` (unsigned, for second moments) to ``x / scale``.

The map spends its codes as a decimal floating-point format with a variable split between
exponent and fraction (Dettmers' dynamic tree quantisation): after the sign bit (signed map
only), ``e`` leading zero bits give the decade ``10**-e``, a one bit ends them, and the
remaining ``F = bits - e - 1`` bits place the value linearly in that decade::

    value(e, j) = 10**-e * (1 - 0.9 * j / 2**F),   j = 0 .. 2**F - 1

so the largest decade ``(0.1, 1]`` has the most values (64 signed, 128 unsigned), 1.0 itself
is exact (every block's largest element round-trips), and magnitudes down to ``1e-6``
(signed) or ``1e-7`` (unsigned) stay distinct from zero. The code with no one bit is zero.
Encoding is arithmetic (a ``log10`` and a rounding), not a search.

Nonzero second moments never encode to zero: one that would is stored as the smallest
positive value instead, because a second moment read back as zero under a nonzero first
moment would turn an Adam step into ``m / eps``.

Source: T. Dettmers, M. Lewis, S. Shleifer, L. Zettlemoyer, "8-bit Optimizers via Block-wise
Quantization", ICLR 2022, https://arxiv.org/abs/2110.02861.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

Array = jax.Array

_BITS = 8


def _layout(signed: bool) -> tuple[int, int]:
    """``(magnitude bits B, largest decade top)``. Decade ``e`` holds ``F_e = 2**(B - 1 - e)``
    codes starting at ``offset_e = 2**B - 2**(B - e)`` (``F_top = 1``); the code
    ``2**B - 1`` after the last decade is zero."""
    magnitude_bits = _BITS - 1 if signed else _BITS
    return magnitude_bits, magnitude_bits - 1


def _decade_value(e: int, j, fraction_values: int, xp=np):
    """``value(e, j) = 10**-e * (1 - 0.9 * j / F) = (10 F - 9 j) * 10**-(e+1) / F`` in float32.

    Written so that it rounds once: ``10 F - 9 j`` is an exact integer, the product with the
    float32 constant ``10**-(e+1)`` rounds, and dividing by ``F`` (a power of two) is exact,
    so NumPy (:func:`code_table`) and XLA (:func:`dequantize`) give the same bits.
    """
    numerator = (10 * fraction_values - 9 * j).astype(xp.float32)
    return numerator * xp.float32(10.0 ** -(e + 1)) / xp.float32(fraction_values)


@functools.lru_cache(maxsize=2)
def code_table(signed: bool) -> np.ndarray:
    """The 256 values of the map, indexed by code (float32). Codes >= 128 of the signed
    map are the negatives of codes - 128; the code right after the last decade is zero.
    :func:`dequantize` computes the same values arithmetically (bit for bit)."""
    bits, top = _layout(signed)
    half = np.zeros(2 ** bits, np.float32)  # the last entry is the zero code
    for e in range(top + 1):
        count, offset = 2 ** (bits - 1 - e), 2 ** bits - 2 ** (bits - e)
        half[offset:offset + count] = _decade_value(e, np.arange(count), count)
    return np.concatenate([half, -half]) if signed else half


def _explicit_sharding(x: Array):
    """``x``'s sharding when its type carries one (a mesh with explicit axes), else None."""
    sharding = getattr(jax.typeof(x), "sharding", None)
    if sharding is None or all(entry is None for entry in getattr(sharding, "spec", ())):
        return None
    return sharding


def _gathered(x: Array, block_size: int):
    """``(x, sharding)``: on a mesh with explicit axes, blocks are cut from the row-major
    flattening, which a sharded ``x`` keeps only when just its first dimension is split and
    every shard holds whole blocks; otherwise ``x`` is gathered first (``sharding`` is what to
    give the results back). Auto-sharded and unsharded arrays pass through."""
    sharding = _explicit_sharding(x)
    if sharding is None:
        return x, None
    spec = tuple(sharding.spec) + (None,) * (x.ndim - len(sharding.spec))
    first = spec[0] if isinstance(spec[0], tuple) else (spec[0],)
    shards = int(np.prod([sharding.mesh.shape[a] for a in first if a is not None]))
    if all(e is None for e in spec[1:]) and x.size % (shards * block_size) == 0:
        return x, None
    replicated = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    return jax.sharding.reshard(x, replicated), sharding


def _blocks(x: Array, block_size: int) -> Array:
    flat = x.reshape(-1)
    pad = -flat.size % block_size
    return jnp.pad(flat, (0, pad)).reshape(-1, block_size)


def _unblocked(blocks: Array, like: Array, sharding) -> Array:
    """Block-shaped values back in ``like``'s shape (and explicit ``sharding``, if gathered)."""
    out = blocks.reshape(-1)[: np.size(like)].reshape(np.shape(like))
    return out if sharding is None else jax.sharding.reshard(out, sharding)


def _replicated_scales(scales: Array) -> Array:
    """Scales always replicated on a mesh with explicit axes, as the state is planned
    (:func:`momentax.state_shardings`), so a step's output types match its inputs'."""
    sharding = _explicit_sharding(scales)
    if sharding is None:
        return scales
    return jax.sharding.reshard(scales, jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec()))


def num_blocks(size: int, block_size: int) -> int:
    """How many blocks (and so scales) an array of ``size`` elements has."""
    return -(-size // block_size)


def quantize(x: Array, block_size: int, signed: bool) -> tuple[Array, Array]:
    """``x`` as ``(codes, scales)``.

    Args:
      x: a float array of any shape (computed in float32); with ``signed=False`` it must be
        nonnegative (a second moment).
      block_size: elements per block, >= 1.
      signed: which map to use.

    Returns:
      ``codes``: uint8 with ``x``'s shape; ``scales``: float32 of shape
      ``(num_blocks(x.size, block_size),)``, each block's largest magnitude.
    """
    bits, top = _layout(signed)
    zero_code = 2 ** bits - 1
    x = jnp.asarray(x)
    source, sharding = _gathered(x, block_size)
    blocks = _blocks(source.astype(jnp.float32), block_size)
    magnitude = jnp.abs(blocks)
    # The maximum of nonnegative floats, taken on their bit patterns (same order, NaN on top):
    # XLA:CPU fuses an integer reduction with the code that produces its input, where a float
    # one goes to a library kernel that needs that input written out first (a float32
    # temporary the size of the array).
    scales = lax.bitcast_convert_type(jnp.max(lax.bitcast_convert_type(magnitude, jnp.int32), axis=1),
                                      jnp.float32)
    a = magnitude / jnp.where(scales > 0, scales, 1.0)[:, None]
    safe = jnp.where(a > 0, a, 1.0)
    # The decade e = floor(-log10(a)), clipped to [0, top], and 10**e, by comparisons: a
    # logarithm and a power per element cost ten times more on CPU than these selects.
    e = jnp.zeros(safe.shape, jnp.int32)
    scale_up = jnp.ones(safe.shape, jnp.float32)
    for k in range(1, top + 1):
        below = safe <= np.float32(10.0 ** -k)
        e = e + below.astype(jnp.int32)
        scale_up = jnp.where(below, np.float32(10.0 ** k), scale_up)
    # Decade sizes and offsets by formula rather than a table lookup: a gather would not
    # partition elementwise (and fails outright on meshes with explicit axis types).
    fraction_values = jnp.left_shift(jnp.int32(1), bits - 1 - e)
    j = jnp.round((1 - safe * scale_up) / 0.9 * fraction_values)
    j = jnp.clip(j, 0, fraction_values).astype(jnp.int32)
    # j == fraction_values is 10**-(e+1): the first value of the next decade (or zero after the last).
    code = (2 ** bits - jnp.left_shift(jnp.int32(1), bits - e)) + j
    if signed:
        code = jnp.where(a > 0, code, zero_code)
    else:
        code = jnp.where(a > 0, jnp.minimum(code, zero_code - 1), zero_code)
    if signed:
        code = jnp.where(blocks < 0, code + 128, code)
    return _unblocked(code.astype(jnp.uint8), x, sharding), _replicated_scales(scales)


def dequantize(codes: Array, scales: Array, block_size: int, signed: bool) -> Array:
    """The float32 values ``table[code] * scale`` of :func:`quantize`'s output, shaped like
    ``codes``."""
    bits, top = _layout(signed)
    codes = jnp.asarray(codes)
    source, sharding = _gathered(codes, block_size)
    code = _blocks(source, block_size).astype(jnp.int32)
    magnitude_code = jnp.bitwise_and(code, 2 ** bits - 1)
    values = jnp.zeros(code.shape, jnp.float32)  # the zero code keeps this
    for e in range(top + 1):  # a select per decade, not a gather (see quantize)
        count, offset = 2 ** (bits - 1 - e), 2 ** bits - 2 ** (bits - e)
        inside = (magnitude_code >= offset) & (magnitude_code < offset + count)
        values = jnp.where(inside, _decade_value(e, magnitude_code - offset, count, jnp), values)
    if signed:
        values = jnp.where(code >= 2 ** bits, -values, values)
    return _unblocked(values * scales[:, None], codes, sharding)
