"""Adam's relatives as optimizers: AMSGrad, Adamax(W), NAdam(W), RAdam.

Each is one chain of transforms with no array math; the rules are in
:mod:`momentax.math.adam_family`. A zero ``weight_decay`` leaves its transform out of the
chain (as in :mod:`momentax.optimizers.classic`). The ``...w`` variants decay the weights
like :func:`momentax.adamw`: ``p' = p - learning_rate * (step + weight_decay * p)``.
"""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.transforms.adam_family import scale_by_adamax, scale_by_amsgrad, scale_by_nadam, scale_by_radam
from momentax.transforms.decay import Mask, add_decayed_weights
from momentax.transforms.scaling import ScalarOrSchedule, scale_by_learning_rate

__all__ = ["amsgrad", "adamax", "adamaxw", "nadam", "nadamw", "radam"]


def _l2(weight_decay: float) -> tuple[GradientTransformation, ...]:
    """Coupled L2 regularisation (torch's ``weight_decay=``): ``g += weight_decay * p`` first."""
    return (add_decayed_weights(weight_decay),) if weight_decay else ()


def amsgrad(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
            eps_root: float = 0.0, weight_decay: float = 0.0, *, debias_before_max: bool = False,
            mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """AMSGrad: ``p' = p - learning_rate * m_hat / (sqrt(max_s v_s / (1 - b2**t) + eps_root) + eps)``.

    ``chain(add_decayed_weights(weight_decay), scale_by_amsgrad(...),
    scale_by_learning_rate(learning_rate))``; the rule is :func:`momentax.scale_by_amsgrad`.

    Args:
      learning_rate: >= 0, or a schedule ``step -> value``.
      b1, b2: in [0, 1).
      eps: > 0.
      eps_root: >= 0.
      weight_decay: >= 0; coupled L2 (torch.optim.Adam's ``weight_decay=`` with
        ``amsgrad=True``). For decoupled decay, chain ``add_decayed_weights`` after
        ``scale_by_amsgrad`` as in :func:`momentax.adamw`, or use
        ``momentax.torch.AdamW(amsgrad=True)``.
      debias_before_max: static; ``False`` (default) is torch's AMSGrad, ``True`` optax's.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      With the defaults this is torch.optim.Adam(amsgrad=True); optax's ``amsgrad`` is
      ``debias_before_max=True`` (see :func:`momentax.scale_by_amsgrad`).

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: S. J. Reddi, S. Kale, S. Kumar, ICLR 2018, https://openreview.net/forum?id=ryQu7f-RZ.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.amsgrad(0.1)
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(jnp.zeros(1)))[0][0]), 4)
      -0.1
    """
    return labelled_chain("amsgrad", *_l2(weight_decay),
                          scale_by_amsgrad(b1, b2, eps, eps_root, debias_before_max=debias_before_max,
                                           mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          scale_by_learning_rate(learning_rate))


def adamax(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
           weight_decay: float = 0.0, *, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """Adamax: ``p' = p - learning_rate * (m' / (1 - b1**t)) / max(b2 * n, |g| + eps)``.

    ``chain(add_decayed_weights(weight_decay), scale_by_adamax(...),
    scale_by_learning_rate(learning_rate))``; the rule is :func:`momentax.scale_by_adamax`.

    Args:
      learning_rate: >= 0, or a schedule (torch's default is 2e-3).
      b1, b2: in [0, 1).
      eps: > 0.
      weight_decay: >= 0; coupled L2 (torch.optim.Adamax's ``weight_decay=``).
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32 (``nu``: the infinity norm).

    Note:
      Equals torch.optim.Adamax and, with ``weight_decay=0``, optax's ``adamax``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: D. P. Kingma, J. Ba, ICLR 2015, https://arxiv.org/abs/1412.6980 (section 7.1).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adamax(0.1)
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(jnp.zeros(1)))[0][0]), 4)
      -0.1
    """
    return labelled_chain("adamax", *_l2(weight_decay),
                          scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          scale_by_learning_rate(learning_rate))


def adamaxw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
            weight_decay: float = 1e-2, mask: Mask | None = None, *, mu_dtype: Any = None,
            nu_dtype: Any = None) -> GradientTransformation:
    """Adamax with decoupled weight decay: ``p' = p - learning_rate * (adamax_step + weight_decay * p)``.

    ``chain(scale_by_adamax(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule (the decay follows it, as in :func:`momentax.adamw`).
      b1, b2: in [0, 1).
      eps: > 0.
      weight_decay: >= 0 (default 1e-2, as :func:`momentax.adamw`; optax's ``adamaxw``
        defaults to 1e-4).
      mask: static; which leaves to decay (see :func:`momentax.add_decayed_weights`).
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32 (``nu``: the infinity norm).

    Note:
      Equals optax's ``adamaxw`` for the same ``weight_decay``; torch has no AdamaxW.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: D. P. Kingma, J. Ba, ICLR 2015, https://arxiv.org/abs/1412.6980; decoupled decay:
    I. Loshchilov, F. Hutter, ICLR 2019, https://arxiv.org/abs/1711.05101.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adamaxw(0.1, weight_decay=0.5)
      >>> p = jnp.array([2.0])
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(p), p)[0][0]), 4)
      -0.2
    """
    return labelled_chain("adamaxw", scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))


def nadam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, weight_decay: float = 0.0, momentum_decay: float | None = None, *,
          mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """NAdam: Adam with Nesterov's look-ahead; ``p' = p - learning_rate * nadam_step``.

    ``chain(add_decayed_weights(weight_decay), scale_by_nadam(...),
    scale_by_learning_rate(learning_rate))``; the step is :func:`momentax.scale_by_nadam`.

    Args:
      learning_rate: >= 0, or a schedule.
      b1, b2: in [0, 1).
      eps: > 0.
      eps_root: >= 0.
      weight_decay: >= 0; coupled L2 (torch.optim.NAdam's default form).
      momentum_decay: ``None`` for a constant momentum ``b1`` (optax's ``nadam``), or >= 0
        for Dozat's schedule as torch.optim.NAdam computes it (torch's default 4e-3).
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      The default (``momentum_decay=None``) follows optax's ``nadam``;
      ``nadam(lr, momentum_decay=4e-3)`` follows torch.optim.NAdam(lr).

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: T. Dozat, ICLR 2016 workshop, https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.nadam(0.1)
      >>> # step 1: -0.1 * (0.1 / 0.1 + 0.9 * 0.1 / (1 - 0.9**2)) * 5 / 5
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(jnp.zeros(1)))[0][0]), 4)
      -0.1474
    """
    return labelled_chain("nadam", *_l2(weight_decay),
                          scale_by_nadam(b1, b2, eps, eps_root, momentum_decay, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          scale_by_learning_rate(learning_rate))


def nadamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
           eps_root: float = 0.0, weight_decay: float = 1e-2, mask: Mask | None = None,
           momentum_decay: float | None = None, *, mu_dtype: Any = None,
           nu_dtype: Any = None) -> GradientTransformation:
    """NAdam with decoupled weight decay: ``p' = p - learning_rate * (nadam_step + weight_decay * p)``.

    ``chain(scale_by_nadam(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule (the decay follows it).
      b1, b2: in [0, 1).
      eps: > 0.
      eps_root: >= 0.
      weight_decay: >= 0 (default 1e-2, as :func:`momentax.adamw`; optax's ``nadamw``
        defaults to 1e-4).
      mask: static; which leaves to decay (see :func:`momentax.add_decayed_weights`).
      momentum_decay: ``None`` (constant momentum, optax's ``nadamw``) or >= 0 (Dozat's
        schedule, torch.optim.NAdam(decoupled_weight_decay=True)).
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      torch's ``p *= 1 - lr * weight_decay`` before the step is the same update, since the
      NAdam step does not depend on ``p``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: T. Dozat, ICLR 2016 workshop, https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ;
    decoupled decay: I. Loshchilov, F. Hutter, ICLR 2019, https://arxiv.org/abs/1711.05101.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.nadamw(0.1, weight_decay=0.5)
      >>> p = jnp.array([2.0])
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(p), p)[0][0]), 4)   # nadam's -0.1474 - 0.1
      -0.2474
    """
    return labelled_chain("nadamw",
                          scale_by_nadam(b1, b2, eps, eps_root, momentum_decay, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))


def radam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, threshold: float = 5.0, weight_decay: float = 0.0, *,
          mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """RAdam: ``p' = p - learning_rate * radam_step`` (rectified Adam, or momentum early on).

    ``chain(add_decayed_weights(weight_decay), scale_by_radam(...),
    scale_by_learning_rate(learning_rate))``; the step is :func:`momentax.scale_by_radam`.

    Args:
      learning_rate: >= 0, or a schedule.
      b1, b2: in [0, 1).
      eps: > 0 (added before the bias correction, as torch).
      eps_root: >= 0.
      threshold: > 4; rectify once ``rho_t > threshold`` (torch: 5).
      weight_decay: >= 0; coupled L2 (torch.optim.RAdam's default form). For decoupled decay
        use ``momentax.torch.RAdam(decoupled_weight_decay=True)``.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      Follows torch.optim.RAdam; optax's ``radam`` differs in where ``eps`` sits and rectifies
      at ``rho_t >= threshold`` (see :func:`momentax.scale_by_radam`).

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: L. Liu et al., ICLR 2020, https://arxiv.org/abs/1908.03265.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.radam(0.1)
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(jnp.zeros(1)))[0][0]), 4)
      -0.5
    """
    return labelled_chain("radam", *_l2(weight_decay),
                          scale_by_radam(b1, b2, eps, eps_root, threshold, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          scale_by_learning_rate(learning_rate))
