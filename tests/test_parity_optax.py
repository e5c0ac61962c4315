"""momentax against optax 0.2.8: equal where the semantics agree, pinned where they differ.

Part 1 runs each momentax transform and its optax namesake, configured to mean the same
thing, for 50 steps in float64 on the noisy quadratic of :func:`parity.noisy_quadratic` over
:func:`conftest.random_tree` (a ``None`` leaf included). A transform that is not an optimizer
is followed by ``scale(-0.05)`` on both sides so that the parameters descend. Relative
error, per leaf and step, is ``max|momentax - optax| / max(|optax|, tiny)``; it must be <= 1e-10.

Part 2 pins every deliberate difference with hand-computed numbers: each library must match
its own hand computation, and the two must differ by the hand-computed amount.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import momentax as mx
from conftest import random_tree
from parity import assert_trajectories_close, momentax_trajectory, noisy_quadratic, torch_trajectory

STEPS = 50
RTOL = 1e-10
PARAMS0 = random_tree(3)
GRAD_FN = noisy_quadratic(PARAMS0, STEPS, seed=4)
MASK = {"dense": {"w": True, "b": False}, "conv": True, "scale": False, "frozen": None}


def _mask_fn(params):
    return {"dense": {"w": True, "b": False}, "conv": True, "scale": False, "frozen": None}


def _schedule(count):
    return 0.1 / (1.0 + 0.05 * count)


def _descend(tx):
    return mx.chain(tx, mx.scale(-0.05))


def _optax_descend(tx):
    return optax.chain(tx, optax.scale(-0.05))


# name -> (momentax builder, optax builder); built inside the x64 fixture.
SAME = {
    "trace": (lambda: _descend(mx.trace(0.9)), lambda: _optax_descend(optax.trace(0.9))),
    "trace_nesterov": (lambda: _descend(mx.trace(0.8, nesterov=True)),
                       lambda: _optax_descend(optax.trace(0.8, nesterov=True))),
    "ema_debias": (lambda: _descend(mx.ema(0.9)), lambda: _optax_descend(optax.ema(0.9))),
    "ema_no_debias": (lambda: _descend(mx.ema(0.7, debias=False)),
                      lambda: _optax_descend(optax.ema(0.7, debias=False))),
    "scale_by_adam": (lambda: _descend(mx.scale_by_adam()), lambda: _optax_descend(optax.scale_by_adam())),
    "scale_by_adam_eps_root": (
        lambda: _descend(mx.scale_by_adam(0.8, 0.95, eps=1e-6, eps_root=1e-8)),
        lambda: _optax_descend(optax.scale_by_adam(0.8, 0.95, eps=1e-6, eps_root=1e-8))),
    "scale_by_rss": (lambda: _descend(mx.scale_by_rss(initial_accumulator_value=0.1, eps=1e-7, eps_in_sqrt=True)),
                     lambda: _optax_descend(optax.scale_by_rss())),
    "scale_by_rms": (lambda: _descend(mx.scale_by_rms(decay=0.9, eps_in_sqrt=True)),
                     lambda: _optax_descend(optax.scale_by_rms())),
    "scale_by_rms_centered": (lambda: _descend(mx.scale_by_rms(decay=0.9, eps_in_sqrt=True, centered=True)),
                              lambda: _optax_descend(optax.scale_by_stddev())),
    "add_decayed_weights_mask_tree": (lambda: _descend(mx.add_decayed_weights(0.3, MASK)),
                                      lambda: _optax_descend(optax.add_decayed_weights(0.3, MASK))),
    "add_decayed_weights_mask_fn": (lambda: _descend(mx.add_decayed_weights(0.3, _mask_fn)),
                                    lambda: _optax_descend(optax.add_decayed_weights(0.3, _mask_fn))),
    "scale": (lambda: mx.scale(-0.1), lambda: optax.scale(-0.1)),
    "scale_by_learning_rate": (lambda: mx.scale_by_learning_rate(0.1), lambda: optax.scale_by_learning_rate(0.1)),
    "scale_by_learning_rate_schedule": (lambda: mx.scale_by_learning_rate(_schedule),
                                        lambda: optax.scale_by_learning_rate(_schedule)),
    "sgd": (lambda: mx.sgd(0.1), lambda: optax.sgd(0.1)),
    "sgd_momentum": (lambda: mx.sgd(0.1, momentum=0.9), lambda: optax.sgd(0.1, momentum=0.9)),
    "sgd_nesterov": (lambda: mx.sgd(0.1, momentum=0.9, nesterov=True),
                     lambda: optax.sgd(0.1, momentum=0.9, nesterov=True)),
    "adam": (lambda: mx.adam(0.02), lambda: optax.adam(0.02)),
    "adamw": (lambda: mx.adamw(0.02, weight_decay=0.05), lambda: optax.adamw(0.02, weight_decay=0.05)),
    "adagrad": (lambda: mx.adagrad(0.2, 0.1, 1e-7, eps_in_sqrt=True), lambda: optax.adagrad(0.2)),
    "rmsprop": (lambda: mx.rmsprop(0.01, decay=0.9, eps_in_sqrt=True, momentum=0.0),
                lambda: optax.rmsprop(0.01, momentum=0.0)),
    "rmsprop_momentum": (lambda: mx.rmsprop(0.01, decay=0.9, eps_in_sqrt=True, momentum=0.9),
                         lambda: optax.rmsprop(0.01, momentum=0.9)),
    "rmsprop_centered_momentum": (
        lambda: mx.rmsprop(0.01, decay=0.9, eps_in_sqrt=True, momentum=0.5, centered=True),
        lambda: optax.rmsprop(0.01, momentum=0.5, centered=True)),
}


@pytest.mark.parametrize("name", list(SAME))
def test_matches_optax(name, x64):
    make_mx, make_optax = SAME[name]
    expected = momentax_trajectory(make_optax(), PARAMS0, GRAD_FN, STEPS)
    got = momentax_trajectory(make_mx(), PARAMS0, GRAD_FN, STEPS)
    assert got["frozen"] is None
    assert_trajectories_close(got, expected, RTOL, name)


# --- Part 2: the deliberate differences ------------------------------------------------------


def _first_update(tx, g, params=None):
    g = jnp.asarray(g, jnp.float64)
    params = jnp.zeros_like(g) if params is None else jnp.asarray(params, jnp.float64)
    return np.asarray(tx.update(g, tx.init(params), params)[0])


def _updates(tx, grads):
    """The updates of ``tx`` for a fixed gradient sequence (parameters fixed at zero)."""
    params = jnp.zeros_like(jnp.asarray(grads[0], jnp.float64))
    state, out = tx.init(params), []
    for g in grads:
        u, state = tx.update(jnp.asarray(g, jnp.float64), state, params)
        out.append(np.asarray(u))
    return out


def test_rmsprop_defaults_differ(x64):
    """momentax: decay 0.99, eps outside the root (torch); optax: decay 0.9, eps inside."""
    lr, g = 0.01, [2.0, -0.5, 1e-4]
    hand_mx = [-lr * x / (math.sqrt(0.01 * x * x) + 1e-8) for x in g]
    hand_optax = [-lr * x / math.sqrt(0.1 * x * x + 1e-8) for x in g]
    got_mx = _first_update(mx.rmsprop(lr), g)
    got_optax = _first_update(optax.rmsprop(lr), g)
    np.testing.assert_allclose(got_mx, hand_mx, rtol=1e-12)
    np.testing.assert_allclose(got_optax, hand_optax, rtol=1e-12)
    np.testing.assert_allclose(got_mx - got_optax, np.subtract(hand_mx, hand_optax), rtol=1e-10)
    # For g=2 momentax steps by lr/0.1 ~ 0.1, optax by lr/sqrt(0.1) ~ 0.0316; for the small
    # gradient eps dominates differently: momentax ~ -0.0999, optax ~ -0.00953.
    assert got_mx[0] == pytest.approx(-0.099999995, rel=1e-9)
    assert got_optax[0] == pytest.approx(-0.0316227762, rel=1e-9)
    assert got_mx[2] == pytest.approx(-0.0999000999, rel=1e-9)
    assert got_optax[2] == pytest.approx(-0.00953462589, rel=1e-9)


def test_adagrad_defaults_differ(x64):
    """momentax: accumulator 0, eps 1e-10 outside the root (torch); optax: 0.1 and 1e-7 inside."""
    lr, g = 0.5, [3.0, -0.2, 1e-6]
    hand_mx = [-lr * x / (abs(x) + 1e-10) for x in g]
    hand_optax = [-lr * x / math.sqrt(0.1 + x * x + 1e-7) for x in g]
    got_mx = _first_update(mx.adagrad(lr), g)
    got_optax = _first_update(optax.adagrad(lr), g)
    np.testing.assert_allclose(got_mx, hand_mx, rtol=1e-12)
    np.testing.assert_allclose(got_optax, hand_optax, rtol=1e-12)
    np.testing.assert_allclose(got_mx - got_optax, np.subtract(hand_mx, hand_optax), rtol=1e-10)
    # momentax's first step is sign(g) * lr for every non-tiny gradient (torch's behaviour).
    np.testing.assert_allclose(got_mx[:2], [-0.5, 0.5], rtol=1e-8)
    assert got_optax[2] == pytest.approx(-1.58113e-6, rel=1e-5)


def test_adamw_default_weight_decay_differs(x64):
    """momentax.adamw decays by 1e-2 by default (torch); optax.adamw by 1e-4."""
    lr, p = 0.1, [2.0, -1.0]
    zero = [0.0, 0.0]  # a zero gradient makes Adam's part exactly 0: only the decay remains
    got_mx = _first_update(mx.adamw(lr), zero, p)
    got_optax = _first_update(optax.adamw(lr), zero, p)
    np.testing.assert_allclose(got_mx, [-lr * 1e-2 * x for x in p], rtol=1e-12)
    np.testing.assert_allclose(got_optax, [-lr * 1e-4 * x for x in p], rtol=1e-12)
    np.testing.assert_allclose(got_mx - got_optax, [-lr * (1e-2 - 1e-4) * x for x in p], rtol=1e-10)
    state = mx.adamw(lr).init(jnp.zeros(2))
    assert float(mx.hyperparams(state)["weight_decay"]) == 1e-2


def _sum_of_squares_grad(params, t):
    del t
    return 2.0 * params


def test_adadelta_default_learning_rate_descends(x64):
    """momentax.adadelta() uses lr=1 (torch) and descends; optax.adadelta() has lr=None and
    returns the unscaled Adadelta direction, which has the gradient's sign, so it ascends."""
    rho, eps = 0.9, 1e-6
    p0 = np.array([1.0, -2.0, 3.0])
    g = 2.0 * p0
    hand = np.sqrt(eps) / np.sqrt((1 - rho) * g * g + eps) * g  # scale_by_adadelta's first output
    got_mx = _first_update(mx.adadelta(), g)
    got_optax = _first_update(optax.adadelta(), g)
    np.testing.assert_allclose(got_mx, -hand, rtol=1e-12)
    np.testing.assert_allclose(got_optax, hand, rtol=1e-12)
    assert np.all(np.sign(got_mx) == -np.sign(g)) and np.all(np.sign(got_optax) == np.sign(g))

    loss0 = float(np.sum(p0 ** 2))
    traj_mx = momentax_trajectory(mx.adadelta(), p0, _sum_of_squares_grad, STEPS)
    traj_optax = momentax_trajectory(optax.adadelta(), p0, _sum_of_squares_grad, STEPS)
    loss_mx = np.sum(traj_mx ** 2, axis=1)
    loss_optax = np.sum(traj_optax ** 2, axis=1)
    # From 14, momentax ends near 11.9 and optax near 16.4: both move by more than 1.
    assert np.all(np.diff(loss_mx) < 0) and loss_mx[-1] < loss0 - 1.0
    assert np.all(np.diff(loss_optax) > 0) and loss_optax[-1] > loss0 + 1.0


