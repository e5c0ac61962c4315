"""Every optimizer in the registry lowers the ravine quadratic and the Rosenbrock function.

Problems (float32, parameters as a 2-vector):
- ravine: ``f(x, y) = 0.5 * (x**2 + 100 * y**2)`` from (1, 1), condition number 100; the
  entry's setting must bring f below 1e-3 of its start (f0 = 50.5) within its step budget.
- Rosenbrock: ``f(x, y) = (1 - x)**2 + 100 * (y - x**2)**2`` from (-1.2, 1) (f0 = 24.2); the
  setting must bring f below 1e-2 within its budget.
Each entry states its learning rate and budget in tests/registry.py.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

import momentax as mx
from registry import OPTIMIZERS, Case


def ravine(p):
    return 0.5 * (p[0] ** 2 + 100.0 * p[1] ** 2)


def rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def final_value(tx, f, start, steps):
    """f at the end of ``steps`` steps, run in one jitted ``lax.scan``."""
    grad = jax.grad(f)

    @jax.jit
    def run(params):
        def body(carry, _):
            params, state = carry
            updates, state = tx.update(grad(params), state, params)
            return (mx.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=steps)
        return f(params)

    return float(run(jnp.asarray(start, jnp.float32)))


@pytest.mark.parametrize("case", [c for c in OPTIMIZERS if c.quadratic], ids=lambda c: c.name)
def test_lowers_the_ravine_quadratic(case: Case):
    kwargs, steps = case.quadratic
    start = [1.0, 1.0]
    f0 = ravine(jnp.asarray(start))
    assert final_value(case.make(**kwargs), ravine, start, steps) < 1e-3 * f0


@pytest.mark.parametrize("case", [c for c in OPTIMIZERS if c.rosenbrock], ids=lambda c: c.name)
def test_lowers_rosenbrock(case: Case):
    kwargs, steps = case.rosenbrock
    assert final_value(case.make(**kwargs), rosenbrock, [-1.2, 1.0], steps) < 1e-2
