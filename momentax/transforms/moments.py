"""Moving averages in the "average" form: ``v = b * v + (1 - b) * g`` (EMA, Adam's moments).

The "sum" form ``v = momentum * v + g`` lives in :mod:`momentax.transforms.momentum`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, Hyperparams, validate
from momentax.math import classic as rules
from momentax.storage import check_storage, state_like


class EmaState(NamedTuple):
    """State of :func:`ema`."""

    count: jax.Array  # int32 scalar: steps taken (for the bias correction)
    ema: Any  # tree like params: the average, in mu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"decay"}


def ema(decay: float = 0.9, *, debias: bool = True, nesterov: bool = False,
        mu_dtype: Any = None) -> GradientTransformation:
    """Exponential moving average of the updates, optionally bias-corrected.

    For step ``t`` (from 1), with ``v`` starting at zero::

        v' = decay * v + (1 - decay) * g
        u  = v'                                  (nesterov: decay * v' + (1 - decay) * g)
        u  = u / (1 - decay**t)                  if debias

    Args:
      decay: in [0, 1); state ``decay``.
      debias: static; divide by ``1 - decay**t`` so early steps are not biased towards zero
        (as optax's ``ema`` default).
      nesterov: static; return the look-ahead average (the EMA form of Nesterov momentum).
      mu_dtype: static storage of the average: ``None`` (the parameter's dtype), a dtype,
        :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32.

    Raises:
      ValueError: ``decay`` out of range.
      TypeError: ``mu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
    https://arxiv.org/abs/1412.6980 (section 3, bias correction).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.ema(0.9, debias=False)
      >>> u, _ = tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))
      >>> round(float(u[0]), 6)
      0.1
    """
    where = "ema"
    specs = validate(where, decay=(decay, DECAY))
    check_storage(where, mu_dtype=mu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return EmaState(init_count(), state_like(params, mu_dtype, salt="ema"), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)

        def rule(g, v):
            return rules.ema(g, v, h["decay"], count, debias, nesterov)

        out, avg = trees.lift(rule, updates, state.ema, names=("updates", "state.ema"), where=where)
        return out, EmaState(count, avg, h)

    return GradientTransformation(init, update, name=where, hyper={"decay": decay},
                                  static={"debias": debias, "nesterov": nesterov or None, "mu_dtype": mu_dtype})
