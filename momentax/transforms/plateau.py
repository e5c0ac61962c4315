"""Reducing the step size when a monitored loss stops improving."""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import COUNT_DTYPE, GradientTransformation, safe_increment
from momentax.hyperparams import NONNEGATIVE, Hyperparams, Interval, default_float, validate
from momentax.math import classic as rules

__all__ = ["ReduceOnPlateauState", "reduce_on_plateau"]

_FACTOR = Interval(0.0, 1.0, lo_open=True, hi_open=True)
_MIN_SCALE = Interval(0.0, 1.0)


class ReduceOnPlateauState(NamedTuple):
    """State of :func:`reduce_on_plateau`."""

    scale: jax.Array  # scalar, default float: the factor applied to the updates
    best: jax.Array  # scalar, default float: the best loss so far (+inf / -inf before any)
    num_bad_steps: jax.Array  # int32 scalar: losses in a row that did not improve on best
    cooldown_count: jax.Array  # int32 scalar: steps left in which bad losses are not counted
    hyperparams: Hyperparams  # {"factor", "patience", "threshold", "cooldown", "min_scale"}


def reduce_on_plateau(factor: float = 0.1, patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                      cooldown: int = 0, min_scale: float = 0.0, mode: str = "min") -> GradientTransformation:
    """Scales updates by a factor that shrinks whenever the loss stops improving.

    The update multiplies by the current ``scale`` (1 at first), then reads the keyword
    argument ``loss`` (the loss at the parameters the gradient was taken at) and updates the
    scale for the next step, exactly as torch's ``ReduceLROnPlateau.step(loss)``::

        better = loss < best * (1 - threshold)    (mode "min", threshold_mode "rel")
                 loss < best - threshold          ("min", "abs")
                 loss > best * (1 + threshold)    ("max", "rel")
                 loss > best + threshold          ("max", "abs")
        if better:  best = loss;  bad = 0        else:  bad = bad + 1
        if cooldown_count > 0:  cooldown_count -= 1;  bad = 0
        if bad > patience:  scale = max(scale * factor, min_scale);  cooldown_count = cooldown;  bad = 0

    ``best`` starts at +inf ("min") or -inf ("max"), so the first loss always counts as
    better. Put the transform after the learning rate (or anywhere in a chain of linear
    steps): ``chain(sgd(lr), reduce_on_plateau())`` steps with ``lr * scale``.

    Args:
      factor: in (0, 1); state ``factor``.
      patience: integer >= 0; state ``patience``: how many bad losses in a row are tolerated.
      threshold: >= 0; state ``threshold``: the improvement that counts, relative or absolute.
      threshold_mode: static, ``"rel"`` or ``"abs"``.
      cooldown: integer >= 0; state ``cooldown``: steps after a reduction during which bad
        losses are not counted.
      min_scale: in [0, 1]; state ``min_scale``: the scale never goes below it (torch's
        ``min_lr`` divided by the initial rate).
      mode: static, ``"min"`` (the loss should fall) or ``"max"`` (it should rise).

    Shapes and dtypes: ``loss`` is a real scalar (array or number); ``scale`` and ``best`` are
    stored in the default float dtype, the counters as int32. Updates keep their dtype.

    Raises:
      ValueError: an argument out of range, a non-integer ``patience`` or ``cooldown``, an
        unknown mode, or a ``loss`` that is not a scalar.
      TypeError: ``update`` called without ``loss=``.

    Note:
      The scale a loss causes applies from the next update on, as torch's scheduler stepped
      after ``optimizer.step()``, so ``chain(sgd(lr), reduce_on_plateau(...))`` fed the loss of
      each step follows the trajectory of torch's SGD with ``ReduceLROnPlateau``. optax's
      ``contrib.reduce_on_plateau`` applies the new scale to the same update and calls the
      argument ``value``. torch also skips reductions smaller than ``eps=1e-8`` in rate
      units; momentax always reduces until ``min_scale``.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.reduce_on_plateau(factor=0.5, patience=1)
      >>> state = tx.init(jnp.zeros(1))
      >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0]:
      ...     updates, state = tx.update(jnp.ones(1), state, loss=loss)
      >>> float(state.scale), float(updates[0])
      (0.25, 0.5)
    """
    where = "reduce_on_plateau"
    for name, value in (("patience", patience), ("cooldown", cooldown)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{where}: {name} must be an integer >= 0 (a number of steps), got {value!r}.")
    if threshold_mode not in ("rel", "abs"):
        raise ValueError(f"{where}: threshold_mode={threshold_mode!r} is not one of ['rel', 'abs'].")
    if mode not in ("min", "max"):
        raise ValueError(f"{where}: mode={mode!r} is not one of ['min', 'max'].")
    specs = validate(where, factor=(factor, _FACTOR), patience=(patience, NONNEGATIVE),
                     threshold=(threshold, NONNEGATIVE), cooldown=(cooldown, NONNEGATIVE),
                     min_scale=(min_scale, _MIN_SCALE))
    sign = 1.0 if mode == "min" else -1.0

    def init(params):
        del params
        dt = default_float()
        zero = jnp.zeros([], COUNT_DTYPE)
        return ReduceOnPlateauState(jnp.ones([], dt), jnp.asarray(sign * math.inf, dt), zero, zero,
                                    Hyperparams.create(specs))

    def is_better(loss, best, threshold_):
        if threshold_mode == "rel":
            bar = best * (1 - sign * threshold_)
        else:
            bar = best - sign * threshold_
        return loss < bar if mode == "min" else loss > bar

    def update(updates, state, params=None, *, loss=None, **extra):
        del params, extra
        if loss is None:
            raise TypeError(f"{where}: update needs the current loss as a keyword argument: "
                            f"update(updates, state, params, loss=loss_value).")
        if jnp.ndim(loss) != 0:
            raise ValueError(f"{where}: loss must be a scalar, got shape {list(jnp.shape(loss))}; reduce it "
                             f"(e.g. take the mean) before passing it.")
        h = state.hyperparams
        (out,) = trees.lift(lambda g: rules.scale(g, state.scale), updates, names=("updates",), where=where)

        current = jnp.asarray(loss).astype(state.best.dtype)
        better = is_better(current, state.best, h["threshold"])
        best = jnp.where(better, current, state.best)
        bad = jnp.where(better, 0, safe_increment(state.num_bad_steps))
        cooling = state.cooldown_count > 0
        cooldown_count = jnp.where(cooling, state.cooldown_count - 1, state.cooldown_count)
        bad = jnp.where(cooling, 0, bad)
        reduce = bad > h["patience"]
        scale = jnp.where(reduce, jnp.maximum(state.scale * h["factor"], h["min_scale"]), state.scale)
        cooldown_count = jnp.where(reduce, h["cooldown"].astype(COUNT_DTYPE), cooldown_count)
        bad = jnp.where(reduce, 0, bad)
        new_state = ReduceOnPlateauState(scale.astype(state.scale.dtype), best, bad.astype(COUNT_DTYPE),
                                         cooldown_count.astype(COUNT_DTYPE), h)
        return out, new_state

    return GradientTransformation(init, update, name=where,
                                  hyper={"factor": factor, "patience": patience, "threshold": threshold,
                                         "cooldown": cooldown, "min_scale": min_scale},
                                  static={"threshold_mode": threshold_mode, "mode": mode})
