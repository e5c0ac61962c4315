"""Sign-based optimizers: signSGD, Signum and Lion.

Each takes a step of the same size, ``learning_rate``, in every coordinate whose direction is
non-zero. Weight decay is decoupled (AdamW-style, scaled by the learning rate):
``p' = p - learning_rate * (direction + weight_decay * p)``; a zero ``weight_decay`` leaves its
transform out of the chain.
"""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.hyperparams import DECAY, rename_hyperparams, validate
from momentax.storage import check_storage
from momentax.transforms.decay import Mask, add_decayed_weights
from momentax.transforms.moments import ema
from momentax.transforms.scaling import ScalarOrSchedule, scale_by_learning_rate
from momentax.transforms.sign import scale_by_lion, scale_by_sign

__all__ = ["sign_sgd", "signum", "lion"]


def _decoupled(weight_decay: float, mask: Mask | None) -> tuple[GradientTransformation, ...]:
    """Decoupled decay ``u += weight_decay * p``, placed after the direction, before the rate."""
    return (add_decayed_weights(weight_decay, mask),) if weight_decay else ()


def sign_sgd(learning_rate: ScalarOrSchedule, weight_decay: float = 0.0,
             mask: Mask | None = None) -> GradientTransformation:
    """signSGD: ``p' = p - learning_rate * (sign(g) + weight_decay * p)``.

    ``chain(scale_by_sign(), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``; ``sign(0) = 0``.

    Args:
      learning_rate: >= 0, or a schedule ``step -> value``; the step taken in every
        coordinate with a non-zero gradient (units of the parameter).
      weight_decay: >= 0; decoupled decay, scaled by the learning rate.
      mask: static; which leaves to decay (see :func:`momentax.add_decayed_weights`).

    Note:
      With ``weight_decay=0`` this equals optax's ``sign_sgd``, which has no decay.

    Raises:
      ValueError: an argument out of range.

    Source: J. Bernstein, Y.-X. Wang, K. Azizzadenesheli, A. Anandkumar, "signSGD: Compressed
    Optimisation for Non-Convex Problems", ICML 2018, https://arxiv.org/abs/1802.04434.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.sign_sgd(0.5)
      >>> opt.update(jnp.array([3.0, 0.0, -0.01]), opt.init(jnp.zeros(3)))[0].tolist()
      [-0.5, -0.0, 0.5]
    """
    return labelled_chain("sign_sgd", scale_by_sign(), *_decoupled(weight_decay, mask),
                          scale_by_learning_rate(learning_rate))


def signum(learning_rate: ScalarOrSchedule, momentum: float = 0.9, weight_decay: float = 0.0,
           mask: Mask | None = None, *, mu_dtype: Any = None) -> GradientTransformation:
    """Signum: signSGD on a moving average of the gradients.

    ::

        m' = momentum * m + (1 - momentum) * g
        p' = p - learning_rate * (sign(m') + weight_decay * p)

    ``chain(ema(momentum, debias=False), scale_by_sign(), add_decayed_weights(weight_decay,
    mask), scale_by_learning_rate(learning_rate))``; the average needs no bias correction
    because only its sign is used. ``momentum=0`` leaves the average out (signSGD).

    Args:
      learning_rate: >= 0, or a schedule.
      momentum: in [0, 1); the paper's ``beta``; state ``momentum``.
      weight_decay: >= 0; decoupled decay, scaled by the learning rate.
      mask: static; which leaves to decay.
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (the average; none is kept when
        ``momentum`` is 0).

    Note:
      With ``weight_decay=0`` this equals optax's ``signum`` (whose ``beta`` and
      ``accumulator_dtype`` are ``momentum`` and ``mu_dtype`` here).

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: J. Bernstein, Y.-X. Wang, K. Azizzadenesheli, A. Anandkumar, "signSGD: Compressed
    Optimisation for Non-Convex Problems", ICML 2018, https://arxiv.org/abs/1802.04434
    (Algorithm 2).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.signum(0.1, momentum=0.9)
      >>> state = opt.init(jnp.zeros(2))
      >>> u, state = opt.update(jnp.array([1.0, -1.0]), state)
      >>> u, state = opt.update(jnp.array([-0.5, -1.0]), state)  # m' = [0.04, -0.19]
      >>> [round(x, 6) for x in u.tolist()]
      [-0.1, 0.1]
    """
    validate("signum", momentum=(momentum, DECAY))  # named as the caller spelled it, not as ema's decay
    check_storage("signum", mu_dtype=mu_dtype)  # also without momentum, where no buffer takes it
    parts = (rename_hyperparams(ema(momentum, debias=False, mu_dtype=mu_dtype), decay="momentum"),) if momentum else ()
    return labelled_chain("signum", *parts, scale_by_sign(), *_decoupled(weight_decay, mask),
                          scale_by_learning_rate(learning_rate))


def lion(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.99, weight_decay: float = 1e-3,
         mask: Mask | None = None, *, mu_dtype: Any = None) -> GradientTransformation:
    """Lion (EvoLved Sign Momentum).

    With ``m`` starting at zero::

        u  = sign(b1 * m + (1 - b1) * g)
        m' = b2 * m + (1 - b2) * g
        p' = p - learning_rate * (u + weight_decay * p)

    ``chain(scale_by_lion(b1, b2), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``. Lion's steps are larger than Adam's (every
    entry has size ``learning_rate``): the paper uses a learning rate 3-10x smaller and a
    weight decay 3-10x larger than for AdamW.

    Args:
      learning_rate: >= 0, or a schedule (the decay follows it).
      b1: in [0, 1); weight of the momentum in the direction.
      b2: in [0, 1); decay of the momentum.
      weight_decay: >= 0 (default 1e-3, optax's); decoupled decay scaled by the learning rate,
        as torch's AdamW and optax's ``lion``.
      mask: static; which leaves to decay.
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (the momentum).

    Note:
      Arithmetic and defaults equal optax's ``lion``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: X. Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023,
    https://arxiv.org/abs/2302.06675.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.lion(0.01, weight_decay=0.25)
      >>> p = jnp.array([2.0, 2.0])
      >>> [round(x, 6) for x in opt.update(jnp.array([-3.0, 0.5]), opt.init(p), p)[0].tolist()]
      [0.005, -0.015]
    """
    return labelled_chain("lion", scale_by_lion(b1, b2, mu_dtype=mu_dtype), *_decoupled(weight_decay, mask),
                          scale_by_learning_rate(learning_rate))
