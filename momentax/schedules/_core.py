"""The schedule type, argument checks, and the schedules that build on others: ``constant``, ``join``.

A schedule is a pure function ``step -> value``. The step is an integer array (the int32
step counter of a transform's state, or a Python int); the value is a scalar array of the
default float dtype (float32, or float64 under ``jax_enable_x64``), computed without Python
control flow on the step, so a schedule runs unchanged under ``jax.jit``, ``vmap`` and
``scan``. Steps below zero are read as zero.

The factories in :mod:`momentax.schedules` return :class:`Schedule` objects: callables that
compare equal (and hash equal) when built by the same factory from the same arguments. A
schedule is static configuration of the transform that evaluates it, so two optimizers built
with equal schedules share one compiled program.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from momentax.hyperparams import Interval, default_float

__all__ = ["Schedule", "constant", "join"]

Array = jax.Array


class Schedule:
    """A named schedule ``step -> value`` with value equality on its construction arguments.

    Calling it evaluates the schedule: ``schedule(step)`` returns a scalar of the default
    float dtype; any callable ``step -> value`` works where momentax takes a schedule, this
    class only adds the equality that lets equal schedules share compiled programs.

    Attributes:
      name: the factory's name (``"cosine_decay"``).
      args: the construction arguments, ``((name, value), ...)``, all hashable.

    Example:
      >>> import momentax
      >>> a = momentax.schedules.cosine_decay(0.1, decay_steps=100)
      >>> a == momentax.schedules.cosine_decay(0.1, decay_steps=100), a
      (True, cosine_decay(init_value=0.1, decay_steps=100, alpha=0, exponent=1))
    """

    __slots__ = ("_fn", "name", "args", "__weakref__")

    def __init__(self, name: str, fn: Callable[[Array], Any], **args: Any):
        self._fn = fn
        self.name = name
        self.args = tuple(args.items())

    def __call__(self, step: Any) -> Array:
        t = jnp.maximum(jnp.asarray(step), 0)
        return jnp.asarray(self._fn(t), default_float()).reshape(())

    def _key(self) -> tuple:
        return (self.name, self.args)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        def show(v):
            return f"{v:g}" if isinstance(v, float) else repr(v)

        return f"{self.name}({', '.join(f'{k}={show(v)}' for k, v in self.args)})"

    @property
    def __name__(self) -> str:  # what GradientTransformation's repr prints for a callable
        return repr(self)


# Argument checks. Every factory validates eagerly and raises ValueError naming the factory,
# the argument and its allowed range, so a bad schedule fails where it is built, not at step 0.

ANY = Interval(-math.inf, math.inf, True, True)
NONNEG = Interval(0.0, math.inf, hi_open=True)
POS = Interval(0.0, math.inf, lo_open=True, hi_open=True)
UNIT = Interval(0.0, 1.0)
OPEN_UNIT = Interval(0.0, 1.0, lo_open=True, hi_open=True)
MOMENTUM = Interval(0.0, 1.0, hi_open=True)


def real(where: str, name: str, value: Any, interval: Interval = ANY) -> float:
    """``value`` as a Python float, after checking it is a finite real in ``interval``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.ndarray, jax.Array)) or np.ndim(value) != 0:
        raise ValueError(f"{where}: {name} must be a real number, got {value!r}.")
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{where}: {name} must be a concrete number (a schedule's arguments are static), "
                         f"got a traced value; build the schedule outside jax.jit.")
    interval.check(name, value, where)
    return float(value)


