"""Hyperparameters as data: read and written by name, no recompilation, readable repr."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import momentax as mx


def params():
    return {"w": jnp.ones((2, 2)), "b": jnp.full(3, -1.0, jnp.float32)}  # not weakly typed


def test_values_are_read_back_by_the_constructor_names():
    state = mx.adamw(3e-4, b1=0.8, b2=0.95, eps=1e-6, weight_decay=0.05).init(params())
    got = {k: float(v) for k, v in mx.hyperparams(state).items()}
    assert got == pytest.approx({"b1": 0.8, "b2": 0.95, "eps": 1e-6, "eps_root": 0.0, "weight_decay": 0.05,
                                 "learning_rate": 3e-4}, rel=1e-6)
    assert set(mx.hyperparams(mx.momentum(0.1, momentum=0.8).init(params()))) == {"momentum", "learning_rate"}
    assert set(mx.hyperparams(mx.rmsprop(0.1, momentum=0.5).init(params()))) == {
        "decay", "eps", "momentum", "dampening", "learning_rate"}


def test_a_sweep_of_values_compiles_once_and_each_value_takes_effect():
    opt = mx.adamw(1e-3, weight_decay=1e-2)
    p = params()
    g = jax.tree.map(lambda x: 0.5 * x + 0.1, p)
    compiles = []

    @jax.jit
    def step(state):
        compiles.append(1)
        return opt.update(g, state, p)

    base = opt.init(p)
    results = {}
    for lr, b1, wd in [(1e-3, 0.9, 1e-2), (1e-2, 0.9, 1e-2), (1e-2, 0.5, 1e-2), (1e-2, 0.5, 0.3)]:
        updates, _ = step(mx.set_hyperparams(base, learning_rate=lr, b1=b1, weight_decay=wd))
        reference, _ = mx.adamw(lr, b1=b1, weight_decay=wd).update(g, mx.adamw(lr, b1=b1, weight_decay=wd).init(p), p)
        np.testing.assert_allclose(updates["b"], reference["b"], rtol=1e-6)
        results[(lr, b1, wd)] = np.asarray(updates["b"])
    assert len(compiles) == 1
    assert len({r.tobytes() for r in results.values()}) == 4


def test_hyperparameters_can_be_set_from_inside_jit():
    opt = mx.sgd(0.1, momentum=0.9)
    p = params()

    @jax.jit
    def step(state, lr):
        state = mx.set_hyperparams(state, learning_rate=lr)
        return opt.update(jax.tree.map(jnp.ones_like, p), state, p)

    updates, state = step(opt.init(p), jnp.float32(0.25))
    np.testing.assert_allclose(updates["w"], -0.25 * np.ones((2, 2)), rtol=1e-6)
    assert float(mx.hyperparams(state)["learning_rate"]) == 0.25


def test_repeated_names_are_qualified_by_position():
    opt = mx.chain(mx.scale(0.5), mx.trace(0.9), mx.scale(2.0))
    state = opt.init(params())
    names = mx.hyperparams(state)
    assert set(names) == {"0/step_size", "2/step_size", "momentum", "dampening"}
    one = mx.set_hyperparams(state, **{"2/step_size": 3.0})
    assert [float(one[0].hyperparams["step_size"]), float(one[2].hyperparams["step_size"])] == [0.5, 3.0]
    both = mx.set_hyperparams(state, step_size=4.0)
    assert [float(both[0].hyperparams["step_size"]), float(both[2].hyperparams["step_size"])] == [4.0, 4.0]


def test_a_scheduled_learning_rate_reports_the_value_last_used():
    opt = mx.sgd(lambda t: 0.5 / (1.0 + t))
    p = params()
    state = opt.init(p)
    step = jax.jit(opt.update)
    for t in range(3):
        updates, state = step(jax.tree.map(jnp.ones_like, p), state, p)
        np.testing.assert_allclose(updates["b"], -0.5 / (1.0 + t), rtol=1e-6)
        assert float(mx.hyperparams(state)["learning_rate"]) == pytest.approx(0.5 / (1.0 + t))


def test_hyperparameters_follow_the_float_mode(x64):
    state = mx.adam(1e-3).init(params())
    assert all(v.dtype == jnp.float64 for v in mx.hyperparams(state).values())
    # float64 keeps the learning rate exact: 1e-3 is not rounded to float32.
    assert float(mx.hyperparams(state)["learning_rate"]) == 1e-3


def test_print_shows_the_chain_and_its_hyperparameters():
    assert repr(mx.adamw(1e-3)) == (
        "adamw(\n"
        "  scale_by_adam(b1=0.9, b2=0.999, eps=1e-08, eps_root=0),\n"
        "  add_decayed_weights(weight_decay=0.01),\n"
        "  scale_by_learning_rate(learning_rate=0.001),\n"
        ")"
    )
    assert repr(mx.sgd(0.1, momentum=0.9, nesterov=True)) == (
        "sgd(\n"
        "  trace(momentum=0.9, dampening=0, nesterov=True),\n"
        "  scale_by_learning_rate(learning_rate=0.1),\n"
        ")"
    )


def test_step_counters_are_int32_and_saturate():
    opt = mx.adam(1e-3)
    p = params()
    state = opt.init(p)
    assert state[0].count.dtype == jnp.int32
    top = jnp.iinfo(jnp.int32).max
    state = (state[0]._replace(count=jnp.asarray(top - 1, jnp.int32)),) + state[1:]
    g = jax.tree.map(jnp.ones_like, p)
    for _ in range(3):
        updates, state = opt.update(g, state, p)
    assert int(state[0].count) == top
    assert all(np.all(np.isfinite(u)) for u in jax.tree.leaves(updates))


@pytest.mark.parametrize("committed", [False, True], ids=["uncommitted", "committed"])
def test_steps_and_set_hyperparams_reuse_one_program(committed):
    """jit keys its cache on placement too: the state must keep one signature from step to step."""
    opt = mx.sgd(0.1, momentum=0.9)
    p = jax.device_put(params(), jax.devices()[0]) if committed else params()
    state = opt.init(p)
    traces = []

    @jax.jit
    def step(p, state):
        traces.append(1)
        updates, state = opt.update(jax.tree.map(jnp.ones_like, p), state, p)
        return mx.apply_updates(p, updates), state

    for _ in range(3):
        p, state = step(p, state)
    p, state = step(p, mx.set_hyperparams(state, learning_rate=0.05))
    assert len(traces) == 1
