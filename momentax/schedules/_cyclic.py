"""Periodic schedules: cosine annealing with warm restarts (SGDR) and cyclical rates (CLR)."""

from __future__ import annotations

from typing import Optional

import jax.numpy as jnp

from momentax.hyperparams import default_float
from momentax.schedules._core import MOMENTUM, POS, Schedule, as_float, choice, integer, real

__all__ = ["cosine_restarts", "cyclic", "cyclic_momentum"]

_INT32_MAX = 2**31 - 1


def cosine_restarts(init_value: float, t_0: int, t_mult: int = 1, eta_min: float = 0.0) -> Schedule:
    """Cosine annealing from ``init_value`` to ``eta_min`` that restarts, each period ``t_mult`` times longer.

    Period ``i`` (from 0) lasts ``T_i = t_0 * t_mult**i`` steps. At step ``t``, with ``T_cur``
    the steps since the last restart::

        v(t) = eta_min + (init_value - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2

    so ``v = init_value`` right after each restart and approaches ``eta_min`` at its end.

    Args:
      init_value: finite real, the value at each restart (torch: the optimizer's ``lr``).
      t_0: integer >= 1, the first period in steps (torch: ``T_0``).
      t_mult: integer >= 1, the growth of the period at each restart (torch: ``T_mult``).
      eta_min: finite real, the value approached at the end of each period.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: ``t_0 < 1``, ``t_mult < 1``, either not an integer, or a value not finite.

    Note:
      This is torch's ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)``, step for step
      (the period boundaries are exact integers, computed without logarithms). optax's
      ``sgdr_schedule`` takes a list of explicit cycles instead.

    Source: I. Loshchilov, F. Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
    ICLR 2017, https://arxiv.org/abs/1608.03983.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.cosine_restarts(1.0, t_0=2, t_mult=2)
      >>> [round(float(s(t)), 4) for t in range(8)]
      [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0, 0.9619]
    """
    where = "cosine_restarts"
    v0, low = real(where, "init_value", init_value), real(where, "eta_min", eta_min)
    first = integer(where, "t_0", t_0, 1)
    mult = integer(where, "t_mult", t_mult, 1)
    starts, lengths = [0], [first]
    while mult > 1 and starts[-1] + lengths[-1] <= _INT32_MAX:  # every restart an int32 step can reach
        starts.append(starts[-1] + lengths[-1])
        lengths.append(lengths[-1] * mult)

    def fn(t):
        if mult == 1:
            t_cur, t_i = as_float(t % first), first
        else:
            n = jnp.sum(t >= jnp.asarray(starts[1:], t.dtype))
            t_cur = as_float(t - jnp.asarray(starts, t.dtype)[n])
            t_i = jnp.asarray(lengths, default_float())[n]
        return low + (v0 - low) * (1 + jnp.cos(jnp.pi * t_cur / t_i)) / 2

    return Schedule(where, fn, init_value=v0, t_0=first, t_mult=mult, eta_min=low)


def _clr_shape(where, step_size_up, step_size_down, mode, gamma):
    """The checked arguments of a cyclical schedule and its ``(scale_factor, amplitude)`` at step ``t``."""
    up = integer(where, "step_size_up", step_size_up, 1)
    down = up if step_size_down is None else integer(where, "step_size_down", step_size_down, 1)
    mode = choice(where, "mode", mode, ("triangular", "triangular2", "exp_range"))
    g = real(where, "gamma", gamma, POS)
    total = float(up + down)
    ratio = up / total

    def shape(t):
        # torch's CyclicLR arithmetic, operation for operation: the position x in the cycle,
        # the triangle height at x, and the per-mode amplitude.
        tf = as_float(t)
        cycle = jnp.floor(1 + tf / total)
        x = 1.0 + tf / total - cycle
        height = jnp.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        if mode == "triangular":
            amplitude = 1.0
        elif mode == "triangular2":
            amplitude = 1 / (2.0 ** (cycle - 1))
        else:
            amplitude = jnp.asarray(g, tf.dtype) ** tf
        return height, amplitude

    return (up, down, mode, g), shape