def integer(where: str, name: str, value: Any, minimum: int = 0) -> int:
    """``value`` as a Python int, after checking it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{where}: {name} must be an integer number of steps, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{where}: {name}={int(value)} is out of range; it must be >= {minimum}.")
    return int(value)


def boundaries_arg(where: str, name: str, values: Any, allow_empty: bool = False) -> tuple[int, ...]:
    """A strictly increasing tuple of non-negative integer steps."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{where}: {name} must be a list of integer steps, got {values!r}.")
    out = tuple(integer(where, f"{name}[{i}]", b) for i, b in enumerate(values))
    if not out and not allow_empty:
        raise ValueError(f"{where}: {name} is empty; give at least one step (or use "
                         f"momentax.schedules.constant for a value that never changes).")
    for i in range(1, len(out)):
        if out[i] <= out[i - 1]:
            raise ValueError(f"{where}: {name} must be strictly increasing, but {name}[{i - 1}]={out[i - 1]} "
                             f"and {name}[{i}]={out[i]}; sort them and merge duplicates.")
    return out


def choice(where: str, name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ValueError(f"{where}: {name}={value!r} is not one of {list(allowed)}.")
    return value


def as_float(t: Array) -> Array:
    """The step as the default float dtype (float64 under x64, else float32)."""
    return t.astype(default_float())


def constant(value: float) -> Schedule:
    """A schedule that always returns ``value``: ``v(t) = value``.

    Args:
      value: any finite real number.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: ``value`` is not a finite real number.

    Note:
      torch.optim.lr_scheduler.ConstantLR is not this schedule: it multiplies the rate by
      ``factor`` for ``total_iters`` steps, which is
      ``piecewise_constant(lr * factor, [total_iters], [1 / factor])``.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.constant(0.5)
      >>> [float(s(t)) for t in (0, 10**6)]
      [0.5, 0.5]
    """
    v = real("constant", "value", value)
    return Schedule("constant", lambda t: v, value=v)


def join(schedules: Sequence[Callable[[Array], Any]], boundaries: Sequence[int]) -> Schedule:
    """Runs ``schedules[i]`` from ``boundaries[i - 1]`` on, restarting its step count there.

    With ``b_0 = 0`` and ``b_i = boundaries[i - 1]``::

        v(t) = schedules[i](t - b_i)     for b_i <= t < b_{i+1}   (the last one: t >= b_n)

    Args:
      schedules: one or more callables ``step -> value`` (momentax schedules or any jit-safe
        function of an integer step).
      boundaries: ``len(schedules) - 1`` strictly increasing integer steps, >= 0.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: no schedules; a schedule is not callable; the number of boundaries is not
        ``len(schedules) - 1``; boundaries negative, not integers or not strictly increasing.

    Note:
      This is torch's ``SequentialLR(schedulers, milestones)`` (each scheduler restarts at its
      milestone from the optimizer's initial rate) and optax's ``join_schedules``.

    Example:
      >>> import momentax
      >>> warm = momentax.schedules.linear(0.0, 1.0, transition_steps=4)
      >>> decay = momentax.schedules.exponential_decay(1.0, transition_steps=1, decay_rate=0.5)
      >>> s = momentax.schedules.join([warm, decay], [4])
      >>> [float(s(t)) for t in range(7)]
      [0.0, 0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """
    where = "join"
    schedules = tuple(schedules)
    if not schedules:
        raise ValueError(f"{where}: give at least one schedule.")
    for i, s in enumerate(schedules):
        if not callable(s):
            raise ValueError(f"{where}: schedules[{i}] is not callable (got {type(s).__name__}); each must be "
                             f"a function step -> value.")
    bounds = boundaries_arg(where, "boundaries", boundaries, allow_empty=True)
    if len(bounds) != len(schedules) - 1:
        raise ValueError(f"{where}: {len(schedules)} schedules need {len(schedules) - 1} boundaries, got "
                         f"{len(bounds)}.")

    def fn(t):
        dt = default_float()
        value = jnp.asarray(schedules[0](t), dt)
        for s, b in zip(schedules[1:], bounds):
            value = jnp.where(t >= b, jnp.asarray(s(t - b), dt), value)
        return value

    return Schedule(where, fn, schedules=schedules, boundaries=bounds)
