"""The 8-bit blockwise maps: nearest codes, error bounds, odd shapes (momentax.math.quantize)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from momentax.math import quantize as q

# ---- the 8-bit maps ----


@pytest.mark.parametrize("signed", [True, False])
def test_code_tables(signed):
    t = q.code_table(signed)
    assert t.shape == (256,) and t.dtype == np.float32
    assert t[0] == 1.0 and np.max(np.abs(t)) == 1.0  # the block maximum is stored exactly
    half = t[:128] if signed else t
    # Codes run from 1 down to the smallest magnitude, then zero: strictly decreasing.
    assert np.all(np.diff(half) < 0) and half[-1] == 0
    assert half[-2] == np.float32(1e-6 if signed else 1e-7)
    if signed:
        np.testing.assert_array_equal(t[128:], -t[:128])
    # Decade e = (10**-(e+1), 10**-e] holds 2**(6-e) signed / 2**(7-e) unsigned codes.
    counts = [int(np.sum((half > 10.0 ** -(e + 1) * (1 + 1e-6)) & (half <= 10.0 ** -e * (1 + 1e-6))))
              for e in range(3)]
    assert counts == ([64, 32, 16] if signed else [128, 64, 32])


def brute_force(x: np.ndarray, block_size: int, signed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per block: scale = max |x|, and the distance of x / scale to every code."""
    t = q.code_table(signed).astype(np.float64)
    flat = np.asarray(x, np.float64).reshape(-1)
    flat = np.concatenate([flat, np.zeros(-flat.size % block_size)]).reshape(-1, block_size)
    scale = np.abs(flat).max(axis=1)
    a = flat / np.where(scale > 0, scale, 1)[:, None]
    return a.reshape(-1)[: np.size(x)], np.abs(a.reshape(-1)[: np.size(x), None] - t[None, :])


def sample(n: int, signed: bool, seed: int = 0) -> np.ndarray:
    """Values over 12 decades, as moments are: most far below their block's maximum."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 10.0 ** rng.uniform(-12, 0, size=n)
    return (x if signed else np.abs(x)).astype(np.float32)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("block_size", [1, 64, 256, 2048])
def test_quantize_picks_the_nearest_code(signed, block_size):
    x = sample(5000, signed)
    x[::97] = 0.0
    codes, scales = q.quantize(jnp.asarray(x), block_size, signed)
    a, dist = brute_force(x, block_size, signed)
    got = dist[np.arange(x.size), np.asarray(codes).astype(int)]
    best = dist.min(axis=1)
    if not signed:  # a nonzero second moment never becomes zero: nearest nonzero code instead
        best = np.where(a > 0, np.where(q.code_table(False) > 0, dist, np.inf).min(axis=1), best)
    # Encoding is arithmetic (log10, round), the check an exhaustive search in float64: they
    # agree up to float32 rounding of x / scale, at exact ties.
    np.testing.assert_array_less(got - best, 1e-6)
    np.testing.assert_array_equal(np.asarray(scales), np.abs(np.concatenate(
        [x, np.zeros(-x.size % block_size, np.float32)])).reshape(-1, block_size).max(axis=1))


@pytest.mark.parametrize("signed", [True, False])
def test_dequantize_is_the_table_lookup_and_quantize_is_idempotent(signed):
    x = jnp.asarray(sample(3000, signed, seed=1))
    codes, scales = q.quantize(x, 256, signed)
    values = q.dequantize(codes, scales, 256, signed)
    blocks = np.concatenate([np.asarray(codes), np.zeros(-3000 % 256, np.uint8)]).reshape(-1, 256)
    lookup = (q.code_table(signed)[blocks] * np.asarray(scales)[:, None]).reshape(-1)[:3000]
    np.testing.assert_array_equal(np.asarray(values), lookup)
    again = q.dequantize(*q.quantize(values, 256, signed), 256, signed)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(values))
    # Every block's largest magnitude is stored exactly.
    top = np.abs(np.asarray(x)[:2816].reshape(-1, 256)).argmax(axis=1) + 256 * np.arange(11)
    np.testing.assert_array_equal(np.asarray(values)[top], np.asarray(x)[top])


@pytest.mark.parametrize("signed,step", [(True, 0.9 / 64), (False, 0.9 / 128)])
@pytest.mark.parametrize("block_size", [256, 2048])
def test_quantization_error_is_within_half_a_code_step_of_each_block_maximum(signed, step, block_size):
    # The widest gap between codes is in the top decade, (0.1, 1]: 0.9 / 64 (signed) or
    # 0.9 / 128 (unsigned); the nearest code is within half of it, times the block's scale.
    x = sample(10000, signed, seed=2)
    values = np.asarray(q.dequantize(*q.quantize(jnp.asarray(x), block_size, signed), block_size, signed))
    err = np.abs(values - x)
    scale = np.abs(np.concatenate([x, np.zeros(-x.size % block_size, np.float32)])).reshape(-1, block_size).max(1)
    bound = np.repeat(scale, block_size)[: x.size] * (step / 2 * (1 + 1e-5))
    assert np.all(err <= bound)
    # Relative to the value itself the error is at most 4.5 / 64 signed (4.5 / 128 unsigned)
    # in the top decade: the bottom of (0.1, 1] against half a step of 0.9 / 64.
    top_decade = np.abs(x) > 0.1 * np.repeat(scale, block_size)[: x.size]
    assert np.all(err[top_decade] <= np.abs(x[top_decade]) * step / 0.2 * (1 + 1e-5))


@pytest.mark.parametrize("shape", [(), (0,), (3, 0), (1,), (5,), (300,), (2, 300), (4, 256)])
@pytest.mark.parametrize("signed", [True, False])
def test_block_boundaries_and_odd_shapes(shape, signed):
    x = np.random.default_rng(3).normal(size=shape).astype(np.float32)
    x = x if signed else np.abs(x)
    codes, scales = q.quantize(jnp.asarray(x), 256, signed)
    assert codes.shape == shape and codes.dtype == jnp.uint8
    assert scales.shape == (q.num_blocks(x.size, 256),) and scales.dtype == jnp.float32
    values = np.asarray(q.dequantize(codes, scales, 256, signed))
    assert values.shape == shape
    if x.size:
        # The last (short) block is padded with zeros, which do not change its maximum.
        np.testing.assert_array_equal(np.asarray(scales)[-1], np.abs(x.reshape(-1)[(scales.shape[0] - 1) * 256:]).max())
        np.testing.assert_allclose(values, x, atol=0.5 * 0.9 / 64 * float(np.abs(x).max()))
    if x.size == 1:
        assert values.reshape(()) == x.reshape(())  # a lone element is its block's maximum


@pytest.mark.parametrize("signed", [True, False])
def test_zeros_stay_zero_and_unsigned_nonzero_never_becomes_zero(signed):
    codes, scales = q.quantize(jnp.zeros(600), 256, signed)
    np.testing.assert_array_equal(np.asarray(q.dequantize(codes, scales, 256, signed)), np.zeros(600))
    np.testing.assert_array_equal(np.asarray(scales), np.zeros(3))
    if not signed:
        # 1e-12 is far below the smallest code (1e-7 of the block's 1.0): it is stored as that
        # code, not as zero, so an Adam step never divides a nonzero m by a zero sqrt(v).
        x = jnp.asarray([1.0, 1e-12, 0.0, 3e-8] + [0.5] * 252)
        values = np.asarray(q.dequantize(*q.quantize(x, 256, False), 256, False))
        np.testing.assert_array_equal(values[:4], np.float32([1.0, 1e-7, 0.0, 1e-7]))
