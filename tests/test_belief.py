"""AdaBelief, Yogi, NovoGrad and Adan against optax and against hand-computed steps.

Parity: float64 (``x64`` fixture), 100 steps of ``parity.noisy_quadratic`` on
``conftest.random_tree(0)`` (leaves of shapes (5, 3), (3,), (2, 3, 4), () and a ``None``).
Relative error, per leaf and step, is ``max|a - b| / max|b|`` (max-norms, ``b`` = optax);
the worst over leaves and steps must be <= 1e-10.

Where momentax deliberately differs from optax 0.2.8 (Adan's gradient-difference weight,
see ``momentax.scale_by_adan``), the parity run uses the one setting where both agree
(``b2 = 0.5``) and the difference is pinned against a hand computation of the paper's rule.
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
    """Decay the matrices and the 3-D leaf, not the bias and the scalar."""
    return jax.tree.map(lambda p: np.ndim(p) > 1, params)


def optax_decoupled(scaling, weight_decay, learning_rate):
    return optax.chain(scaling, optax.add_decayed_weights(weight_decay, decay_mask),
                       optax.scale_by_learning_rate(learning_rate))


PARITY = {
    "adabelief": (lambda: mx.adabelief(1e-2), lambda: optax.adabelief(1e-2)),
    "adabelief_nesterov_decay": (
        lambda: mx.adabelief(1e-2, b1=0.8, b2=0.99, eps=1e-8, eps_root=1e-12, weight_decay=0.1, mask=decay_mask,
                             nesterov=True),
        lambda: optax_decoupled(optax.scale_by_belief(0.8, 0.99, 1e-8, 1e-12, nesterov=True), 0.1, 1e-2)),
    "yogi": (lambda: mx.yogi(1e-2), lambda: optax.yogi(1e-2)),
    "yogi_decay": (
        lambda: mx.yogi(1e-2, b1=0.8, b2=0.99, eps=1e-4, eps_root=1e-10, initial_accumulator_value=0.1,
                        weight_decay=0.1, mask=decay_mask),
        lambda: optax_decoupled(optax.scale_by_yogi(0.8, 0.99, 1e-4, 1e-10, initial_accumulator_value=0.1),
                                0.1, 1e-2)),
    "novograd": (lambda: mx.novograd(1e-2), lambda: optax.novograd(1e-2)),
    "novograd_decay": (lambda: mx.novograd(1e-2, b1=0.8, b2=0.5, eps=1e-8, eps_root=1e-10, weight_decay=0.1),
                       lambda: optax.novograd(1e-2, b1=0.8, b2=0.5, eps=1e-8, eps_root=1e-10, weight_decay=0.1)),
    # b2 = 0.5 is where optax's weight 1 - b2 equals the paper's b2 (see the module docstring).
    "adan_b2_half": (lambda: mx.adan(1e-2, b2=0.5, eps_root=1e-8, weight_decay=0.1, mask=decay_mask),
                     lambda: optax.adan(1e-2, b2=0.5, eps_root=1e-8, weight_decay=0.1, mask=decay_mask)),
}


@pytest.mark.parametrize("name", list(PARITY))
def test_matches_optax_for_100_float64_steps(x64, name):
    make_ours, make_ref = PARITY[name]
    assert_matches_reference_run(make_ours, make_ref, STEPS, label=name)


def adan_by_hand(grads, lr, b1=0.98, b2=0.92, b3=0.99, eps=1e-8):
    """The authors' Adan (sail-sg/Adan, no weight decay) written out in numpy float64."""
    m = d = n = np.zeros_like(grads[0])
    prev, out = None, []
    for t, g in enumerate(grads, start=1):
        diff = np.zeros_like(g) if prev is None else g - prev
        m = b1 * m + (1 - b1) * g
        d = b2 * d + (1 - b2) * diff
        n = b3 * n + (1 - b3) * (g + b2 * diff) ** 2
        denom = np.sqrt(n) / np.sqrt(1 - b3**t) + eps
        out.append(-lr / (1 - b1**t) * m / denom - lr * b2 / (1 - b2**t) * d / denom)
        prev = g
    return out


