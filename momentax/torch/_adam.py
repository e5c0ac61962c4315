"""Adam-family presets: Adam, AdamW, Adamax, NAdam, RAdam (torch.optim's names and defaults)."""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.torch._common import _adam_like, _pair
from momentax.transforms.adam_family import (
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_nadam,
    scale_by_radam,
)
from momentax.transforms.adaptive import scale_by_adam

__all__ = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"]


def Adam(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
         amsgrad: bool = False, *, foreach: Any = None, maximize: bool = False, capturable: bool = False,
         differentiable: bool = False, fused: Any = None, decoupled_weight_decay: bool = False) -> GradientTransformation:
    """torch.optim.Adam: ``p' = p - lr * m_hat / (sqrt(v_hat) + eps)``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], scale_by_adam(b1, b2, eps) or
    scale_by_amsgrad(b1, b2, eps), scale_by_learning_rate(lr))``; with
    ``decoupled_weight_decay`` the decay moves after the moments (AdamW).

    Args:
      lr: >= 0.
      betas: ``(b1, b2)``, each in [0, 1).
      eps: > 0.
      weight_decay: >= 0 (coupled L2, or decoupled and lr-scaled with
        ``decoupled_weight_decay``).
      decoupled_weight_decay: static; lr-scaled decay of the weights (AdamW) instead of L2.
      amsgrad: static, use the maximum of the second moment (torch's form, see
        :func:`momentax.scale_by_amsgrad`).
      maximize: static.
      foreach, capturable, differentiable, fused: ignored.

    Raises:
      ValueError: an argument out of range, or ``betas`` not a pair.

    Source: D. P. Kingma, J. Ba, ICLR 2015, https://arxiv.org/abs/1412.6980.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Adam(lr=0.1)
      >>> round(float(opt.update(jnp.array([-3.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      0.1
    """
    del foreach, capturable, differentiable, fused
    b1, b2 = _pair(betas, "betas", "Adam")
    core = scale_by_amsgrad(b1, b2, eps) if amsgrad else scale_by_adam(b1, b2, eps)
    return _adam_like("torch.Adam", core, lr, weight_decay, decoupled_weight_decay, maximize)


def AdamW(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
          amsgrad: bool = False, *, maximize: bool = False, foreach: Any = None, capturable: bool = False,
          differentiable: bool = False, fused: Any = None) -> GradientTransformation:
    """torch.optim.AdamW: ``p' = p * (1 - lr * weight_decay) - lr * m_hat / (sqrt(v_hat) + eps)``.

    ``Adam(..., decoupled_weight_decay=True)``: ``chain([scale(-1)], scale_by_adam(...) or
    scale_by_amsgrad(...), add_decayed_weights(weight_decay), scale_by_learning_rate(lr))``.

    Args:
      lr: >= 0.
      betas: ``(b1, b2)`` in [0, 1).
      eps: > 0.
      weight_decay: >= 0 (default 1e-2).
      amsgrad: static.
      maximize: static.
      foreach, capturable, differentiable, fused: ignored.

    Raises:
      ValueError: an argument out of range, or ``betas`` not a pair.

    Source: I. Loshchilov, F. Hutter, ICLR 2019, https://arxiv.org/abs/1711.05101.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.AdamW(lr=0.1, weight_decay=0.5)
      >>> p = jnp.array([2.0])
      >>> round(float(opt.update(jnp.array([3.0]), opt.init(p), p)[0][0]), 6)   # -0.1 * (1 + 0.5 * 2)
      -0.2
    """
    del foreach, capturable, differentiable, fused
    b1, b2 = _pair(betas, "betas", "AdamW")
    core = scale_by_amsgrad(b1, b2, eps) if amsgrad else scale_by_adam(b1, b2, eps)
    return _adam_like("torch.AdamW", core, lr, weight_decay, True, maximize)


