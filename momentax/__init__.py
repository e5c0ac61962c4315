"""momentax: composable, jit-friendly optimizer building blocks for JAX.

Every public name has one import path: ``momentax.<name>``, plus the namespaces
``momentax.schedules`` (step -> value functions) and ``momentax.torch`` (torch.optim presets).
The layers, each in its own place:

- the contract (``momentax/base.py``): :class:`GradientTransformation`, :func:`apply_updates`;
- per-array update rules (``momentax/math/<family>.py``), the reference every path must match;
- transforms that lift them over pytrees (``momentax/transforms/<family>.py``): ``scale_by_*``,
  ``trace`` (momentum as a sum), ``ema`` (momentum as an average), clipping, weight decay;
- combination (``combine.py``, ``partition.py``): ``chain``, ``named_chain``, ``masked``,
  ``partition``, ``freeze``; wrappers (``momentax/wrappers/``): ``apply_if_finite``,
  ``accumulate_gradients``, ``lookahead``, ``weight_ema``, ...;
- optimizers, each one chain (``momentax/optimizers/<family>.py``): ``sgd`` ... ``muon``;
- hyperparameters as data (``hyperparams.py``): :func:`hyperparams`, :func:`set_hyperparams`;
- sharding and checkpoints: ``state_shardings``, ``zero1_shardings``, ``restore_state``.
"""

from momentax.base import EmptyState, GradientTransformation, apply_updates, eval_params, identity, stateless
from momentax.combine import chain, named_chain
from momentax.hyperparams import Hyperparams, hyperparams, set_hyperparams
from momentax.partition import freeze, label_by_path, masked, partition
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
from momentax.optimizers.adam_family import adamax, adamaxw, amsgrad, nadam, nadamw, radam
from momentax.optimizers.torch_family import asgd, rprop
from momentax.transforms.adam_family import (
    ScaleByAdamaxState,
    ScaleByAmsgradState,
    ScaleByNadamState,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_nadam,
    scale_by_radam,
)
from momentax.transforms.averaging import AverageIteratesState, ScaleByAsgdState, average_iterates, scale_by_asgd
from momentax.transforms.rprop import ScaleByRpropState, scale_by_rprop
from momentax import torch  # the torch.optim presets, momentax.torch.<Name>; kept out of __all__
# -- optimizer family: adafactor, muon, schedule-free and the optax-side family --
from momentax.optimizers.factored import adafactor
from momentax.optimizers.orthogonal import muon
from momentax.optimizers.schedule_free import schedule_free_adamw, schedule_free_sgd
from momentax.transforms.factored import (
    FactoredRmsState,
    ParamBlockRmsState,
    RelativeStepState,
    scale_by_factored_rms,
    scale_by_param_block_rms,
    scale_by_relative_step,
)
from momentax.transforms.orthogonal import ScaleByMuonState, scale_by_muon
from momentax.transforms.schedule_free import ScheduleFreeState, scale_by_schedule_free
from momentax.optimizers.belief import adabelief, adan, novograd, yogi
from momentax.optimizers.sign import lion, sign_sgd, signum
from momentax.optimizers.trust import lamb, lars
from momentax.transforms.belief import (
    ScaleByAdanState,
    ScaleByBeliefState,
    ScaleByNovogradState,
    ScaleByYogiState,
    scale_by_adan,
    scale_by_belief,
    scale_by_novograd,
    scale_by_yogi,
)
from momentax.transforms.sign import ScaleByLionState, scale_by_lion, scale_by_sign
from momentax.transforms.trust import ScaleByTrustRatioState, scale_by_trust_ratio
# -- schedules --
from momentax import schedules
from momentax.transforms.plateau import ReduceOnPlateauState, reduce_on_plateau
from momentax.transforms.scheduled import WithSchedulesState, with_schedules
# -- wrappers --
from momentax.transforms.clipping import ClipState, adaptive_grad_clip, clip, clip_by_block_rms, clip_by_global_norm
from momentax.wrappers._accumulate import AccumulateGradientsState, accumulate_gradients
from momentax.wrappers._averaging import WeightEmaState, weight_ema
from momentax.wrappers._finite import ApplyIfFiniteState, SkipOnLossSpikeState, apply_if_finite, skip_on_loss_spike
from momentax.wrappers._lookahead import LookaheadState, lookahead

# -- sharding --
from momentax.checkpoint import restore_state
from momentax.sharding import state_shardings, zero1_shardings

# -- state storage and low-precision parameters --
from momentax import storage
from momentax.storage import blockwise_8bit, stochastic_rounding
from momentax.transforms.precision import (
    KahanSummationState,
    StochasticRoundParamsState,
    kahan_summation,
    stochastic_round_params,
)
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
    "freeze",
    "hyperparams",
    "identity",
    "label_by_path",
    "masked",
    "momentum",
    "named_chain",
    "nesterov",
    "partition",
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
    # torch-side family
    "AverageIteratesState", "ScaleByAdamaxState", "ScaleByAmsgradState", "ScaleByAsgdState", "ScaleByNadamState",
    "ScaleByRpropState", "adamax", "adamaxw", "amsgrad", "asgd", "average_iterates", "nadam", "nadamw", "radam",
    "rprop", "scale_by_adamax", "scale_by_amsgrad", "scale_by_asgd", "scale_by_nadam", "scale_by_radam",
    "scale_by_rprop",
    # wrappers
    "AccumulateGradientsState", "ApplyIfFiniteState", "ClipState", "LookaheadState", "SkipOnLossSpikeState",
    "WeightEmaState", "accumulate_gradients", "adaptive_grad_clip", "apply_if_finite", "clip", "clip_by_block_rms",
    "clip_by_global_norm", "lookahead", "skip_on_loss_spike", "weight_ema",
    # adafactor, muon, schedule-free
    "FactoredRmsState", "ParamBlockRmsState", "RelativeStepState", "ScaleByMuonState", "ScheduleFreeState",
    "adafactor", "muon", "scale_by_factored_rms", "scale_by_muon", "scale_by_param_block_rms",
    "scale_by_relative_step", "scale_by_schedule_free", "schedule_free_adamw", "schedule_free_sgd",
    # optax-side family
    "ScaleByAdanState", "ScaleByBeliefState", "ScaleByLionState", "ScaleByNovogradState", "ScaleByTrustRatioState",
    "ScaleByYogiState", "adabelief", "adan", "lamb", "lars", "lion", "novograd", "scale_by_adan", "scale_by_belief",
    "scale_by_lion", "scale_by_novograd", "scale_by_sign", "scale_by_trust_ratio", "scale_by_yogi", "sign_sgd",
    "signum", "yogi",
    # schedules
    "ReduceOnPlateauState", "WithSchedulesState", "reduce_on_plateau", "schedules", "with_schedules",
    # sharding and checkpoints
    "restore_state", "state_shardings", "zero1_shardings",
    # state storage and low-precision parameters
    "KahanSummationState", "StochasticRoundParamsState", "blockwise_8bit", "kahan_summation", "stochastic_round_params",
    "stochastic_rounding", "storage",
]
# Each block above that adds names extends __all__ below its imports.
