"""The momentax.torch parity matrix as data, and the runner that measures one configuration.

Every entry of :data:`CASES` names a preset in :mod:`momentax.torch`, the keyword arguments it
is built with, the torch.optim class and the keyword arguments torch gets (the same ones,
since the presets take torch's own names; torch additionally gets ``foreach=False`` so its
single-tensor reference path runs). :func:`measure` runs both for ``STEPS`` steps on the same
problem and returns the worst relative error (see :mod:`parity`). A documentation script can
build its table with::

    from torch_cases import CASES, measure
    rows = [(c.name, measure(c, "float64"), measure(c, "float32")) for c in CASES]

The problem: :func:`parity.noisy_quadratic` over :func:`conftest.random_tree` (leaves of
shapes (5, 3), (3,), (2, 3, 4), () and a ``None`` leaf that torch never sees), or, for Muon
(torch.optim.Muon takes 2-D parameters only), over two matrices of shapes (5, 3) and (4, 6).
For a case with ``maximize=True`` both sides get the negated gradient, so they climb ``-f``
and the trajectory stays bounded. float64 runs with JAX's x64 mode and torch's default dtype set to
float64 (torch keeps some per-parameter scalars, ASGD's ``eta`` and ``mu`` and NAdam's
``mu_product``, in its default dtype); float32 runs with both off.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, NamedTuple

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import torch

import momentax as mx
from conftest import random_tree
from parity import max_rel_error, noisy_quadratic, torch_trajectory

STEPS = 200
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


class TorchCase(NamedTuple):
    """One configuration: ``momentax.torch.<preset>(**kwargs)`` vs ``torch.optim.<torch_name>(**torch_kwargs)``."""

    name: str
    preset: str
    kwargs: dict
    torch_name: str
    torch_kwargs: dict
    problem: str = "tree"  # "tree" (random_tree) or "matrices" (2-D leaves only)
    tolerance: dict | None = None  # {dtype: bound} where it differs from TOLERANCE, with the reason


def case(name: str, preset: str, *, problem: str = "tree", tolerance: dict | None = None, **kwargs: Any) -> TorchCase:
    """A case whose torch side has the same class name and arguments (plus ``foreach=False``
    where torch has that argument)."""
    torch_kwargs = dict(kwargs)
    if "foreach" in inspect.signature(getattr(torch.optim, preset)).parameters:
        torch_kwargs["foreach"] = False
    return TorchCase(name, preset, kwargs, preset, torch_kwargs, problem, tolerance)


def tolerance(c: TorchCase, dtype: str) -> float:
    """The bound on the relative error of a case in a dtype."""
    return (c.tolerance or {}).get(dtype, TOLERANCE[dtype])


# torch.optim.Muon runs its Newton-Schulz iteration in bfloat16. In float32 the momentum
# buffers of the two sides differ in the last bit now and then (torch's lerp rounds
# differently), which can flip a bfloat16 rounding (relative 2**-8) of one element of the
# orthogonalised step; 2e-3 bounds what that leaves after 200 steps. In float64 the inputs
# to the bfloat16 cast agree exactly and the 1e-10 bound holds.
MUON_FLOAT32 = {"float32": 2e-3}

CASES = [
    # Each preset: its defaults, then cases that together set every argument that changes the
    # arithmetic to a non-default value (tests/test_torch_presets.py checks the coverage).
    case("sgd", "SGD", lr=0.1),
    case("sgd_momentum_dampening_weight_decay", "SGD", lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.1),
    case("sgd_nesterov_maximize", "SGD", lr=0.05, momentum=0.9, nesterov=True, maximize=True),
    case("adam_defaults", "Adam"),
    case("adam_amsgrad_weight_decay_maximize", "Adam", lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05,
         amsgrad=True, maximize=True),
    case("adam_decoupled_weight_decay", "Adam", lr=0.02, weight_decay=0.1, decoupled_weight_decay=True,
         capturable=False, differentiable=False),
    case("adamw", "AdamW", lr=0.02, betas=(0.85, 0.95), eps=1e-7, weight_decay=0.3),
    case("adamw_amsgrad_maximize", "AdamW", lr=0.02, amsgrad=True, maximize=True),
    case("adamax_defaults", "Adamax"),
    case("adamax_weight_decay_maximize", "Adamax", lr=0.05, betas=(0.8, 0.99), eps=1e-4, weight_decay=0.1,
         maximize=True),
    case("nadam_defaults", "NAdam"),
    case("nadam_momentum_decay_zero_weight_decay", "NAdam", lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1,
         momentum_decay=0.0),
    case("nadam_decoupled_maximize", "NAdam", lr=0.02, weight_decay=0.1, momentum_decay=0.01,
         decoupled_weight_decay=True, maximize=True),
    case("radam_defaults", "RAdam"),
    case("radam_weight_decay", "RAdam", lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
    case("radam_decoupled_maximize", "RAdam", lr=0.02, weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
    case("rmsprop_defaults", "RMSprop"),
    case("rmsprop_centered_momentum_weight_decay", "RMSprop", lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1,
         momentum=0.7, centered=True),
    case("rmsprop_momentum_maximize", "RMSprop", lr=0.005, alpha=0.95, momentum=0.8, maximize=True),
    case("adagrad_defaults", "Adagrad"),
    case("adagrad_lr_decay_accumulator_weight_decay_maximize", "Adagrad", lr=0.3, lr_decay=0.05, weight_decay=0.1,
         initial_accumulator_value=0.2, eps=1e-6, maximize=True),
    case("adadelta_defaults", "Adadelta"),
    case("adadelta_weight_decay_maximize", "Adadelta", lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True),
    case("rprop_defaults", "Rprop"),
    case("rprop_etas_step_sizes_maximize", "Rprop", lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True),
    case("asgd_defaults", "ASGD"),
    case("asgd_averaging_weight_decay_maximize", "ASGD", lr=0.05, lambd=1e-2, alpha=0.6, t0=20.0, weight_decay=0.1,
         maximize=True),
    case("adafactor_defaults", "Adafactor"),
    case("adafactor_all_maximize", "Adafactor", lr=0.05, beta2_decay=-0.6, eps=(1e-20, 1e-2), d=1.5,
         weight_decay=0.1, maximize=True),
    case("muon_defaults", "Muon", problem="matrices", tolerance=MUON_FLOAT32),
    case("muon_all", "Muon", lr=0.02, weight_decay=0.05, momentum=0.9, nesterov=False,
         ns_coefficients=(2.0, -1.5, 0.5), eps=1e-5, ns_steps=4, adjust_lr_fn="match_rms_adamw",
         problem="matrices", tolerance=MUON_FLOAT32),
]


@contextlib.contextmanager
def precision(dtype: str):
    """JAX's x64 mode and torch's default dtype for a float64 or float32 run.

    torch also runs on one thread: on these tiny tensors its thread pool only adds overhead,
    and on a busy machine it can slow a step down a hundredfold.
    """
    wide = dtype == "float64"
    old, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64 if wide else torch.float32)
    torch.set_num_threads(1)
    try:
        with jax.enable_x64(wide):
            yield
    finally:
        torch.set_default_dtype(old)
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=None)
def problem(dtype: str, maximize: bool = False, kind: str = "tree") -> tuple[Any, Callable]:
    """``(params0, grad_fn)`` for a dtype and problem kind; with ``maximize`` the gradient is negated."""
    if kind == "tree":
        params0 = random_tree(0, np.dtype(dtype))
    else:
        rng = np.random.default_rng(0)
        params0 = {"tall": rng.normal(size=(5, 3)).astype(dtype), "wide": rng.normal(size=(4, 6)).astype(dtype)}
    base = noisy_quadratic(params0, STEPS, seed=4)
    if not maximize:
        return params0, base

    def ascent(params, t):
        return jax.tree.map(jnp.negative, base(params, t))

    return params0, ascent


@functools.partial(jax.jit, static_argnames=("grad_fn", "steps"))
def _scan(tx, state, params, grad_fn, steps):
    # ``tx`` is an argument: optimizers with the same static configuration share one program.
    def body(carry, t):
        p, s = carry
        u, s = tx.update(grad_fn(p, t), s, p)
        p = mx.apply_updates(p, u)
        return (p, s), p

    (_, final), traj = jax.lax.scan(body, (params, state), jnp.arange(steps, dtype=jnp.int32))
    return traj, final


def momentax_run(tx: Any, params0: Any, grad_fn: Callable, steps: int = STEPS) -> tuple[Any, Any]:
    """``(trajectory, final state)`` of ``tx``: the parameters after each step, ``(steps, *shape)`` per leaf."""
    params = jax.tree.map(jnp.asarray, params0)
    traj, final = _scan(tx, tx.init(params), params, grad_fn, steps)
    return jax.tree.map(np.asarray, traj), final


def build(c: TorchCase) -> Any:
    """The momentax side of a case."""
    return getattr(mx.torch, c.preset)(**c.kwargs)


def torch_factory(c: TorchCase) -> Callable[[list], Any]:
    """``tensors -> torch.optim optimizer`` for a case."""
    return lambda tensors: getattr(torch.optim, c.torch_name)(tensors, **c.torch_kwargs)


def trajectories(c: TorchCase, dtype: str) -> tuple[Any, Any]:
    """``(momentax trajectory, torch trajectory)``; call inside :func:`precision`."""
    params0, grad_fn = problem(dtype, bool(c.kwargs.get("maximize", False)), c.problem)
    got, _ = momentax_run(build(c), params0, grad_fn)
    ref = torch_trajectory(torch_factory(c), params0, grad_fn, STEPS, dtype=getattr(torch, dtype))
    return got, ref


def measure(c: TorchCase, dtype: str) -> float:
    """The worst relative error of the momentax trajectory against torch's over ``STEPS`` steps."""
    with precision(dtype):
        got, ref = trajectories(c, dtype)
    return max_rel_error(got, ref)