def Adamax(lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
           foreach: Any = None, *, maximize: bool = False, differentiable: bool = False,
           capturable: bool = False) -> GradientTransformation:
    """torch.optim.Adamax: ``p' = p - lr * (m' / (1 - b1**t)) / max(b2 * n, |g| + eps)``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], scale_by_adamax(b1, b2, eps),
    scale_by_learning_rate(lr))``.

    Args:
      lr: >= 0.
      betas: ``(b1, b2)`` in [0, 1).
      eps: > 0.
      weight_decay: >= 0 (coupled L2).
      maximize: static.
      foreach, differentiable, capturable: ignored.

    Raises:
      ValueError: an argument out of range, or ``betas`` not a pair.

    Source: D. P. Kingma, J. Ba, ICLR 2015, https://arxiv.org/abs/1412.6980 (section 7.1).

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Adamax(lr=0.1)
      >>> round(float(opt.update(jnp.array([7.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.1
    """
    del foreach, differentiable, capturable
    b1, b2 = _pair(betas, "betas", "Adamax")
    return _adam_like("torch.Adamax", scale_by_adamax(b1, b2, eps), lr, weight_decay, False, maximize)


def NAdam(lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
          momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *, foreach: Any = None,
          maximize: bool = False, capturable: bool = False, differentiable: bool = False) -> GradientTransformation:
    """torch.optim.NAdam: Adam with Nesterov momentum on Dozat's momentum schedule.

    ``chain([scale(-1)], [L2], scale_by_nadam(b1, b2, eps, momentum_decay=momentum_decay),
    [decoupled decay], scale_by_learning_rate(lr))``; the step, with
    ``mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))``, is in
    :func:`momentax.scale_by_nadam`.

    Args:
      lr: >= 0.
      betas: ``(b1, b2)`` in [0, 1).
      eps: > 0.
      weight_decay: >= 0.
      momentum_decay: >= 0 (``0`` gives ``mu_t = b1 / 2``, as torch).
      decoupled_weight_decay: static; lr-scaled decay of the weights instead of L2.
      maximize: static.
      foreach, capturable, differentiable: ignored.

    Raises:
      ValueError: an argument out of range, or ``betas`` not a pair.

    Source: T. Dozat, ICLR 2016 workshop, https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.NAdam(lr=0.1, momentum_decay=0.0)
      >>> # mu = 0.45: -0.1 * (0.55 / 0.55 + 0.45 * 0.1 / (1 - 0.45**2)) * 5 / 5
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.105643
    """
    del foreach, capturable, differentiable
    b1, b2 = _pair(betas, "betas", "NAdam")
    core = scale_by_nadam(b1, b2, eps, momentum_decay=momentum_decay)
    return _adam_like("torch.NAdam", core, lr, weight_decay, decoupled_weight_decay, maximize)


def RAdam(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
          decoupled_weight_decay: bool = False, *, foreach: Any = None, maximize: bool = False,
          capturable: bool = False, differentiable: bool = False) -> GradientTransformation:
    """torch.optim.RAdam: rectified Adam once ``rho_t > 5``, bias-corrected momentum before.

    ``chain([scale(-1)], [L2], scale_by_radam(b1, b2, eps, threshold=5), [decoupled decay],
    scale_by_learning_rate(lr))``; the step is in :func:`momentax.scale_by_radam`.

    Args:
      lr: >= 0.
      betas: ``(b1, b2)`` in [0, 1).
      eps: > 0.
      weight_decay: >= 0.
      decoupled_weight_decay: static; lr-scaled decay of the weights instead of L2.
      maximize: static.
      foreach, capturable, differentiable: ignored.

    Raises:
      ValueError: an argument out of range, or ``betas`` not a pair.

    Source: L. Liu et al., ICLR 2020, https://arxiv.org/abs/1908.03265.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.RAdam(lr=0.1)
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.5
    """
    del foreach, capturable, differentiable
    b1, b2 = _pair(betas, "betas", "RAdam")
    return _adam_like("torch.RAdam", scale_by_radam(b1, b2, eps), lr, weight_decay, decoupled_weight_decay, maximize)
