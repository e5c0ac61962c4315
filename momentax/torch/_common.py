"""Helpers shared by the torch.optim presets: sign flip, weight-decay placement, argument pairs."""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.transforms.decay import add_decayed_weights
from momentax.transforms.scaling import scale, scale_by_learning_rate

Parts = tuple[GradientTransformation, ...]


def _sign(maximize: bool) -> Parts:
    return (scale(-1.0),) if maximize else ()


def _decay(weight_decay: float) -> Parts:
    return (add_decayed_weights(weight_decay),) if weight_decay else ()


def _pair(value: Any, name: str, where: str) -> tuple[float, float]:
    try:
        first, second = value
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {name} must be a pair of numbers, got {value!r}.") from None
    return first, second


def _adam_like(where: str, core: GradientTransformation, lr: float, weight_decay: float, decoupled: bool,
               maximize: bool) -> GradientTransformation:
    """``[negate] [L2] core [decoupled decay] lr``: torch's Adam-family weight-decay placements."""
    l2, decoupled_decay = ((), _decay(weight_decay)) if decoupled else (_decay(weight_decay), ())
    return labelled_chain(where, *_sign(maximize), *l2, core, *decoupled_decay, scale_by_learning_rate(lr))
