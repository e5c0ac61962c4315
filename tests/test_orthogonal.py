"""Muon: against optax.contrib.muon and torch.optim.Muon, and Newton-Schulz against an SVD.

Tolerances (relative: max |a - b| over a leaf divided by max |b|, tests/parity.py):

- optax, float64, 50 steps: 1e-10 (measured ~1e-15). Both run the same iteration in float64;
  Newton-Schulz multiplies rounding errors by at most the quintic's slope (a = 3.4 per step,
  so ~3.4**5 ~ 500 in the worst direction), which keeps float64 rounding (1e-16) far below
  1e-10.
- torch, float64, 200 steps: 1e-10 (measured ~1e-15). torch.optim.Muon casts the iteration to
  bfloat16; ``ns_dtype=jnp.bfloat16`` rounds at the same places (one rounding per torch
  operation, float32 accumulation inside the products). The float64 inputs of the cast agree
  to ~1e-16, and sums of a few products of bfloat16 numbers are exact in float32, so no
  bfloat16 rounding goes the other way and the trajectories agree to float64 rounding.
- torch, float32, 50 steps: 1e-5. In float32 the momentum and step differ from torch's by an
  ulp (torch folds its scalars in Python doubles); sooner or later such a difference moves a
  value across a bfloat16 rounding boundary, and the orthogonalised update then differs by a
  bfloat16 ulp (2**-8 relative). On this problem that happens after about 80 steps, so the
  float32 comparison covers the first 50.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import momentax as mx
from momentax.math.orthogonal import newton_schulz, shape_scale
from parity import assert_trajectories_close, momentax_trajectory, noisy_quadratic, torch_trajectory

COEFFS = (3.4445, -4.7750, 2.0315)


def matrices(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {"wide": rng.normal(size=(3, 6)).astype(dtype), "tall": rng.normal(size=(5, 3)).astype(dtype)}


def _ndim_is_2(params):
    return jax.tree.map(lambda p: p.ndim == 2, params)


def torch_equivalent(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, ns_coefficients=COEFFS, eps=1e-7,
                     ns_steps=5, adjust_lr_fn=None, ns_dtype=jnp.bfloat16):
    """momentax.muon configured as torch.optim.Muon with these arguments."""
    return mx.muon(lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov, ns_coeffs=ns_coefficients,
                   eps=eps, ns_steps=ns_steps, adjust_lr=adjust_lr_fn or "original", clamp_eps=True, fan_in_axis=-1,
                   ns_dtype=ns_dtype)


TORCH_SETTINGS = [
    {"lr": 0.02},
    {"lr": 0.02, "weight_decay": 0.05, "momentum": 0.9, "nesterov": False, "adjust_lr_fn": "match_rms_adamw",
     "ns_steps": 4, "ns_coefficients": (3.0, -3.2, 1.2)},
]


@pytest.mark.parametrize("kwargs,steps", zip(TORCH_SETTINGS, (200, 100)), ids=["defaults", "options"])
def test_matches_torch_muon_float64(x64, kwargs, steps):
    params0 = matrices(0)
    grad_fn = noisy_quadratic(params0, steps, seed=1)
    expected = torch_trajectory(lambda ps: torch.optim.Muon(ps, **kwargs), params0, grad_fn, steps)
    actual = momentax_trajectory(torch_equivalent(**kwargs), params0, grad_fn, steps)
    assert_trajectories_close(actual, expected, 1e-10)


def test_matches_torch_muon_float32():
    params0, steps = matrices(2, np.float32), 50
    grad_fn = noisy_quadratic(params0, steps, seed=3)
    kwargs = TORCH_SETTINGS[0]
    expected = torch_trajectory(lambda ps: torch.optim.Muon(ps, **kwargs), params0, grad_fn, steps,
                                dtype=torch.float32)
    actual = momentax_trajectory(torch_equivalent(**kwargs), params0, grad_fn, steps)
    assert_trajectories_close(actual, expected, 1e-5)


def test_bfloat16_iteration_is_torchs_and_differs_from_full_precision(x64):
    # The same 2 steps with ns_dtype=None move away from torch by bfloat16 rounding (~1e-3),
    # which is what ns_dtype=jnp.bfloat16 removes.
    params0, steps = matrices(0), 2
    grad_fn = noisy_quadratic(params0, steps, seed=1)
    expected = torch_trajectory(lambda ps: torch.optim.Muon(ps, lr=0.02), params0, grad_fn, steps)
    full = momentax_trajectory(torch_equivalent(0.02, ns_dtype=None), params0, grad_fn, steps)
    with pytest.raises(AssertionError):
        assert_trajectories_close(full, expected, 1e-5)
    assert_trajectories_close(full, expected, 1e-2)


def tree_with_vectors(seed=4):
    rng = np.random.default_rng(seed)
    return {"w": rng.normal(size=(3, 6)), "v": rng.normal(size=(5, 3)), "b": rng.normal(size=(4,)),
            "stack": rng.normal(size=(2, 3, 4)), "s": np.float64(0.3)}


def optax_equivalent(learning_rate, beta=0.95, eps=1e-8, weight_decay=0.0, nesterov=True, adam_b1=0.9,
                     adam_b2=0.999, adam_weight_decay=0.0, consistent_rms=None, mask=_ndim_is_2):
    """momentax.muon configured as optax.contrib.muon with these arguments."""
    adjust = {} if consistent_rms is None else {"adjust_lr": "match_rms_adamw", "consistent_rms": consistent_rms}
    return mx.muon(learning_rate, momentum=beta, weight_decay=weight_decay, nesterov=nesterov, eps=eps, debias=True,
                   adam_eps=eps, adam_b1=adam_b1, adam_b2=adam_b2, adam_weight_decay=adam_weight_decay,
                   muon_mask=mask, **adjust)


OPTAX_SETTINGS = [
    {"learning_rate": 0.02, "nesterov": False},
    {"learning_rate": 0.02, "nesterov": False, "weight_decay": 0.01, "adam_weight_decay": 0.02, "beta": 0.9,
     "consistent_rms": 0.2, "adam_b1": 0.8},
]


@pytest.mark.parametrize("kwargs", OPTAX_SETTINGS, ids=["plain", "options"])
def test_matches_optax_muon_float64(x64, kwargs):
    # optax sends leaves with exactly two axes to Muon; the vector, the scalar and the 3-D
    # stack take AdamW steps (Nesterov off: optax's AdamW is then plain AdamW, as momentax's).
    params0, steps = tree_with_vectors(), 50
    grad_fn = noisy_quadratic(params0, steps, seed=5)
    expected = momentax_trajectory(optax.contrib.muon(**kwargs), params0, grad_fn, steps)
    actual = momentax_trajectory(optax_equivalent(**kwargs), params0, grad_fn, steps)
    assert_trajectories_close(actual, expected, 1e-10)


def test_matches_optax_nesterov_and_batched_matrices(x64):
    # Nesterov with optax's separately bias-corrected terms, on matrices and on a stack of
    # matrices (optax: dimension numbers with a batch axis; momentax: every leaf with >= 2 axes).
    rng = np.random.default_rng(6)
    params0, steps = {"w": rng.normal(size=(3, 6)), "stack": rng.normal(size=(2, 4, 3))}, 50
    grad_fn = noisy_quadratic(params0, steps, seed=7)
    dims = {"w": optax.contrib.MuonDimensionNumbers(0, 1), "stack": optax.contrib.MuonDimensionNumbers(1, 2)}
    expected = momentax_trajectory(optax.contrib.muon(0.02, muon_weight_dimension_numbers=dims), params0, grad_fn,
                                   steps)
    actual = momentax_trajectory(optax_equivalent(0.02, mask=None), params0, grad_fn, steps)
    assert_trajectories_close(actual, expected, 1e-10)


def _quintic_on_singular_values(x, steps=5, eps=1e-7):
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    s = s / (np.sqrt(np.sum(s * s)) + eps)  # the Frobenius norm is the 2-norm of the singular values
    a, b, c = COEFFS
    for _ in range(steps):
        s = a * s + b * s ** 3 + c * s ** 5
    return (u * s) @ vt


@pytest.mark.parametrize("shape", [(4, 4), (3, 6), (6, 3), (2, 5, 3)])
def test_newton_schulz_acts_on_singular_values(x64, shape):
    # X -> a X + b (X X^T) X + c (X X^T)^2 X is an odd polynomial of X, so it maps U S V^T to
    # U p(S) V^T: the iteration equals the scalar quintic applied to each singular value.
    x = np.random.default_rng(8).normal(size=shape)
    got = np.asarray(newton_schulz(jnp.asarray(x), COEFFS, 5, jnp.asarray(1e-7), clamp_eps=False))
    expected = np.stack([_quintic_on_singular_values(m) for m in x.reshape(-1, *shape[-2:])]).reshape(shape)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    singular = np.linalg.svd(got.reshape(-1, *shape[-2:]), compute_uv=False)
    assert np.all((singular > 0.6) & (singular < 1.25))  # Jordan's "US'V^T, S' ~ U(0.5, 1.5)"


def test_shape_scale():
    rms = jnp.asarray(0.2)
    assert float(shape_scale((3, 12), "original", rms, -2, jnp.float32)) == pytest.approx(2.0)
    assert float(shape_scale((12, 3), "original", rms, -2, jnp.float32)) == 1.0
    assert float(shape_scale((12, 3), "original", rms, -1, jnp.float32)) == pytest.approx(2.0)
    assert float(shape_scale((4, 9), "match_rms_adamw", rms, -2, jnp.float32)) == pytest.approx(0.6)
    assert float(shape_scale((4, 9), None, rms, -2, jnp.float32)) == 1.0


def test_muon_mask_routes_leaves_and_names_groups():
    p = {"w": jnp.ones((2, 3)), "emb": jnp.ones((4, 2)), "b": jnp.ones(3)}
    opt = mx.muon(0.1, muon_mask={"w": True, "emb": False, "b": False})
    state = opt.init(p)
    assert set(state[0]) == {"muon", "adamw"}
    assert state[0]["muon"][0].mu["emb"] is None and state[0]["adamw"][0].mu["w"] is None
    assert {"muon/learning_rate", "adamw/learning_rate", "momentum", "b1"} <= set(mx.hyperparams(state))
    u, _ = opt.update(jax.tree.map(jnp.ones_like, p), state, p)
    # Adam's first step is -lr * sign(g); Muon's is not (the 2x3 all-ones matrix has rank 1).
    np.testing.assert_allclose(np.asarray(u["emb"]), -0.1, rtol=1e-5)
    assert not np.allclose(np.asarray(u["w"]), -0.1)


def test_scale_by_muon_rejects_vectors_with_the_path():
    tx = mx.scale_by_muon()
    with pytest.raises(ValueError, match=r"\['bias'\].*two or more axes"):
        tx.init({"w": jnp.ones((2, 2)), "bias": jnp.ones(2)})


@pytest.mark.parametrize("kwargs,message", [
    ({"ns_coeffs": (1.0, 2.0)}, "ns_coeffs"),
    ({"ns_steps": 0}, "ns_steps"),
    ({"adjust_lr": "sqrt"}, "adjust_lr"),
    ({"fan_in_axis": 0}, "fan_in_axis"),
    ({"momentum": 1.0}, "momentum"),
])
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mx.scale_by_muon(**kwargs)
