"""Stored optimizer state: 8-bit Adam against float32 Adam, jit, checkpoints, masks and groups.

Each test states its tolerance and where it comes from.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_quantize import brute_force

import momentax as mx
from momentax.demos.bench import gpt2_shapes

ocp = pytest.importorskip("orbax.checkpoint")


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
        as_float = jax.tree.map(mx.trees.loaded, s8, is_leaf=mx.trees.is_stored)
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
    kinds = sorted(type(x).__name__ for x in jax.tree.leaves(s, is_leaf=mx.trees.is_stored)
                   if getattr(x, "ndim", 1) > 0)
    assert kinds.count("QuantizedArray") == 2  # mu and nu of w; b's moments are float32 arrays
