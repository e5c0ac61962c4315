"""Clipping transforms against optax, torch.nn.utils.clip_grad_norm_ and hand-computed values.

Tolerances: float32 comparisons 1e-6 (relative and absolute), float64 (``x64``) 1e-12.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import momentax as mx
from conftest import random_tree

F32 = dict(rtol=1e-6, atol=1e-6)
F64 = dict(rtol=1e-12, atol=1e-12)


def _tree(seed, dtype, scale=1.0):
    return jax.tree.map(lambda x: jnp.asarray(x * scale, dtype), random_tree(seed))


def _close(a, b, tol):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        assert x.dtype == y.dtype
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


def _run(tx, g, p=None):
    return jax.jit(tx.update)(g, tx.init(g if p is None else p), p)[0]


def _run_optax(tx, g, p=None):
    return jax.jit(tx.update)(g, tx.init(g if p is None else p), p)[0]


# (momentax, optax) pairs on the random tree; the thresholds make every rule clip some
# leaves and leave others alone.
PAIRS = [
    ("clip", lambda: mx.clip(0.7), lambda: optax.clip(0.7)),
    ("global_norm_clips", lambda: mx.clip_by_global_norm(1.5), lambda: optax.clip_by_global_norm(1.5)),
    ("global_norm_passes", lambda: mx.clip_by_global_norm(100.0), lambda: optax.clip_by_global_norm(100.0)),
    ("block_rms", lambda: mx.clip_by_block_rms(0.8), lambda: optax.clip_by_block_rms(0.8)),
]


@pytest.mark.parametrize("name,make,make_optax", PAIRS, ids=[p[0] for p in PAIRS])
def test_matches_optax_float32(name, make, make_optax):
    g = _tree(0, jnp.float32)
    out = _run(make(), g)
    _close(out, _run_optax(make_optax(), g), F32)
    assert out["frozen"] is None


@pytest.mark.parametrize("name,make,make_optax", PAIRS, ids=[p[0] for p in PAIRS])
def test_matches_optax_float64(x64, name, make, make_optax):
    g = _tree(1, jnp.float64)
    _close(_run(make(), g), _run_optax(make_optax(), g), F64)


def test_clipping_actually_clips():
    """The thresholds above are active: a test against optax that clips nothing proves little."""
    g = _tree(0, jnp.float32)
    flat = np.concatenate([np.ravel(x) for x in jax.tree.leaves(g)])
    assert np.abs(flat).max() > 0.7 and np.linalg.norm(flat) > 1.5
    u = _run(mx.clip_by_global_norm(1.5), g)
    np.testing.assert_allclose(np.linalg.norm(np.concatenate([np.ravel(x) for x in jax.tree.leaves(u)])), 1.5,
                               rtol=1e-6)
    rms = {k: float(np.sqrt(np.mean(np.square(v)))) for k, v in [("w", g["dense"]["w"]), ("c", g["conv"])]}
    assert max(rms.values()) > 0.8


def test_global_norm_hand_computed():
    g = {"a": jnp.array([3.0, 0.0]), "b": jnp.array([[4.0]]), "c": None}
    u = _run(mx.clip_by_global_norm(2.5), g)  # norm 5 -> factor 0.5
    assert u["a"].tolist() == [1.5, 0.0] and u["b"].tolist() == [[2.0]] and u["c"] is None


def _torch_clip(g, max_norm):
    leaves = [np.asarray(x) for x in jax.tree.leaves(g)]
    params = []
    for x in leaves:
        t = torch.zeros(x.shape, dtype=torch.float64 if x.dtype == np.float64 else torch.float32, requires_grad=True)
        t.grad = torch.from_numpy(x.copy())
        params.append(t)
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [t.grad.numpy() for t in params], float(total)


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
def test_eps_1e6_equals_torch_clip_grad_norm(x64, max_norm):
    g = _tree(2, jnp.float64)
    want, _ = _torch_clip(g, max_norm)
    got = jax.tree.leaves(_run(mx.clip_by_global_norm(max_norm, eps=1e-6), g))
    for x, y in zip(got, want):
        np.testing.assert_allclose(np.asarray(x), y, **F64)


def test_eps_1e6_equals_torch_float32():
    g = _tree(3, jnp.float32)
    want, _ = _torch_clip(g, 0.5)
    for x, y in zip(jax.tree.leaves(_run(mx.clip_by_global_norm(0.5, eps=1e-6), g)), want):
        np.testing.assert_allclose(np.asarray(x), y, **F32)


def test_default_relates_to_torch_by_norm_ratio(x64):
    """Clipping active: torch's result = momentax's default result * norm / (norm + 1e-6)."""
    g = _tree(4, jnp.float64, scale=1e-5)  # a small norm makes the 1e-6 visible
    want, norm = _torch_clip(g, 1e-5)
    assert norm > 1e-5
    got = jax.tree.leaves(_run(mx.clip_by_global_norm(1e-5), g))
    ratio = norm / (norm + 1e-6)
    assert ratio < 1 - 1e-3
    for x, y in zip(got, want):
        np.testing.assert_allclose(np.asarray(x) * ratio, y, **F64)
        assert not np.allclose(np.asarray(x), y, rtol=1e-6, atol=0)


def test_band_below_max_norm(x64):
    """norm in (max_norm - 1e-6, max_norm): torch scales a little, optax and the default do not."""
    g = _tree(5, jnp.float64)
    norm = float(np.sqrt(sum(np.sum(np.square(x)) for x in jax.tree.leaves(g))))
    max_norm = norm + 5e-7
    want, _ = _torch_clip(g, max_norm)
    default = jax.tree.leaves(_run(mx.clip_by_global_norm(max_norm), g))
    torch_like = jax.tree.leaves(_run(mx.clip_by_global_norm(max_norm, eps=1e-6), g))
    for x, d, t, y in zip(jax.tree.leaves(g), default, torch_like, want):
        np.testing.assert_array_equal(np.asarray(d), np.asarray(x))
        np.testing.assert_allclose(np.asarray(t), y, **F64)
        assert not np.array_equal(y, np.asarray(x))


def test_global_norm_bf16_accumulates_in_float32():
    # 4096 ones: the norm is 64. A bfloat16 running sum of squares would stall at 256.
    g = {"a": jnp.ones((4096,), jnp.bfloat16), "b": jnp.ones((1,), jnp.float32) * 0}
    u = _run(mx.clip_by_global_norm(32.0), g)
    assert u["a"].dtype == jnp.bfloat16 and u["b"].dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(u["a"], np.float32), 0.5)


def _agc_tree(seed, dtype):
    rng = np.random.default_rng(seed)
    shapes = {"scalar": (), "vec": (6,), "row": (1, 5), "dense": (5, 4), "heads": (4, 2, 3), "conv": (3, 3, 2, 4),
              "conv3d": (2, 2, 2, 2, 3)}
    return {k: jnp.asarray(rng.normal(size=s), dtype) for k, s in shapes.items()}


def test_adaptive_grad_clip_matches_optax():
    p, g = _agc_tree(0, jnp.float32), _agc_tree(1, jnp.float32)
    tx = mx.adaptive_grad_clip(0.05)
    state = tx.init(p)
    ours = jax.jit(lambda g, s, p, c: tx.update(g, mx.set_hyperparams(s, clipping=c), p)[0])
    theirs = jax.jit(lambda g, p, c: optax.adaptive_grad_clip(c).update(g, optax.EmptyState(), p)[0])
    for clipping in [0.05, 0.5, 5.0]:  # clips all units, some, none
        _close(ours(g, state, p, clipping), theirs(g, p, clipping), F32)


def test_adaptive_grad_clip_matches_optax_x64_and_axis(x64):
    p, g = _agc_tree(2, jnp.float64), _agc_tree(3, jnp.float64)
    p = {**p, "bias": jnp.zeros((4,))}
    g = {**g, "bias": jnp.ones((4,))}
    _close(_run(mx.adaptive_grad_clip(0.1, eps=1e-2), g, p),
           _run_optax(optax.adaptive_grad_clip(0.1, eps=1e-2), g, p), F64)
    q, h = {"w": p["conv"]}, {"w": g["conv"]}
    _close(_run(mx.adaptive_grad_clip(0.1, axis=(0, 3)), h, q),
           _run_optax(optax.adaptive_grad_clip(0.1, axis=(0, 3)), h, q), F64)


def test_adaptive_grad_clip_units_by_hand():
    # (in=2, out=2) layout: units are columns. Column 0 has |g| = 5 vs |p| = 1 -> clipped to
    # 0.5 (ratio 0.5); column 1 has |g| = 0.1 vs |p| = 1 -> untouched.
    p = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    g = jnp.array([[3.0, 0.1], [4.0, 0.0]])
    u = _run(mx.adaptive_grad_clip(0.5), g, p)
    np.testing.assert_allclose(np.asarray(u), [[0.3, 0.1], [0.4, 0.0]], rtol=1e-6)
    # zero-initialised bias: the floor eps lets it move by at most clipping * eps.
    u = _run(mx.adaptive_grad_clip(0.5, eps=1e-3), jnp.array([3.0, 4.0]), jnp.zeros(2))
    np.testing.assert_allclose(np.asarray(u), [3e-4, 4e-4], rtol=1e-6)


def test_zero_gradients_give_no_nan_and_none_passes():
    g = {"a": jnp.zeros((3, 2)), "b": jnp.zeros(()), "frozen": None}
    p = {"a": jnp.zeros((3, 2)), "b": jnp.zeros(()), "frozen": None}
    for tx in [mx.clip(0.1), mx.clip_by_global_norm(0.1), mx.clip_by_block_rms(0.1), mx.adaptive_grad_clip(0.1)]:
        u = _run(tx, g, p)
        assert u["frozen"] is None
        for x in jax.tree.leaves(u):
            np.testing.assert_array_equal(np.asarray(x), 0.0)


def test_global_norm_clip_differentiable_at_zero():
    tx = mx.clip_by_global_norm(1.0)
    state = tx.init(jnp.zeros(3))

    def f(g):
        return jnp.sum(tx.update(g, state)[0] * jnp.array([1.0, 2.0, 3.0]))

    np.testing.assert_array_equal(np.asarray(jax.jit(jax.grad(f))(jnp.zeros(3))), [1.0, 2.0, 3.0])
    rms = mx.clip_by_block_rms(1.0)
    rms_state = rms.init(jnp.zeros(2))
    grad = jax.jit(jax.grad(lambda g: jnp.sum(rms.update(g, rms_state)[0])))(jnp.zeros(2))
    np.testing.assert_array_equal(np.asarray(grad), [1.0, 1.0])


def test_threshold_change_does_not_recompile():
    traces = []
    tx = mx.clip_by_global_norm(1.0)

    @jax.jit
    def step(g, state):
        traces.append(1)
        return tx.update(g, state)[0]

    g = {"a": jnp.array([3.0, 4.0])}
    state = tx.init(g)
    first = step(g, state)
    second = step(g, mx.set_hyperparams(state, max_norm=2.5))
    assert len(traces) == 1
    np.testing.assert_allclose(np.asarray(first["a"]), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(second["a"]), [1.5, 2.0], rtol=1e-6)
    assert float(mx.hyperparams(state)["max_norm"]) == 1.0


@pytest.mark.parametrize("make,match", [
    (lambda: mx.clip(-1.0), "max_delta"),
    (lambda: mx.clip_by_global_norm(0.0), "max_norm"),
    (lambda: mx.clip_by_global_norm(1.0, eps=-1.0), "eps"),
    (lambda: mx.clip_by_block_rms(float("nan")), "threshold"),
    (lambda: mx.adaptive_grad_clip(-0.1), "clipping"),
    (lambda: mx.adaptive_grad_clip(0.1, eps=0.0), "eps"),
])
def test_bad_thresholds_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_adaptive_grad_clip_errors_name_the_problem():
    tx = mx.adaptive_grad_clip(0.1)
    g = {"w": jnp.ones((2, 2))}
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(g, tx.init(g))
    deep = {"x": {"w": jnp.ones((1, 2, 1, 2, 1, 2))}}
    with pytest.raises(ValueError, match=r"\['x'\]\['w'\].*axis="):
        tx.update(deep, tx.init(deep), deep)
    with pytest.raises(mx.TreeMismatchError, match="shape mismatch"):
        tx.update(g, tx.init(g), {"w": jnp.ones((3, 2))})


def test_integer_updates_rejected_with_path():
    tx = mx.clip(1.0)
    with pytest.raises(TypeError, match=r"\['n'\].*int32"):
        tx.update({"n": jnp.ones(2, jnp.int32)}, tx.init(None))


def test_repr_and_hyperparams():
    tx = mx.clip_by_global_norm(1.0)
    assert repr(tx) == "clip_by_global_norm(max_norm=1, eps=0)"
    assert sorted(mx.hyperparams(mx.adaptive_grad_clip(0.02).init({"w": jnp.ones(2)}))) == ["clipping", "eps"]
