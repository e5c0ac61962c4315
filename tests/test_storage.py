"""Low-precision state and parameters: stochastic rounding, Kahan sums, 8-bit blockwise moments.

Each test states its tolerance and where it comes from. The statistical ones use fixed keys, so
they are deterministic; their bounds are 5 or more standard deviations of the estimate.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import momentax as mx
from momentax.demos.bench import gpt2_shapes
from momentax.math import quantize as q
from momentax.math.rounding import stochastic_round_bf16

ocp = pytest.importorskip("orbax.checkpoint")


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


# ---- 8-bit Adam against float32 Adam ----

RNG = np.random.default_rng(0)
X = jnp.asarray(RNG.normal(size=(256, 64)), jnp.float32)
Y = X @ jnp.asarray(RNG.normal(size=(64, 128)), jnp.float32)
P0 = {"w": jnp.zeros((64, 128)), "b": jnp.zeros(128)}  # w: 8192 elements, 8-bit; b: 128, float32


def lsq(p):
    return jnp.mean((X @ p["w"] + p["b"] - Y) ** 2)


grad = jax.jit(jax.grad(lsq))


def trajectory(opt, steps: int):
    @jax.jit
    def step(p, s):
        u, s = opt.update(grad(p), s, p)
        return mx.apply_updates(p, u), s

    p, s = P0, opt.init(P0)
    for _ in range(steps):
        p, s = step(p, s)
    return p, s


@pytest.mark.parametrize("block_size", [256, 2048])
def test_8bit_adam_first_step_equals_float32_adam(block_size):
    q8 = mx.blockwise_8bit(block_size=block_size)
    p8, s8 = trajectory(mx.adam(1e-2, mu_dtype=q8, nu_dtype=q8), 1)
    pf, sf = trajectory(mx.adam(1e-2), 1)
    # The state starts at exact zeros and the step runs in float32 before anything is stored:
    # the first update is bit-identical.
    np.testing.assert_array_equal(np.asarray(p8["w"]), np.asarray(pf["w"]))
    assert isinstance(s8[0].mu["w"], mx.storage.QuantizedArray) and s8[0].mu["b"].dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(s8[0].mu["b"]), np.asarray(sf[0].mu["b"]))
    # The stored moments are within half a top-decade code step of each block's maximum.
    for field, step in (("mu", 0.9 / 64), ("nu", 0.9 / 128)):
        exact = np.asarray(getattr(sf[0], field)["w"]).reshape(-1, block_size)
        stored = np.asarray(getattr(s8[0], field)["w"].load()).reshape(-1, block_size)
        assert np.all(np.abs(stored - exact) <= np.abs(exact).max(1, keepdims=True) * step / 2 * (1 + 1e-5))


@pytest.mark.parametrize("block_size", [256, 2048])
def test_every_8bit_step_is_the_float32_rule_on_the_stored_moments(block_size):
    """The quantised update against the float32 reference, step by step for 100 steps: from the
    dequantised state, float32 Adam gives the same update (to float32 rounding), and the new
    stored moments are its new moments rounded to the nearest code of each block."""
    q8 = mx.blockwise_8bit(block_size=block_size)
    o8, of = mx.adam(1e-2, mu_dtype=q8, nu_dtype=q8), mx.adam(1e-2)
    u8, uf = jax.jit(o8.update), jax.jit(of.update)
    p, s8 = P0, o8.init(P0)
    for _ in range(100):
        g = grad(p)
        as_float = jax.tree.map(lambda x: x.load() if isinstance(x, mx.trees.Stored) else x, s8,
                                is_leaf=lambda x: isinstance(x, mx.trees.Stored))
        upd_f, sf = uf(g, as_float, p)
        upd_8, s8 = u8(g, s8, p)
        np.testing.assert_allclose(np.asarray(upd_8["w"]), np.asarray(upd_f["w"]), rtol=1e-6, atol=1e-9)
        for field, signed in (("mu", True), ("nu", False)):
            exact = np.asarray(getattr(sf[0], field)["w"])
            a, dist = brute_force(exact, block_size, signed)
            codes = np.asarray(getattr(s8[0], field)["w"].codes).reshape(-1).astype(int)
            excess = dist[np.arange(a.size), codes] - dist.min(axis=1)
            assert np.all(excess <= 1e-6)  # nearest code, up to float32 ties
        p = mx.apply_updates(p, upd_8)


@pytest.mark.parametrize("block_size", [256, 2048])
def test_8bit_adam_trains_like_float32_adam(block_size):
    q8 = mx.blockwise_8bit(block_size=block_size)
    p8, _ = trajectory(mx.adam(1e-2, mu_dtype=q8, nu_dtype=q8), 100)
    pf, _ = trajectory(mx.adam(1e-2), 100)
    # Per step the 8-bit update is float32 Adam on moments within half a code step (above);
    # those errors change the path, not where it goes. Measured after 100 steps (loss from
    # 62.5 to 11.4): loss -0.5% (256) and -1.0% (2048) against float32; parameters within
    # 3% (RMS) of float32's movement. Bounds: 2% and 6%.
    assert abs(float(lsq(p8)) / float(lsq(pf)) - 1) < 0.02
    move = np.sqrt(np.mean(np.asarray(pf["w"]) ** 2))
    assert np.sqrt(np.mean((np.asarray(p8["w"]) - np.asarray(pf["w"])) ** 2)) < 0.06 * move


@pytest.mark.parametrize("block_size,expected", [(256, 2.0371), (2048, 2.0098)])
def test_state_bytes_per_parameter_on_gpt2_small(block_size, expected):
    shapes = gpt2_shapes(12, 768)
    params = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
    q8 = mx.blockwise_8bit(block_size=block_size)
    state = jax.eval_shape(mx.adamw(1e-3, mu_dtype=q8, nu_dtype=q8).init, params)
    n = sum(int(np.prod(s)) for s in shapes)
    per_param = mx.storage.state_nbytes(state) / n
    # Per moment: 1 + 4 / block_size for the 120 arrays of >= 4096 elements, 4 for the 121,344
    # elements of biases and norms (< min_size, float32), plus counters and hyperparameters.
    assert per_param <= 2.1
    assert per_param == pytest.approx(expected, abs=1e-4)
    assert mx.storage.state_nbytes(jax.eval_shape(mx.adamw(1e-3).init, params)) / n == pytest.approx(8, abs=1e-4)


def test_min_size_is_respected():
    params = {"big": jnp.zeros(4096), "small": jnp.zeros(4095), "matrix": jnp.zeros((64, 64))}
    state = mx.adam(1e-3, mu_dtype=mx.blockwise_8bit(), nu_dtype=mx.blockwise_8bit()).init(params)[0]
    kinds = {k: type(v).__name__ for k, v in state.nu.items()}
    assert kinds == {"big": "QuantizedArray", "small": "ArrayImpl", "matrix": "QuantizedArray"}
    assert state.nu["small"].dtype == jnp.float32 and not state.nu["big"].signed and state.mu["big"].signed
    none = mx.adam(1e-3, mu_dtype=mx.blockwise_8bit(min_size=10 ** 9)).init(params)[0]
    assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(none.mu))


# ---- jit: one program across steps, hyperparameter changes and optimizer objects ----


@pytest.mark.parametrize("storage", [mx.blockwise_8bit(block_size=256, min_size=1024),
                                     mx.stochastic_rounding(seed=3)], ids=["8bit", "sr"])
def test_the_optimizer_as_a_jit_argument_compiles_once(storage):
    traces = []

    @jax.jit
    def step(opt, p, s):
        traces.append(1)
        u, s = opt.update(jax.tree.map(lambda x: 0.1 * x + 0.01, p), s, p)
        return mx.apply_updates(p, u), s

    opt = mx.adamw(1e-3, mu_dtype=storage, nu_dtype=storage)
    p = {"w": jnp.ones((32, 64)), "b": jnp.ones(8)}
    s = opt.init(p)
    for _ in range(3):
        p, s = step(opt, p, s)
    p, s = step(opt, p, mx.set_hyperparams(s, learning_rate=3e-3, b2=0.99))
    # A new object of the same configuration (initial values are part of the key, by design: init
    # writes them into the state).
    other = mx.adamw(1e-3, mu_dtype=storage, nu_dtype=storage)
    p, _ = step(other, p, s)
    assert len(traces) == 1


# ---- checkpoints ----

STORAGES = {"8bit": mx.blockwise_8bit(block_size=256, min_size=256), "sr": mx.stochastic_rounding(seed=5)}
CK = {"w": jnp.asarray(np.random.default_rng(4).normal(size=(32, 40)), jnp.float32), "b": jnp.zeros(40)}


def ck_opt(storage):
    return mx.adamw(1e-2, weight_decay=1e-2, mu_dtype=storage, nu_dtype=storage)


def ck_run(opt, p, s, start: int, stop: int):
    @jax.jit
    def step(p, s, g):
        u, s = opt.update(g, s, p)
        return mx.apply_updates(p, u), s

    for t in range(start, stop):
        rng = np.random.default_rng(t)
        p, s = step(p, s, {k: jnp.asarray(rng.normal(size=x.shape), jnp.float32) for k, x in p.items()})
    return p, s


def assert_bit_identical(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(a)[0], jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=jax.tree_util.keystr(path), strict=True)


@pytest.mark.parametrize("name", list(STORAGES))
def test_checkpoint_round_trip_and_resume_are_bit_identical(tmp_path, name):
    opt = ck_opt(STORAGES[name])
    ref_p, ref_s = ck_run(opt, CK, opt.init(CK), 0, 10)
    p, s = ck_run(opt, CK, opt.init(CK), 0, 5)
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp_path / "ck", {"params": p, "opt_state": s})
    with ocp.StandardCheckpointer() as ckpt:
        raw = ckpt.restore(tmp_path / "ck")
    fresh = ck_opt(STORAGES[name])
    restored = mx.restore_state(fresh, raw["params"], raw["opt_state"])
    assert_bit_identical(restored, s)  # codes, scales / bfloat16 values, PRNG keys
    assert type(restored[0].mu["w"]) is type(s[0].mu["w"])
    with ocp.StandardCheckpointer() as ckpt:  # into an abstract target
        assert_bit_identical(ckpt.restore(tmp_path / "ck", {"params": jax.eval_shape(lambda: p),
                                                             "opt_state": jax.eval_shape(fresh.init, CK)}),
                             {"params": p, "opt_state": s})
    p, s = ck_run(fresh, raw["params"], restored, 5, 10)
    assert_bit_identical(p, ref_p)
    assert_bit_identical(s, ref_s)


def saved(tmp_path, opt):
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(tmp_path / "s", ck_run(opt, CK, opt.init(CK), 0, 1)[1])
    with ocp.StandardCheckpointer() as ckpt:
        return ckpt.restore(tmp_path / "s")


def test_restoring_a_float32_checkpoint_into_8bit_state_names_the_path(tmp_path):
    raw = saved(tmp_path, ck_opt(None))
    with pytest.raises(mx.TreeMismatchError, match=(
            r"restore_state: the restored state has a plain float32\[32, 40\] array at \[0\]\.mu\['w'\], where "
            r"the state of this optimizer has 8-bit blocks \(codes uint8\[32, 40\], scales float32\[5\], "
            r"block_size=256\)\. The state dtypes \(mu_dtype, nu_dtype")):
        mx.restore_state(ck_opt(STORAGES["8bit"]), CK, raw)
    with pytest.raises(mx.TreeMismatchError, match=r"plain float32\[40\] array at \[0\]\.mu\['b'\], where the "
                                                   r"state of this optimizer has stochastically rounded bfloat16"):
        mx.restore_state(ck_opt(STORAGES["sr"]), CK, raw)


def test_restoring_8bit_state_elsewhere_names_the_path(tmp_path):
    raw = saved(tmp_path, ck_opt(STORAGES["8bit"]))
    with pytest.raises(mx.TreeMismatchError, match=(
            r"the restored 8-bit state at \[0\]\.mu\['w'\] has 5 block scales, where this optimizer, with "
            r"block_size=2048, has 1 for 1280 elements: the checkpoint was written with another block_size")):
        mx.restore_state(ck_opt(mx.blockwise_8bit(block_size=2048, min_size=256)), CK, raw)
    with pytest.raises(mx.TreeMismatchError, match=r"the restored state holds 8-bit blocks at \[0\]\.mu\['w'\], "
                                                   r"where the state of this optimizer has a plain float32\[32, 40\]"):
        mx.restore_state(ck_opt(None), CK, raw)
    all_8bit = saved(tmp_path / "all", ck_opt(mx.blockwise_8bit(block_size=256, min_size=0)))  # b too
    with pytest.raises(mx.TreeMismatchError, match=r"has 8-bit blocks at \[0\]\.mu\['b'\], where the state of this "
                                                   r"optimizer has stochastically rounded bfloat16"):
        mx.restore_state(ck_opt(STORAGES["sr"]), CK, all_8bit)


# ---- masks and parameter groups ----

Q8 = mx.blockwise_8bit(block_size=256, min_size=256)


def test_masked_8bit_adam_updates_only_the_masked_leaves_as_8bit_adam_does():
    grads = jax.tree.map(lambda x: 0.5 * x + 0.1, CK)
    masked = mx.masked(mx.adam(1e-2, mu_dtype=Q8, nu_dtype=Q8), {"w": True, "b": False})
    alone = mx.adam(1e-2, mu_dtype=Q8, nu_dtype=Q8)
    s, s_alone = masked.init(CK), alone.init({"w": CK["w"]})
    for _ in range(3):
        u, s = masked.update(grads, s, CK)
        u_alone, s_alone = alone.update({"w": grads["w"]}, s_alone, {"w": CK["w"]})
        np.testing.assert_array_equal(np.asarray(u["w"]), np.asarray(u_alone["w"]))
        np.testing.assert_array_equal(np.asarray(u["b"]), np.asarray(grads["b"]))  # passed through
    assert isinstance(s[0].mu["w"], mx.storage.QuantizedArray) and s[0].mu["b"] is None
    np.testing.assert_array_equal(np.asarray(s[0].mu["w"].codes), np.asarray(s_alone[0].mu["w"].codes))


def test_partition_with_an_8bit_group_and_a_float32_group():
    grads = jax.tree.map(lambda x: 0.5 * x + 0.1, CK)
    groups = {"q": mx.adam(1e-2, mu_dtype=Q8, nu_dtype=Q8), "f": mx.adam(1e-3)}
    opt = mx.partition(groups, {"w": "q", "b": "f"})
    s = opt.init(CK)
    refs = {k: (groups[k], groups[k].init({leaf: CK[leaf]})) for k, leaf in (("q", "w"), ("f", "b"))}
    for _ in range(3):
        u, s = opt.update(grads, s, CK)
        for label, leaf in (("q", "w"), ("f", "b")):
            tx, st = refs[label]
            ref_u, st = tx.update({leaf: grads[leaf]}, st, {leaf: CK[leaf]})
            refs[label] = (tx, st)
            np.testing.assert_array_equal(np.asarray(u[leaf]), np.asarray(ref_u[leaf]))
    kinds = sorted(type(x).__name__ for x in jax.tree.leaves(s, is_leaf=lambda x: isinstance(x, mx.trees.Stored))
                   if getattr(x, "ndim", 1) > 0)
    assert kinds.count("QuantizedArray") == 2  # mu and nu of w; b's moments are float32 arrays
