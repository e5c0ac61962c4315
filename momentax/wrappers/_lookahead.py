"""Lookahead: fast weights explored by an inner optimizer, slow weights pulled towards them."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import COUNT_DTYPE, GradientTransformation, init_count, safe_increment
from momentax.combine import as_momentax
from momentax.hyperparams import FRACTION, Hyperparams, validate
from momentax.math.common import compute_dtype
from momentax.wrappers._common import AT_LEAST_ONE, check_integer, check_state, copy_tree, require_params

__all__ = ["LookaheadState", "lookahead"]


def _step(u: jax.Array, p: jax.Array, slow: jax.Array, alpha: jax.Array, sync: jax.Array
          ) -> tuple[jax.Array, jax.Array]:
    """Per-array rule: returns ``(u', slow')``.

    ``fast = p + u`` (rounded to p's dtype, as ``apply_updates`` does); on a sync step
    ``slow' = slow + alpha * (fast - slow)`` and ``u' = slow' - p`` (the fast weights jump to
    the new slow weights), otherwise ``slow' = slow`` and ``u' = u``.
    """
    dt = compute_dtype(u)
    fast = (p + u).astype(p.dtype).astype(dt)
    s = slow.astype(dt)
    new_slow = (s + alpha.astype(dt) * (fast - s)).astype(slow.dtype)
    jump = new_slow.astype(dt) - p.astype(dt)
    return jnp.where(sync, jump.astype(u.dtype), u), jnp.where(sync, new_slow, slow)


class LookaheadState(NamedTuple):
    """State of :func:`lookahead`; ``momentax.eval_params`` gives the slow weights."""

    slow: Any  # tree like params (param dtype): the slow weights
    steps_since_sync: jax.Array  # int32 scalar: fast steps since the last synchronisation
    inner_state: Any  # the fast (inner) optimizer's state
    hyperparams: Hyperparams  # {"sync_period", "alpha"}

    def eval_params(self, params: Any) -> Any:
        """The slow weights, with the structure (checked) and dtypes of ``params``."""
        leaves, treedef = jax.tree.flatten(params)
        slow = trees.leaves_like(treedef, self.slow, "params", "state.slow", "lookahead.eval_params", params)
        return jax.tree.unflatten(treedef, [s.astype(p.dtype) for s, p in zip(slow, leaves)])


def lookahead(inner: Any, sync_period: int = 6, alpha: float = 0.5) -> GradientTransformation:
    """Lookahead: ``sync_period`` fast steps forward, then one step back towards the slow weights.

    The parameters the caller holds are the fast weights ``theta``; the state keeps the slow
    weights ``phi`` (starting at the initial parameters). Each step::

        u, inner_state' = inner.update(g, inner_state, theta, ...)
        theta_new = theta + u
        every sync_period-th step:  phi' = phi + alpha * (theta_new - phi);  u' = phi' - theta
        otherwise:                  phi' = phi;                              u' = u

    so ``apply_updates(theta, u')`` is ``theta_new``, or on a sync step the new slow weights
    (the fast weights restart from them; equal up to one rounding of ``phi' - theta``).
    Evaluate with the slow weights: ``momentax.eval_params(state, params)``.

    Args:
      inner: the fast optimizer (momentax or optax); extra keyword arguments reach it.
      sync_period: a whole number >= 1 (the paper's ``k``); state ``sync_period``.
      alpha: in [0, 1], the slow step size; state ``alpha``.

    Returns:
      A transform with state :class:`LookaheadState`: ``slow`` (like params, in their
      dtypes), an int32 ``steps_since_sync`` and the inner state.

    Raises:
      ValueError: an argument out of range; ``update`` called without ``params``.
      TypeError: ``inner`` is not a gradient transformation, or ``update`` got another state.
      TreeMismatchError: ``params`` or the updates do not have the structure ``init`` saw.

    Note:
      The arithmetic is optax's ``lookahead(inner, sync_period, slow_step_size=alpha)``, but
      optax makes the caller hold ``LookaheadParams(fast, slow)`` and apply updates to both;
      here the caller holds ordinary parameters (the fast ones) and the slow ones live in the
      state. optax's ``reset_state`` option is not offered: the inner state carries on over
      a synchronisation, as in the paper's experiments.

    Source: M. R. Zhang, J. Lucas, G. Hinton, J. Ba, "Lookahead Optimizer: k steps forward,
    1 step back", NeurIPS 2019, https://arxiv.org/abs/1907.08610.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.lookahead(momentax.sgd(1.0), sync_period=2, alpha=0.5)
      >>> p = jnp.zeros(1)
      >>> state = opt.init(p)
      >>> for _ in range(2):
      ...     u, state = opt.update(jnp.ones(1), state, p)
      ...     p = momentax.apply_updates(p, u)
      >>> p.tolist(), momentax.eval_params(state, p).tolist()
      ([-1.0], [-1.0])
    """
    where = "lookahead"
    inner = as_momentax(inner)
    check_integer("sync_period", sync_period, 1, where)
    specs = validate(where, sync_period=(sync_period, AT_LEAST_ONE), alpha=(alpha, FRACTION))

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return LookaheadState(copy_tree(params), init_count(), inner.init(params), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        check_state(state, LookaheadState, where)
        require_params(params, where)
        h = state.hyperparams
        out, inner_state = inner.update(updates, state.inner_state, params, **extra)
        n = safe_increment(state.steps_since_sync)
        sync = n.astype(h["sync_period"].dtype) >= h["sync_period"]
        out, slow = trees.lift(lambda u, p, s: _step(u, p, s, h["alpha"], sync), out, params, state.slow,
                               names=("updates", "params", "state.slow"), where=where)
        steps = jnp.where(sync, jnp.zeros([], COUNT_DTYPE), n)
        return out, LookaheadState(slow, steps, inner_state, h)

    return GradientTransformation(init, update, name=where, hyper={"sync_period": sync_period, "alpha": alpha},
                                  children=(inner,))
