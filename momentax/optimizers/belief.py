"""Adam's relatives: AdaBelief, Yogi, NovoGrad and Adan.

AdaBelief, Yogi and Adan take decoupled weight decay (AdamW-style, scaled by the learning
rate): ``p' = p - learning_rate * (u + weight_decay * p)``; NovoGrad puts its decay inside the
momentum, as its paper does. A zero ``weight_decay`` leaves the decay out of the chain.
"""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.transforms.belief import scale_by_adan, scale_by_belief, scale_by_novograd, scale_by_yogi
from momentax.transforms.decay import Mask, add_decayed_weights
from momentax.transforms.scaling import ScalarOrSchedule, scale_by_learning_rate

__all__ = ["adabelief", "yogi", "novograd", "adan"]


def _decoupled(weight_decay: float, mask: Mask | None) -> tuple[GradientTransformation, ...]:
    """Decoupled decay ``u += weight_decay * p``, placed after the scaling, before the rate."""
    return (add_decayed_weights(weight_decay, mask),) if weight_decay else ()


def adabelief(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16,
              eps_root: float = 1e-16, weight_decay: float = 0.0, mask: Mask | None = None, *,
              nesterov: bool = False, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """AdaBelief: ``p' = p - learning_rate * (m_hat / (sqrt(s_hat) + eps) + weight_decay * p)``.

    ``s`` is the moving average of ``(g - m')**2`` (plus ``eps_root`` per step); the moments
    are in :func:`momentax.scale_by_belief`. ``chain(scale_by_belief(...),
    add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule.
      b1, b2: in [0, 1).
      eps: > 0, outside the root.
      eps_root: >= 0, added to ``s`` every step.
      weight_decay: >= 0; decoupled decay (the paper's ``weight_decouple``), scaled by the
        learning rate.
      mask: static; which leaves to decay.
      nesterov: static; Nesterov form of the first moment.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      With ``weight_decay=0`` arithmetic and defaults equal optax's ``adabelief``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: J. Zhuang et al., "AdaBelief Optimizer: Adapting Stepsizes by the Belief in
    Observed Gradients", NeurIPS 2020, https://arxiv.org/abs/2010.07468.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adabelief(0.1, eps=1e-3, eps_root=0.0)
      >>> round(float(opt.update(jnp.array([3.0]), opt.init(jnp.zeros(1)))[0][0]), 4)
      -0.1111
    """
    return labelled_chain("adabelief", scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov, mu_dtype=mu_dtype,
                                                        nu_dtype=nu_dtype),
                          *_decoupled(weight_decay, mask), scale_by_learning_rate(learning_rate))


