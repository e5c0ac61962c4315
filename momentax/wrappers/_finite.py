"""Skipping bad steps: non-finite gradients (``apply_if_finite``) and loss spikes."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from momentax.base import COUNT_DTYPE, GradientTransformation, init_count, safe_increment
from momentax.combine import as_momentax
from momentax.hyperparams import DECAY, NONNEGATIVE, Hyperparams, default_float, validate
from momentax.wrappers._common import AT_LEAST_ONE, all_finite, check_integer, check_state, zeros_like_output

__all__ = ["ApplyIfFiniteState", "apply_if_finite", "SkipOnLossSpikeState", "skip_on_loss_spike"]


def _run_or_skip(apply, inner, updates, inner_state, params, extra):
    """``inner.update(...)`` if ``apply``, else zero updates and ``inner_state`` untouched.

    ``lax.cond`` runs only the chosen branch, so a skipped step costs no inner arithmetic
    and returns the very buffers of the old inner state (bit for bit).
    """

    def run():
        return inner.update(updates, inner_state, params, **extra)

    def skip():
        return zeros_like_output(run), inner_state

    return jax.lax.cond(apply, run, skip)


class ApplyIfFiniteState(NamedTuple):
    """State of :func:`apply_if_finite`."""

    notfinite_count: jax.Array  # int32 scalar: consecutive non-finite steps up to now (0 after a finite one)
    last_finite: jax.Array  # bool scalar: whether the last step's updates were all finite
    total_notfinite: jax.Array  # int32 scalar: non-finite steps in total, saturating
    inner_state: Any  # the wrapped transform's state
    hyperparams: Hyperparams  # {"max_consecutive_errors"}


def apply_if_finite(inner: Any, max_consecutive_errors: int = 5) -> GradientTransformation:
    """Skips steps whose incoming updates contain a NaN or an infinity.

    For each step, with ``n`` the number of consecutive non-finite steps including this one::

        finite = every element of every leaf of the updates is finite
        n'     = 0 if finite else n + 1
        apply  = finite or n' > max_consecutive_errors
        u', inner_state' = inner.update(u, inner_state, ...)   if apply
                           zeros, inner_state (unchanged)      otherwise

    So up to ``max_consecutive_errors`` bad steps in a row are skipped; the next bad step in
    the row, and every further one until a finite step, is passed to ``inner`` as it is.
    Extra keyword arguments reach ``inner`` unchanged.

    Args:
      inner: the transform to protect (momentax or optax).
      max_consecutive_errors: a whole number >= 0; state ``max_consecutive_errors``.

    Returns:
      A transform with state :class:`ApplyIfFiniteState` (int32 counters ``notfinite_count``
      and ``total_notfinite``, a bool ``last_finite``, the inner state). Skipped updates are
      zeros of the inner updates' shapes and dtypes, so ``apply_updates`` leaves the parameters
      unchanged.

    Raises:
      ValueError: ``max_consecutive_errors`` negative or not a whole number.
      TypeError: ``inner`` is not a gradient transformation, or ``update`` got another state.

    Note:
      The rule, the state fields and the give-up behaviour are optax's ``apply_if_finite``
      (which has no default for ``max_consecutive_errors``).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.apply_if_finite(momentax.sgd(0.1), max_consecutive_errors=2)
      >>> state = opt.init(jnp.zeros(2))
      >>> u, state = opt.update(jnp.array([1.0, jnp.nan]), state)
      >>> u.tolist(), int(state.notfinite_count), bool(state.last_finite)
      ([0.0, 0.0], 1, False)
    """
    where = "apply_if_finite"
    inner = as_momentax(inner)
    check_integer("max_consecutive_errors", max_consecutive_errors, 0, where)
    specs = validate(where, max_consecutive_errors=(max_consecutive_errors, NONNEGATIVE))

    def init(params):
        return ApplyIfFiniteState(init_count(), jnp.asarray(True), init_count(), inner.init(params),
                                  Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        check_state(state, ApplyIfFiniteState, where)
        h = state.hyperparams
        finite = all_finite(updates)
        count = jnp.where(finite, jnp.zeros([], COUNT_DTYPE), safe_increment(state.notfinite_count))
        apply = finite | (count.astype(h["max_consecutive_errors"].dtype) > h["max_consecutive_errors"])
        out, inner_state = _run_or_skip(apply, inner, updates, state.inner_state, params, extra)
        total = jnp.where(finite, state.total_notfinite, safe_increment(state.total_notfinite))
        return out, ApplyIfFiniteState(count, finite, total, inner_state, h)

    return GradientTransformation(init, update, name=where, hyper={"max_consecutive_errors": max_consecutive_errors},
                                  children=(inner,))


class SkipOnLossSpikeState(NamedTuple):
    """State of :func:`skip_on_loss_spike`."""

    count: jax.Array  # int32 scalar: losses folded into the statistics, saturating
    mean: jax.Array  # scalar, default float: exponential moving average of the loss
    var: jax.Array  # scalar, default float: exponential moving variance of the loss
    consecutive_skips: jax.Array  # int32 scalar: skipped steps in a row up to now
    total_skips: jax.Array  # int32 scalar: skipped steps in total, saturating
    last_skipped: jax.Array  # bool scalar: whether the last step was skipped
    inner_state: Any  # the wrapped transform's state
    hyperparams: Hyperparams  # {"threshold", "decay", "warmup", "max_consecutive_skips"}


def skip_on_loss_spike(inner: Any, threshold: float = 6.0, decay: float = 0.99, warmup: int = 100, *,
                       max_consecutive_skips: int = 10) -> GradientTransformation:
    """Skips steps whose loss jumps far above its running mean.

    ``update`` needs the step's loss, ``update(grads, state, params, loss=loss)``. With ``m``,
    ``v`` the running mean and variance of the losses folded in so far and ``c`` their count::

        spike  = loss is NaN/inf  or  (c >= warmup  and  loss > m + threshold * sqrt(v))
        s'     = s + 1 if spike else 0                      (consecutive skips)
        apply  = not spike  or  s' > max_consecutive_skips
        u', inner_state' = inner.update(u, inner_state, ..., loss=loss)   if apply
                           zeros, inner_state (unchanged)                 otherwise

    After an applied step with a finite loss, the loss is folded into the statistics
    (exponentially weighted mean and variance; the first loss sets ``m = loss, v = 0``)::

        d  = loss - m
        m' = m + (1 - decay) * d
        v' = decay * (v + (1 - decay) * d**2)

    Skipped losses are left out of ``m`` and ``v``, so one spike does not widen the band; an
    applied step resets ``s`` to 0. ``max_consecutive_skips`` bounds the skips in a row so that
    a lasting change of the loss level cannot stop training for good: the step after that
    many skips is applied and its loss folded in.

    Args:
      inner: the transform to protect (momentax or optax); it receives ``loss=`` too.
      threshold: >= 0, in standard deviations of the loss; state ``threshold``.
      decay: in [0, 1); state ``decay``; the statistics average over about
        ``1 / (1 - decay)`` steps.
      warmup: a whole number >= 1; state ``warmup``. No step is skipped for a spike before
        ``warmup`` losses have been folded in (non-finite losses are always skipped).
      max_consecutive_skips: a whole number >= 0; state ``max_consecutive_skips``.

    Returns:
      A transform with state :class:`SkipOnLossSpikeState`: the statistics (default float
      scalars), int32 counters ``count``, ``consecutive_skips``, ``total_skips``, a bool
      ``last_skipped``, and the inner state.

    Raises:
      ValueError: an argument out of range; ``update`` called without ``loss=``, or with a
        loss that is not a scalar.
      TypeError: ``inner`` is not a gradient transformation, or ``update`` got another state.

    Source: the running statistics are the incremental exponentially weighted mean and
    variance of T. Finch, "Incremental calculation of weighted mean and variance", 2009,
    https://fanf2.user.srcf.net/hermes/doc/antiforgery/stats.pdf.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.skip_on_loss_spike(momentax.sgd(0.1), threshold=3.0, warmup=2)
      >>> state = opt.init(jnp.zeros(1))
      >>> for loss in [1.0, 1.2, 0.9]:
      ...     _, state = opt.update(jnp.ones(1), state, loss=loss)
      >>> u, state = opt.update(jnp.ones(1), state, loss=50.0)
      >>> u.tolist(), int(state.total_skips), bool(state.last_skipped)
      ([0.0], 1, True)
    """
    where = "skip_on_loss_spike"
    inner = as_momentax(inner)
    check_integer("warmup", warmup, 1, where)
    check_integer("max_consecutive_skips", max_consecutive_skips, 0, where)
    specs = validate(where, threshold=(threshold, NONNEGATIVE), decay=(decay, DECAY),
                     warmup=(warmup, AT_LEAST_ONE), max_consecutive_skips=(max_consecutive_skips, NONNEGATIVE))

    def init(params):
        zero = jnp.zeros([], default_float())
        return SkipOnLossSpikeState(init_count(), zero, zero, init_count(), init_count(), jnp.asarray(False),
                                    inner.init(params), Hyperparams.create(specs))

    def update(updates, state, params=None, *, loss=None, **extra):
        check_state(state, SkipOnLossSpikeState, where)
        if loss is None:
            raise ValueError(
                f"{where}: update needs the step's loss as a keyword argument; call "
                f"update(grads, state, params, loss=loss)."
            )
        if np.shape(loss) != ():
            raise ValueError(f"{where}: loss must be a scalar, got shape {list(np.shape(loss))}.")
        h = state.hyperparams
        dt = state.mean.dtype
        x = jnp.asarray(loss).astype(dt)
        finite = jnp.isfinite(x)
        warm = state.count.astype(dt) >= h["warmup"]
        high = x > state.mean + h["threshold"] * jnp.sqrt(state.var)
        spike = ~finite | (warm & high)
        skips = jnp.where(spike, safe_increment(state.consecutive_skips), jnp.zeros([], COUNT_DTYPE))
        apply = ~spike | (skips.astype(dt) > h["max_consecutive_skips"])
        out, inner_state = _run_or_skip(apply, inner, updates, state.inner_state, params, {**extra, "loss": loss})

        fold = apply & finite
        first = state.count == 0
        d = jnp.where(finite, x - state.mean, 0)
        b = h["decay"].astype(dt)
        mean = jnp.where(first, x, state.mean + (1 - b) * d)
        var = jnp.where(first, jnp.zeros([], dt), b * (state.var + (1 - b) * d * d))
        new = SkipOnLossSpikeState(
            count=jnp.where(fold, safe_increment(state.count), state.count),
            mean=jnp.where(fold, mean, state.mean),
            var=jnp.where(fold, var, state.var),
            consecutive_skips=jnp.where(apply, jnp.zeros([], COUNT_DTYPE), skips),
            total_skips=jnp.where(apply, state.total_skips, safe_increment(state.total_skips)),
            last_skipped=~apply,
            inner_state=inner_state,
            hyperparams=h,
        )
        return out, new

    return GradientTransformation(init, update, name=where,
                                  hyper={"threshold": threshold, "decay": decay, "warmup": warmup,
                                         "max_consecutive_skips": max_consecutive_skips},
                                  children=(inner,))
