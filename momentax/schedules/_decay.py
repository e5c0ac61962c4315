"""Monotone transitions: linear, polynomial, exponential and cosine decay."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from momentax.schedules._core import POS, UNIT, Schedule, as_float, integer, real

__all__ = ["linear", "polynomial", "exponential_decay", "cosine_decay"]


def linear(init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0) -> Schedule:
    """A straight line from ``init_value`` to ``end_value``, then held.

    With ``B = transition_begin`` and ``T = transition_steps``::

        v(t) = init_value + (end_value - init_value) * clip(t - B, 0, T) / T

    Args:
      init_value: finite real; the value up to step ``B``.
      end_value: finite real; the value from step ``B + T`` on.
      transition_steps: integer >= 1, the length of the ramp in steps.
      transition_begin: integer >= 0, the step where the ramp starts.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a value not finite; ``transition_steps < 1`` or ``transition_begin < 0``,
        or either not an integer.

    Note:
      torch's ``LinearLR(start_factor, end_factor, total_iters)`` on a rate ``lr`` is
      ``linear(lr * start_factor, lr * end_factor, total_iters)``. optax's
      ``linear_schedule`` takes the same arguments; it holds ``init_value`` when
      ``transition_steps <= 0``, where momentax raises.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.linear(1.0, 0.0, transition_steps=4, transition_begin=2)
      >>> [float(s(t)) for t in range(8)]
      [1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    where = "linear"
    v0, v1 = real(where, "init_value", init_value), real(where, "end_value", end_value)
    steps = integer(where, "transition_steps", transition_steps, 1)
    begin = integer(where, "transition_begin", transition_begin)

    def fn(t):
        frac = as_float(jnp.clip(t - begin, 0, steps)) / steps
        return v0 + (v1 - v0) * frac

    return Schedule(where, fn, init_value=v0, end_value=v1, transition_steps=steps, transition_begin=begin)


def polynomial(init_value: float, end_value: float, power: float, transition_steps: int,
               transition_begin: int = 0) -> Schedule:
    """A polynomial transition from ``init_value`` to ``end_value``, then held.

    With ``B = transition_begin`` and ``T = transition_steps``::

        v(t) = end_value + (init_value - end_value) * (1 - clip(t - B, 0, T) / T) ** power

    Args:
      init_value: finite real; the value up to step ``B``.
      end_value: finite real; the value from step ``B + T`` on.
      power: > 0; 1 is :func:`linear`, larger values fall faster at first.
      transition_steps: integer >= 1.
      transition_begin: integer >= 0.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a value not finite, ``power <= 0``, or a step argument out of range.

    Note:
      torch's ``PolynomialLR(total_iters, power)`` on a rate ``lr`` is
      ``polynomial(lr, 0.0, power, total_iters)``. The arguments are optax's
      ``polynomial_schedule``'s.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.polynomial(1.0, 0.0, power=2, transition_steps=4)
      >>> [float(s(t)) for t in range(6)]
      [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    where = "polynomial"
    v0, v1 = real(where, "init_value", init_value), real(where, "end_value", end_value)
    p = real(where, "power", power, POS)
    steps = integer(where, "transition_steps", transition_steps, 1)
    begin = integer(where, "transition_begin", transition_begin)

    def fn(t):
        frac = 1 - as_float(jnp.clip(t - begin, 0, steps)) / steps
        return v1 + (v0 - v1) * (frac if p == 1 else frac ** p)

    return Schedule(where, fn, init_value=v0, end_value=v1, power=p, transition_steps=steps,
                    transition_begin=begin)


def exponential_decay(init_value: float, transition_steps: int, decay_rate: float, transition_begin: int = 0,
                      staircase: bool = False, end_value: Optional[float] = None) -> Schedule:
    """Multiplies ``init_value`` by ``decay_rate`` every ``transition_steps`` steps.

    With ``B = transition_begin`` and ``T = transition_steps``::

        p    = max(t - B, 0) / T          (floor of it if staircase)
        v(t) = init_value * decay_rate ** p
        v(t) = max(v(t), end_value)  if decay_rate < 1,  min(v(t), end_value)  if > 1   (when given)

    Args:
      init_value: finite real.
      transition_steps: integer >= 1; the steps over which the value changes by one factor
        of ``decay_rate``.
      decay_rate: > 0; below 1 decays, above 1 grows.
      transition_begin: integer >= 0; the value is held at ``init_value`` until then.
      staircase: static; change in jumps every ``transition_steps`` steps instead of smoothly.
      end_value: optional finite real; a floor (``decay_rate < 1``) or a ceiling (``> 1``).

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a value not finite, ``decay_rate <= 0``, or a step argument out of range.

    Note:
      torch's ``ExponentialLR(gamma)`` on a rate ``lr`` is
      ``exponential_decay(lr, 1, gamma)``, and ``StepLR(step_size, gamma)`` is
      ``exponential_decay(lr, step_size, gamma, staircase=True)``. torch multiplies the rate
      by ``gamma`` once per step, momentax evaluates the power directly; the two agree to a
      few ulps after hundreds of steps. The arguments are optax's ``exponential_decay``'s
      (optax holds ``init_value`` for a zero ``decay_rate``, where momentax raises).

    Example:
      >>> import momentax
      >>> s = momentax.schedules.exponential_decay(1.0, transition_steps=2, decay_rate=0.5, staircase=True)
      >>> [float(s(t)) for t in range(6)]
      [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """
    where = "exponential_decay"
    v0 = real(where, "init_value", init_value)
    steps = integer(where, "transition_steps", transition_steps, 1)
    rate = real(where, "decay_rate", decay_rate, POS)
    begin = integer(where, "transition_begin", transition_begin)
    end = None if end_value is None else real(where, "end_value", end_value)
    staircase = bool(staircase)

    def fn(t):
        elapsed = jnp.maximum(t - begin, 0)
        p = as_float(elapsed // steps) if staircase else as_float(elapsed) / steps
        value = v0 * jnp.asarray(rate, p.dtype) ** p
        if end is not None:
            value = jnp.maximum(value, end) if rate < 1 else jnp.minimum(value, end)
        return value

    return Schedule(where, fn, init_value=v0, transition_steps=steps, decay_rate=rate, transition_begin=begin,
                    staircase=staircase, end_value=end)


def cosine_decay(init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0, *,
                 end_value: Optional[float] = None) -> Schedule:
    """Half a cosine from ``init_value`` down to ``end_value = alpha * init_value``, then held.

    With ``T = decay_steps`` and ``E = end_value`` (default ``alpha * init_value``)::

        c(t) = (1 + cos(pi * min(t, T) / T)) / 2
        v(t) = E + (init_value - E) * c(t) ** exponent

    Args:
      init_value: finite real, the value at step 0.
      decay_steps: integer >= 1; the value reaches ``E`` at this step and stays there.
      alpha: in [0, 1]; the end value as a fraction of ``init_value``.
      exponent: > 0; shapes the curve (1 is the plain cosine).
      end_value: keyword-only finite real; the end value itself, in place of ``alpha`` (exact
        when translating torch's ``eta_min``; it may exceed ``init_value`` for a rise).

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a value not finite or out of range, a non-integer or non-positive
        ``decay_steps``, or both ``alpha`` and ``end_value`` given.

    Note:
      torch's ``CosineAnnealingLR(T_max, eta_min)`` on a rate ``lr`` is
      ``cosine_decay(lr, T_max, end_value=eta_min)`` for steps ``0..T_max``; after ``T_max``
      torch's cosine keeps going and rises again, while momentax (like optax's
      ``cosine_decay_schedule``) holds ``eta_min``. For periodic annealing use
      :func:`cosine_restarts`.

    Source: I. Loshchilov, F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
    ICLR 2017, https://arxiv.org/abs/1608.03983.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.cosine_decay(1.0, decay_steps=4, alpha=0.2)
      >>> [round(float(s(t)), 4) for t in range(6)]
      [1.0, 0.8828, 0.6, 0.3172, 0.2, 0.2]
    """
    where = "cosine_decay"
    v0 = real(where, "init_value", init_value)
    steps = integer(where, "decay_steps", decay_steps, 1)
    p = real(where, "exponent", exponent, POS)
    if end_value is not None:
        if alpha != 0.0:
            raise ValueError(f"{where}: give either alpha or end_value, not both (alpha={alpha!r}, "
                             f"end_value={end_value!r}).")
        end = real(where, "end_value", end_value)
        a = None
    else:
        a = real(where, "alpha", alpha, UNIT)
        end = a * v0

    def fn(t):
        # torch's closed form, eta_min + (lr - eta_min) * (1 + cos(pi t / T)) / 2, in its order.
        c = (1 + jnp.cos(jnp.pi * as_float(jnp.minimum(t, steps)) / steps)) / 2
        return end + (v0 - end) * (c if p == 1 else c ** p)

    given = {"alpha": a} if a is not None else {"end_value": end}
    return Schedule(where, fn, init_value=v0, decay_steps=steps, **given, exponent=p)

