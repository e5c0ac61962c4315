"""The one-cycle policy: a rate that rises then falls, and the momentum that moves against it."""

from __future__ import annotations

import jax.numpy as jnp

from momentax.schedules._core import MOMENTUM, OPEN_UNIT, POS, Schedule, as_float, choice, integer, real

__all__ = ["one_cycle", "one_cycle_momentum"]


def _phase_ends(where: str, total_steps: int, pct_start: float, three_phase: bool) -> list[float]:
    """The (fractional) last step of each phase, as torch's OneCycleLR places them."""
    ends = [float(pct_start * total_steps) - 1]
    if three_phase:
        ends.append(float(2 * pct_start * total_steps) - 2)
    ends.append(float(total_steps - 1))
    starts = [0.0] + ends[:-1]
    for i, (a, b) in enumerate(zip(starts, ends)):
        if not b > a:
            raise ValueError(
                f"{where}: with total_steps={total_steps}, pct_start={pct_start} and three_phase={three_phase}, "
                f"phase {i + 1} would span steps {a:g} to {b:g}, which is empty; every phase needs a positive "
                f"length (pct_start * total_steps > 1, and pct_start < 0.5 with three_phase, else < 1)."
            )
    return ends


def _annealed(ends: list[float], values: list[tuple[float, float]], strategy: str, total_steps: int):
    """``step -> value`` moving through ``values[i] = (start, end)`` over phase ``i``."""

    def anneal(start, end, pct):
        # torch's _annealing_cos / _annealing_linear, in their order of operations.
        if strategy == "cos":
            return end + (start - end) / 2.0 * (jnp.cos(jnp.pi * pct) + 1)
        return (end - start) * pct + start

    def fn(t):
        # Past the last step the value is held (torch raises after total_steps steps).
        s = as_float(jnp.minimum(t, total_steps - 1))
        candidates, start = [], 0.0
        for end, (a, b) in zip(ends, values):
            candidates.append(anneal(a, b, (s - start) / (end - start)))
            start = end
        value = candidates[-1]
        for end, c in reversed(list(zip(ends[:-1], candidates[:-1]))):
            value = jnp.where(s <= end, c, value)
        return value

    return fn


def _cycle_args(where, total_steps, pct_start, anneal_strategy, three_phase):
    steps = integer(where, "total_steps", total_steps, 1)
    pct = real(where, "pct_start", pct_start, OPEN_UNIT)
    strategy = choice(where, "anneal_strategy", anneal_strategy, ("cos", "linear"))
    three = bool(three_phase)
    return steps, pct, strategy, three, _phase_ends(where, steps, pct, three)


def one_cycle(peak_value: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4, anneal_strategy: str = "cos", three_phase: bool = False) -> Schedule:
    """The one-cycle policy: rise from ``peak_value / div_factor`` to ``peak_value``, then anneal far below.

    With ``I = peak_value / div_factor``, ``m = I / final_div_factor``, ``T = total_steps``
    and ``e1 = pct_start * T - 1``, ``e2 = 2 * pct_start * T - 2``, the phases are::

        two phases (default):  I -> peak on [0, e1],   peak -> m on [e1, T - 1]
        three_phase:           I -> peak on [0, e1],   peak -> I on [e1, e2],   I -> m on [e2, T - 1]

    Within a phase from ``a`` to ``b`` over steps ``[s0, s1]``, with ``x = (t - s0) / (s1 - s0)``::

        "cos":     v = b + (a - b) / 2 * (cos(pi * x) + 1)
        "linear":  v = (b - a) * x + a

    After step ``T - 1`` the value is held at ``m``.

    Args:
      peak_value: finite real, the largest value (torch: ``max_lr``).
      total_steps: integer >= 1 (torch: ``total_steps``, or ``epochs * steps_per_epoch``).
      pct_start: in (0, 1), the fraction of the steps spent rising.
      div_factor: > 0; the first value is ``peak_value / div_factor``.
      final_div_factor: > 0; the last value is ``peak_value / div_factor / final_div_factor``.
      anneal_strategy: static, ``"cos"`` or ``"linear"``.
      three_phase: static; return to ``I`` symmetrically before the final annealing (the
        paper's schedule) instead of annealing straight to ``m`` (fastai's default).

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: an argument out of range or not finite, or a phase with no steps (for
        example ``pct_start * total_steps <= 1``).

    Note:
      This is torch's ``OneCycleLR`` step for step on steps ``0 .. total_steps - 1`` (torch
      raises past them); its momentum cycling is :func:`one_cycle_momentum`, scheduled on
      ``momentum`` or ``b1`` with :func:`momentax.with_schedules`. optax's
      ``cosine_onecycle_schedule`` and ``linear_onecycle_schedule`` place the phase
      boundaries at integer steps and differ from torch by a step's fraction.

    Source: L. N. Smith, N. Topin, "Super-Convergence: Very Fast Training of Neural Networks
    Using Large Learning Rates", 2017, https://arxiv.org/abs/1708.07120.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.one_cycle(1.0, total_steps=6, pct_start=0.5, div_factor=4.0,
      ...                                  final_div_factor=2.0, anneal_strategy="linear")
      >>> [round(float(s(t)), 4) for t in range(7)]
      [0.25, 0.625, 1.0, 0.7083, 0.4167, 0.125, 0.125]
    """
    where = "one_cycle"
    peak = real(where, "peak_value", peak_value)
    div, final_div = real(where, "div_factor", div_factor, POS), real(where, "final_div_factor", final_div_factor, POS)
    steps, pct, strategy, three, ends = _cycle_args(where, total_steps, pct_start, anneal_strategy, three_phase)
    initial = peak / div
    low = initial / final_div
    values = [(initial, peak), (peak, initial), (initial, low)] if three else [(initial, peak), (peak, low)]
    return Schedule(where, _annealed(ends, values, strategy, steps), peak_value=peak, total_steps=steps,
                    pct_start=pct, div_factor=div, final_div_factor=final_div, anneal_strategy=strategy,
                    three_phase=three)


