"""AMSGrad, Adamax(W), NAdam(W), RAdam, Rprop and ASGD: hand-computed steps, optax and torch parity.

Parity runs use the harness in tests/parity.py: the noisy quadratic over
:func:`conftest.random_tree` (shapes (5, 3), (3,), (2, 3, 4), () and a ``None`` leaf), in
float64. Relative error per leaf and step is ``max|a - b| / max|b|``; the bound is 1e-10.
Hand computations are numpy float64, compared at 1e-12 relative.
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
from parity import assert_trajectories_close, momentax_trajectory, noisy_quadratic, torch_trajectory
from torch_cases import precision

STEPS = 150
RTOL = 1e-10


def _problem(seed=4):
    params0 = random_tree(0)
    return params0, noisy_quadratic(params0, STEPS, seed=seed)


# -- against optax, where the semantics agree ------------------------------------------------

OPTAX_PAIRS = [
    ("amsgrad", lambda: mx.amsgrad(0.05, b1=0.8, b2=0.95, debias_before_max=True),
     lambda: optax.amsgrad(0.05, b1=0.8, b2=0.95)),
    ("adamax", lambda: mx.adamax(0.05, b1=0.8, b2=0.99, eps=1e-4), lambda: optax.adamax(0.05, b1=0.8, b2=0.99, eps=1e-4)),
    ("adamaxw", lambda: mx.adamaxw(0.05, weight_decay=0.1), lambda: optax.adamaxw(0.05, weight_decay=0.1)),
    ("nadam", lambda: mx.nadam(0.05, b1=0.8, b2=0.95, eps_root=1e-8),
     lambda: optax.nadam(0.05, b1=0.8, b2=0.95, eps_root=1e-8)),
    ("nadamw", lambda: mx.nadamw(0.02, weight_decay=0.1), lambda: optax.nadamw(0.02, weight_decay=0.1)),
    # optax adds eps after the bias correction, torch (and momentax) before: with a negligible
    # eps the placements agree and everything else (rho_t, r_t, the switch) is compared.
    ("radam", lambda: mx.radam(0.05, b2=0.99, eps=1e-30, eps_root=1e-6),
     lambda: optax.radam(0.05, b2=0.99, eps=1e-30, eps_root=1e-6)),
]


@pytest.mark.parametrize("make_ours, make_theirs", [p[1:] for p in OPTAX_PAIRS], ids=[p[0] for p in OPTAX_PAIRS])
def test_matches_optax(x64, make_ours, make_theirs):
    params0, grad_fn = _problem()
    ours = momentax_trajectory(make_ours(), params0, grad_fn, STEPS)
    theirs = momentax_trajectory(make_theirs(), params0, grad_fn, STEPS)
    assert_trajectories_close(ours, theirs, RTOL)


def test_amsgrad_default_is_not_optax_form(x64):
    """The two maxima differ on this problem, so the option is not a no-op."""
    params0, grad_fn = _problem()
    torch_form = momentax_trajectory(mx.amsgrad(0.05, b1=0.8, b2=0.95), params0, grad_fn, STEPS)
    optax_form = momentax_trajectory(optax.amsgrad(0.05, b1=0.8, b2=0.95), params0, grad_fn, STEPS)
    diff = max(np.abs(a - b).max() for a, b in zip(jax.tree.leaves(torch_form), jax.tree.leaves(optax_form)))
    assert diff > 1e-4


# -- the optimizers (not only the presets) against torch.optim -------------------------------

TORCH_PAIRS = [
    ("amsgrad", lambda: mx.amsgrad(0.05, b1=0.8, b2=0.95, weight_decay=0.1),
     lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.95), weight_decay=0.1, amsgrad=True, foreach=False)),
    ("adamax", lambda: mx.adamax(0.05, weight_decay=0.1),
     lambda p: torch.optim.Adamax(p, lr=0.05, weight_decay=0.1, foreach=False)),
    ("nadam_schedule", lambda: mx.nadam(0.05, momentum_decay=4e-3),
     lambda p: torch.optim.NAdam(p, lr=0.05, foreach=False)),
    ("nadamw_schedule", lambda: mx.nadamw(0.05, weight_decay=0.1, momentum_decay=1e-2),
     lambda p: torch.optim.NAdam(p, lr=0.05, weight_decay=0.1, momentum_decay=1e-2, decoupled_weight_decay=True,
                                 foreach=False)),
    ("radam", lambda: mx.radam(0.05, b2=0.99), lambda p: torch.optim.RAdam(p, lr=0.05, betas=(0.9, 0.99), foreach=False)),
    ("rprop", lambda: mx.rprop(0.05, eta_minus=0.3, eta_plus=1.5, max_step_size=0.2),
     lambda p: torch.optim.Rprop(p, lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-6, 0.2), foreach=False)),
    ("asgd", lambda: mx.asgd(0.05, lambd=1e-2, t0=10.0, weight_decay=0.1),
     lambda p: torch.optim.ASGD(p, lr=0.05, lambd=1e-2, t0=10.0, weight_decay=0.1, foreach=False)),
]


@pytest.mark.parametrize("make_ours, make_torch", [p[1:] for p in TORCH_PAIRS], ids=[p[0] for p in TORCH_PAIRS])
def test_matches_torch(make_ours, make_torch):
    with precision("float64"):  # also torch's scalar state (NAdam's mu_product, ASGD's eta) in float64
        params0, grad_fn = _problem()
        ours = momentax_trajectory(make_ours(), params0, grad_fn, STEPS)
        theirs = torch_trajectory(make_torch, params0, grad_fn, STEPS)
    assert_trajectories_close(ours, theirs, RTOL)


# -- hand-computed steps ---------------------------------------------------------------------

def _steps(tx, grads, params=None):
    """Updates and the final state of ``tx`` fed ``grads`` (params fixed unless None)."""
    state = tx.init(jnp.zeros_like(jnp.asarray(grads[0])) if params is None else params)
    out = []
    for g in grads:
        u, state = tx.update(jnp.asarray(g), state, params)
        out.append(np.asarray(u))
    return out, state


def _close(got, expected):
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(expected, np.float64), rtol=1e-12, atol=0)


@pytest.mark.parametrize("debias_before_max", [False, True])
def test_amsgrad_hand_computed(x64, debias_before_max):
    b1, b2, eps = 0.5, 0.8, 1e-8
    grads = [np.array([2.0, -1.0]), np.array([0.5, 3.0]), np.array([1.0, 0.1])]
    m = v = top = np.zeros(2)
    expected = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if debias_before_max:
            top = np.maximum(top, v / (1 - b2**t))
            denom = np.sqrt(top) + eps
        else:
            top = np.maximum(top, v)
            denom = np.sqrt(top / (1 - b2**t)) + eps
        expected.append(m / (1 - b1**t) / denom)
    got, state = _steps(mx.scale_by_amsgrad(b1, b2, eps, debias_before_max=debias_before_max), grads)
    for a, b in zip(got, expected):
        _close(a, b)
    _close(state.nu_max, top)
    assert not np.allclose(state.nu_max, state.nu)  # the maximum was held at an earlier step


def test_adamax_hand_computed(x64):
    b1, b2, eps = 0.9, 0.5, 1e-3
    grads = [np.array([2.0, -1.0]), np.array([-0.5, 0.25])]
    m = n = np.zeros(2)
    expected = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        n = np.maximum(b2 * n, np.abs(g) + eps)
        expected.append(m / (1 - b1**t) / n)
    got, _ = _steps(mx.scale_by_adamax(b1, b2, eps), grads)
    for a, b in zip(got, expected):
        _close(a, b)


@pytest.mark.parametrize("momentum_decay", [None, 0.0, 0.3])
def test_nadam_hand_computed(x64, momentum_decay):
    b1, b2, eps = 0.9, 0.99, 1e-8
    grads = [np.array([1.0, -2.0]), np.array([0.5, 0.5]), np.array([-1.0, 2.0])]

    def mu(t):  # constant, or Dozat's schedule as torch writes it
        return b1 if momentum_decay is None else b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))

    m = v = np.zeros(2)
    product, expected = 1.0, []
    for t, g in enumerate(grads, start=1):
        product *= mu(t)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = np.sqrt(v / (1 - b2**t)) + eps
        expected.append(((1 - mu(t)) / (1 - product) * g + mu(t + 1) / (1 - product * mu(t + 1)) * m) / denom)
    got, state = _steps(mx.scale_by_nadam(b1, b2, eps, momentum_decay=momentum_decay), grads)
    for a, b in zip(got, expected):
        _close(a, b)
    if momentum_decay is None:
        assert state.mu_product is None
    else:
        _close(state.mu_product, product)


def test_radam_hand_computed_switches_on_at_rho_above_5(x64):
    b1, b2, eps = 0.9, 0.9, 1e-8  # rho_inf = 19; rho_t = 1, 1.95, 2.86, 3.74, 4.58, 5.39, ...
    rng = np.random.default_rng(0)
    grads = [rng.normal(size=3) for _ in range(8)]
    rho_inf = 2 / (1 - b2) - 1
    m = v = np.zeros(3)
    expected, switched = [], []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
        m_hat = m / (1 - b1**t)
        if rho > 5:
            r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
            expected.append(m_hat * r * np.sqrt(1 - b2**t) / (np.sqrt(v) + eps))
        else:
            expected.append(m_hat)
        switched.append(rho > 5)
    assert switched == [False] * 5 + [True] * 3
    got, _ = _steps(mx.scale_by_radam(b1, b2, eps), grads)
    for a, b in zip(got, expected):
        _close(a, b)


def test_rprop_applies_the_current_step_unlike_optax(x64):
    """Two steps by hand; optax 0.2.8 returns zero first, then (mostly) our first step."""
    lr, eta_minus, eta_plus = 0.1, 0.5, 1.2
    g1, g2 = np.array([3.0, -2.0, 0.0]), np.array([1.0, 4.0, -1.0])
    # Step 1: prev = 0, so every factor is 1: d = 0.1; p moves by -sign(g) * d.
    step1 = -np.sign(g1) * lr
    # Step 2: signs of g1 * g2 are +, -, 0 -> d = 0.12, 0.05, 0.1; the flipped element stays put.
    step2 = np.array([-0.12, 0.0, 0.1])
    opt = mx.rprop(lr, eta_minus, eta_plus)
    got, state = _steps(opt, [g1, g2])
    _close(got[0], step1)
    _close(got[1], step2)
    _close(state[0].step_sizes, [0.12, 0.05, 0.1])
    _close(state[0].prev, [1.0, 0.0, -1.0])  # the flipped gradient is forgotten

    lagged = optax.rprop(lr, eta_minus, eta_plus)
    s = lagged.init(jnp.zeros(3))
    first, s = lagged.update(jnp.asarray(g1), s)
    second, _ = lagged.update(jnp.asarray(g2), s)
    _close(first, np.zeros(3))
    # optax's second update is our first one, lagged, except that it also drops the element
    # whose sign flipped at step 2.
    _close(second, np.where(np.sign(g1 * g2) < 0, 0.0, step1))
    assert not np.allclose(first, got[0]) and not np.allclose(second, got[1])


def test_rprop_clips_step_sizes(x64):
    opt = mx.scale_by_rprop(learning_rate=1.0, eta_plus=3.0, min_step_size=0.5, max_step_size=2.0)
    got, state = _steps(opt, [np.array([1.0, 1.0]), np.array([1.0, -1.0]), np.array([1.0, 1.0])])
    _close(state.step_sizes, [2.0, 0.5])  # 1 -> 3 clipped to 2 -> 2; 1 -> 0.5 -> 0.5 (factor 1)
    _close(got[1], [2.0, 0.0])


def test_asgd_hand_computed(x64):
    lr, lambd, alpha, t0 = 0.5, 0.2, 0.75, 1.0
    opt = mx.asgd(lr, lambd=lambd, alpha=alpha, t0=t0)
    p = jnp.array([1.0, -2.0])
    state = opt.init(p)
    np.testing.assert_array_equal(mx.eval_params(state, p), p)  # before any step: the params
    grads = [np.array([0.5, 1.0]), np.array([-1.0, 0.5]), np.array([0.3, 0.3]), np.array([1.0, -1.0])]
    w, ax, iterates = np.array([1.0, -2.0]), np.zeros(2), []
    for t, g in enumerate(grads, start=1):
        eta = lr / (1 + lambd * lr * (t - 1)) ** alpha
        w = w * (1 - lambd * eta) - eta * g
        iterates.append(w)
        mu = 1 / max(1, t - 1 - t0)
        ax = w.copy() if mu == 1 else ax + mu * (w - ax)
        u, state = opt.update(jnp.asarray(g), state, p)
        p = mx.apply_updates(p, u)
        _close(p, w)
    _close(mx.eval_params(state, p), ax)
    _close(ax, np.mean(iterates[2:], axis=0))  # from t0 + 2 = 3 on, the running mean of the iterates


# -- hyperparameters, errors -----------------------------------------------------------------

def test_nadam_momentum_decay_is_state_and_changes_the_step():
    tx = mx.scale_by_nadam(momentum_decay=4e-3)
    state = tx.init(jnp.zeros(2))
    g = jnp.array([1.0, -1.0])
    base, _ = tx.update(g, state)
    other, _ = tx.update(g, mx.set_hyperparams(state, momentum_decay=0.5))
    assert not np.allclose(base, other)
    assert "momentum_decay" not in mx.hyperparams(mx.scale_by_nadam().init(jnp.zeros(2)))


def test_rprop_initial_step_is_static():
    tx = mx.scale_by_rprop(learning_rate=0.3)
    state = tx.init({"w": jnp.zeros(2)})
    assert sorted(mx.hyperparams(state)) == ["eta_minus", "eta_plus", "max_step_size", "min_step_size"]
    np.testing.assert_allclose(state.step_sizes["w"], [0.3, 0.3])


@pytest.mark.parametrize("make, message", [
    (lambda: mx.scale_by_rprop(eta_minus=1.0), r"scale_by_rprop: eta_minus=1.0 is out of range; it must lie in \(0, 1\)"),
    (lambda: mx.scale_by_rprop(eta_plus=1.0), r"eta_plus=1.0 is out of range; it must lie in \(1, inf\)"),
    (lambda: mx.rprop(min_step_size=2.0, max_step_size=1.0), "min_step_size=2.0 exceeds max_step_size=1.0"),
    (lambda: mx.scale_by_radam(threshold=4.0), r"threshold=4.0 is out of range; it must lie in \(4, inf\)"),
    (lambda: mx.scale_by_nadam(momentum_decay=-1.0), "momentum_decay=-1.0 is out of range"),
    (lambda: mx.amsgrad(0.1, b2=1.0), "b2=1.0 is out of range"),
    (lambda: mx.asgd(lambd=-1.0), "lambd=-1.0 is out of range"),
])
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make", [mx.scale_by_amsgrad, mx.scale_by_adamax, mx.scale_by_nadam, mx.scale_by_radam,
                                  mx.scale_by_rprop])
def test_tree_mismatch_names_the_path(make):
    tx = make()
    state = tx.init({"a": jnp.zeros(2), "b": jnp.zeros(3)})
    with pytest.raises(mx.TreeMismatchError, match=r"first difference at \['b'\]"):
        tx.update({"a": jnp.zeros(2), "c": jnp.zeros(3)}, state)


@pytest.mark.parametrize("make", [mx.scale_by_asgd, mx.average_iterates])
def test_asgd_parts_need_params(make):
    tx = make()
    with pytest.raises(ValueError, match="update needs the parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
