"""LAMB, LARS and the layer-wise trust ratio against optax and against hand-computed steps.

Parity: float64 (``x64`` fixture), 100 steps of ``parity.noisy_quadratic`` on
``conftest.random_tree(0)`` (leaves of shapes (5, 3), (3,), (2, 3, 4), () and a ``None``).
Relative error, per leaf and step, is ``max|a - b| / max|b|`` (max-norms, ``b`` = optax);
the worst over leaves and steps must be <= 1e-10.

momentax applies the learning rate after LARS's momentum buffer, optax before it: the two
agree for a constant rate (the parity runs) and differ when the rate changes between steps,
which ``test_lars_applies_the_learning_rate_after_momentum`` pins by hand.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import momentax as mx
from parity import assert_matches_reference_run

STEPS = 100


def decay_mask(params):
    """Decay (or trust-scale) the matrices and the 3-D leaf, not the bias and the scalar."""
    return jax.tree.map(lambda p: np.ndim(p) > 1, params)


PARITY = {
    "lamb": (lambda: mx.lamb(1e-2), lambda: optax.lamb(1e-2)),
    "lamb_masked_decay": (
        lambda: mx.lamb(1e-2, b1=0.8, b2=0.99, eps=1e-8, eps_root=1e-12, weight_decay=0.1, mask=decay_mask),
        lambda: optax.lamb(1e-2, b1=0.8, b2=0.99, eps=1e-8, eps_root=1e-12, weight_decay=0.1, mask=decay_mask)),
    "lars": (lambda: mx.lars(0.5, trust_coefficient=0.02), lambda: optax.lars(0.5, trust_coefficient=0.02)),
    "lars_masks_nesterov": (
        lambda: mx.lars(0.5, weight_decay=0.1, mask=decay_mask, trust_coefficient=0.02, eps=1e-3,
                        trust_ratio_mask=decay_mask, momentum=0.8, nesterov=True),
        lambda: optax.lars(0.5, weight_decay=0.1, weight_decay_mask=decay_mask, trust_coefficient=0.02, eps=1e-3,
                           trust_ratio_mask=decay_mask, momentum=0.8, nesterov=True)),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_matches_optax_for_100_float64_steps(x64, name):
    make_ours, make_ref = PARITY[name]
    assert_matches_reference_run(make_ours, make_ref, STEPS, label=name)


def test_lars_applies_the_learning_rate_after_momentum(x64):
    schedule = lambda t: 0.5 / (1.0 + t)  # noqa: E731
    mu, tc = 0.9, 0.1
    grads = [np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.1, -1.0]), np.array([-2.0, 1.0, 1.0])]
    p0 = np.array([2.0, 1.0, -1.0])

    def by_hand(lr_after):
        p, v, out = p0.copy(), np.zeros(3), []
        for t, g in enumerate(grads):
            r = tc * np.linalg.norm(p) / np.linalg.norm(g) * g
            if lr_after:  # momentax: v accumulates r, the current rate scales all of v
                v = mu * v + r
                p = p - schedule(t) * v
            else:  # optax: v accumulates rate-scaled steps
                v = mu * v + schedule(t) * r
                p = p - v
            out.append(p)
        return np.stack(out)

    def run(opt):
        p, state, out, update = jnp.asarray(p0), opt.init(jnp.asarray(p0)), [], jax.jit(opt.update)
        for g in grads:
            u, state = update(jnp.asarray(g), state, p)
            p = mx.apply_updates(p, u)
            out.append(np.asarray(p))
        return np.stack(out)

    ours = run(mx.lars(schedule, trust_coefficient=tc, momentum=mu))
    theirs = run(mx.chain(optax.lars(schedule, trust_coefficient=tc, momentum=mu)))
    np.testing.assert_allclose(ours, by_hand(lr_after=True), rtol=1e-12)
    np.testing.assert_allclose(theirs, by_hand(lr_after=False), rtol=1e-12)
    # Step 1 agrees (no history yet); from step 2 the rescaled history differs.
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    assert np.abs(ours[1:] - theirs[1:]).min() > 1e-3


def test_trust_ratio_by_hand():
    params = {"w": jnp.array([3.0, 4.0]), "zero_p": jnp.zeros(2), "zero_u": jnp.array([1.0, 1.0]),
              "kept": jnp.array([10.0]), "skip": None}
    updates = {"w": jnp.array([0.0, 0.5]), "zero_p": jnp.array([2.0, -1.0]), "zero_u": jnp.zeros(2),
               "kept": jnp.array([7.0]), "skip": None}
    tx = mx.scale_by_trust_ratio(trust_coefficient=0.5, eps=0.5, mask={"w": True, "zero_p": True, "zero_u": True,
                                                                        "kept": False, "skip": None})
    out, _ = jax.jit(tx.update)(updates, tx.init(params), params)
    np.testing.assert_allclose(out["w"], [0.0, 0.5 * 5.0 / (0.5 + 0.5) * 0.5], rtol=1e-6)
    np.testing.assert_array_equal(out["zero_p"], [2.0, -1.0])  # ||p|| = 0: ratio 1
    np.testing.assert_array_equal(out["zero_u"], [0.0, 0.0])
    np.testing.assert_array_equal(out["kept"], [7.0])  # masked out
    assert out["skip"] is None
    # min_norm lifts both norms: ||p|| = 0 becomes 2, ||u|| = 0.5 becomes 2.
    floor = mx.scale_by_trust_ratio(min_norm=2.0)
    p, u = jnp.zeros(2), jnp.array([0.3, 0.4])
    np.testing.assert_allclose(floor.update(u, floor.init(p), p)[0], [0.3, 0.4], rtol=1e-6)


def test_trust_ratio_has_finite_derivatives_at_zero():
    def scaled(u, p):
        tx = mx.scale_by_trust_ratio()
        return tx.update(u, tx.init(p), p)[0]

    zero, ones = jnp.zeros(3), jnp.ones(3)
    for jac in (jax.jacobian(scaled, argnums=(0, 1))(zero, ones), jax.jacobian(scaled, argnums=(0, 1))(ones, zero)):
        assert all(np.all(np.isfinite(j)) for j in jac)


def test_lamb_moves_each_leaf_by_learning_rate_times_its_norm():
    params = {"a": jnp.array([3.0, 4.0]), "b": jnp.full((2, 2), 0.5)}
    grads = {"a": jnp.array([1.0, -1.0]), "b": jnp.array([[2.0, 0.0], [0.0, -3.0]])}
    opt = mx.lamb(0.1)
    u, _ = jax.jit(opt.update)(grads, opt.init(params), params)
    for k in params:
        assert float(jnp.linalg.norm(u[k])) == pytest.approx(0.1 * float(jnp.linalg.norm(params[k])), rel=1e-5)


def test_updates_keep_bfloat16():
    p = {"w": jnp.ones((3, 2), jnp.bfloat16)}
    for opt in (mx.lamb(1e-2, weight_decay=0.1), mx.lars(1e-2, weight_decay=0.1)):
        u, state = jax.jit(opt.update)({"w": jnp.full((3, 2), 0.25, jnp.bfloat16)}, opt.init(p), p)
        assert u["w"].dtype == jnp.bfloat16 and np.all(np.asarray(u["w"], np.float32) < 0)


def test_trust_ratio_needs_params():
    tx = mx.scale_by_trust_ratio()
    with pytest.raises(ValueError, match=re.escape("scale_by_trust_ratio: update needs the parameters")):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
    opt = mx.lamb(1e-3)
    with pytest.raises(ValueError, match="scale_by_trust_ratio: update needs the parameters"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))


def test_a_mask_that_is_not_a_prefix_names_the_path():
    p = {"w": jnp.ones(2), "b": jnp.ones(2)}
    tx = mx.scale_by_trust_ratio(mask={"w": True, "bias": False})
    with pytest.raises(mx.TreeMismatchError, match="scale_by_trust_ratio: the mask tree must have the structure"):
        tx.update(p, tx.init(p), p)


@pytest.mark.parametrize("make,match", [
    (lambda: mx.lars(0.1, trust_coefficient=0.0), "scale_by_trust_ratio: trust_coefficient=0.0 is out of range"),
    (lambda: mx.lars(0.1, eps=-1.0), "scale_by_trust_ratio: eps=-1.0 is out of range"),
    (lambda: mx.lars(0.1, momentum=0.0, nesterov=True), "lars: Nesterov momentum requires momentum > 0"),
    (lambda: mx.lars(0.1, momentum=1.0), "trace: momentum=1.0 is out of range"),
    (lambda: mx.lamb(0.1, b2=1.0), "scale_by_adam: b2=1.0 is out of range"),
    (lambda: mx.scale_by_trust_ratio(min_norm=-1.0), "scale_by_trust_ratio: min_norm=-1.0 is out of range"),
])
def test_out_of_range_hyperparameters_are_refused(make, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make()
