"""The sign family (signSGD, Signum, Lion) against optax and against hand-computed steps.

Parity: float64 (``x64`` fixture), 100 steps of ``parity.noisy_quadratic`` on
``conftest.random_tree(0)`` (leaves of shapes (5, 3), (3,), (2, 3, 4), () and a ``None``).
Relative error, per leaf and step, is ``max|a - b| / max|b|`` (max-norms, ``b`` = optax);
the worst over leaves and steps must be <= 1e-10. Sign methods are exactly reproducible
(each step adds +-learning_rate), so the measured error is 0 unless a direction's sign differs.
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
    """Decay the matrices and the 3-D leaf, not the bias and the scalar (a full-structure mask)."""
    return jax.tree.map(lambda p: np.ndim(p) > 1, params)


PARITY = {
    "sign_sgd": (lambda: mx.sign_sgd(1e-2), lambda: optax.sign_sgd(1e-2)),
    "signum": (lambda: mx.signum(1e-2, momentum=0.8), lambda: optax.signum(1e-2, beta=0.8)),
    "lion": (lambda: mx.lion(3e-3), lambda: optax.lion(3e-3)),
    "lion_masked_decay": (lambda: mx.lion(3e-3, b1=0.8, b2=0.95, weight_decay=0.3, mask=decay_mask),
                          lambda: optax.lion(3e-3, b1=0.8, b2=0.95, weight_decay=0.3, mask=decay_mask)),
    "sign_sgd_decay": (lambda: mx.sign_sgd(1e-2, weight_decay=0.2, mask=decay_mask),
                       lambda: optax.chain(optax.scale_by_sign(), optax.add_decayed_weights(0.2, decay_mask),
                                           optax.scale_by_learning_rate(1e-2))),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_matches_optax_for_100_float64_steps(x64, name):
    make_ours, make_ref = PARITY[name]
    assert_matches_reference_run(make_ours, make_ref, STEPS, label=name)


def test_sign_sgd_first_step_by_hand():
    p = {"w": jnp.array([2.0, -1.0, 4.0]), "b": jnp.array([0.5, 3.0])}
    g = {"w": jnp.array([3.0, 0.0, -0.01]), "b": jnp.array([-7.0, 2.0])}
    opt = mx.sign_sgd(0.5, weight_decay=0.1, mask={"w": True, "b": False})
    u, _ = jax.jit(opt.update)(g, opt.init(p), p)
    # w: -0.5 * (sign(g) + 0.1 * p); b is not decayed: -0.5 * sign(g).
    np.testing.assert_allclose(u["w"], [-0.5 * (1 + 0.2), -0.5 * (0 - 0.1), -0.5 * (-1 + 0.4)], rtol=1e-6)
    np.testing.assert_array_equal(u["b"], [0.5, -0.5])


def test_signum_two_steps_by_hand():
    # m1 = 0.1 g1 = [0.1, -0.1, 0.2]; m2 = 0.9 m1 + 0.1 g2 = [0.04, 0.21, 0.28]: the first
    # coordinate keeps the sign of the average although g2 turned negative.
    opt = mx.signum(0.25, momentum=0.9)
    state = opt.init(jnp.zeros(3))
    update = jax.jit(opt.update)
    u1, state = update(jnp.array([1.0, -1.0, 2.0]), state)
    u2, state = update(jnp.array([-0.5, 3.0, 1.0]), state)
    np.testing.assert_array_equal(u1, [-0.25, 0.25, -0.25])
    np.testing.assert_array_equal(u2, [-0.25, -0.25, -0.25])
    np.testing.assert_allclose(state[0].ema, [0.04, 0.21, 0.28], rtol=1e-6)
    assert float(mx.hyperparams(state)["momentum"]) == pytest.approx(0.9)


def test_signum_without_momentum_is_sign_sgd():
    opt = mx.signum(0.1, momentum=0.0)
    assert [c.name for c in opt.children] == ["scale_by_sign", "scale_by_learning_rate"]
    u, _ = opt.update(jnp.array([-2.0, 0.0, 5.0]), opt.init(jnp.zeros(3)))
    np.testing.assert_allclose(u, [0.1, 0.0, -0.1], rtol=1e-6)


def test_lion_two_steps_by_hand():
    # b1 = 0.5, b2 = 0.99: c1 = 0.5 g1 -> sign(g1); m1 = 0.01 g1; c2 = 0.5 m1 + 0.5 g2.
    g1, g2 = np.array([1.0, -2.0, 0.5, 2.0]), np.array([-0.014, 0.03, -0.007, -0.001])
    p = jnp.array([1.0, 1.0, -2.0, 0.5])
    opt = mx.lion(0.01, b1=0.5, b2=0.99, weight_decay=0.5)
    update = jax.jit(opt.update)
    state = opt.init(p)
    u1, state = update(jnp.asarray(g1), state, p)
    u2, state = update(jnp.asarray(g2), state, p)
    np.testing.assert_allclose(u1, -0.01 * (np.sign(g1) + 0.5 * np.asarray(p)), rtol=1e-6)
    c2 = 0.5 * 0.01 * g1 + 0.5 * g2  # [-0.002, 0.005, -0.001, 0.0095]: the last keeps g1's sign
    np.testing.assert_array_equal(np.sign(c2), [-1, 1, -1, 1])
    np.testing.assert_allclose(u2, -0.01 * (np.sign(c2) + 0.5 * np.asarray(p)), rtol=1e-6)
    np.testing.assert_allclose(state[0].mu, 0.99 * 0.01 * g1 + 0.01 * g2, rtol=1e-6)


def test_low_precision_momentum_keeps_dtypes():
    p = {"w": jnp.ones((4, 3), jnp.bfloat16)}
    opt = mx.lion(1e-3, mu_dtype=jnp.bfloat16)
    u, state = jax.jit(opt.update)({"w": jnp.full((4, 3), -0.3, jnp.bfloat16)}, opt.init(p), p)
    assert u["w"].dtype == jnp.bfloat16 and state[0].mu["w"].dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(u["w"], np.float32), 1e-3 * (1 - 1e-3), rtol=1e-2)


@pytest.mark.parametrize("make,match", [
    (lambda: mx.lion(1e-3, b1=1.0), "scale_by_lion: b1=1.0 is out of range"),
    (lambda: mx.lion(1e-3, b2=-0.1), "scale_by_lion: b2=-0.1 is out of range"),
    (lambda: mx.signum(1e-3, momentum=1.5), "signum: momentum=1.5 is out of range"),
    (lambda: mx.sign_sgd(-1.0), "scale_by_learning_rate: learning_rate=-1.0 is out of range"),
    (lambda: mx.sign_sgd(0.1, weight_decay=-1.0), "weight_decay=-1.0 is out of range"),
])
def test_out_of_range_hyperparameters_are_refused(make, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make()


def test_lion_names_the_mismatched_tree_path():
    opt = mx.lion(1e-3)
    state = opt.init({"a": jnp.ones(2), "b": jnp.ones(3)})
    with pytest.raises(mx.TreeMismatchError, match=re.escape("shape mismatch at ['b']")):
        opt.update({"a": jnp.ones(2), "b": jnp.ones(4)}, state, {"a": jnp.ones(2), "b": jnp.ones(4)})
    with pytest.raises(mx.TreeMismatchError, match=re.escape("['b']")):
        opt.update({"a": jnp.ones(2)}, state)


def test_integer_gradients_are_refused_with_the_path():
    tx = mx.scale_by_sign()
    with pytest.raises(TypeError, match=re.escape("updates at ['n'] has dtype int32")):
        tx.update({"x": jnp.ones(2), "n": jnp.ones(2, jnp.int32)}, tx.init(None))
