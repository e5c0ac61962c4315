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
      extra: keyword arguments every ``update`` call receives (``loss`` for loss-driven ones).
    """

    name: str
    make: Callable[..., Any]
    kwargs: dict
    sweep: dict = dataclasses.field(default_factory=dict)
    quadratic: tuple[dict, int] | None = None
    rosenbrock: tuple[dict, int] | None = None
    extra: dict = dataclasses.field(default_factory=dict)

    def build(self, **overrides):
        """The transform; with ``extra``, its update also receives those keyword arguments."""
        tx = self.make(**{**self.kwargs, **overrides})
        if not self.extra:
            return tx
        extra = dict(self.extra)

        def update(updates, state, params=None, **more):
            return tx.update(updates, state, params, **{**extra, **more})

        return mx.GradientTransformation(tx.init, update, name=tx.name, hyper=tx.hyper,
                                         static={**tx.static, "extra": tuple(sorted(extra.items()))},
                                         children=tx.children)


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
TRANSFORMS.extend([
    Case("scale_by_amsgrad", mx.scale_by_amsgrad, {}, sweep={"b1": 0.5, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-4}),
    Case("scale_by_amsgrad_debias_before_max", mx.scale_by_amsgrad, {"debias_before_max": True}, sweep={"b2": 0.9}),
    Case("scale_by_adamax", mx.scale_by_adamax, {}, sweep={"b1": 0.5, "b2": 0.9, "eps": 1e-3}),
    Case("scale_by_nadam", mx.scale_by_nadam, {}, sweep={"b1": 0.5, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-4}),
    Case("scale_by_nadam_schedule", mx.scale_by_nadam, {"momentum_decay": 4e-3},
         sweep={"momentum_decay": 0.1, "b1": 0.5}),
    # rho_t <= 2 for t <= 2, so b2, eps, eps_root and threshold act from step 6 on only.
    Case("scale_by_radam", mx.scale_by_radam, {}, sweep={"b1": 0.5}),
    Case("scale_by_rprop", mx.scale_by_rprop, {"learning_rate": 0.1},
         sweep={"eta_plus": 1.5, "min_step_size": 0.2, "max_step_size": 0.05}),
    Case("scale_by_asgd", mx.scale_by_asgd, {"learning_rate": 0.1, "lambd": 0.5},
         sweep={"learning_rate": 0.2, "lambd": 0.1, "alpha": 0.3}),
    Case("average_iterates", mx.average_iterates, {"t0": 1.0}),  # passes updates through: nothing to sweep
])
OPTIMIZERS.extend([
    Case("amsgrad", mx.amsgrad, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "eps": 1e-4},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
    Case("adamax", mx.adamax, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "b1": 0.5, "eps": 1e-3},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
    Case("adamaxw", mx.adamaxw, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.05, "weight_decay": 1e-4}, 1000),
         rosenbrock=({"learning_rate": 0.02, "weight_decay": 0.0}, 5000)),
    Case("nadam", mx.nadam, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "eps": 1e-4},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
    Case("nadam_schedule", mx.nadam, {"learning_rate": 0.01, "momentum_decay": 4e-3},
         sweep={"learning_rate": 0.001, "momentum_decay": 0.1},
         quadratic=({"learning_rate": 0.05, "momentum_decay": 4e-3}, 1000),
         rosenbrock=({"learning_rate": 0.02, "momentum_decay": 4e-3}, 5000)),
    Case("nadamw", mx.nadamw, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.05, "weight_decay": 1e-4}, 1000),
         rosenbrock=({"learning_rate": 0.02, "weight_decay": 0.0}, 5000)),
    # RAdam's first steps are plain momentum: at lr 0.02 Rosenbrock's steep start diverges (torch too).
    Case("radam", mx.radam, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "b1": 0.5},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 5e-3}, 10000)),
    Case("rprop", mx.rprop, {"learning_rate": 0.01}, sweep={"eta_plus": 1.5, "max_step_size": 0.005},
         quadratic=({"learning_rate": 0.01}, 200), rosenbrock=({"learning_rate": 0.01}, 2000)),
    Case("asgd", mx.asgd, {"learning_rate": 0.05, "lambd": 0.5, "t0": 1.0},
         sweep={"learning_rate": 0.01, "lambd": 0.1, "alpha": 0.3},
         quadratic=({"learning_rate": 0.019}, 2000), rosenbrock=({"learning_rate": 1e-3}, 20000)),
])
# -- optimizer family: adafactor, muon, schedule-free and the optax-side family --
TRANSFORMS.extend([  # the optax-side family: sign, belief, trust
    Case("scale_by_sign", mx.scale_by_sign, {}),
    # Lion's direction is a sign: b1 and b2 must move far to flip one (checked on step 2).
    Case("scale_by_lion", mx.scale_by_lion, {}, sweep={"b1": 0.99, "b2": 0.0}),
    Case("scale_by_belief", mx.scale_by_belief, {}, sweep={"b1": 0.5, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-3}),
    Case("scale_by_belief_nesterov", mx.scale_by_belief, {"nesterov": True}, sweep={"b1": 0.5}),
    Case("scale_by_yogi", mx.scale_by_yogi, {}, sweep={"b1": 0.5, "b2": 0.9, "eps": 1e-1, "eps_root": 1e-2}),
    Case("scale_by_novograd", mx.scale_by_novograd, {"weight_decay": 1e-3},
         sweep={"b1": 0.5, "b2": 0.9, "eps": 1e-1, "eps_root": 1e-2, "weight_decay": 0.1}),
    Case("scale_by_adan", mx.scale_by_adan, {}, sweep={"b1": 0.5, "b2": 0.5, "b3": 0.9, "eps": 1e-1, "eps_root": 1e-2}),
    Case("scale_by_trust_ratio", mx.scale_by_trust_ratio, {}, sweep={"min_norm": 10.0, "trust_coefficient": 0.5,
                                                                     "eps": 0.5}),
    Case("scale_by_trust_ratio_masked", mx.scale_by_trust_ratio, {"mask": lambda p: {k: k != "b" for k in p}},
         sweep={"trust_coefficient": 0.5}),
])
OPTIMIZERS.extend([  # the optax-side family
    Case("sign_sgd", mx.sign_sgd, {"learning_rate": 0.01, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.02, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.01}, 1000), rosenbrock=({"learning_rate": 1e-4}, 40000)),
    Case("signum", mx.signum, {"learning_rate": 0.01, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.02, "momentum": 0.5, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.01}, 1000), rosenbrock=({"learning_rate": 1e-3}, 5000)),
    Case("lion", mx.lion, {"learning_rate": 0.01}, sweep={"learning_rate": 0.02, "b1": 0.99, "b2": 0.0,
                                                          "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.01, "weight_decay": 0.0}, 1000),
         rosenbrock=({"learning_rate": 1e-3, "weight_decay": 0.0}, 5000)),
    Case("adabelief", mx.adabelief, {"learning_rate": 0.01, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "eps": 1e-3, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
    Case("yogi", mx.yogi, {"learning_rate": 0.01}, sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "eps": 1e-1},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
    Case("novograd", mx.novograd, {"learning_rate": 0.01, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "eps": 1e-1, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.01}, 1000), rosenbrock=({"learning_rate": 3e-3}, 10000)),
    Case("adan", mx.adan, {"learning_rate": 0.01, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.5, "b3": 0.9, "eps": 1e-1, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
    # LAMB's step is learning_rate * ||p|| per leaf, so near Rosenbrock's minimum it needs a small rate.
    # Adam's eps and the trust ratio's eps share a name (set_hyperparams sets both): not swept.
    Case("lamb", mx.lamb, {"learning_rate": 0.01, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.001, "b1": 0.5, "b2": 0.9, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.01}, 2000), rosenbrock=({"learning_rate": 2e-3}, 30000)),
    Case("lars", mx.lars, {"learning_rate": 0.1, "weight_decay": 1e-3, "trust_coefficient": 0.01},
         sweep={"learning_rate": 0.2, "momentum": 0.5, "trust_coefficient": 0.1, "eps": 0.5, "weight_decay": 0.1},
         quadratic=({"learning_rate": 1.0, "trust_coefficient": 0.01}, 1000),
         rosenbrock=({"learning_rate": 0.1}, 20000)),
])
TRANSFORMS.extend([
    Case("scale_by_factored_rms", mx.scale_by_factored_rms, {}, sweep={"decay_rate": 0.5, "eps": 1e-2}),
    Case("scale_by_factored_rms_torch", mx.scale_by_factored_rms, {"eps": None, "clamp_eps": True,
                                                                   "clipping_threshold": 1.2},
         sweep={"decay_rate": 0.5, "clipping_threshold": 1.0}),
    Case("scale_by_param_block_rms", mx.scale_by_param_block_rms, {}, sweep={"min_scale": 2.0}),
    Case("scale_by_relative_step", mx.scale_by_relative_step, {"learning_rate": 0.1, "weight_decay": 0.1},
         sweep={"learning_rate": 0.05, "weight_decay": 0.3}),
    # scale_by_muon takes matrices only: the registry tree's vectors and scalars pass through.
    Case("scale_by_muon", lambda **kw: mx.masked(mx.scale_by_muon(**kw), {"w": True, "b": False, "nested": False}),
         {"momentum": 0.9}, sweep={"momentum": 0.5, "eps": 0.5}),
    Case("scale_by_schedule_free", mx.scale_by_schedule_free, {"learning_rate": 0.1, "warmup_steps": 3},
         sweep={"learning_rate": 0.2, "b1": 0.5, "weight_decay": 0.1, "warmup_steps": 5.0, "r": 1.0,
                "weight_lr_power": 1.0}),
])
OPTIMIZERS.extend([
    Case("adafactor", mx.adafactor, {"learning_rate": 0.05, "b1": 0.9, "weight_decay": 1e-3},
         sweep={"learning_rate": 0.1, "decay_rate": 0.5, "eps": 1e-2, "min_scale": 2.0,
                "weight_decay": 0.01},
         quadratic=({"learning_rate": 0.1}, 500), rosenbrock=({"learning_rate": 0.05, "b1": 0.9}, 2500)),
    # On 2-vectors muon falls back to its AdamW group; the matrix path is tested in test_orthogonal.py.
    Case("muon", mx.muon, {"learning_rate": 0.01, "weight_decay": 0.01},
         sweep={"learning_rate": 0.02, "momentum": 0.8, "weight_decay": 0.1},
         quadratic=({"learning_rate": 0.05}, 500), rosenbrock=({"learning_rate": 0.05}, 2500)),
    Case("schedule_free_sgd", mx.schedule_free_sgd, {"learning_rate": 0.1, "warmup_steps": 3},
         sweep={"learning_rate": 0.2, "b1": 0.5, "weight_decay": 0.1, "r": 1.0, "weight_lr_power": 1.0},
         quadratic=({"learning_rate": 0.01}, 500), rosenbrock=({"learning_rate": 0.005}, 5000)),
    Case("schedule_free_adamw", mx.schedule_free_adamw, {"learning_rate": 0.01, "warmup_steps": 3},
         sweep={"learning_rate": 0.02, "b1": 0.5, "b2": 0.9, "eps": 1e-3, "weight_decay": 0.1, "r": 1.0},
         quadratic=({"learning_rate": 0.05}, 500), rosenbrock=({"learning_rate": 0.05}, 5000)),
])
# -- wrappers --
def _wrapped_adam(wrapper):
    """``wrapper(adam(learning_rate), **options)``: the inner learning rate stays settable."""
    return lambda learning_rate, **options: wrapper(mx.adam(learning_rate), **options)


TRANSFORMS.extend([
    Case("clip", mx.clip, {"max_delta": 0.3}, sweep={"max_delta": 0.1}),
    Case("clip_by_global_norm", mx.clip_by_global_norm, {"max_norm": 0.5}, sweep={"max_norm": 0.2, "eps": 1e-2}),
    Case("clip_by_block_rms", mx.clip_by_block_rms, {"threshold": 0.3}, sweep={"threshold": 0.1}),
    Case("adaptive_grad_clip", mx.adaptive_grad_clip, {"clipping": 0.1}, sweep={"clipping": 0.05, "eps": 5.0}),
    Case("apply_if_finite", _wrapped_adam(mx.apply_if_finite), {"learning_rate": 0.01, "max_consecutive_errors": 3},
         sweep={"learning_rate": 0.02}),
    Case("skip_on_loss_spike", _wrapped_adam(mx.skip_on_loss_spike),
         {"learning_rate": 0.01, "threshold": 3.0, "warmup": 2}, sweep={"learning_rate": 0.02}, extra={"loss": 1.0}),
    Case("accumulate_gradients", _wrapped_adam(mx.accumulate_gradients), {"learning_rate": 0.01, "k": 1},
         sweep={"k": 2, "learning_rate": 0.02}),
    Case("lookahead", _wrapped_adam(mx.lookahead), {"learning_rate": 0.01, "sync_period": 1, "alpha": 0.5},
         sweep={"alpha": 0.25, "sync_period": 2, "learning_rate": 0.02}),
    Case("weight_ema", _wrapped_adam(mx.weight_ema), {"learning_rate": 0.01, "decay": 0.9},
         sweep={"learning_rate": 0.02}),
    Case("weight_ema_plain", _wrapped_adam(mx.weight_ema), {"learning_rate": 0.01, "decay": 0.9, "debias": False}),
])
# -- schedules --
TRANSFORMS.append(Case("reduce_on_plateau", lambda factor: mx.chain(mx.sgd(0.1), mx.reduce_on_plateau(
    factor=factor, patience=0)), {"factor": 0.5}, extra={"loss": 1.0}))


def _sgd_one_cycle_momentum(learning_rate, momentum=0.9):
    """SGD whose momentum follows the one-cycle policy; the learning rate stays settable."""
    return mx.with_schedules(mx.sgd(learning_rate, momentum=momentum),
                             momentum=mx.schedules.one_cycle_momentum(50))


def _adam_cosine_b1(learning_rate, b2=0.999):
    """Adam with a cosine-scheduled learning rate and a linearly warmed b1 (b2 stays settable)."""
    return mx.with_schedules(mx.adam(learning_rate, b2=b2),
                             learning_rate=mx.schedules.cosine_decay(learning_rate, 5000),
                             b1=mx.schedules.linear(0.5, 0.9, 20))


OPTIMIZERS.extend([
    Case("with_schedules_sgd", _sgd_one_cycle_momentum, {"learning_rate": 0.05}, sweep={"learning_rate": 0.01},
         quadratic=({"learning_rate": 0.01}, 400), rosenbrock=({"learning_rate": 1e-3}, 5000)),
    Case("with_schedules_adam", _adam_cosine_b1, {"learning_rate": 0.01}, sweep={"b2": 0.9},
         quadratic=({"learning_rate": 0.05}, 1000), rosenbrock=({"learning_rate": 0.02}, 5000)),
])

ALL = TRANSFORMS + OPTIMIZERS