def test_rmsprop_momentum_with_schedule_differs(x64):
    """With momentum, momentax applies the (scheduled) learning rate after the buffer, like
    torch; optax before it. Equal for a constant rate, different for a schedule."""

    def schedule(count):
        return 0.1 / (1.0 + count)

    m, decay, eps = 0.9, 0.9, 1e-8
    grads = [[1.0, -2.0], [0.5, 1.5], [-1.0, 0.25]]
    nu, v_mx, v_optax = np.zeros(2), np.zeros(2), np.zeros(2)
    hand_mx, hand_optax = [], []
    for t, g in enumerate(np.array(grads)):
        lr = 0.1 / (1.0 + t)
        nu = decay * nu + (1 - decay) * g * g
        r = g / np.sqrt(nu + eps)
        v_mx = m * v_mx + r  # momentax / torch: buffer of unscaled steps, then lr
        hand_mx.append(-lr * v_mx)
        v_optax = m * v_optax - lr * r  # optax: lr first, then the buffer
        hand_optax.append(v_optax)

    got_mx = _updates(mx.rmsprop(schedule, decay=decay, eps=eps, momentum=m, eps_in_sqrt=True), grads)
    got_optax = _updates(optax.rmsprop(schedule, decay=decay, eps=eps, momentum=m), grads)
    for t in range(3):
        np.testing.assert_allclose(got_mx[t], hand_mx[t], rtol=1e-12, err_msg=f"momentax step {t + 1}")
        np.testing.assert_allclose(got_optax[t], hand_optax[t], rtol=1e-12, err_msg=f"optax step {t + 1}")
    # Step 1 agrees; after it momentax - optax = -m * (lr_t - lr_1) * r_1 + ... (the buffer's
    # earlier steps rescaled by the current rate instead of their own).
    np.testing.assert_allclose(got_mx[0], got_optax[0], rtol=1e-12)
    for t in (1, 2):
        diff = got_mx[t] - got_optax[t]
        np.testing.assert_allclose(diff, hand_mx[t] - hand_optax[t], rtol=1e-9, atol=1e-15)
        assert np.all(np.abs(diff) > 1e-3 * np.abs(got_optax[t]))


