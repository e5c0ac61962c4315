"""Adafactor: against torch.optim.Adafactor and optax.adafactor, and by hand on the paper's formulas.

Tolerances: errors are relative, max |a - b| over a leaf divided by max |b| (tests/parity.py).
float64 parity is held to 1e-10 (measured: ~1e-15); torch's float32 Adafactor computes its
step size in Python doubles (``.item()``) where momentax stays in float32, so float32 parity
is held to 1e-5 (measured: 2.4e-7 after 200 steps).
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from optax._src import factorized

import momentax as mx
from momentax.math.factored import factored_axes
from parity import assert_trajectories_close, momentax_trajectory, noisy_quadratic, torch_trajectory


def tree(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {"v": rng.normal(size=(4,)).astype(dtype), "m": rng.normal(size=(5, 3)).astype(dtype),
            "stack": rng.normal(size=(2, 3, 4)).astype(dtype)}


def torch_equivalent(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, maximize=False):
    """momentax.adafactor configured as torch.optim.Adafactor with these arguments."""
    opt = mx.adafactor(learning_rate=lr, decay_rate=-beta2_decay, eps=eps[0], clipping_threshold=d, min_scale=eps[1],
                       weight_decay=weight_decay, clamp_eps=True)
    return mx.chain(mx.scale(-1.0), opt) if maximize else opt


TORCH_SETTINGS = [
    {},
    {"lr": 0.05, "beta2_decay": -0.6, "eps": (1e-20, 1e-2), "d": 1.5, "weight_decay": 0.1},
    {"lr": 0.02, "weight_decay": 0.01, "maximize": True},
]


@pytest.mark.parametrize("kwargs", TORCH_SETTINGS, ids=["defaults", "options", "maximize"])
def test_matches_torch_adafactor_float64(x64, kwargs):
    params0, steps = tree(0), 200
    grad_fn = noisy_quadratic(params0, steps, seed=1)
    expected = torch_trajectory(lambda ps: torch.optim.Adafactor(ps, **kwargs), params0, grad_fn, steps)
    actual = momentax_trajectory(torch_equivalent(**kwargs), params0, grad_fn, steps)
    assert_trajectories_close(actual, expected, 1e-10)


def test_matches_torch_adafactor_float32():
    params0, steps = tree(2, np.float32), 200
    grad_fn = noisy_quadratic(params0, steps, seed=3)
    kwargs = TORCH_SETTINGS[1]
    expected = torch_trajectory(lambda ps: torch.optim.Adafactor(ps, **kwargs), params0, grad_fn, steps,
                                dtype=torch.float32)
    actual = momentax_trajectory(torch_equivalent(**kwargs), params0, grad_fn, steps)
    assert_trajectories_close(actual, expected, 1e-5)


def _decay_rate_pow_float64(step, exponent=0.8):
    return 1.0 - jnp.asarray(step + 1, jnp.float64) ** (-exponent)


OPTAX_SETTINGS = [  # (optax.adafactor arguments, the momentax arguments that differ from the translation)
    {"learning_rate": 0.01},
    {"learning_rate": 0.05, "min_dim_size_to_factor": 2, "momentum": 0.9, "dtype_momentum": jnp.float64,
     "weight_decay_rate": 1e-3, "decay_rate": 0.7, "clipping_threshold": None},
    {"learning_rate": 0.1, "min_dim_size_to_factor": 3, "multiply_by_parameter_scale": False, "eps": 1e-10},
    {"learning_rate": 0.01, "factored": False, "decay_offset": 0},
]


def optax_equivalent(learning_rate=None, min_dim_size_to_factor=128, decay_rate=0.8, decay_offset=0,
                     multiply_by_parameter_scale=True, clipping_threshold=1.0, momentum=None,
                     dtype_momentum=jnp.float32, weight_decay_rate=None, eps=1e-30, factored=True,
                     weight_decay_mask=None):
    """momentax.adafactor configured as optax.adafactor with these arguments."""
    return mx.adafactor(1.0 if learning_rate is None else learning_rate, decay_rate, eps, clipping_threshold,
                        b1=momentum, mu_dtype=dtype_momentum, weight_decay=weight_decay_rate or 0.0,
                        mask=weight_decay_mask, relative_step=False, lr_coupled_decay=False,
                        multiply_by_parameter_scale=multiply_by_parameter_scale, factored=factored,
                        factored_dims="largest", min_dim_size_to_factor=min_dim_size_to_factor,
                        decay_offset=decay_offset)


@pytest.mark.parametrize("kwargs", OPTAX_SETTINGS,
                         ids=["defaults", "momentum-decay-factored", "no-scale", "unfactored"])
def test_matches_optax_adafactor_float64(x64, monkeypatch, kwargs):
    # optax computes the decay schedule 1 - t**-0.8 in float32 even under x64 (a float32 array
    # in _decay_rate_pow); momentax computes it in the state's float. Patched to float64 here,
    # the two agree to rounding; test_optax_decay_schedule_is_float32 pins the difference.
    monkeypatch.setattr(factorized, "scale_by_factored_rms",
                        functools.partial(factorized.scale_by_factored_rms, decay_rate_fn=_decay_rate_pow_float64))
    params0, steps = tree(4), 50
    params0["scalar"] = np.float64(0.7)
    grad_fn = noisy_quadratic(params0, steps, seed=5)
    expected = momentax_trajectory(optax.adafactor(**kwargs), params0, grad_fn, steps)
    actual = momentax_trajectory(optax_equivalent(**kwargs), params0, grad_fn, steps)
    assert_trajectories_close(actual, expected, 1e-10)


def test_optax_decay_schedule_is_float32(x64):
    params0, steps = tree(4), 20
    grad_fn = noisy_quadratic(params0, steps, seed=5)
    expected = momentax_trajectory(optax.adafactor(0.01, min_dim_size_to_factor=2), params0, grad_fn, steps)
    actual = momentax_trajectory(optax_equivalent(0.01, min_dim_size_to_factor=2), params0, grad_fn, steps)
    worst = assert_trajectories_close(actual, expected, 1e-6)
    assert worst > 1e-12  # the float32 schedule shows at float32 rounding level, not below


def _paper_step(g, r, c, t, eps):
    """One step of Algorithm 4 (factored second moment) on one (m, n) matrix, before clipping."""
    b = 1.0 - t ** -0.8
    s = g * g + eps
    r = b * r + (1 - b) * s.mean(axis=1)
    c = b * c + (1 - b) * s.mean(axis=0)
    return g / np.sqrt(np.outer(r, c) / r.mean()), r, c


def _clip(u, d):
    # Update clipping acts on the whole leaf (a stack of matrices is one block), as torch and optax.
    return u / max(1.0, np.sqrt(np.mean(u * u)) / d)


def test_factored_rms_matches_the_paper_on_a_stack_of_matrices(x64):
    rng = np.random.default_rng(6)
    tx = mx.scale_by_factored_rms(eps=1e-3, clipping_threshold=1.1)
    g1, g2 = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 3, 4)) * 3
    state = tx.init(jnp.zeros((2, 3, 4)))
    assert state.v_row.shape == (2, 3) and state.v_col.shape == (2, 4) and state.v.shape == (0,)
    u1, state = tx.update(jnp.asarray(g1), state)
    u2, state = tx.update(jnp.asarray(g2), state)
    e1, e2, rows, cols = [], [], [], []
    for k in range(2):  # the factored statistics of each matrix of the stack on its own
        r, c = np.zeros(3), np.zeros(4)
        x, r, c = _paper_step(g1[k], r, c, 1.0, 1e-3)
        e1.append(x)
        x, r, c = _paper_step(g2[k], r, c, 2.0, 1e-3)
        e2.append(x)
        rows.append(r)
        cols.append(c)
    np.testing.assert_allclose(np.asarray(u1), _clip(np.stack(e1), 1.1), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(u2), _clip(np.stack(e2), 1.1), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(state.v_row), np.stack(rows), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(state.v_col), np.stack(cols), rtol=1e-13)


def test_clipping_bounds_the_update_rms():
    tx = mx.scale_by_factored_rms(clipping_threshold=1.0)
    state = tx.init(jnp.zeros(3))
    _, state = tx.update(jnp.ones(3), state)
    # A sudden large gradient after small ones: g / sqrt(v) has RMS > 1 and is clipped to 1.
    u, _ = tx.update(jnp.array([100.0, 1.0, 1.0]), state)
    assert float(jnp.sqrt(jnp.mean(u * u))) == pytest.approx(1.0, rel=1e-6)


def test_adafactor_first_step_by_hand():
    # Step 1: b_1 = 0, so V = g**2 (+ eps) and U = sign(g); RMS(U) = 1 is not clipped;
    # rho = min(lr, 1) = lr; the step is lr * max(min_scale, RMS(p)) * sign(g) plus lr * wd * p.
    p = {"w": jnp.array([[3.0, -4.0], [0.0, 0.0]]), "b": jnp.array([0.5, -0.5])}
    g = {"w": jnp.array([[1.0, -2.0], [3.0, 4.0]]), "b": jnp.array([-1.0, 1.0])}
    opt = mx.adafactor(learning_rate=0.1, weight_decay=0.5)
    u, _ = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(np.asarray(u["b"]), -0.1 * 0.5 * np.array([-1.0, 1.0]) - 0.05 * np.array([0.5, -0.5]),
                               rtol=1e-6)
    # Rank-one V for w: R = [2.5, 12.5], C = [5, 10], V = R C^T / 7.5.
    v = np.outer([2.5, 12.5], [5.0, 10.0]) / 7.5
    unclipped = np.array([[1.0, -2.0], [3.0, 4.0]]) / np.sqrt(v)
    scaled = unclipped / max(1.0, np.sqrt(np.mean(unclipped ** 2)))
    expected = -0.1 * 2.5 * scaled - 0.05 * np.array([[3.0, -4.0], [0.0, 0.0]])
    np.testing.assert_allclose(np.asarray(u["w"]), expected, rtol=1e-6)


@pytest.mark.parametrize("shape,dims,min_size,expected", [
    ((5, 3), "last", 1, (0, 1)),
    ((2, 3, 4), "last", 1, (1, 2)),
    ((4, 2, 3), "largest", 1, (2, 0)),
    ((3, 1, 1), "largest", 2, None),  # the smaller chosen axis (1) is below the minimum size
    ((200, 100), "largest", 128, None),
    ((4,), "last", 1, None),
])
def test_factored_axes(shape, dims, min_size, expected):
    assert factored_axes(shape, True, dims, min_size) == expected


def test_relative_step_caps_by_inverse_sqrt_t():
    tx = mx.scale_by_relative_step(learning_rate=0.4)
    state = tx.init(jnp.zeros(1))
    steps = []
    for _ in range(9):
        u, state = tx.update(jnp.ones(1), state)
        steps.append(-float(u[0]))
    np.testing.assert_allclose(steps, [min(0.4, 1 / np.sqrt(t)) for t in range(1, 10)], rtol=1e-6)


def test_state_shape_mismatch_names_the_path():
    tx = mx.scale_by_factored_rms()
    state = tx.init({"a": jnp.zeros((3, 4))})
    with pytest.raises(mx.TreeMismatchError, match=r"\['a'\].*state.v_row"):
        tx.update({"a": jnp.zeros((4, 3))}, state)


@pytest.mark.parametrize("kwargs,message", [
    ({"factored_dims": "first"}, "factored_dims"),
    ({"clipping_threshold": 0.5}, "clipping_threshold"),
    ({"decay_rate": -0.8}, "decay_rate"),
    ({"eps": 0.0}, "eps"),
    ({"min_dim_size_to_factor": 1.5}, "min_dim_size_to_factor"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mx.scale_by_factored_rms(**kwargs)


def test_relative_step_needs_params_for_weight_decay():
    tx = mx.scale_by_relative_step(weight_decay=0.1)
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
