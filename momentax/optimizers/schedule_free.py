"""Schedule-free SGD and AdamW (Defazio et al. 2024): no learning-rate decay schedule needed."""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.transforms.schedule_free import scale_by_schedule_free
from momentax.transforms.scaling import ScalarOrSchedule

__all__ = ["schedule_free_sgd", "schedule_free_adamw"]


def schedule_free_sgd(learning_rate: ScalarOrSchedule = 1.0, b1: float = 0.9, weight_decay: float = 0.0,
                      warmup_steps: float = 0, r: float = 0.0, weight_lr_power: float = 2.0, *,
                      z_dtype: Any = None) -> GradientTransformation:
    """Schedule-free SGD: gradient steps on ``z``, evaluation at their weighted average ``x``.

    For step ``k`` (from 0), with ``gamma = learning_rate * min(1, (k+1)/warmup_steps)``::

        d  = g + weight_decay * y
        z' = z - gamma * d
        x' = (1 - ck) x + ck z',   ck = w_k / sum_{i<=k} w_i,   w_k = (k+1)**r * max_{i<=k} gamma_i**weight_lr_power
        y' = b1 x' + (1 - b1) z'

    The optimizer's parameters are ``y``; evaluate at ``momentax.eval_params(state, params)``.
    ``chain(scale_by_schedule_free(learning_rate, b1, weight_decay, warmup_steps, r,
    weight_lr_power))``.

    Args:
      learning_rate: >= 0, or a schedule (a constant is the method's intent).
      b1: in (0, 1) (the reference's ``momentum``).
      weight_decay: >= 0; L2 at ``y``, as the reference.
      warmup_steps: >= 0; linear warmup length.
      r: >= 0; polynomial weighting power.
      weight_lr_power: >= 0.
      z_dtype: static storage of the iterate ``z`` (not a moment; see
        :func:`momentax.scale_by_schedule_free`): a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32.

    Note:
      Arithmetic and defaults are those of the reference ``SGDScheduleFree``. optax's
      ``contrib.schedule_free_sgd`` agrees without warmup and with ``r=0``; with
      ``warmup_steps`` optax's base step uses the warmup value of step ``k`` and its weights
      the value of step ``k + 1`` (so its first step is zero), momentax and the reference
      ``(k + 1) / warmup_steps`` for both.

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.

    Source: A. Defazio et al., "The Road Less Scheduled", NeurIPS 2024,
    https://arxiv.org/abs/2405.15682.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.schedule_free_sgd(0.1)
      >>> y = jnp.array([1.0])
      >>> u, state = opt.update(2 * y, opt.init(y), y)
      >>> [round(x, 6) for x in (y + u).tolist()], [round(x, 6) for x in momentax.eval_params(state, y + u).tolist()]
      ([0.8], [0.8])
    """
    return labelled_chain("schedule_free_sgd", scale_by_schedule_free(learning_rate, b1, weight_decay, warmup_steps, r,
                                                                      weight_lr_power, z_dtype=z_dtype))


def schedule_free_adamw(learning_rate: ScalarOrSchedule = 0.0025, b1: float = 0.9, b2: float = 0.999,
                        eps: float = 1e-8, weight_decay: float = 0.0, warmup_steps: float = 0, r: float = 0.0,
                        weight_lr_power: float = 2.0, *, z_dtype: Any = None,
                        nu_dtype: Any = None) -> GradientTransformation:
    """Schedule-free AdamW: Adam-normalised steps on ``z``, evaluation at their average ``x``.

    For step ``k`` (from 0), with
    ``gamma = learning_rate * min(1, (k+1)/warmup_steps) * sqrt(1 - b2**(k+1))``::

        nu' = b2 nu + (1 - b2) g**2
        d   = g / (sqrt(nu') + eps) + weight_decay * y
        z'  = z - gamma * d
        x'  = (1 - ck) x + ck z',   ck = w_k / sum_{i<=k} w_i,   w_k = (k+1)**r * max_{i<=k} gamma_i**weight_lr_power
        y'  = b1 x' + (1 - b1) z'

    The optimizer's parameters are ``y``; evaluate at ``momentax.eval_params(state, params)``.
    ``chain(scale_by_schedule_free(learning_rate, b1, weight_decay, warmup_steps, r,
    weight_lr_power, b2=b2, eps=eps))``.

    Args:
      learning_rate: >= 0, or a schedule.
      b1: in (0, 1). b2: in [0, 1). eps: > 0, outside the root.
      weight_decay: >= 0; decoupled, at ``y``, scaled by ``gamma``.
      warmup_steps, r, weight_lr_power: as :func:`schedule_free_sgd`.
      nu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (the second moment ``nu``).
      z_dtype: static storage of the iterate ``z``, as :func:`schedule_free_sgd`.

    Note:
      Arithmetic and defaults are those of the reference ``AdamWScheduleFree``. optax's
      ``contrib.schedule_free_adamw`` differs in three ways: it bias-corrects ``nu`` inside
      the root (``g / (sqrt(nu' / (1 - b2**(k+1))) + eps)``) instead of folding
      ``sqrt(1 - b2**(k+1))`` into ``gamma``, so its weights ``w_k`` use ``learning_rate``
      alone; and the warmup offset described in :func:`schedule_free_sgd`. With
      ``weight_lr_power=0`` (or ``b2=0``), no warmup and a negligible ``eps`` the two agree.

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.
      TypeError: ``nu_dtype`` is not a dtype or a storage spec.

    Source: A. Defazio et al., "The Road Less Scheduled", NeurIPS 2024,
    https://arxiv.org/abs/2405.15682.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.schedule_free_adamw(0.1, b2=0.0)
      >>> y = jnp.array([1.0])
      >>> u, state = opt.update(jnp.array([3.0]), opt.init(y), y)
      >>> [round(x, 6) for x in (y + u).tolist()]
      [0.9]
    """
    return labelled_chain("schedule_free_adamw", scale_by_schedule_free(learning_rate, b1, weight_decay, warmup_steps,
                                                                        r, weight_lr_power, b2=b2, eps=eps,
                                                                        z_dtype=z_dtype, nu_dtype=nu_dtype))
