"""Layer-wise adaptive optimizers: LARS (SGD with momentum) and LAMB (Adam), with trust ratios.

Each leaf of the parameter tree is one "layer": its step is rescaled to be proportional to
its parameter's norm (see :func:`momentax.scale_by_trust_ratio`), so how parameters are
grouped into leaves is part of the algorithm.
"""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.storage import check_storage
from momentax.transforms.adaptive import scale_by_adam
from momentax.transforms.decay import Mask, add_decayed_weights
from momentax.transforms.momentum import trace
from momentax.transforms.scaling import ScalarOrSchedule, scale_by_learning_rate
from momentax.transforms.trust import scale_by_trust_ratio

__all__ = ["lamb", "lars"]


def lamb(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6,
         eps_root: float = 0.0, weight_decay: float = 0.0, mask: Mask | None = None, *, mu_dtype: Any = None,
         nu_dtype: Any = None) -> GradientTransformation:
    """LAMB: Adam's direction plus decoupled decay, rescaled per leaf by a trust ratio.

    For each leaf::

        r  = m_hat / (sqrt(v_hat + eps_root) + eps) + weight_decay * p
        p' = p - learning_rate * (||p|| / ||r||) * r       (ratio 1 if either norm is 0)

    ``chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(weight_decay, mask),
    scale_by_trust_ratio(), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule. Each leaf moves by ``learning_rate * ||p||``.
      b1, b2: in [0, 1).
      eps: > 0 (default 1e-6, the paper's and optax's).
      eps_root: >= 0.
      weight_decay: >= 0; decoupled decay inside the trust-ratio numerator.
      mask: static; which leaves to decay (all leaves get the trust ratio).
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      Arithmetic and defaults equal optax's ``lamb``. The paper's scaling function
      ``phi(||p||)`` is the identity here, as in optax and the reference implementations.
      Adam's ``eps`` and the trust ratio's ``eps`` share a name; in
      :func:`momentax.hyperparams` they appear as ``0/eps`` and ``2/eps`` when the chain has
      ``weight_decay`` (``0/eps`` and ``1/eps`` without).

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: Y. You, J. Li, S. Reddi, J. Hseu, S. Kumar, S. Bhojanapalli, X. Song, J. Demmel,
    K. Keutzer, C.-J. Hsieh, "Large Batch Optimization for Deep Learning: Training BERT in
    76 minutes", ICLR 2020, https://arxiv.org/abs/1904.00962.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.lamb(0.1)
      >>> p = jnp.array([3.0, 4.0])
      >>> [round(x, 4) for x in opt.update(jnp.array([1.0, 1.0]), opt.init(p), p)[0].tolist()]
      [-0.3536, -0.3536]
    """
    parts = (scale_by_adam(b1, b2, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),)
    if weight_decay:
        parts += (add_decayed_weights(weight_decay, mask),)
    return labelled_chain("lamb", *parts, scale_by_trust_ratio(), scale_by_learning_rate(learning_rate))


def lars(learning_rate: ScalarOrSchedule, weight_decay: float = 0.0, mask: Mask | None = None,
         trust_coefficient: float = 0.001, eps: float = 0.0, trust_ratio_mask: Mask | None = None,
         momentum: float = 0.9, nesterov: bool = False, *, mu_dtype: Any = None) -> GradientTransformation:
    """LARS: SGD with momentum on layer-wise trust-ratio-scaled gradients.

    For each leaf::

        r  = g + weight_decay * p
        r  = trust_coefficient * ||p|| / (||r|| + eps) * r   (unscaled if a norm is 0)
        v' = momentum * v + r
        p' = p - learning_rate * v'                          (nesterov: r + momentum * v')

    ``chain(add_decayed_weights(weight_decay, mask), scale_by_trust_ratio(0,
    trust_coefficient, eps, mask=trust_ratio_mask), trace(momentum, nesterov=nesterov),
    scale_by_learning_rate(learning_rate))``; a zero ``weight_decay`` or ``momentum`` leaves
    its transform out.

    Args:
      learning_rate: >= 0, or a schedule.
      weight_decay: >= 0; L2 decay added to the gradient before the trust ratio.
      mask: static; which leaves to decay (optax: ``weight_decay_mask``).
      trust_coefficient: > 0 (the paper's ``eta``, default 0.001).
      eps: >= 0; added to the norm of the decayed gradient.
      trust_ratio_mask: static; which leaves get the trust ratio (others pass unscaled);
        ``None`` for all. Biases and normalisation scales are commonly excluded.
      momentum: in [0, 1); sum-form (heavy-ball) momentum, as torch.optim.SGD.
      nesterov: static; needs ``momentum > 0``.
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (the momentum buffer).

    Note:
      The learning rate is applied after the momentum buffer, as everywhere in momentax;
      optax's ``lars`` applies it before (its buffer accumulates ``learning_rate * r``). The
      two are equal for a constant learning rate and differ when it changes between steps
      (schedule or :func:`momentax.set_hyperparams`): momentax rescales past momentum by the
      new rate. Otherwise arithmetic and defaults equal optax's.

    Raises:
      ValueError: an argument out of range, ``nesterov`` with zero momentum, or ``update``
        called without ``params``.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: Y. You, I. Gitman, B. Ginsburg, "Large Batch Training of Convolutional Networks",
    2017, https://arxiv.org/abs/1708.03888.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.lars(1.0, trust_coefficient=0.1, momentum=0.0)
      >>> p = jnp.array([3.0, 4.0])
      >>> [round(x, 4) for x in opt.update(jnp.array([0.0, 2.0]), opt.init(p), p)[0].tolist()]
      [-0.0, -0.5]
    """
    if nesterov and momentum <= 0:
        raise ValueError("lars: Nesterov momentum requires momentum > 0.")
    check_storage("lars", mu_dtype=mu_dtype)  # also without momentum, where no buffer takes it
    parts = (add_decayed_weights(weight_decay, mask),) if weight_decay else ()
    parts += (scale_by_trust_ratio(0.0, trust_coefficient, eps, mask=trust_ratio_mask),)
    if momentum:
        parts += (trace(momentum, nesterov=nesterov, mu_dtype=mu_dtype),)
    return labelled_chain("lars", *parts, scale_by_learning_rate(learning_rate))
