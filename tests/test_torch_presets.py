"""momentax.torch presets follow torch.optim's trajectories, with torch's names and defaults.

The parity matrix is :data:`torch_cases.CASES`: every preset, with its defaults and with every
argument that changes the arithmetic set to a non-default value in some case (checked below
against the preset's signature). Each case runs 200 steps of torch.optim (CPU, single-tensor
path) and of the preset (one jitted ``lax.scan``) on the same noisy quadratic over a tree of
shapes (5, 3), (3,), (2, 3, 4), () and a ``None`` leaf (Muon: two matrices, as torch.optim.Muon
takes 2-D parameters only). The relative error per leaf and step is
``max|momentax - torch| / max|torch|``; it must stay <= 1e-10 in float64 and <= 1e-5 in
float32, except Muon in float32 (2e-3: torch's bfloat16 Newton-Schulz, see
``torch_cases.MUON_FLOAT32``).
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import momentax as mx
import torch_cases as tc
from parity import assert_trajectories_close, torch_trajectory

IGNORED = {"foreach", "fused", "capturable", "differentiable"}
PRESETS = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "Rprop", "ASGD",
           "Adafactor", "Muon"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", tc.CASES, ids=[c.name for c in tc.CASES])
def test_trajectory_matches_torch(case: tc.TorchCase, dtype: str):
    with tc.precision(dtype):
        got, ref = tc.trajectories(case, dtype)
    assert_trajectories_close(got, ref, tc.tolerance(case, dtype), label=f"{case.name} {dtype}")


def _signature(fn) -> dict:
    return {n: p.default for n, p in inspect.signature(fn).parameters.items() if n not in ("self", "params")}


def _kinds(fn) -> list:
    return [(n, p.kind) for n, p in inspect.signature(fn).parameters.items() if n not in ("self", "params")]


@pytest.mark.parametrize("name", PRESETS)
def test_arguments_and_defaults_are_torchs(name: str):
    ours, theirs = getattr(mx.torch, name), getattr(torch.optim, name).__init__
    # Same names, in the same order, positional or keyword-only as in torch (without params).
    assert _kinds(ours) == _kinds(theirs)
    for arg, default in _signature(theirs).items():
        mine = _signature(ours)[arg]
        assert mine == default, f"{name}({arg}=...): momentax default {mine!r}, torch default {default!r}"


@pytest.mark.parametrize("name", PRESETS)
def test_every_argument_is_exercised(name: str):
    """Each argument that changes the arithmetic takes a non-default value in some case."""
    defaults = _signature(getattr(mx.torch, name))
    used = {arg for c in tc.CASES if c.preset == name for arg, v in c.kwargs.items() if v != defaults[arg]}
    missing = set(defaults) - IGNORED - used
    assert not missing, f"{name}: no parity case sets {sorted(missing)}"


def test_asgd_average_matches_torch_ax():
    """torch's ``state["ax"]`` equals ``momentax.eval_params`` while averaging is on (t0 = 20 < 200)."""
    kwargs = {"lr": 0.05, "lambd": 1e-2, "alpha": 0.6, "t0": 20.0, "weight_decay": 0.1}
    held = []

    def make(tensors):
        held.append(torch.optim.ASGD(tensors, foreach=False, **kwargs))
        return held[0]

    with tc.precision("float64"):
        params0, grad_fn = tc.problem("float64")
        traj, state = tc.momentax_run(mx.torch.ASGD(**kwargs), params0, grad_fn)
        torch_trajectory(make, params0, grad_fn, tc.STEPS)
        final = jax.tree.map(lambda x: jnp.asarray(x[-1]), traj)
        averaged = mx.eval_params(state, final)
    leaves = [a for a in jax.tree.leaves(averaged)]
    torch_ax = [held[0].state[p]["ax"].numpy() for p in held[0].param_groups[0]["params"]]
    assert len(leaves) == len(torch_ax) == 4
    for ours, theirs, p in zip(leaves, torch_ax, jax.tree.leaves(final)):
        np.testing.assert_allclose(np.asarray(ours), theirs, rtol=1e-10, atol=1e-12)
        assert np.abs(theirs - np.asarray(p)).max() > 1e-3  # the average is not the last iterate


def _presets_with(arg: str) -> list[str]:
    return [n for n in PRESETS if arg in _signature(getattr(mx.torch, n))]


def test_ignored_flags_are_accepted():
    names = _presets_with("foreach")
    assert len(names) == len(PRESETS) - 1
    for name in names:
        flags = {k: None for k in IGNORED if k in _signature(getattr(mx.torch, name))}
        assert repr(getattr(mx.torch, name)(**flags)) == repr(getattr(mx.torch, name)())


def test_hyperparameters_are_state_not_constants():
    state = mx.torch.NAdam(lr=0.01, betas=(0.8, 0.9)).init(jnp.zeros(2))
    values = {k: float(v) for k, v in mx.hyperparams(state).items()}
    expected = {"b1": 0.8, "b2": 0.9, "eps": 1e-8, "eps_root": 0.0, "momentum_decay": 4e-3, "learning_rate": 0.01}
    assert values.keys() == expected.keys()
    np.testing.assert_allclose([values[k] for k in expected], list(expected.values()), rtol=1e-7)


@pytest.mark.parametrize("make, message", [
    (lambda: mx.torch.SGD(lr=0.1, nesterov=True), "Nesterov momentum requires a momentum > 0"),
    (lambda: mx.torch.SGD(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda: mx.torch.Adam(betas=0.9), "betas must be a pair"),
    (lambda: mx.torch.Adam(betas=(0.9, 1.0)), "b2=1.0 is out of range"),
    (lambda: mx.torch.Rprop(etas=(1.5, 1.2)), "eta_minus=1.5 is out of range"),
    (lambda: mx.torch.Rprop(step_sizes=(1.0, 0.5)), "min_step_size=1.0 exceeds max_step_size=0.5"),
    (lambda: mx.torch.Adagrad(lr_decay=-1.0), "lr_decay=-1.0 is out of range"),
    (lambda: mx.torch.ASGD(t0=-1.0), "t0=-1.0 is out of range"),
])
def test_bad_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_asgd_needs_params():
    opt = mx.torch.ASGD()
    with pytest.raises(ValueError, match=r"scale_by_asgd: update needs the parameters"):
        opt.update(jnp.ones(2), opt.init(jnp.ones(2)))
