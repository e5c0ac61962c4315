"""Gradient accumulation over micro-steps, with one accumulator buffer."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import COUNT_DTYPE, GradientTransformation, init_count, safe_increment
from momentax.combine import as_momentax
from momentax.hyperparams import Hyperparams, validate
from momentax.math.common import compute_dtype
from momentax.wrappers._common import AT_LEAST_ONE, check_integer, check_state, zeros_like_output

__all__ = ["AccumulateGradientsState", "accumulate_gradients"]


def _accumulate(g: jax.Array, acc: jax.Array) -> tuple[jax.Array]:
    """Per-array rule of a middle micro-step: ``acc' = acc + g`` (stored in acc's dtype)."""
    dt = jnp.promote_types(acc.dtype, compute_dtype(g))
    return ((acc.astype(dt) + g.astype(dt)).astype(acc.dtype),)


def _mean(g: jax.Array, acc: jax.Array, n: jax.Array) -> tuple[jax.Array]:
    """Per-array rule of the last micro-step: ``(acc + g) / n``, returned in g's dtype."""
    dt = jnp.promote_types(acc.dtype, compute_dtype(g))
    return (((acc.astype(dt) + g.astype(dt)) / n.astype(dt)).astype(g.dtype),)


class AccumulateGradientsState(NamedTuple):
    """State of :func:`accumulate_gradients`."""

    mini_step: jax.Array  # int32 scalar: micro-steps accumulated since the last inner step
    gradient_step: jax.Array  # int32 scalar: inner steps taken, saturating
    acc: Any  # tree like params, acc_dtype: sum of the gradients since the last inner step
    inner_state: Any  # the wrapped transform's state
    hyperparams: Hyperparams  # {"k"}


def accumulate_gradients(inner: Any, k: int, *, acc_dtype: Any = jnp.float32) -> GradientTransformation:
    """Accumulates gradients over ``k`` micro-steps, then runs ``inner`` once on their mean.

    On micro-step ``n`` (counting from 1 since the last inner step)::

        n < k:   acc' = acc + g;  u' = 0                       (inner state untouched)
        n >= k:  u', inner_state' = inner.update((acc + g) / n, inner_state, ...);  acc' = 0

    The only parameter-sized buffer is ``acc`` (no copy of the mean gradient is kept between
    steps); the inner update runs only on the last micro-step (a ``lax.cond``). Because ``k``
    is state, it can change between steps, even inside ``jax.jit``, without recompiling:
    ``momentax.set_hyperparams(state, k=8)``; if the new ``k`` is already reached, the next
    micro-step runs the inner step on the mean of all ``n`` gradients accumulated.

    Args:
      inner: the transform to run on the mean gradient (momentax or optax). Extra keyword
        arguments reach it on the last micro-step of each cycle.
      k: a whole number >= 1, micro-steps per inner step; state ``k``.
      acc_dtype: static; storage dtype of the accumulator (default float32, also for 16-bit
        gradients). The sum and the mean are computed in the wider of it and the gradient's
        compute dtype; under ``jax_enable_x64`` pass ``jnp.float64`` for float64 gradients.

    Returns:
      A transform with state :class:`AccumulateGradientsState`: int32 ``mini_step`` and
      ``gradient_step``, ``acc`` (like params, in ``acc_dtype``) and the inner state. Middle
      micro-steps return zeros of the inner updates' shapes and dtypes.

    Raises:
      ValueError: ``k`` below 1 or not a whole number.
      TypeError: ``inner`` is not a gradient transformation, a parameter is not floating
        point, or ``update`` got another state.
      TreeMismatchError: the gradients' tree differs from the parameters' given to ``init``.

    Note:
      optax's ``MultiSteps(opt, every_k_schedule=k)`` gives the same updates (it keeps a
      running mean instead of a sum, which differs by rounding). It runs the inner update on
      every micro-step and selects the result, which costs a parameter-sized temporary per
      inner buffer; here middle micro-steps do no inner arithmetic. A varying ``k`` is set
      with ``set_hyperparams`` (or a schedule built in the step function) rather than
      optax's ``every_k_schedule`` function.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.accumulate_gradients(momentax.sgd(1.0), k=2)
      >>> state = opt.init(jnp.zeros(1))
      >>> u1, state = opt.update(jnp.array([1.0]), state)
      >>> u2, state = opt.update(jnp.array([3.0]), state)
      >>> u1.tolist(), u2.tolist(), int(state.gradient_step)
      ([0.0], [-2.0], 1)
    """
    where = "accumulate_gradients"
    inner = as_momentax(inner)
    check_integer("k", k, 1, where)
    specs = validate(where, k=(k, AT_LEAST_ONE))
    acc_dtype = jnp.dtype(acc_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return AccumulateGradientsState(init_count(), init_count(), trees.zeros_like_tree(params, acc_dtype),
                                        inner.init(params), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        check_state(state, AccumulateGradientsState, where)
        h = state.hyperparams
        n = safe_increment(state.mini_step)
        emit = n.astype(h["k"].dtype) >= h["k"]
        names = ("updates", "state.acc")

        def run_inner():
            return inner.update(updates, state.inner_state, params, **extra)

        def last():
            (mean,) = trees.lift(lambda g, a: _mean(g, a, n), updates, state.acc, names=names, where=where)
            out, inner_state = inner.update(mean, state.inner_state, params, **extra)
            return out, trees.zeros_like_tree(state.acc), inner_state

        def middle():
            (acc,) = trees.lift(_accumulate, updates, state.acc, names=names, where=where)
            return zeros_like_output(run_inner), acc, state.inner_state

        out, acc, inner_state = jax.lax.cond(emit, last, middle)
        new = AccumulateGradientsState(
            mini_step=jnp.where(emit, jnp.zeros([], COUNT_DTYPE), n),
            gradient_step=jnp.where(emit, safe_increment(state.gradient_step), state.gradient_step),
            acc=acc,
            inner_state=inner_state,
            hyperparams=h,
        )
        return out, new

    return GradientTransformation(init, update, name=where, hyper={"k": k},
                                  static={"acc_dtype": acc_dtype}, children=(inner,))
