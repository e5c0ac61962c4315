"""Schedules: pure functions ``step -> value`` for any numeric hyperparameter.

A schedule takes the integer step (the int32 counter a transform keeps in its state, or a
Python int; steps below zero read as zero) and returns a scalar array of the default float
dtype, with no Python control flow on the step, so it runs under ``jax.jit``. Pass one as a
learning rate (``momentax.sgd(momentax.schedules.cosine_decay(0.1, 1000))``) or put one on
any numeric hyperparameter with :func:`momentax.with_schedules`. Values for step ``t`` are
the ones the ``t``-th update (counting from 0) uses, as torch's schedulers stepped once per
optimizer step.

Every factory checks its arguments when called and raises ValueError naming the argument
and its allowed range. Schedules built with equal arguments compare equal, so optimizers
built from them share compiled programs.

=========================  ====================================================
momentax                   torch.optim.lr_scheduler (on a rate ``lr``)
=========================  ====================================================
``constant``               (none; ConstantLR is ``piecewise_constant``)
``linear``                 LinearLR
``polynomial``             PolynomialLR
``exponential_decay``      ExponentialLR, StepLR (``staircase=True``)
``cosine_decay``           CosineAnnealingLR (up to ``T_max``)
``piecewise_constant``     MultiStepLR, ConstantLR
``piecewise_interpolate``  (none)
``warmup_constant``        LinearLR used as a warmup
``warmup_cosine_decay``    SequentialLR of LinearLR and CosineAnnealingLR
``join``                   SequentialLR
``cosine_restarts``        CosineAnnealingWarmRestarts
``one_cycle``              OneCycleLR (``one_cycle_momentum``: its momentum)
``cyclic``                 CyclicLR (``cyclic_momentum``: its momentum)
=========================  ====================================================

Each function's docstring gives the exact mapping of arguments.
"""

from momentax.schedules._core import Schedule, constant, join
from momentax.schedules._cyclic import cosine_restarts, cyclic, cyclic_momentum
from momentax.schedules._decay import cosine_decay, exponential_decay, linear, polynomial
from momentax.schedules._onecycle import one_cycle, one_cycle_momentum
from momentax.schedules._piecewise import (
    piecewise_constant,
    piecewise_interpolate,
    warmup_constant,
    warmup_cosine_decay,
)

__all__ = [
    "Schedule",
    "constant",
    "cosine_decay",
    "cosine_restarts",
    "cyclic",
    "cyclic_momentum",
    "exponential_decay",
    "join",
    "linear",
    "one_cycle",
    "one_cycle_momentum",
    "piecewise_constant",
    "piecewise_interpolate",
    "polynomial",
    "warmup_constant",
    "warmup_cosine_decay",
]
