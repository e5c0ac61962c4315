"""momentax: composable, jit-friendly optimizer building blocks for JAX.

Every public name has one import path, ``momentax.<name>``. The layers:

- contract: :class:`GradientTransformation`, :func:`apply_updates`, :func:`identity`;
- per-array rules: :mod:`momentax.math`;
- transforms: :func:`scale`, :func:`scale_by_learning_rate`, :func:`trace`, :func:`ema`,
  :func:`scale_by_rss`, :func:`scale_by_rms`, :func:`scale_by_adadelta`,
  :func:`scale_by_adam`, :func:`add_decayed_weights`;
- combination: :func:`chain`;
- optimizers (each one chain): :func:`sgd`, :func:`momentum`, :func:`nesterov`,
  :func:`adagrad`, :func:`adadelta`, :func:`rmsprop`, :func:`adam`, :func:`adamw`;
- hyperparameters as data: :func:`hyperparams`, :func:`set_hyperparams`.
"""

from momentax.base import EmptyState, GradientTransformation, apply_updates, eval_params, identity, stateless
from momentax.combine import chain
from momentax.hyperparams import Hyperparams, hyperparams, set_hyperparams
from momentax.optimizers.classic import adadelta, adagrad, adam, adamw, momentum, nesterov, rmsprop, sgd
from momentax.transforms.adaptive import (
    ScaleByAdadeltaState,
    ScaleByAdamState,
    ScaleByRmsState,
    ScaleByRssState,
    scale_by_adadelta,
    scale_by_adam,
    scale_by_rms,
    scale_by_rss,
)
from momentax.transforms.decay import AddDecayedWeightsState, add_decayed_weights
from momentax.transforms.moments import EmaState, ema
from momentax.transforms.momentum import TraceState, trace
from momentax.transforms.scaling import ScaleState, ScheduleState, scale, scale_by_learning_rate
from momentax.trees import TreeMismatchError

# -- optimizer family: torch-side (amsgrad, adamax, nadam, radam, rprop, asgd) --
# -- optimizer family: adafactor, muon, schedule-free and the optax-side family --
# -- schedules --
# -- wrappers --

__version__ = "0.1.0"

__all__ = [
    "AddDecayedWeightsState",
    "EmaState",
    "EmptyState",
    "GradientTransformation",
    "Hyperparams",
    "ScaleByAdadeltaState",
    "ScaleByAdamState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleState",
    "ScheduleState",
    "TraceState",
    "TreeMismatchError",
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "add_decayed_weights",
    "apply_updates",
    "chain",
    "ema",
    "eval_params",
    "hyperparams",
    "identity",
    "momentum",
    "nesterov",
    "rmsprop",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_learning_rate",
    "scale_by_rms",
    "scale_by_rss",
    "set_hyperparams",
    "sgd",
    "stateless",
    "trace",
]
# Each block above that adds names extends __all__ below its imports.