def run_updates(opt, grads):
    state, out, update = opt.init(jnp.zeros_like(grads[0])), [], jax.jit(opt.update)
    for g in grads:
        u, state = update(jnp.asarray(g), state, jnp.zeros_like(g))
        out.append(np.asarray(u))
    return out


def test_adan_follows_the_paper_where_optax_differs(x64):
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=6) for _ in range(4)]
    expected = adan_by_hand(grads, lr=0.1)
    ours = run_updates(mx.adan(0.1), grads)
    theirs = run_updates(mx.chain(optax.adan(0.1, eps_root=0.0)), grads)
    for t in range(4):
        np.testing.assert_allclose(ours[t], expected[t], rtol=1e-12, atol=0)
    # Step 1 has no gradient difference, so optax agrees; from step 2 its 1 - b2 weight shows.
    np.testing.assert_allclose(theirs[0], expected[0], rtol=1e-12)
    for t in range(1, 4):
        assert np.abs(theirs[t] - expected[t]).max() > 1e-3 * np.abs(expected[t]).max()


def test_novograd_two_steps_by_hand(x64):
    p = {"a": jnp.array([1.0, -2.0]), "b": jnp.array([[0.5, 0.0], [3.0, 1.0]])}
    g1 = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([[1.0, 1.0], [1.0, 1.0]])}
    g2 = {"a": jnp.array([0.0, 1.0]), "b": jnp.array([[2.0, 0.0], [0.0, 0.0]])}
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.25, 1e-6, 0.01
    opt = mx.novograd(lr, b1, b2, eps, weight_decay=wd)
    update = jax.jit(opt.update)
    u1, state = update(g1, opt.init(p), p)
    u2, state = update(g2, state, p)
    for k in p:
        pk, a, b = (np.asarray(x[k]) for x in (p, g1, g2))
        nu1 = np.sum(a**2)  # the first step takes ||g||**2 itself, no average
        m1 = a / (np.sqrt(nu1) + eps) + wd * pk
        nu2 = b2 * nu1 + (1 - b2) * np.sum(b**2)
        m2 = b1 * m1 + b / (np.sqrt(nu2) + eps) + wd * pk
        np.testing.assert_allclose(u1[k], -lr * m1, rtol=1e-12)
        np.testing.assert_allclose(u2[k], -lr * m2, rtol=1e-12)
        assert state[0].nu[k].shape == () and float(state[0].nu[k]) == pytest.approx(nu2, rel=1e-12)


def test_yogi_first_step_by_hand(x64):
    g = np.array([2.0, -0.5, 0.0, 1e-4])
    b1, b2, eps, v0 = 0.9, 0.999, 1e-3, 1e-6
    opt = mx.yogi(0.01)
    u, state = jax.jit(opt.update)(jnp.asarray(g), opt.init(jnp.zeros(4)))
    m = b1 * v0 + (1 - b1) * g  # both moments start at initial_accumulator_value
    v = v0 - (1 - b2) * np.sign(v0 - g**2) * g**2
    expected = -0.01 * (m / (1 - b1)) / (np.sqrt(v / (1 - b2)) + eps)
    np.testing.assert_allclose(u, expected, rtol=1e-12)
    np.testing.assert_allclose(state[0].nu, v, rtol=1e-12)