def cyclic(base_lr: float, max_lr: float, step_size_up: int = 2000, step_size_down: Optional[int] = None,
           mode: str = "triangular", gamma: float = 1.0) -> Schedule:
    """A triangular wave between ``base_lr`` and ``max_lr`` (cyclical learning rates, CLR).

    A cycle lasts ``step_size_up + step_size_down`` steps: the value climbs linearly for
    ``step_size_up`` steps and falls back for ``step_size_down``. With ``h(t)`` in [0, 1] the
    triangle's height and ``c(t) = floor(1 + t / (up + down))`` the cycle number (from 1)::

        v(t) = base_lr + (max_lr - base_lr) * h(t) * a(t)
        a(t) = 1 (triangular) | 1 / 2**(c(t) - 1) (triangular2) | gamma**t (exp_range)

    Args:
      base_lr: finite real, the value at the start of each cycle.
      max_lr: finite real, the value at the peak (before the amplitude factor).
      step_size_up: integer >= 1.
      step_size_down: integer >= 1, or None for ``step_size_up``.
      mode: static, ``"triangular"``, ``"triangular2"`` (halve the amplitude every cycle) or
        ``"exp_range"`` (multiply it by ``gamma`` every step).
      gamma: > 0, used by ``"exp_range"``.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a step size < 1 or not an integer, an unknown mode, ``gamma <= 0``, or a
        value not finite.

    Note:
      This is torch's ``CyclicLR`` with the same argument names, step for step; its
      ``cycle_momentum`` is :func:`cyclic_momentum`, scheduled on the optimizer's momentum
      (or ``b1``) with :func:`momentax.with_schedules`. torch's custom ``scale_fn`` has no
      counterpart; write the schedule as a function of the step instead.

    Source: L. N. Smith, "Cyclical Learning Rates for Training Neural Networks", WACV 2017,
    https://arxiv.org/abs/1506.01186.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.cyclic(0.0, 1.0, step_size_up=2, mode="triangular2")
      >>> [float(s(t)) for t in range(9)]
      [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25, 0.0]
    """
    where = "cyclic"
    lo, hi = real(where, "base_lr", base_lr), real(where, "max_lr", max_lr)
    (up, down, mode, g), shape = _clr_shape(where, step_size_up, step_size_down, mode, gamma)

    def fn(t):
        height, amplitude = shape(t)
        return lo + (hi - lo) * height * amplitude

    return Schedule(where, fn, base_lr=lo, max_lr=hi, step_size_up=up, step_size_down=down, mode=mode, gamma=g)


def cyclic_momentum(base_momentum: float = 0.8, max_momentum: float = 0.9, step_size_up: int = 2000,
                    step_size_down: Optional[int] = None, mode: str = "triangular", gamma: float = 1.0) -> Schedule:
    """The momentum that moves against :func:`cyclic`: ``max_momentum`` at the cycle's ends, lowest at its peak.

    With the same ``h(t)`` and ``a(t)`` as :func:`cyclic`::

        v(t) = max_momentum - (max_momentum - base_momentum) * h(t) * a(t)

    Args:
      base_momentum: in [0, 1), the value at the peak of the rate.
      max_momentum: in [0, 1), the value at the start of each cycle.
      step_size_up, step_size_down, mode, gamma: as :func:`cyclic`; give the same values.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a momentum outside [0, 1), or an argument error of :func:`cyclic`.

    Note:
      torch's ``CyclicLR(cycle_momentum=True, base_momentum, max_momentum)`` sets this on the
      parameter group's ``momentum`` (or ``betas[0]``); schedule it on ``momentum`` (or
      ``b1``) with :func:`momentax.with_schedules`.

    Source: L. N. Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
    2018, https://arxiv.org/abs/1803.09820.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.cyclic_momentum(0.8, 0.9, step_size_up=2)
      >>> [round(float(s(t)), 4) for t in range(5)]
      [0.9, 0.85, 0.8, 0.85, 0.9]
    """
    where = "cyclic_momentum"
    lo, hi = real(where, "base_momentum", base_momentum, MOMENTUM), real(where, "max_momentum", max_momentum, MOMENTUM)
    (up, down, mode, g), shape = _clr_shape(where, step_size_up, step_size_down, mode, gamma)

    def fn(t):
        height, amplitude = shape(t)
        return hi - (hi - lo) * height * amplitude

    return Schedule(where, fn, base_momentum=lo, max_momentum=hi, step_size_up=up, step_size_down=down, mode=mode,
                    gamma=g)

