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

Array = jax.Array

_BITS = 8


def _layout(signed: bool) -> tuple[int, np.ndarray]:
    """``(largest decade e, offsets)``: code ``offsets[e] + j`` is ``value(e, j)``."""
    magnitude_bits = _BITS - 1 if signed else _BITS
    top = magnitude_bits - 1  # the last decade has no fraction bits
    counts = [2 ** (magnitude_bits - 1 - e) for e in range(top + 1)]
    return top, np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)


@functools.lru_cache(maxsize=2)
def code_table(signed: bool) -> np.ndarray:
    """The 256 values of the map, indexed by code (float32). Codes >= 128 of the signed
    map are the negatives of codes - 128; the code right after the last decade is zero."""
    top, offsets = _layout(signed)
    half = np.zeros(offsets[-1] + 1, np.float64)  # + the zero code
    for e in range(top + 1):
        fraction_values = offsets[e + 1] - offsets[e]
        j = np.arange(fraction_values)
        half[offsets[e]:offsets[e + 1]] = 10.0 ** -e * (1 - 0.9 * j / fraction_values)
    table = np.concatenate([half, -half]) if signed else half
    return table.astype(np.float32)


def _blocks(x: Array, block_size: int) -> Array:
    flat = x.reshape(-1)
    pad = -flat.size % block_size
    return jnp.pad(flat, (0, pad)).reshape(-1, block_size)


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
    top, offsets = _layout(signed)
    zero_code = int(offsets[-1])
    blocks = _blocks(jnp.asarray(x).astype(jnp.float32), block_size)
    magnitude = jnp.abs(blocks)
    scales = jnp.max(magnitude, axis=1)
    a = magnitude / jnp.where(scales > 0, scales, 1.0)[:, None]
    safe = jnp.where(a > 0, a, 1.0)
    e = jnp.clip(jnp.floor(-jnp.log10(safe)), 0, top).astype(jnp.int32)
    fraction_values = jnp.asarray(np.diff(offsets))[e]
    j = jnp.round((1 - safe * jnp.float32(10.0) ** e.astype(jnp.float32)) / 0.9 * fraction_values)
    j = jnp.clip(j, 0, fraction_values).astype(jnp.int32)
    # j == fraction_values is 10**-(e+1): the first value of the next decade (or zero after the last).
    code = jnp.asarray(offsets)[e] + j
    if signed:
        code = jnp.where(a > 0, code, zero_code)
    else:
        code = jnp.where(a > 0, jnp.minimum(code, zero_code - 1), zero_code)
    if signed:
        code = jnp.where(blocks < 0, code + 128, code)
    codes = code.astype(jnp.uint8).reshape(-1)[: np.size(x)].reshape(np.shape(x))
    return codes, scales


def dequantize(codes: Array, scales: Array, block_size: int, signed: bool) -> Array:
    """The float32 values ``table[code] * scale`` of :func:`quantize`'s output, shaped like
    ``codes``."""
    values = jnp.asarray(code_table(signed))[_blocks(codes, block_size).astype(jnp.int32)]
    return (values * scales[:, None]).reshape(-1)[: np.size(codes)].reshape(np.shape(codes))
