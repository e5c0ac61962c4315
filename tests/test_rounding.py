"""Stochastic rounding and Kahan sums: unbiased writes, and why they matter for bfloat16.

Each test states its tolerance and where it comes from. The statistical ones use fixed keys, so
they are deterministic; their bounds are 5 or more standard deviations of the estimate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import momentax as mx
from momentax.math.rounding import stochastic_round_bf16


def bf16_neighbours(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(toward zero, away from zero)`` bfloat16 neighbours of finite float32 ``x``, as float32."""
    bits = np.asarray(x, np.float32).view(np.uint32)
    low = (bits & np.uint32(0xFFFF0000)).view(np.float32)
    high = ((bits & np.uint32(0xFFFF0000)) + np.uint32(0x10000)).view(np.float32)
    return low, high


def draws(x, n: int, seed: int = 0) -> np.ndarray:
    keys = jax.random.split(jax.random.PRNGKey(seed), n)
    out = jax.vmap(lambda k: stochastic_round_bf16(jnp.asarray(x), k))(keys)
    return np.asarray(out.astype(jnp.float32))


# ---- stochastic_round_bf16 ----

VALUES = np.array([1.0 + 2.0 ** -10, 1.0 + 3 * 2.0 ** -12, 0.1, 3.3, 1e-3, 12345.678, 1e-30, 2.0 ** -130],
                  np.float32)


def test_stochastic_rounding_is_unbiased():
    x = np.concatenate([VALUES, -VALUES])
    n = 20000
    got = draws(x, n)
    low, high = bf16_neighbours(x)
    # Each draw is low or high with P(high) = (x - low) / (high - low): the mean of n draws has
    # standard deviation sqrt((x - low) * (high - x) / n); allow 5 of them.
    sigma = np.sqrt(np.abs((x.astype(np.float64) - low) * (high - x.astype(np.float64))) / n)
    err = np.abs(got.mean(axis=0, dtype=np.float64) - x)
    assert np.all(err <= 5 * sigma + 1e-300), (err / sigma)
    # Round to nearest is biased by up to half an ulp for these values; the mean is not.
    nearest = np.asarray(jnp.asarray(x).astype(jnp.bfloat16).astype(jnp.float32))
    assert np.max(np.abs(nearest - x) / np.abs(x)) > 1e-3


def test_stochastic_rounding_gives_one_of_the_two_neighbours_and_is_symmetric():
    x = np.random.default_rng(0).normal(size=4000).astype(np.float32) * 10.0 ** np.arange(-20, 20).repeat(100)
    low, high = bf16_neighbours(x)
    got = draws(x, 64)
    assert np.all((got == low) | (got == high))
    assert np.any(got == low) and np.any(got == high)
    # The noise acts on the magnitude's bits: the same key rounds -x to exactly -round(x).
    np.testing.assert_array_equal(draws(-x, 64), -got)


def test_stochastic_rounding_is_exact_on_bfloat16_values_and_passes_specials():
    exact = np.asarray(jnp.asarray(np.random.default_rng(1).normal(size=1000), jnp.bfloat16).astype(jnp.float32))
    np.testing.assert_array_equal(draws(exact, 16), np.broadcast_to(exact, (16, 1000)))
    specials = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0], np.float32)
    got = draws(specials, 16)
    assert np.all(got[:, 0] == np.inf) and np.all(got[:, 1] == -np.inf) and np.all(np.isnan(got[:, 2]))
    assert np.all(got[:, 3:] == 0) and np.all(np.signbit(got[:, 4])) and not np.any(np.signbit(got[:, 3]))


def test_stochastic_rounding_is_deterministic_per_key():
    x = jnp.linspace(1.0, 1.01, 257)
    a = stochastic_round_bf16(x, jax.random.PRNGKey(7))
    assert stochastic_round_bf16(x, jax.random.PRNGKey(7)).tobytes() == a.tobytes()
    assert stochastic_round_bf16(x, jax.random.PRNGKey(8)).tobytes() != a.tobytes()
    assert a.dtype == jnp.bfloat16 and a.shape == x.shape


