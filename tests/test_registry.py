"""Shared checks run over every transform and optimizer in tests/registry.py.

For each entry: jit equals eager; a second call does not retrace; changing a numeric
hyperparameter (through ``set_hyperparams`` or by building the optimizer anew and passing it as
an argument) does not retrace and does change the result; parameter dtypes are kept for
float32, bfloat16 and float64; nested trees with ``None`` leaves work; abstract ``init`` on
``jax.ShapeDtypeStruct`` leaves gives the same state shapes; the state keeps its structure and
dtypes from step to step (so it survives ``lax.cond``/``scan``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import momentax as mx
from registry import ALL, Case

IDS = [c.name for c in ALL]


def tree(dtype=jnp.float32, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "w": jnp.asarray(rng.normal(size=(3, 4)), dtype),
        "b": jnp.asarray(rng.normal(size=(4,)), dtype),
        "nested": [jnp.asarray(rng.normal(size=(2,)), dtype), None, {"s": jnp.asarray(rng.normal(), dtype)}],
    }


def grads_like(params, step):
    # Linear in the parameters, so rounding differences are not amplified from step to step.
    return jax.tree.map(lambda p: (0.5 * p.astype(jnp.float32) + 0.3 * np.cos(step + 1.0)).astype(p.dtype), params)


def run(tx, params, steps=3, jit=True):
    state = tx.init(params)
    update = jax.jit(tx.update) if jit else tx.update
    out = []
    for t in range(steps):
        updates, state = update(grads_like(params, t), state, params)
        params = mx.apply_updates(params, updates)
        out.append(params)
    return out, state


def assert_trees_close(a, b, rtol, atol=0.0):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_jit_equals_eager(case: Case):
    eager, _ = run(case.build(), tree(), jit=False)
    jitted, _ = run(case.build(), tree(), jit=True)
    # XLA may fuse multiply-adds under jit; a few float32 ulps is the stated tolerance.
    assert_trees_close(eager, jitted, rtol=1e-5, atol=1e-6)


def _traced_update(counter):
    def update(tx, g, s, p):
        counter.append(1)
        return tx.update(g, s, p)

    return jax.jit(update)


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_second_call_does_not_retrace(case: Case):
    tx, params, traces = case.build(), tree(), []
    step = _traced_update(traces)
    state = tx.init(params)
    for t in range(3):
        _, state = step(tx, grads_like(params, t), state, params)
    assert len(traces) == 1


SWEEPS = [(c, name, value) for c in ALL for name, value in c.sweep.items()]
SWEEP_IDS = [f"{c.name}-{name}" for c, name, _ in SWEEPS]


@pytest.mark.parametrize("case,name,value", SWEEPS, ids=SWEEP_IDS)
def test_hyperparameter_change_does_not_retrace(case: Case, name: str, value: float):
    params, traces = tree(), []
    step = _traced_update(traces)
    tx = case.build()
    state = tx.init(params)
    g = grads_like(params, 0)
    base, _ = step(tx, g, state, params)
    # The same optimizer (passed as an argument), with the value changed in its state.
    via_state, _ = step(tx, g, mx.set_hyperparams(state, **{name: value}), params)
    assert len(traces) == 1, f"changing {name} recompiled"
    # A new optimizer built with the new value gives the same step (it may compile anew: its
    # init writes other values).
    fresh = case.build(**{name: value})
    via_new, _ = step(fresh, g, fresh.init(params), params)
    assert_trees_close(via_state, via_new, rtol=1e-6)
    differs = any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(base), jax.tree.leaves(via_state)))
    # Some hyperparameters only act from the second step (momentum, dampening) or through eps.
    if not differs:
        s1 = step(tx, g, state, params)[1]
        s2 = step(tx, g, mx.set_hyperparams(state, **{name: value}), params)[1]
        g2 = grads_like(params, 1)
        a, b = step(tx, g2, s1, params)[0], step(tx, g2, s2, params)[0]
        differs = any(not np.allclose(x, y, rtol=1e-7, atol=0) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))
    assert differs, f"setting {name}={value} had no effect"


@pytest.mark.parametrize("case,name,value", SWEEPS, ids=SWEEP_IDS)
def test_init_inside_jit_uses_the_values_of_the_optimizer_passed(case: Case, name: str, value: float):
    params = tree()
    init = jax.jit(lambda tx, p: tx.init(p))
    init(case.build(), params)
    inside = mx.hyperparams(init(case.build(**{name: value}), params))
    outside = mx.hyperparams(case.build(**{name: value}).init(params))
    assert inside.keys() == outside.keys()
    for key in inside:
        np.testing.assert_array_equal(inside[key], outside[key])


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float64], ids=["f32", "bf16", "f64"])
@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_parameter_dtype_is_kept(case: Case, dtype):
    with jax.enable_x64(dtype == jnp.float64):
        params = tree(dtype)
        tx = case.build()
        state0 = tx.init(params)
        out, state = run(tx, params, steps=2)
        for p in jax.tree.leaves(out[-1]):
            assert p.dtype == dtype
        assert all(np.all(np.isfinite(np.asarray(p, np.float32))) for p in jax.tree.leaves(out[-1]))
        assert jax.tree.structure(state0) == jax.tree.structure(state)
        for a, b in zip(jax.tree.leaves(state0), jax.tree.leaves(state)):
            assert a.dtype == b.dtype and a.shape == b.shape


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_none_leaves_pass_through(case: Case):
    params = tree()
    out, _ = run(case.build(), params, steps=2)
    assert out[-1]["nested"][1] is None
    assert jax.tree.structure(out[-1]) == jax.tree.structure(params)


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_abstract_init_matches_concrete(case: Case):
    params = tree()
    tx = case.build()
    concrete = tx.init(params)
    abstract = tx.init(jax.tree.map(lambda p: jax.ShapeDtypeStruct(p.shape, p.dtype), params))
    planned = jax.eval_shape(tx.init, params)
    for other in (abstract, planned):
        assert jax.tree.structure(other) == jax.tree.structure(concrete)
        for a, b in zip(jax.tree.leaves(concrete), jax.tree.leaves(other)):
            assert (a.shape, a.dtype) == (b.shape, b.dtype)


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_state_survives_lax_cond(case: Case):
    params = tree()
    tx = case.build()
    state = tx.init(params)

    @jax.jit
    def maybe_step(flag, state):
        g = grads_like(params, 0)
        return jax.lax.cond(flag, lambda s: tx.update(g, s, params)[1], lambda s: s, state)

    skipped = maybe_step(False, state)
    stepped = maybe_step(True, state)
    assert_trees_close(skipped, state, rtol=0)
    assert jax.tree.structure(stepped) == jax.tree.structure(state)