def test_adabelief_adds_eps_root_to_the_stored_moment_every_step(x64):
    b1, b2, er = 0.9, 0.99, 1e-3
    tx = mx.scale_by_belief(b1, b2, eps=1e-16, eps_root=er, nesterov=True)
    g1, g2 = np.array([1.0, -3.0]), np.array([0.5, 2.0])
    update = jax.jit(tx.update)
    u1, s = update(jnp.asarray(g1), tx.init(jnp.zeros(2)))
    u2, s = update(jnp.asarray(g2), s)
    m1 = (1 - b1) * g1
    s1 = (1 - b2) * (g1 - m1) ** 2 + er
    m2 = b1 * m1 + (1 - b1) * g2
    s2 = b2 * s1 + (1 - b2) * (g2 - m2) ** 2 + er
    np.testing.assert_allclose(s.nu, s2, rtol=1e-12)
    # Nesterov first moment: b1 m / (1 - b1**(t+1)) + (1 - b1) g / (1 - b1**t).
    m_hat1 = b1 * m1 / (1 - b1**2) + (1 - b1) * g1 / (1 - b1)
    np.testing.assert_allclose(u1, m_hat1 / (np.sqrt(s1 / (1 - b2)) + 1e-16), rtol=1e-12)
    m_hat2 = b1 * m2 / (1 - b1**3) + (1 - b1) * g2 / (1 - b1**2)
    np.testing.assert_allclose(u2, m_hat2 / (np.sqrt(s2 / (1 - b2**2)) + 1e-16), rtol=1e-12)


def test_novograd_state_is_one_scalar_per_leaf_kept_in_float32_for_bfloat16():
    p = {"w": jnp.ones((4, 3), jnp.bfloat16), "skip": None, "s": jnp.ones((), jnp.float32)}
    opt = mx.novograd(0.1)
    u, state = jax.jit(opt.update)(jax.tree.map(lambda x: x * 3, p), opt.init(p), p)
    assert state[0].nu["w"].shape == () and state[0].nu["w"].dtype == jnp.float32
    assert state[0].mu["w"].dtype == jnp.bfloat16 and u["w"].dtype == jnp.bfloat16 and u["skip"] is None
    assert float(state[0].nu["w"]) == 108.0  # 12 entries of 3**2


def test_novograd_weight_decay_needs_params_and_is_absent_when_zero():
    p = {"w": jnp.ones(3)}
    with pytest.raises(ValueError, match="scale_by_novograd: update needs the parameters for weight_decay"):
        opt = mx.novograd(0.1, weight_decay=0.1)
        opt.update(p, opt.init(p))
    plain = mx.novograd(0.1)
    state = plain.init(p)
    jax.jit(plain.update)(p, state)  # no params needed without decay
    assert "weight_decay" not in mx.hyperparams(state)
    with pytest.raises(KeyError, match="'weight_decay' is not a hyperparameter"):
        mx.set_hyperparams(state, weight_decay=0.1)


def test_novograd_names_a_corrupted_second_moment():
    p = {"w": jnp.ones(3), "v": jnp.ones(2)}
    tx = mx.scale_by_novograd()
    state = tx.init(p)
    bad = state._replace(nu={"w": jnp.zeros(3), "v": jnp.zeros(())})
    with pytest.raises(mx.TreeMismatchError, match=re.escape("state.nu at ['w'] has shape [3]")):
        tx.update(p, bad)
    with pytest.raises(mx.TreeMismatchError, match=re.escape("['v']")):
        tx.update({"w": jnp.ones(3)}, state)


@pytest.mark.parametrize("make,match", [
    (lambda: mx.adan(1e-3, b3=1.0), "scale_by_adan: b3=1.0 is out of range"),
    (lambda: mx.adan(1e-3, eps=0.0), "scale_by_adan: eps=0.0 is out of range"),
    (lambda: mx.adabelief(1e-3, eps_root=-1e-16), "scale_by_belief: eps_root=-1e-16 is out of range"),
    (lambda: mx.yogi(1e-3, initial_accumulator_value=-1.0), "scale_by_yogi: initial_accumulator_value=-1.0"),
    (lambda: mx.novograd(1e-3, b2=1.0), "scale_by_novograd: b2=1.0 is out of range"),
    (lambda: mx.novograd(1e-3, weight_decay=-0.1), "scale_by_novograd: weight_decay=-0.1 is out of range"),
])
def test_out_of_range_hyperparameters_are_refused(make, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make()
