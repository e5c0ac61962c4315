"""Schedules defined by boundaries: piecewise constant and piecewise interpolated; warmups."""

from __future__ import annotations

from typing import Sequence

import jax.numpy as jnp

from momentax.hyperparams import default_float
from momentax.schedules._core import NONNEG, POS, Schedule, as_float, boundaries_arg, choice, integer, join, real
from momentax.schedules._decay import cosine_decay, linear

__all__ = ["piecewise_constant", "piecewise_interpolate", "warmup_constant", "warmup_cosine_decay"]


def _values(where: str, init_value: float, boundaries: Sequence[int], scales: Sequence[float]):
    """Checked boundaries and the running products ``init_value * scales[0] * ... * scales[i]``."""
    v0 = real(where, "init_value", init_value)
    bounds = boundaries_arg(where, "boundaries", boundaries)
    scales = tuple(real(where, f"scales[{i}]", s, NONNEG) for i, s in enumerate(scales))
    if len(scales) != len(bounds):
        raise ValueError(f"{where}: {len(bounds)} boundaries need {len(bounds)} scales, got {len(scales)}.")
    values = [v0]
    for s in scales:  # one product per boundary, in order, as torch multiplies its rate
        values.append(values[-1] * s)
    return v0, bounds, scales, values


def piecewise_constant(init_value: float, boundaries: Sequence[int], scales: Sequence[float]) -> Schedule:
    """Starts at ``init_value`` and multiplies by ``scales[i]`` on reaching ``boundaries[i]``.

    ::

        v(t) = init_value * prod(scales[i] for every i with boundaries[i] <= t)

    Args:
      init_value: finite real.
      boundaries: non-empty, strictly increasing integer steps >= 0.
      scales: one factor >= 0 per boundary.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: empty, negative, non-integer or unsorted boundaries; a negative or
        non-finite scale; ``len(scales) != len(boundaries)``.

    Note:
      torch's ``MultiStepLR(milestones, gamma)`` on a rate ``lr`` is
      ``piecewise_constant(lr, milestones, [gamma] * len(milestones))`` (a milestone that
      torch lists ``k`` times is one boundary with scale ``gamma ** k``), and
      ``ConstantLR(factor, total_iters)`` is
      ``piecewise_constant(lr * factor, [total_iters], [1 / factor])``. optax's
      ``piecewise_constant_schedule(v, {b: s, ...})`` is
      ``piecewise_constant(v, list(d), list(d.values()))`` with the dict sorted by step.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.piecewise_constant(1.0, boundaries=[2, 4], scales=[0.5, 0.1])
      >>> [round(float(s(t)), 6) for t in range(6)]
      [1.0, 1.0, 0.5, 0.5, 0.05, 0.05]
    """
    where = "piecewise_constant"
    v0, bounds, scales, values = _values(where, init_value, boundaries, scales)

    def fn(t):
        index = jnp.sum(t >= jnp.asarray(bounds))
        return jnp.asarray(values, default_float())[index]

    return Schedule(where, fn, init_value=v0, boundaries=bounds, scales=scales)


def piecewise_interpolate(init_value: float, boundaries: Sequence[int], scales: Sequence[float],
                          interpolate_type: str = "linear") -> Schedule:
    """Moves between the values of :func:`piecewise_constant` along lines or half cosines.

    With ``b_0 = 0``, ``v_0 = init_value``, ``b_i = boundaries[i-1]`` and
    ``v_i = v_{i-1} * scales[i-1]``, for ``b_i <= t < b_{i+1}`` and ``x = (t - b_i) / (b_{i+1} - b_i)``::

        linear:  v(t) = v_i + (v_{i+1} - v_i) * x
        cosine:  v(t) = v_{i+1} + (v_i - v_{i+1}) * (1 + cos(pi * x)) / 2

    and ``v(t) = v_n`` from the last boundary on.

    Args:
      init_value: finite real.
      boundaries: non-empty, strictly increasing integer steps >= 0.
      scales: one factor >= 0 per boundary (the value reached there is the running product).
      interpolate_type: static, ``"linear"`` or ``"cosine"``.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: as :func:`piecewise_constant`, or an unknown ``interpolate_type``.

    Note:
      optax's ``piecewise_interpolate_schedule(kind, v, {b: s, ...})`` is
      ``piecewise_interpolate(v, list(d), list(d.values()), kind)`` with the dict sorted.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.piecewise_interpolate(1.0, [4, 8], [0.5, 0.5])
      >>> [float(s(t)) for t in range(0, 11, 2)]
      [1.0, 0.75, 0.5, 0.375, 0.25, 0.25]
    """
    where = "piecewise_interpolate"
    kind = choice(where, "interpolate_type", interpolate_type, ("linear", "cosine"))
    v0, bounds, scales, values = _values(where, init_value, boundaries, scales)
    starts = (0,) + bounds[:-1]
    lengths = tuple(max(b - a, 1) for a, b in zip(starts, bounds))  # a first boundary at 0 is empty

    def fn(t):
        dt = default_float()
        vals = jnp.asarray(values, dt)
        last = len(bounds)
        i = jnp.sum(t >= jnp.asarray(bounds))
        seg = jnp.minimum(i, last - 1)
        x = as_float(t - jnp.asarray(starts)[seg]) / jnp.asarray(lengths, dt)[seg]
        lo, hi = vals[seg], vals[seg + 1]
        if kind == "linear":
            between = lo + (hi - lo) * x
        else:
            between = hi + (lo - hi) * (1 + jnp.cos(jnp.pi * x)) / 2
        return jnp.where(i == last, vals[last], between)

    return Schedule(where, fn, init_value=v0, boundaries=bounds, scales=scales, interpolate_type=kind)