def yogi(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3,
         eps_root: float = 0.0, initial_accumulator_value: float = 1e-6, weight_decay: float = 0.0,
         mask: Mask | None = None, *, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """Yogi: Adam with an additive second moment, ``v' = v - (1 - b2) sign(v - g**2) g**2``.

    ``p' = p - learning_rate * (m_hat / (sqrt(v_hat + eps_root) + eps) + weight_decay * p)``;
    the moments are in :func:`momentax.scale_by_yogi`. ``chain(scale_by_yogi(...),
    add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule (the paper uses 1e-2).
      b1, b2: in [0, 1).
      eps: > 0 (default 1e-3, the paper's).
      eps_root: >= 0.
      initial_accumulator_value: >= 0; where both moments start.
      weight_decay: >= 0; decoupled decay, scaled by the learning rate.
      mask: static; which leaves to decay.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      With ``weight_decay=0`` arithmetic and defaults equal optax's ``yogi``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: M. Zaheer, S. Reddi, D. Sachan, S. Kale, S. Kumar, "Adaptive Methods for Nonconvex
    Optimization", NeurIPS 2018,
    https://papers.nips.cc/paper/8186-adaptive-methods-for-nonconvex-optimization.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.yogi(0.01, initial_accumulator_value=0.0)
      >>> round(float(opt.update(jnp.array([2.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.009995
    """
    return labelled_chain("yogi", scale_by_yogi(b1, b2, eps, eps_root, initial_accumulator_value, mu_dtype=mu_dtype,
                                                nu_dtype=nu_dtype),
                          *_decoupled(weight_decay, mask), scale_by_learning_rate(learning_rate))


def novograd(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.25, eps: float = 1e-6,
             eps_root: float = 0.0, weight_decay: float = 0.0, *, mu_dtype: Any = None) -> GradientTransformation:
    """NovoGrad: momentum of gradients normalised by a per-leaf (layer-wise) second moment.

    ::

        v' = b2 * v + (1 - b2) * ||g||**2         (v' = ||g||**2 on the first step)
        m' = b1 * m + g / (sqrt(v' + eps_root) + eps) + weight_decay * p
        p' = p - learning_rate * m'

    ``chain(scale_by_novograd(b1, b2, eps, eps_root, weight_decay), scale_by_learning_rate(...))``;
    the decay sits inside the momentum (see :func:`momentax.scale_by_novograd`).

    Args:
      learning_rate: >= 0, or a schedule.
      b1: in [0, 1); sum-form momentum.
      b2: in [0, 1).
      eps: > 0 (default 1e-6, optax's ``novograd``).
      eps_root: >= 0.
      weight_decay: >= 0; L2 decay inside the momentum (needs ``params`` in ``update``).
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (``m``; the per-leaf ``v`` is a
        float32 scalar, so there is
        no ``nu_dtype``).

    Note:
      Arithmetic and defaults equal optax's ``novograd``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: B. Ginsburg et al., "Stochastic Gradient Methods with Layer-wise Adaptive Moments
    for Training of Deep Networks", 2019, https://arxiv.org/abs/1905.11286.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.novograd(0.1)
      >>> [round(x, 6) for x in opt.update(jnp.array([6.0, 8.0]), opt.init(jnp.zeros(2)))[0].tolist()]
      [-0.06, -0.08]
    """
    return labelled_chain("novograd", scale_by_novograd(b1, b2, eps, eps_root, weight_decay, mu_dtype=mu_dtype),
                          scale_by_learning_rate(learning_rate))


def adan(learning_rate: ScalarOrSchedule, b1: float = 0.98, b2: float = 0.92, b3: float = 0.99,
         eps: float = 1e-8, eps_root: float = 0.0, weight_decay: float = 0.0,
         mask: Mask | None = None, *, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """Adan (ADAptive Nesterov momentum).

    ``p' = p - learning_rate * (u + weight_decay * p)`` with ``u`` from
    :func:`momentax.scale_by_adan`::

        u = (m_hat + b2 * d_hat) / (sqrt(n_hat + eps_root) + eps)

    ``chain(scale_by_adan(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule.
      b1, b2, b3: in [0, 1); decay rates (one minus the paper's betas).
      eps: > 0, outside the root.
      eps_root: >= 0, inside the root (default 0, the authors' code; optax's is 1e-8).
      weight_decay: >= 0; decoupled decay, scaled by the learning rate.
      mask: static; which leaves to decay.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32 (``mu_dtype``: ``m`` and ``d``; the previous gradient keeps the
        parameter's dtype).

    Note:
      The gradient-difference terms are weighted by ``b2`` as in the paper and the authors'
      code; optax 0.2.8 weights them by ``1 - b2`` (see :func:`momentax.scale_by_adan`).
      The decay is optax's ``p -= learning_rate * weight_decay * p``; the paper's proximal
      form ``p' = (p - learning_rate * u) / (1 + learning_rate * weight_decay)`` differs from
      it by ``O((learning_rate * weight_decay)**2)`` per step.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: X. Xie, P. Zhou, H. Li, Z. Lin, S. Yan, "Adan: Adaptive Nesterov Momentum
    Algorithm for Faster Optimizing Deep Models", 2022, https://arxiv.org/abs/2208.06677.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adan(0.1)
      >>> [round(x, 4) for x in opt.update(jnp.array([0.5, -2.0]), opt.init(jnp.zeros(2)))[0].tolist()]
      [-0.1, 0.1]
    """
    return labelled_chain("adan", scale_by_adan(b1, b2, b3, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          *_decoupled(weight_decay, mask),
                          scale_by_learning_rate(learning_rate))
