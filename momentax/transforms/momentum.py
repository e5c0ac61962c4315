"""Momentum in the "sum" form: ``v = momentum * v + g`` (heavy ball, torch.optim.SGD).

The "average" form ``v = b * v + (1 - b) * g`` lives in :mod:`momentax.transforms.moments`.
The two differ by the factor ``1 - b`` on the step: ``sgd(lr * (1 - b), momentum=b)`` and
``momentum(lr, b)`` follow the same trajectory.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, FRACTION, Hyperparams, validate
from momentax.math import classic as rules
from momentax.storage import check_storage, state_like


class TraceState(NamedTuple):
    """State of :func:`trace`."""

    count: jax.Array  # int32 scalar: steps taken (the first step is undampened)
    trace: Any  # tree like params: the momentum buffer, in mu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"momentum", "dampening"}


def trace(momentum: float = 0.9, *, dampening: float = 0.0, nesterov: bool = False,
          mu_dtype: Any = None) -> GradientTransformation:
    """Heavy-ball momentum with optional dampening and Nesterov's look-ahead.

    For step ``t`` (from 1), with buffer ``v`` starting at zero::

        d   = 0 if t == 1 else dampening
        v'  = momentum * v + (1 - d) * g
        u   = g + momentum * v'   if nesterov else   v'

    This is torch.optim.SGD's buffer exactly (its first step sets ``v = g``, which is the
    formula above with ``d = 0``); with ``dampening=0`` it is optax's ``trace``.

    Args:
      momentum: in [0, 1); state ``momentum``.
      dampening: in [0, 1]; state ``dampening``. Not allowed with ``nesterov``.
      nesterov: static; use Nesterov's look-ahead update (Sutskever et al. 2013).
      mu_dtype: static storage of the buffer: ``None`` (the parameter's dtype), a dtype,
        :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32 either way.

    Shapes and dtypes: the buffer has each parameter's shape; updates keep the gradient's
    dtype.

    Raises:
      ValueError: ``momentum`` or ``dampening`` out of range; ``nesterov`` with non-zero
        ``dampening`` (as torch).
      TypeError: ``mu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: B. T. Polyak, "Some methods of speeding up the convergence of iteration methods",
    1964, https://doi.org/10.1016/0041-5553(64)90137-5; I. Sutskever, J. Martens, G. Dahl,
    G. Hinton, "On the importance of initialization and momentum in deep learning", ICML 2013,
    https://proceedings.mlr.press/v28/sutskever13.html.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.trace(0.9)
      >>> s = tx.init(jnp.zeros(1))
      >>> u, s = tx.update(jnp.array([1.0]), s)
      >>> u, s = tx.update(jnp.array([1.0]), s)
      >>> round(float(u[0]), 6)
      1.9
    """
    where = "trace"
    specs = validate(where, momentum=(momentum, DECAY), dampening=(dampening, FRACTION))
    if nesterov and dampening != 0:
        raise ValueError(f"{where}: Nesterov momentum requires dampening=0 (got {dampening}).")
    check_storage(where, mu_dtype=mu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return TraceState(init_count(), state_like(params, mu_dtype, salt="trace"), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        first = state.count == 0

        def rule(g, v):
            return rules.trace(g, v, h["momentum"], h["dampening"], first, nesterov)

        out, buf = trees.lift(rule, updates, state.trace, names=("updates", "state.trace"), where=where)
        return out, TraceState(safe_increment(state.count), buf, h)

    return GradientTransformation(init, update, name=where, hyper={"momentum": momentum, "dampening": dampening},
                                  static={"nesterov": nesterov or None, "mu_dtype": mu_dtype})
