"""momentax's classic optimizers follow torch.optim's trajectories (float64, 100 steps).

Every configuration runs torch.optim (CPU, float64, the single-tensor path) and the documented
momentax call on the same noisy quadratic (see :func:`parity.noisy_quadratic`) over the tree
of :func:`conftest.random_tree`: leaves of shapes (5, 3), (3,), (2, 3, 4) and (), plus a
``None`` leaf that momentax must pass through and torch never sees. The momentax side runs as
one jitted step function. Relative error, per leaf and step, is
``max|momentax - torch| / max(|torch|, tiny)``; it must stay <= 1e-10 everywhere.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import pytest
import torch

import momentax as mx
from conftest import random_tree
from parity import assert_trajectories_close, momentax_trajectory, noisy_quadratic, torch_trajectory

STEPS = 100
RTOL = 1e-10
PARAMS0 = random_tree(0)
GRAD_FN = noisy_quadratic(PARAMS0, STEPS, seed=1)


class Config(NamedTuple):
    name: str
    torch_opt: Callable[[list], Any]  # tensors -> torch.optim.Optimizer
    momentax_opt: Callable[[], Any]  # () -> momentax optimizer (built inside the x64 fixture)


T = torch.optim


def _adagrad_lr_decay(count):
    return 0.2 / (1.0 + count * 0.05)


CONFIGS = [
    # SGD
    Config("sgd", lambda p: T.SGD(p, lr=0.1, foreach=False), lambda: mx.sgd(0.1)),
    Config("sgd_momentum", lambda p: T.SGD(p, lr=0.1, momentum=0.9, foreach=False),
           lambda: mx.sgd(0.1, momentum=0.9)),
    Config("sgd_nesterov", lambda p: T.SGD(p, lr=0.1, momentum=0.9, nesterov=True, foreach=False),
           lambda: mx.sgd(0.1, momentum=0.9, nesterov=True)),
    Config("sgd_momentum_dampening", lambda p: T.SGD(p, lr=0.1, momentum=0.9, dampening=0.3, foreach=False),
           lambda: mx.sgd(0.1, momentum=0.9, dampening=0.3)),
    Config("sgd_weight_decay", lambda p: T.SGD(p, lr=0.1, weight_decay=0.05, foreach=False),
           lambda: mx.sgd(0.1, weight_decay=0.05)),
    Config("sgd_momentum_weight_decay",
           lambda p: T.SGD(p, lr=0.05, momentum=0.8, dampening=0.1, weight_decay=0.05, foreach=False),
           lambda: mx.sgd(0.05, momentum=0.8, dampening=0.1, weight_decay=0.05)),
    # Adagrad: torch's defaults are lr=0.01, initial_accumulator_value=0, eps=1e-10.
    Config("adagrad_defaults", lambda p: T.Adagrad(p, foreach=False), lambda: mx.adagrad(0.01)),
    Config("adagrad_init_weight_decay",
           lambda p: T.Adagrad(p, lr=0.3, initial_accumulator_value=0.2, eps=1e-6, weight_decay=0.1, foreach=False),
           lambda: mx.adagrad(0.3, initial_accumulator_value=0.2, eps=1e-6, weight_decay=0.1)),
    # torch's lr_decay is, as momentax.adagrad's docstring says, the schedule lr / (1 + t * lr_decay).
    Config("adagrad_lr_decay_schedule", lambda p: T.Adagrad(p, lr=0.2, lr_decay=0.05, foreach=False),
           lambda: mx.adagrad(_adagrad_lr_decay)),
    # Adadelta: torch's defaults are lr=1.0, rho=0.9, eps=1e-6.
    Config("adadelta_defaults", lambda p: T.Adadelta(p, foreach=False), lambda: mx.adadelta()),
    Config("adadelta_lr_weight_decay",
           lambda p: T.Adadelta(p, lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, foreach=False),
           lambda: mx.adadelta(0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    # RMSprop: torch's defaults are lr=0.01, alpha=0.99, eps=1e-8.
    Config("rmsprop", lambda p: T.RMSprop(p, foreach=False), lambda: mx.rmsprop(0.01)),
    Config("rmsprop_centered", lambda p: T.RMSprop(p, lr=0.01, alpha=0.9, centered=True, foreach=False),
           lambda: mx.rmsprop(0.01, decay=0.9, centered=True)),
    Config("rmsprop_momentum", lambda p: T.RMSprop(p, lr=0.01, alpha=0.95, momentum=0.8, foreach=False),
           lambda: mx.rmsprop(0.01, decay=0.95, momentum=0.8)),
    Config("rmsprop_centered_momentum",
           lambda p: T.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6, momentum=0.7, centered=True, foreach=False),
           lambda: mx.rmsprop(0.01, decay=0.9, eps=1e-6, momentum=0.7, centered=True)),
    Config("rmsprop_weight_decay", lambda p: T.RMSprop(p, lr=0.01, weight_decay=0.1, foreach=False),
           lambda: mx.rmsprop(0.01, weight_decay=0.1)),
    # Adam (weight_decay is coupled L2) and AdamW (decoupled, lr-scaled; torch default 1e-2).
    Config("adam", lambda p: T.Adam(p, lr=0.01, foreach=False), lambda: mx.adam(0.01)),
    Config("adam_weight_decay",
           lambda p: T.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, foreach=False),
           lambda: mx.adam(0.02, b1=0.8, b2=0.99, eps=1e-6, weight_decay=0.1)),
    Config("adamw", lambda p: T.AdamW(p, lr=0.01, foreach=False), lambda: mx.adamw(0.01)),
    Config("adamw_weight_decay", lambda p: T.AdamW(p, lr=0.02, betas=(0.85, 0.95), weight_decay=0.3, foreach=False),
           lambda: mx.adamw(0.02, b1=0.85, b2=0.95, weight_decay=0.3)),
]


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_matches_torch(config, x64):
    expected = torch_trajectory(config.torch_opt, PARAMS0, GRAD_FN, STEPS)
    got = momentax_trajectory(config.momentax_opt(), PARAMS0, GRAD_FN, STEPS)
    assert got["frozen"] is None
    assert_trajectories_close(got, expected, RTOL, config.name)


def test_trajectories_move(x64):
    """The comparison is not vacuous: parameters move far from where they start."""
    expected = torch_trajectory(CONFIGS[0].torch_opt, PARAMS0, GRAD_FN, STEPS)
    start = PARAMS0["dense"]["w"]
    assert abs(expected["dense"]["w"][-1] - start).max() > 0.5


@pytest.mark.parametrize("b", [0.5, 0.9])
def test_momentum_is_scaled_sgd(b, x64):
    """``momentum(lr, b)`` follows ``sgd(lr * (1 - b), momentum=b)``, as its docstring claims."""
    lr = 0.2
    got = momentax_trajectory(mx.momentum(lr, b), PARAMS0, GRAD_FN, STEPS)
    expected = momentax_trajectory(mx.sgd(lr * (1 - b), momentum=b), PARAMS0, GRAD_FN, STEPS)
    assert_trajectories_close(got, expected, RTOL, f"momentum({lr}, {b})")


@pytest.mark.parametrize("b", [0.5, 0.9])
def test_nesterov_is_scaled_sgd_nesterov(b, x64):
    """``nesterov(lr, b)`` follows ``sgd(lr * (1 - b), momentum=b, nesterov=True)``."""
    lr = 0.2
    got = momentax_trajectory(mx.nesterov(lr, b), PARAMS0, GRAD_FN, STEPS)
    expected = momentax_trajectory(mx.sgd(lr * (1 - b), momentum=b, nesterov=True), PARAMS0, GRAD_FN, STEPS)
    assert_trajectories_close(got, expected, RTOL, f"nesterov({lr}, {b})")
