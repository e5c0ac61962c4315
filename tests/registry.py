"""One registry of every transform and optimizer, driving the shared checks.

Add an entry for every public transform and optimizer. ``tests/test_registry.py`` runs every
entry through jit-equals-eager, no-retrace, hyperparameter-change-without-retrace, dtype
preservation and tree-shape checks; ``tests/test_convergence.py`` runs every entry with a
``quadratic``/``rosenbrock`` setting on those problems.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import momentax as mx


@dataclasses.dataclass(frozen=True)
class Case:
    """A registry entry.

    Attributes:
      name: test id.
      make: constructor; ``make(**kwargs)`` builds the transform.
      kwargs: construction arguments used by the shared checks.
      sweep: ``{hyperparameter: other value}``; changing each (by ``set_hyperparams`` and by
        constructing anew with that value) must not recompile and must change the result.
      quadratic: ``(kwargs, steps)`` that bring the ill-conditioned quadratic below 1e-3 of its
        start, or None if the entry is not an optimizer.
      rosenbrock: ``(kwargs, steps)`` that bring Rosenbrock from (-1.2, 1) below 1e-2, or None.
    """

    name: str
    make: Callable[..., Any]
    kwargs: dict
    sweep: dict = dataclasses.field(default_factory=dict)
    quadratic: tuple[dict, int] | None = None
    rosenbrock: tuple[dict, int] | None = None

    def build(self, **overrides):
        return self.make(**{**self.kwargs, **overrides})


# A labelling function is static: reuse one object, or each new optimizer compiles anew.
_W_VERSUS_REST = mx.label_by_path({r"^w$": "a"}, default="b")

TRANSFORMS = [
    Case("scale", mx.scale, {"step_size": -0.5}, sweep={"step_size": 0.25}),
    Case("scale_by_learning_rate", mx.scale_by_learning_rate, {"learning_rate": 0.1}, sweep={"learning_rate": 0.2}),
    Case("scale_by_learning_rate_schedule", mx.scale_by_learning_rate,
         {"learning_rate": lambda t: 0.1 / (1.0 + t)}),
    Case("trace", mx.trace, {"momentum": 0.9, "dampening": 0.1}, sweep={"momentum": 0.5, "dampening": 0.3}),
    Case("trace_nesterov", mx.trace, {"momentum": 0.9, "nesterov": True}, sweep={"momentum": 0.5}),
    Case("ema", mx.ema, {"decay": 0.9}, sweep={"decay": 0.5}),
    Case("ema_nesterov", mx.ema, {"decay": 0.9, "debias": False, "nesterov": True}, sweep={"decay": 0.5}),
    Case("scale_by_rss", mx.scale_by_rss, {"initial_accumulator_value": 0.1}, sweep={"eps": 1e-3}),
    Case("scale_by_rms", mx.scale_by_rms, {}, sweep={"decay": 0.5, "eps": 1e-3}),
    Case("scale_by_rms_centered", mx.scale_by_rms, {"centered": True, "eps_in_sqrt": True}, sweep={"decay": 0.5}),
    Case("scale_by_adadelta", mx.scale_by_adadelta, {}, sweep={"rho": 0.5, "eps": 1e-3}),
    Case("scale_by_adam", mx.scale_by_adam, {}, sweep={"b1": 0.5, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-4}),
    Case("add_decayed_weights", mx.add_decayed_weights, {"weight_decay": 0.1}, sweep={"weight_decay": 0.3}),
    Case("add_decayed_weights_masked", mx.add_decayed_weights,
         {"weight_decay": 0.1, "mask": lambda p: {k: k != "b" for k in p}}, sweep={"weight_decay": 0.3}),
    Case("identity", mx.identity, {}),
    Case("named_chain", lambda decay, learning_rate: mx.named_chain(
        ("avg", mx.ema(decay)), ("lr", mx.scale_by_learning_rate(learning_rate))),
        {"decay": 0.9, "learning_rate": 0.1}, sweep={"decay": 0.5, "learning_rate": 0.2}),
    Case("masked", lambda learning_rate: mx.masked(mx.adam(learning_rate), {"w": True, "b": False, "nested": True}),
         {"learning_rate": 0.01}, sweep={"learning_rate": 0.02}),
    Case("partition", lambda learning_rate: mx.partition(
        {"a": mx.adam(learning_rate), "b": mx.sgd(learning_rate, momentum=0.9)},
        _W_VERSUS_REST), {"learning_rate": 0.01}, sweep={"learning_rate": 0.02}),
    Case("freeze", lambda learning_rate: mx.freeze(mx.adam(learning_rate), {"w": False, "b": True, "nested": False}),
         {"learning_rate": 0.01}, sweep={"learning_rate": 0.02}),
]

OPTIMIZERS = [
    Case("sgd", mx.sgd, {"learning_rate": 0.05}, sweep={"learning_rate": 0.01},
         quadratic=({"learning_rate": 0.019}, 2000), rosenbrock=({"learning_rate": 1e-3}, 20000)),
    Case("sgd_momentum", mx.sgd, {"learning_rate": 0.05, "momentum": 0.9, "dampening": 0.1, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.01, "momentum": 0.5, "dampening": 0.0, "weight_decay": 1e-2},
         quadratic=({"learning_rate": 0.01, "momentum": 0.9}, 400),
         rosenbrock=({"learning_rate": 1e-3, "momentum": 0.9}, 5000)),
    Case("sgd_nesterov", mx.sgd, {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
         sweep={"learning_rate": 0.01, "momentum": 0.5},
         quadratic=({"learning_rate": 0.01, "momentum": 0.9, "nesterov": True}, 400),
         rosenbrock=({"learning_rate": 1e-3, "momentum": 0.9, "nesterov": True}, 5000)),
    Case("momentum", mx.momentum, {"learning_rate": 0.05}, sweep={"learning_rate": 0.01, "momentum": 0.5},
         quadratic=({"learning_rate": 0.1}, 400), rosenbrock=({"learning_rate": 1e-2}, 5000)),
    Case("nesterov", mx.nesterov, {"learning_rate": 0.05}, sweep={"learning_rate": 0.01, "momentum": 0.5},
         quadratic=({"learning_rate": 0.1}, 400), rosenbrock=({"learning_rate": 1e-2}, 5000)),
    Case("adagrad", mx.adagrad, {"learning_rate": 0.1}, sweep={"learning_rate": 0.01, "eps": 1e-3},
         quadratic=({"learning_rate": 0.5}, 2000), rosenbrock=({"learning_rate": 0.5}, 5000)),
    Case("adadelta", mx.adadelta, {}, sweep={"learning_rate": 0.5, "rho": 0.5, "eps": 1e-3},
         quadratic=({"learning_rate": 0.1}, 5000), rosenbrock=({"learning_rate": 0.05}, 20000)),
    Case("rmsprop", mx.rmsprop, {"learning_rate": 0.01, "momentum": 0.5, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.001, "decay": 0.9, "momentum": 0.1, "eps": 1e-3, "weight_decay": 1e-2},
         quadratic=({"learning_rate": 0.01}, 2000), rosenbrock=({"learning_rate": 1e-3}, 10000)),
    Case("rmsprop_centered", mx.rmsprop, {"learning_rate": 0.01, "centered": True}, sweep={"decay": 0.9},
         quadratic=({"learning_rate": 0.01, "centered": True}, 2000),
         rosenbrock=({"learning_rate": 1e-3, "centered": True}, 10000)),
    Case("adam", mx.adam, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "eps": 1e-4},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
    Case("adamw", mx.adamw, {"learning_rate": 0.01},
         sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.05, "weight_decay": 1e-4}, 1000),
         rosenbrock=({"learning_rate": 0.02, "weight_decay": 0.0}, 5000)),
]

# -- optimizer family: torch-side --
# -- optimizer family: adafactor, muon, schedule-free and the optax-side family --
# -- wrappers --

ALL = TRANSFORMS + OPTIMIZERS
