"""Scaling by a constant and by a (scheduled) learning rate."""

from __future__ import annotations

from typing import Callable, NamedTuple, Union

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import NONNEGATIVE, REAL, SCHEDULED, Hyperparams, default_float, validate
from momentax.math import classic as rules

ScheduleFn = Callable[[jax.Array], jax.Array]  # any step -> value function
ScalarOrSchedule = Union[float, jax.Array, ScheduleFn]


class ScaleState(NamedTuple):
    """State of :func:`scale` and of :func:`scale_by_learning_rate` with a constant rate."""

    hyperparams: Hyperparams  # {"step_size"} or {"learning_rate"}: scalar, default float dtype


class ScheduleState(NamedTuple):
    """State of :func:`scale_by_learning_rate` with a schedule."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    hyperparams: Hyperparams  # {"learning_rate"}: the value the last step used (read-only)


def _scaled(updates, factor, where):
    (out,) = trees.lift(lambda g: rules.scale(g, factor), updates, names=("updates",), where=where)
    return out


def scale(step_size: float) -> GradientTransformation:
    """Multiplies updates by a constant: ``u' = step_size * u``.

    Args:
      step_size: any finite real scalar (units of the update per unit of gradient). Kept in
        the state as ``step_size``; changing it does not recompile.

    Raises:
      ValueError: ``step_size`` is NaN or infinite.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale(-0.5)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0].tolist()
      [-1.0]
    """
    specs = validate("scale", step_size=(step_size, REAL))

    def init(params):
        del params
        return ScaleState(Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        return _scaled(updates, state.hyperparams["step_size"], "scale"), state

    return GradientTransformation(init, update, name="scale", hyper={"step_size": step_size})


def scale_by_learning_rate(learning_rate: ScalarOrSchedule, *, flip_sign: bool = True) -> GradientTransformation:
    """Scales updates by the learning rate, turning a descent direction into a step.

    ``u' = -learning_rate * u`` (or ``+learning_rate * u`` with ``flip_sign=False``). With a
    schedule, the rate for step ``t`` (counting from 0) is ``learning_rate(t)``.

    Args:
      learning_rate: a non-negative float, kept in the state as ``learning_rate`` (changing it
        does not recompile), or a schedule ``step -> value`` evaluated inside the update.
      flip_sign: static; ``True`` for descent (the minus sign lives here, so
        ``apply_updates`` is a plain add).

    Raises:
      ValueError: a constant ``learning_rate`` is negative or NaN.

    Note:
      momentax applies the learning rate after any momentum buffer, in every optimizer, as
      torch.optim does; optax's ``rmsprop`` applies it before its momentum.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_learning_rate(0.1)
      >>> round(float(tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0][0]), 6)
      -0.2
    """
    sign = -1.0 if flip_sign else 1.0
    where = "scale_by_learning_rate"
    if callable(learning_rate):
        schedule = learning_rate

        def init_scheduled(params):
            del params
            count = init_count()
            value = jnp.asarray(schedule(count), default_float())
            return ScheduleState(count, Hyperparams({"learning_rate": value}, {"learning_rate": SCHEDULED}))

        def update_scheduled(updates, state, params=None, **extra):
            del params, extra
            lr = jnp.asarray(schedule(state.count), default_float())
            out = _scaled(updates, sign * lr, where)
            return out, ScheduleState(safe_increment(state.count), state.hyperparams.replace(learning_rate=lr))

        return GradientTransformation(init_scheduled, update_scheduled, name=where,
                                      static={"learning_rate": schedule, "flip_sign": flip_sign})

    specs = validate(where, learning_rate=(learning_rate, NONNEGATIVE))

    def init(params):
        del params
        return ScaleState(Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        return _scaled(updates, sign * state.hyperparams["learning_rate"], where), state

    static = {} if flip_sign else {"flip_sign": False}
    return GradientTransformation(init, update, name=where, hyper={"learning_rate": learning_rate}, static=static)
