"""Rprop: per-element step sizes driven by the gradient's sign (rule in momentax.math.rprop)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax

from momentax import trees
from momentax.base import GradientTransformation
from momentax.hyperparams import NONNEGATIVE, POSITIVE, Hyperparams, Interval, validate
from momentax.math import rprop as rules

__all__ = ["ScaleByRpropState", "scale_by_rprop"]

_SHRINK = Interval(0.0, 1.0, lo_open=True, hi_open=True)  # eta_minus in (0, 1)
_GROW = Interval(1.0, math.inf, lo_open=True, hi_open=True)  # eta_plus in (1, inf)


class ScaleByRpropState(NamedTuple):
    """State of :func:`scale_by_rprop`."""

    prev: Any  # tree like params: the last gradient, zeroed where its sign flipped (param dtype)
    step_sizes: Any  # tree like params: each element's current step size (param dtype)
    hyperparams: Hyperparams  # {"eta_minus", "eta_plus", "min_step_size", "max_step_size"}


def scale_by_rprop(learning_rate: float = 1e-2, eta_minus: float = 0.5, eta_plus: float = 1.2,
                   min_step_size: float = 1e-6, max_step_size: float = 50.0) -> GradientTransformation:
    """Rprop's sign-based step, in the ascent direction (chain ``scale(-1.0)`` to descend).

    Each element keeps its own step size ``d``, starting at ``learning_rate``, and the last
    gradient ``prev``, starting at zero. For each step::

        s     = sign(g * prev)
        d'    = clip(d * (eta_plus if s > 0 else eta_minus if s < 0 else 1),
                     min_step_size, max_step_size)
        g'    = 0 where s < 0, else g
        u     = sign(g') * d'
        prev' = g'

    After a sign flip the element does not move and its ``prev`` is zero, so the next step
    neither grows nor shrinks it again (torch's "Rprop-" variant without backtracking).

    Args:
      learning_rate: >= 0; static: the initial step size of every element. It only sets
        ``state.step_sizes`` in ``init``; the step sizes then evolve on their own.
      eta_minus: in (0, 1); state ``eta_minus`` (shrink factor after a sign flip).
      eta_plus: > 1; state ``eta_plus`` (growth factor while the sign holds).
      min_step_size: >= 0; state ``min_step_size``.
      max_step_size: > 0 and >= ``min_step_size``; state ``max_step_size``.

    Shapes and dtypes: ``prev`` and ``step_sizes`` have each parameter's shape and dtype;
    updates keep the gradient's dtype.

    Note:
      momentax follows torch.optim.Rprop: the update of step ``t`` uses the gradient of step
      ``t``. optax 0.2.8's ``scale_by_rprop`` returns, at step ``t``, the move computed at
      step ``t - 1`` (its first update is zero), so its trajectory lags by one step.

    Raises:
      ValueError: an argument out of range, or ``min_step_size > max_step_size``.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: M. Riedmiller, H. Braun, "A direct adaptive method for faster backpropagation
    learning: the RPROP algorithm", IEEE ICNN 1993, https://doi.org/10.1109/ICNN.1993.298623.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_rprop(learning_rate=0.1)
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([3.0, -2.0]), s)
      >>> u.tolist()
      [0.10000000149011612, -0.10000000149011612]
      >>> u, s = tx.update(jnp.array([1.0, 5.0]), s)   # same sign: grow; flip: shrink, no move
      >>> [round(x, 6) for x in u.tolist()], [round(x, 6) for x in s.step_sizes.tolist()]
      ([0.12, 0.0], [0.12, 0.05])
    """
    where = "scale_by_rprop"
    validate(where, learning_rate=(learning_rate, NONNEGATIVE))
    specs = validate(where, eta_minus=(eta_minus, _SHRINK), eta_plus=(eta_plus, _GROW),
                     min_step_size=(min_step_size, NONNEGATIVE), max_step_size=(max_step_size, POSITIVE))
    concrete = not any(isinstance(v, jax.core.Tracer) for v in (min_step_size, max_step_size))
    if concrete and float(min_step_size) > float(max_step_size):
        raise ValueError(f"{where}: min_step_size={min_step_size!r} exceeds max_step_size={max_step_size!r}; "
                         f"the step sizes are clipped to [min_step_size, max_step_size].")

    def init(params):
        trees.check_float_leaves(params, "params", where)
        sizes = jax.tree.map(lambda z: z + learning_rate, trees.zeros_like_tree(params))
        return ScaleByRpropState(trees.zeros_like_tree(params), sizes, Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams

        def rule(g, prev, size):
            return rules.rprop(g, prev, size, h["eta_minus"], h["eta_plus"], h["min_step_size"], h["max_step_size"])

        out, prev, sizes = trees.lift(rule, updates, state.prev, state.step_sizes,
                                      names=("updates", "state.prev", "state.step_sizes"), where=where)
        return out, ScaleByRpropState(prev, sizes, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"eta_minus": eta_minus, "eta_plus": eta_plus, "min_step_size": min_step_size,
                                         "max_step_size": max_step_size},
                                  static={"learning_rate": learning_rate})
