"""Putting any numeric hyperparameter of a transform on a schedule."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import jax

from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.combine import as_momentax
from momentax.hyperparams import Hyperparams, hyperparams, set_hyperparams

__all__ = ["WithSchedulesState", "with_schedules"]


class WithSchedulesState(NamedTuple):
    """State of :func:`with_schedules`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    inner_state: Any  # the wrapped transform's state; each scheduled hyperparameter holds the
    #                   value the last update used (after init: the value for step 0)


def _names(state: Any) -> tuple[list[str], dict[str, bool]]:
    """The keys of ``hyperparams(state)``, and for each plain name whether every occurrence is settable."""
    nodes = [x for x in jax.tree.leaves(state, is_leaf=_is_hyper) if _is_hyper(x)]
    settable: dict[str, bool] = {}
    for node in nodes:
        for name in node:
            settable[name] = settable.get(name, True) and node.interval(name).settable
    return sorted(hyperparams(state)), settable


def _is_hyper(x: Any) -> bool:
    return isinstance(x, Hyperparams)


def with_schedules(tx: Any, **schedules: Callable[[jax.Array], Any]) -> GradientTransformation:
    """Drives numeric hyperparameters of ``tx`` by schedules of the step count.

    Before the update of step ``t`` (counting from 0), for every ``name=schedule``::

        state = set_hyperparams(state, name=schedule(t))
        updates, state = tx.update(updates, state, params, **extra)

    Any numeric hyperparameter that :func:`momentax.hyperparams` lists for ``tx``'s state can
    follow a schedule: ``learning_rate``, ``momentum``, ``b1``, ``weight_decay``, ``eps``, ...
    The values are data in the state, so they change every step without recompiling.

    Args:
      tx: a momentax transform or optimizer (or an optax one, whose state has no
        hyperparameters to schedule).
      **schedules: ``name=schedule``; ``name`` as :func:`momentax.set_hyperparams` accepts it
        (a plain name sets every occurrence in a chain, ``"1/learning_rate"`` one of them, as
        ``**{"1/learning_rate": s}``); ``schedule`` is any jit-safe callable ``step -> value``,
        such as those of :mod:`momentax.schedules`. Static.

    Shapes and dtypes: the step count is an int32 scalar; each value is stored in the dtype of
    the hyperparameter it replaces (the default float dtype).

    Raises:
      ValueError: no schedules, or a schedule that is not callable (at construction); at
        ``init``, a name that is not a hyperparameter of ``tx``'s state (the message lists the
        valid names), or one that already follows a schedule given to ``tx`` itself (such as
        ``scale_by_learning_rate(schedule)``); outside ``jax.jit``, a scheduled value outside
        the hyperparameter's allowed range (under ``jit`` values are not checked).

    Note:
      This is how momentax expresses torch's schedulers that change more than the rate, such
      as ``OneCycleLR``/``CyclicLR`` with ``cycle_momentum``: schedule ``momentum`` (SGD) or
      ``b1`` (Adam). Unlike optax's ``inject_hyperparams``, the wrapped optimizer is not
      rebuilt: its own hyperparameters are overwritten in place. A value set by hand with
      ``set_hyperparams`` on a scheduled name is replaced at the next step.
      ``with_schedules(sgd(x), learning_rate=s)`` follows the same trajectory as ``sgd(s)``.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> from momentax import schedules
      >>> opt = momentax.with_schedules(momentax.sgd(0.1, momentum=0.9),
      ...                               momentum=schedules.linear(0.5, 0.9, transition_steps=4))
      >>> p = jnp.zeros(2)
      >>> state = opt.init(p)
      >>> for _ in range(2):
      ...     updates, state = opt.update(jnp.ones(2), state, p)
      >>> round(float(momentax.hyperparams(state)["momentum"]), 6)
      0.6
    """
    where = "with_schedules"
    inner = as_momentax(tx)
    if not schedules:
        raise ValueError(f"{where}: give at least one name=schedule, e.g. learning_rate=schedules.cosine_decay(...).")
    for name, s in schedules.items():
        if not callable(s):
            raise ValueError(f"{where}: the schedule for {name!r} is not callable (got {type(s).__name__}); give a "
                             f"function step -> value, e.g. from momentax.schedules, or set a constant with the "
                             f"optimizer's own argument.")

    def values_at(count):
        return {name: s(count) for name, s in schedules.items()}

    def init(params):
        state = inner.init(params)
        listed, settable = _names(state)
        for name in schedules:
            if name not in listed and name not in settable:
                raise ValueError(f"{where}: {name!r} is not a numeric hyperparameter of {inner.name or 'this'} "
                                 f"transform; its state has {listed}.")
            if not settable.get(name, True):
                raise ValueError(f"{where}: {name!r} already follows a schedule given to the transform itself; give "
                                 f"the schedule in one place (a constant to the transform, the schedule here).")
        count = init_count()
        return WithSchedulesState(count, set_hyperparams(state, **values_at(count)))

    def update(updates, state, params=None, **extra):
        inner_state = set_hyperparams(state.inner_state, **values_at(state.count))
        updates, inner_state = inner.update(updates, inner_state, params, **extra)
        return updates, WithSchedulesState(safe_increment(state.count), inner_state)

    return GradientTransformation(init, update, name=where, static=dict(schedules), children=(inner,))
