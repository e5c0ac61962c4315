"""momentax transforms inside optax and flax, and optax transforms inside momentax, under jit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import momentax as mx


def params0():
    return {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.array([0.5, -0.5, 2.0])}


def grad_fn(p):
    return jax.grad(lambda q: jnp.sum((q["w"] - 0.3) ** 2) + jnp.sum(q["b"] ** 4))(p)


def trajectory(tx, steps=10, **extra):
    """Parameters after ``steps`` jitted steps of ``tx`` on a small quartic problem."""
    params = params0()
    state = tx.init(params)

    @jax.jit
    def step(params, state):
        updates, state = tx.update(grad_fn(params), state, params, **extra)
        return optax.apply_updates(params, updates), state

    for _ in range(steps):
        params, state = step(params, state)
    return params, state


def assert_close(a, b, rtol=1e-9):
    """Equal rules in float64 (the ``x64`` fixture) agree to round-off."""
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-12)


def test_momentax_inside_optax_chain(x64):
    ours = optax.chain(optax.clip_by_global_norm(1.0), mx.adam(0.05))
    theirs = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.05))
    assert_close(trajectory(ours)[0], trajectory(theirs)[0])


def test_optax_inside_momentax_chain_receives_params_and_drops_extras(x64):
    ours = mx.chain(optax.clip_by_global_norm(1.0), optax.add_decayed_weights(0.1), mx.sgd(0.1, momentum=0.9))
    theirs = optax.chain(optax.clip_by_global_norm(1.0), optax.add_decayed_weights(0.1), optax.sgd(0.1, momentum=0.9))
    # ``loss`` is an extra keyword: optax's plain update does not take it, momentax drops it for them.
    assert_close(trajectory(ours, loss=jnp.asarray(1.0))[0], trajectory(theirs)[0])


def test_multisteps_accumulates_a_momentax_optimizer(x64):
    k = 3
    ours = optax.MultiSteps(mx.adamw(0.05, weight_decay=0.01), every_k_schedule=k)
    theirs = optax.MultiSteps(optax.adamw(0.05, weight_decay=0.01), every_k_schedule=k)
    p_ours, _ = trajectory(ours, steps=9)
    p_theirs, _ = trajectory(theirs, steps=9)
    assert_close(p_ours, p_theirs)
    assert not np.allclose(p_ours["w"], params0()["w"])


def test_masked_runs_momentax_on_the_selected_leaves_only(x64):
    mask = {"w": True, "b": False}
    ours = optax.masked(mx.sgd(0.1, momentum=0.9), mask)
    p, _ = trajectory(ours, steps=5)
    reference, _ = trajectory(optax.masked(optax.sgd(0.1, momentum=0.9), mask), steps=5)
    assert_close(p, reference)
    # Masked-out leaves receive the raw gradient from optax.masked (it passes them through).
    assert not np.allclose(p["b"], params0()["b"])


def test_apply_if_finite_skips_a_nan_step_and_keeps_momentax_state():
    tx = optax.apply_if_finite(mx.adam(0.1), max_consecutive_errors=5)
    params = params0()
    state = tx.init(params)
    step = jax.jit(tx.update)
    good = grad_fn(params)
    _, state = step(good, state, params)
    bad = jax.tree.map(lambda g: g.at[0].set(jnp.nan), good)
    updates, state_after = step(bad, state, params)
    assert all(np.all(np.asarray(u) == 0) for u in jax.tree.leaves(updates))
    assert int(state_after.notfinite_count) == 1
    assert_close(state_after.inner_state, state.inner_state, rtol=0)


def test_flax_nnx_optimizer_trains_with_a_momentax_optimizer():
    nnx = pytest.importorskip("flax.nnx")

    class Model(nnx.Module):
        def __init__(self, rngs):
            self.linear = nnx.Linear(3, 2, rngs=rngs)

        def __call__(self, x):
            return self.linear(x)

    def loss_fn(model, x, y):
        return jnp.mean((model(x) - y) ** 2)

    x = jnp.asarray(np.random.default_rng(0).normal(size=(16, 3)), jnp.float32)
    y = x @ jnp.array([[1.0, -1.0], [0.5, 0.0], [0.0, 2.0]])

    def train(tx):
        model = Model(nnx.Rngs(0))
        optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

        @nnx.jit
        def step(model, optimizer):
            loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
            optimizer.update(model, grads)
            return loss

        losses = [float(step(model, optimizer)) for _ in range(30)]
        return losses, model, optimizer

    losses, model, optimizer = train(mx.adam(0.05))
    ref_losses, _, _ = train(optax.adam(0.05))
    assert losses[-1] < 0.2 * losses[0]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)  # float32: a few ulps a step
    # The hyperparameters are readable through the nnx optimizer's state.
    assert np.isclose(float(mx.hyperparams(nnx.as_pure(optimizer.opt_state))["learning_rate"]), 0.05)


def test_an_optimizer_can_be_passed_as_a_jit_argument():
    traces = []

    @jax.jit
    def step(tx, params, state):
        traces.append(1)
        updates, state = tx.update(grad_fn(params), state, params)
        return optax.apply_updates(params, updates), state

    params = params0()
    tx = mx.adamw(0.1, weight_decay=0.05)
    state = tx.init(params)
    moved = []
    for lr in (0.1, 0.01, 0.001):
        new, _ = step(tx, params, mx.set_hyperparams(state, learning_rate=lr))
        moved.append(float(jnp.max(jnp.abs(new["b"] - params["b"]))))
    assert len(traces) == 1
    # The first Adam step has size lr per element, plus the decay term lr * wd * |p| (|p| = 2).
    np.testing.assert_allclose(moved, [lr * (1 + 0.05 * 2.0) for lr in (0.1, 0.01, 0.001)], rtol=1e-4)
    # Another optimizer object (other initial values) is a different program, and correct.
    other = mx.adamw(0.3, weight_decay=0.05)
    new, _ = step(other, params, jax.jit(lambda t, p: t.init(p))(other, params))
    np.testing.assert_allclose(float(jnp.max(jnp.abs(new["b"] - params["b"]))), 0.3 * 1.1, rtol=1e-4)


def test_unpacks_as_an_init_update_pair():
    init, update = mx.sgd(0.1)
    p = jnp.ones(2)
    u, _ = update(jnp.ones(2), init(p))
    np.testing.assert_allclose(u, [-0.1, -0.1], rtol=1e-6)