# ---- why it matters: small updates to bfloat16 numbers ----

N, STEPS, LR = 1000, 1000, 1e-4


def bf16_sgd(*tail) -> np.ndarray:
    """``N`` bfloat16 parameters at 1.0, ``STEPS`` steps of ``-LR`` each (float32: 0.9)."""
    opt = mx.chain(mx.sgd(LR), *tail)
    p = jnp.ones(N, jnp.bfloat16)
    g = jnp.ones(N, jnp.float32)

    def body(_, carry):
        p, s = carry
        u, s = opt.update(g, s, p)
        return mx.apply_updates(p, u), s

    p, _ = jax.jit(lambda p, s: jax.lax.fori_loop(0, STEPS, body, (p, s)))(p, opt.init(p))
    return np.asarray(p.astype(jnp.float32))


def test_a_bfloat16_parameter_stalls_with_round_to_nearest_and_moves_with_stochastic_rounding():
    target = 1.0 - STEPS * LR  # 0.9, the float32 result
    # Below 1 a bfloat16 ulp is 2**-8; a step of 1e-4 is under half of it, so it rounds away.
    np.testing.assert_array_equal(bf16_sgd(), np.ones(N))
    sr = bf16_sgd(mx.stochastic_round_params(seed=0))
    # Each step adds variance at most ulp * LR (a Bernoulli choice between neighbours an ulp
    # apart, mean LR): after STEPS steps each parameter's std is <= sqrt(STEPS * 2**-8 * LR)
    # = 0.0198, and the mean of N independent parameters has std <= 0.0198 / sqrt(N) = 6.3e-4.
    bound = np.sqrt(STEPS * 2.0 ** -8 * LR)
    assert abs(sr.mean() - target) <= 5 * bound / np.sqrt(N), sr.mean()
    assert sr.std() <= 1.2 * bound
    kahan = bf16_sgd(mx.kahan_summation())
    # Deterministic: every parameter lands on the same bfloat16 value, within one bfloat16
    # ulp (2**-8) of 0.9 (the compensation itself is kept in bfloat16, so it is not exact).
    assert np.all(kahan == kahan[0]) and abs(kahan[0] - target) <= 2.0 ** -8, kahan[0]


def second_moment(nu_dtype, steps: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    tx = mx.scale_by_adam(b2=0.999, nu_dtype=nu_dtype)
    g = jnp.asarray(np.random.default_rng(0).uniform(0.5, 1.5, N), jnp.float32)
    state = jax.jit(lambda s: jax.lax.fori_loop(0, steps, lambda _, s: tx.update(g, s)[1], s))(
        tx.init(jnp.zeros(N)))
    nu = state.nu.load() if isinstance(state.nu, mx.trees.Stored) else state.nu.astype(jnp.float32)
    return np.asarray(nu), np.asarray(g)


def test_a_bfloat16_second_moment_freezes_with_round_to_nearest_and_tracks_with_stochastic_rounding():
    f32, g = second_moment(None)
    np.testing.assert_allclose(f32 / g ** 2, 1 - 0.999 ** 1000, rtol=1e-3)  # 0.632
    nearest, _ = second_moment(jnp.bfloat16)
    # v moves by 0.001 * (g**2 - v) per step: under half a bfloat16 ulp (2**-9 * v) once
    # v > g**2 / 3 or so, so it stops far short of float32's 0.632 * g**2.
    assert np.max(nearest / f32) < 0.6
    sr, _ = second_moment(mx.stochastic_rounding(seed=0))
    # Unbiased writes: each element is a random walk around float32 (3.3% relative spread,
    # measured); the mean over N elements of the ratio is within 1% of 1.
    assert abs(np.mean(sr / f32) - 1) < 0.01
    assert np.max(np.abs(sr / f32 - 1)) < 0.2