def test_sgd_dampening_first_step_undampened(x64):
    """momentax.sgd's dampening leaves the first step undampened, as torch.optim.SGD; optax's
    sgd has no dampening."""
    lr, m, d = 0.1, 0.9, 0.5
    grads = np.array([[1.0, -2.0], [0.5, 1.5], [-1.0, 0.25]])
    hand, buf = [], None
    for g in grads:
        buf = g.copy() if buf is None else m * buf + (1 - d) * g
        hand.append(-lr * buf)
    got_mx = _updates(mx.sgd(lr, momentum=m, dampening=d), grads)
    got_optax = _updates(optax.sgd(lr, momentum=m), grads)

    def fixed_grads(params, t):
        return jnp.asarray(grads)[t]

    traj = torch_trajectory(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=m, dampening=d, foreach=False),
                            np.zeros(2), fixed_grads, 3)
    got_torch = np.diff(np.concatenate([np.zeros((1, 2)), traj]), axis=0)
    for t in range(3):
        np.testing.assert_allclose(got_mx[t], hand[t], rtol=1e-12, err_msg=f"momentax step {t + 1}")
        np.testing.assert_allclose(got_torch[t], hand[t], rtol=1e-12, err_msg=f"torch step {t + 1}")
    # The first step is -lr * g for all three; at step 2 optax adds g2 undamped, momentax and
    # torch add (1 - d) * g2: the updates differ by exactly lr * d * g2.
    np.testing.assert_allclose(got_mx[0], -lr * grads[0], rtol=1e-12)
    np.testing.assert_allclose(got_optax[0], -lr * grads[0], rtol=1e-12)
    np.testing.assert_allclose(got_mx[1] - got_optax[1], lr * d * grads[1], rtol=1e-12)