def warmup_constant(init_value: float, peak_value: float, warmup_steps: int) -> Schedule:
    """A linear warmup from ``init_value`` to ``peak_value`` over ``warmup_steps``, then held.

    ``v(t) = init_value + (peak_value - init_value) * min(t, W) / W`` with ``W = warmup_steps``;
    ``v(t) = peak_value`` when ``W = 0``.

    Args:
      init_value: finite real, the value at step 0.
      peak_value: finite real, the value from step ``W`` on.
      warmup_steps: integer >= 0.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a value not finite, or ``warmup_steps`` negative or not an integer.

    Note:
      torch's ``LinearLR(start_factor=f, total_iters=W)`` on a rate ``lr`` is
      ``warmup_constant(lr * f, lr, W)``.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.warmup_constant(0.0, 1.0, warmup_steps=4)
      >>> [float(s(t)) for t in range(6)]
      [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    where = "warmup_constant"
    v0, peak = real(where, "init_value", init_value), real(where, "peak_value", peak_value)
    steps = integer(where, "warmup_steps", warmup_steps)
    inner = linear(v0, peak, steps) if steps else None

    def fn(t):
        return inner(t) if inner is not None else peak

    return Schedule(where, fn, init_value=v0, peak_value=peak, warmup_steps=steps)


def warmup_cosine_decay(init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
                        end_value: float = 0.0, exponent: float = 1.0) -> Schedule:
    """A linear warmup to ``peak_value``, then a cosine decay to ``end_value``.

    With ``W = warmup_steps`` and ``D = decay_steps`` (the total length, warmup included)::

        v(t) = init_value + (peak_value - init_value) * t / W                     t < W
        v(t) = E + (peak_value - E) * ((1 + cos(pi * (t - W) / (D - W))) / 2) ** exponent    W <= t <= D
        v(t) = end_value                                                          t > D

    Args:
      init_value: finite real, the value at step 0.
      peak_value: finite real, reached at step ``W``.
      warmup_steps: integer >= 0 (0: start at the peak).
      decay_steps: integer > ``warmup_steps``; the step where ``end_value`` is reached.
      end_value: finite real.
      exponent: > 0.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: a value not finite or out of range, or ``decay_steps <= warmup_steps``.

    Note:
      The arguments are optax's ``warmup_cosine_decay_schedule``'s. In torch:
      ``SequentialLR([LinearLR(start_factor=init/peak, total_iters=W),
      CosineAnnealingLR(T_max=D - W, eta_min=end)], milestones=[W])`` on ``lr = peak``.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.warmup_cosine_decay(0.0, 1.0, warmup_steps=2, decay_steps=6)
      >>> [round(float(s(t)), 4) for t in range(8)]
      [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """
    where = "warmup_cosine_decay"
    v0, peak = real(where, "init_value", init_value), real(where, "peak_value", peak_value)
    end = real(where, "end_value", end_value)
    p = real(where, "exponent", exponent, POS)
    warm = integer(where, "warmup_steps", warmup_steps)
    total = integer(where, "decay_steps", decay_steps, 1)
    if total <= warm:
        raise ValueError(f"{where}: decay_steps={total} must be greater than warmup_steps={warm} (decay_steps "
                         f"counts the warmup too).")
    decay = cosine_decay(peak, total - warm, exponent=p, end_value=end)
    inner = join([linear(v0, peak, warm), decay], [warm]) if warm else decay
    return Schedule(where, inner, init_value=v0, peak_value=peak, warmup_steps=warm, decay_steps=total,
                    end_value=end, exponent=p)
