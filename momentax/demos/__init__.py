"""Demo programs behind the ``momentax`` command line (``momentax train``, ``momentax ravine``).

This module holds the one table that maps an optimizer *name* (as typed on the command
line) to a momentax constructor and to the learning rate each demo uses when ``--lr`` is
not given. Everything else in :mod:`momentax.demos` looks optimizers up here.

The demos need optional packages (scikit-learn, matplotlib, tqdm), installed with
``pip install "momentax[examples]"``. They are imported lazily through :func:`require`, so
``import momentax.demos`` and ``momentax --help`` work without them.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, NamedTuple

import momentax

__all__ = [
    "OPTIMIZERS",
    "DemoError",
    "MissingDependency",
    "OptimizerSpec",
    "SCHEDULES",
    "make_optimizer",
    "parse_optimizer_names",
    "require",
]

INSTALL_HINT = 'pip install "momentax[examples]"'


class DemoError(RuntimeError):
    """A demo cannot run; the command line prints the message, without a traceback."""


class MissingDependency(DemoError):
    """An optional package needed by a demo is not installed."""


def require(module: str, package: str | None = None) -> Any:
    """Imports ``module`` or raises :class:`MissingDependency` with an install hint.

    Args:
      module: the module to import, e.g. ``"sklearn.datasets"``.
      package: the pip package name to mention, when it differs from the module's top name.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        name = package or module.split(".")[0]
        raise MissingDependency(
            f"this demo needs the optional package {name!r}, which is not installed "
            f"({e}).\nInstall the demo dependencies with:  {INSTALL_HINT}"
        ) from None


class OptimizerSpec(NamedTuple):
    """How a demo builds one optimizer.

    Attributes:
      make: ``make(learning_rate) -> GradientTransformation``.
      train_lr: default learning rate for ``momentax train`` (digits MLP, full batch),
        tuned by hand for the default number of steps.
      description: one line for ``--help``.
    """

    make: Callable[[float], Any]
    train_lr: float
    description: str


# The single name -> constructor table. Learning rates were tuned on the default
# `momentax train` run (full batch, 500 steps, seed 0). Note that momentax.momentum and
# momentax.nesterov use the average form v' = b v + (1 - b) g, so their learning rate is on
# the scale of plain SGD's: momentum(lr, 0.9) follows torch's SGD(lr / 10, momentum=0.9).
OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(lambda lr: momentax.sgd(lr), 0.5, "plain SGD, no momentum"),
    "momentum": OptimizerSpec(
        lambda lr: momentax.momentum(lr, momentum=0.9), 1.0,
        "heavy ball, momentum 0.9, average form (= torch SGD at lr/10)",
    ),
    "nesterov": OptimizerSpec(
        lambda lr: momentax.nesterov(lr, momentum=0.9), 1.0,
        "Nesterov, momentum 0.9, average form (= torch SGD at lr/10)",
    ),
    "adagrad": OptimizerSpec(lambda lr: momentax.adagrad(lr), 0.1, "Adagrad"),
    "adadelta": OptimizerSpec(lambda lr: momentax.adadelta(lr), 1.0, "Adadelta"),
    "rmsprop": OptimizerSpec(lambda lr: momentax.rmsprop(lr), 3e-3, "RMSprop"),
    "adam": OptimizerSpec(lambda lr: momentax.adam(lr), 1e-2, "Adam"),
    "adamw": OptimizerSpec(
        lambda lr: momentax.adamw(lr, weight_decay=1e-2), 1e-2, "AdamW, weight decay 1e-2"
    ),
}


# Learning-rate schedules for ``momentax train --schedule``: peak rate and step budget -> schedule.
SCHEDULES: dict[str, tuple[Callable[[float, int], Any], str]] = {
    "constant": (lambda lr, steps: lr, "the rate stays fixed"),
    "cosine": (lambda lr, steps: momentax.schedules.cosine_decay(lr, steps),
               "cosine decay from the rate to 0 over the run"),
    "warmup-cosine": (lambda lr, steps: momentax.schedules.warmup_cosine_decay(
        0.0, lr, max(1, steps // 10), steps), "linear warm-up over 10% of the run, then cosine decay to 0"),
    "onecycle": (lambda lr, steps: momentax.schedules.one_cycle(lr, steps),
                 "one-cycle (Smith 2018): up to the rate over 30% of the run, then down"),
    "exponential": (lambda lr, steps: momentax.schedules.exponential_decay(lr, steps, 0.01),
                    "exponential decay to 1% of the rate at the end of the run"),
}


def make_optimizer(name: str, learning_rate: float, *, steps: int = 1, schedule: str = "constant",
                   clip: float | None = None) -> Any:
    """Builds the optimizer called ``name`` (a key of :data:`OPTIMIZERS`).

    Args:
      name: a key of :data:`OPTIMIZERS`.
      learning_rate: the (peak) learning rate.
      steps: the run's length, for the schedule.
      schedule: a key of :data:`SCHEDULES`.
      clip: if given, the chain starts with ``momentax.clip_by_global_norm(clip)``.
    """
    tx = OPTIMIZERS[name].make(SCHEDULES[schedule][0](learning_rate, steps))
    if clip is not None:
        tx = momentax.chain(momentax.clip_by_global_norm(clip), tx)
    return tx


def apply_updates(params: Any, updates: Any) -> Any:
    """``momentax.apply_updates``: ``params + updates``, leaf by leaf."""
    return momentax.apply_updates(params, updates)


def parse_optimizer_names(text: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    """Splits a comma-separated list of optimizer names and checks each one.

    Raises:
      ValueError: naming the first unknown name and listing the valid ones.
    """
    allowed = tuple(OPTIMIZERS) if allowed is None else allowed
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError(f"no optimizer given; choose from: {', '.join(allowed)}")
    for n in names:
        if n not in allowed:
            raise ValueError(f"unknown optimizer {n!r}; choose from: {', '.join(allowed)}")
    return list(dict.fromkeys(names))  # drop duplicates, keep order