def one_cycle_momentum(total_steps: int, pct_start: float = 0.3, base_momentum: float = 0.85,
                       max_momentum: float = 0.95, anneal_strategy: str = "cos",
                       three_phase: bool = False) -> Schedule:
    """The momentum of the one-cycle policy: ``max_momentum`` down to ``base_momentum`` while the rate rises.

    On the phases of :func:`one_cycle` (give it the same ``total_steps``, ``pct_start``,
    ``anneal_strategy`` and ``three_phase``)::

        two phases:   max -> base on [0, e1],   base -> max on [e1, T - 1]
        three_phase:  max -> base on [0, e1],   base -> max on [e1, e2],   max held on [e2, T - 1]

    with the same cosine or linear interpolation; held after step ``T - 1``.

    Args:
      total_steps: integer >= 1.
      pct_start: in (0, 1).
      base_momentum: in [0, 1), the value at the rate's peak.
      max_momentum: in [0, 1), the value at the start and the end.
      anneal_strategy: static, ``"cos"`` or ``"linear"``.
      three_phase: static.

    Returns:
      A :class:`Schedule`.

    Raises:
      ValueError: as :func:`one_cycle`, or a momentum outside [0, 1).

    Note:
      torch's ``OneCycleLR(cycle_momentum=True)`` writes these values into the parameter
      group's ``momentum`` (SGD) or ``betas[0]`` (Adam); in momentax,
      ``with_schedules(sgd(lr, momentum=0.9), learning_rate=one_cycle(...),
      momentum=one_cycle_momentum(...))`` or ``b1=one_cycle_momentum(...)`` for Adam.

    Source: L. N. Smith, "A disciplined approach to neural network hyper-parameters: Part 1",
    2018, https://arxiv.org/abs/1803.09820.

    Example:
      >>> import momentax
      >>> s = momentax.schedules.one_cycle_momentum(total_steps=6, pct_start=0.5, base_momentum=0.8,
      ...                                           max_momentum=0.9, anneal_strategy="linear")
      >>> [round(float(s(t)), 4) for t in range(6)]
      [0.9, 0.85, 0.8, 0.8333, 0.8667, 0.9]
    """
    where = "one_cycle_momentum"
    lo = real(where, "base_momentum", base_momentum, MOMENTUM)
    hi = real(where, "max_momentum", max_momentum, MOMENTUM)
    steps, pct, strategy, three, ends = _cycle_args(where, total_steps, pct_start, anneal_strategy, three_phase)
    values = [(hi, lo), (lo, hi), (hi, hi)] if three else [(hi, lo), (lo, hi)]
    return Schedule(where, _annealed(ends, values, strategy, steps), total_steps=steps, pct_start=pct,
                    base_momentum=lo, max_momentum=hi, anneal_strategy=strategy, three_phase=three)
