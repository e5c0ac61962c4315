"""Classic presets: SGD, RMSprop, Adagrad, Adadelta, Rprop, ASGD (torch.optim's names and defaults)."""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.torch._common import _decay, _pair, _sign
from momentax.transforms.adaptive import scale_by_adadelta, scale_by_rms, scale_by_rss
from momentax.transforms.averaging import average_iterates, scale_by_asgd
from momentax.transforms.momentum import trace
from momentax.transforms.rprop import scale_by_rprop
from momentax.transforms.scaling import scale, scale_by_learning_rate

__all__ = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Rprop", "ASGD"]


def SGD(lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, *, maximize: bool = False, foreach: Any = None, differentiable: bool = False,
        fused: Any = None) -> GradientTransformation:
    """torch.optim.SGD: ``p' = p - lr * v'`` with ``v' = momentum * v + (1 - dampening) * (g + wd * p)``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], [trace(momentum, dampening=...,
    nesterov=...)], scale_by_learning_rate(lr))``; the first step's buffer is the gradient
    itself, and ``nesterov`` uses ``g + momentum * v'``.

    Args:
      lr: >= 0.
      momentum: in [0, 1).
      dampening: in [0, 1].
      weight_decay: >= 0 (coupled L2).
      nesterov: static; needs ``momentum > 0`` and ``dampening == 0``.
      maximize: static.
      foreach, differentiable, fused: ignored.

    Raises:
      ValueError: an argument out of range, or ``nesterov`` without momentum or with dampening.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.SGD(lr=0.5, momentum=0.9)
      >>> u, s = opt.update(jnp.array([1.0]), opt.init(jnp.zeros(1)))
      >>> u, s = opt.update(jnp.array([1.0]), s)
      >>> round(float(u[0]), 6)   # -0.5 * (0.9 * 1 + 1)
      -0.95
    """
    del foreach, differentiable, fused
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening.")
    parts = _decay(weight_decay)
    if momentum:
        parts += (trace(momentum, dampening=dampening, nesterov=nesterov),)
    return labelled_chain("torch.SGD", *_sign(maximize), *parts, scale_by_learning_rate(lr))


def RMSprop(lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
            centered: bool = False, capturable: bool = False, foreach: Any = None, maximize: bool = False,
            differentiable: bool = False) -> GradientTransformation:
    """torch.optim.RMSprop: ``v' = momentum * v + g / (sqrt(nu') + eps)``; ``p' = p - lr * v'``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], scale_by_rms(alpha, eps,
    centered=centered), [trace(momentum)], scale_by_learning_rate(lr))``, with
    ``nu' = alpha * nu + (1 - alpha) * g**2`` (minus the squared mean when ``centered``) and
    ``eps`` outside the root.

    Args:
      lr: >= 0.
      alpha: in [0, 1) (state ``decay``).
      eps: > 0.
      weight_decay: >= 0 (coupled L2).
      momentum: in [0, 1).
      centered: static.
      maximize: static.
      capturable, foreach, differentiable: ignored.

    Raises:
      ValueError: an argument out of range.

    Source: T. Tieleman, G. Hinton, 2012 (see :func:`momentax.scale_by_rms`).

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.RMSprop(lr=0.01, alpha=0.0)
      >>> round(float(opt.update(jnp.array([3.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.01
    """
    del capturable, foreach, differentiable
    parts = (*_decay(weight_decay), scale_by_rms(alpha, eps, centered=centered))
    if momentum:
        parts += (trace(momentum),)
    return labelled_chain("torch.RMSprop", *_sign(maximize), *parts, scale_by_learning_rate(lr))


def Adagrad(lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
            eps: float = 1e-10, foreach: Any = None, *, maximize: bool = False, differentiable: bool = False,
            fused: Any = None) -> GradientTransformation:
    """torch.optim.Adagrad: ``p' = p - clr_t * g / (sqrt(s') + eps)`` with ``s' = s + g**2``.

    ``clr_t = lr / (1 + (t - 1) * lr_decay)`` for step ``t`` (from 1). ``chain([scale(-1)],
    [add_decayed_weights(weight_decay)], scale_by_rss(initial_accumulator_value, eps),
    scale_by_learning_rate(lr or the schedule clr))``.

    Args:
      lr: >= 0.
      lr_decay: >= 0; a non-zero value makes the learning rate the schedule
        ``count -> lr / (1 + count * lr_decay)`` (``count`` = steps already taken), whose
        values are then fixed at construction (``learning_rate`` is read-only in the state).
      weight_decay: >= 0 (coupled L2).
      initial_accumulator_value: >= 0.
      eps: > 0.
      maximize: static.
      foreach, differentiable, fused: ignored.

    Raises:
      ValueError: an argument out of range.

    Source: J. Duchi, E. Hazan, Y. Singer, JMLR 2011, https://jmlr.org/papers/v12/duchi11a.html.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Adagrad(lr=1.0, lr_decay=1.0)
      >>> s = opt.init(jnp.zeros(1))
      >>> u, s = opt.update(jnp.array([2.0]), s)
      >>> u, s = opt.update(jnp.array([2.0]), s)   # clr_2 = 1 / 2; 2 / sqrt(8)
      >>> round(float(u[0]), 6)
      -0.353553
    """
    del foreach, differentiable, fused
    for name, value in (("lr", lr), ("lr_decay", lr_decay)):
        if not value >= 0:
            raise ValueError(f"Adagrad: {name}={value!r} is out of range; it must be >= 0.")

    def clr(count):
        return lr / (1 + count * lr_decay)

    return labelled_chain("torch.Adagrad", *_sign(maximize), *_decay(weight_decay),
                          scale_by_rss(initial_accumulator_value, eps),
                          scale_by_learning_rate(clr if lr_decay else lr))


def Adadelta(lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0.0, foreach: Any = None, *,
             capturable: bool = False, maximize: bool = False, differentiable: bool = False) -> GradientTransformation:
    """torch.optim.Adadelta: ``p' = p - lr * sqrt(delta + eps) / sqrt(nu' + eps) * g``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], scale_by_adadelta(rho, eps),
    scale_by_learning_rate(lr))``; the rule is in :func:`momentax.scale_by_adadelta`.

    Args:
      lr: >= 0.
      rho: in [0, 1).
      eps: > 0.
      weight_decay: >= 0 (coupled L2).
      maximize: static.
      foreach, capturable, differentiable: ignored.

    Raises:
      ValueError: an argument out of range.

    Source: M. D. Zeiler, 2012, https://arxiv.org/abs/1212.5701.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Adadelta(rho=0.0, eps=1.0)
      >>> round(float(opt.update(jnp.array([3.0]), opt.init(jnp.zeros(1)))[0][0]), 6)   # -1 / sqrt(10) * 3
      -0.948683
    """
    del foreach, capturable, differentiable
    return labelled_chain("torch.Adadelta", *_sign(maximize), *_decay(weight_decay), scale_by_adadelta(rho, eps),
                          scale_by_learning_rate(lr))


def Rprop(lr: float = 1e-2, etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float, float] = (1e-6, 50.0), *,
          capturable: bool = False, foreach: Any = None, maximize: bool = False,
          differentiable: bool = False) -> GradientTransformation:
    """torch.optim.Rprop: ``p' = p - sign(g') * d'`` with per-element step sizes ``d``.

    ``chain([scale(-1)], scale_by_rprop(lr, *etas, *step_sizes), scale(-1.0))``; the rule is
    in :func:`momentax.scale_by_rprop` (the current step's move is applied at once).

    Args:
      lr: >= 0; the initial step size (static).
      etas: ``(eta_minus, eta_plus)`` with ``0 < eta_minus < 1 < eta_plus``.
      step_sizes: ``(min, max)`` bounds of the step sizes.
      maximize: static.
      capturable, foreach, differentiable: ignored.

    Raises:
      ValueError: an argument out of range, or ``etas``/``step_sizes`` not a pair.

    Source: M. Riedmiller, H. Braun, IEEE ICNN 1993, https://doi.org/10.1109/ICNN.1993.298623.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Rprop(lr=0.25)
      >>> opt.update(jnp.array([3.0, -0.5]), opt.init(jnp.zeros(2)))[0].tolist()
      [-0.25, 0.25]
    """
    del capturable, foreach, differentiable
    eta_minus, eta_plus = _pair(etas, "etas", "Rprop")
    smallest, largest = _pair(step_sizes, "step_sizes", "Rprop")
    return labelled_chain("torch.Rprop", *_sign(maximize),
                          scale_by_rprop(lr, eta_minus, eta_plus, smallest, largest), scale(-1.0))


def ASGD(lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0.0,
         foreach: Any = None, maximize: bool = False, differentiable: bool = False,
         capturable: bool = False) -> GradientTransformation:
    """torch.optim.ASGD: ``p' = p * (1 - lambd * eta_t) - eta_t * (g + wd * p)``, averaged from ``t0``.

    ``eta_t = lr / (1 + lambd * lr * (t - 1)) ** alpha``. ``chain([scale(-1)],
    [add_decayed_weights(weight_decay)], scale_by_asgd(lr, lambd, alpha), average_iterates(t0))``;
    torch's ``state["ax"]`` is ``momentax.eval_params(state, params)``.

    Args:
      lr: >= 0.
      lambd: >= 0.
      alpha: >= 0.
      t0: >= 0.
      weight_decay: >= 0 (coupled L2).
      maximize: static.
      foreach, differentiable, capturable: ignored.

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.

    Source: B. T. Polyak, A. B. Juditsky, SIAM J. Control Optim. 1992,
    https://doi.org/10.1137/0330046.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.ASGD(lr=0.5, lambd=0.1)
      >>> p = jnp.array([2.0])
      >>> round(float(opt.update(jnp.array([1.0]), opt.init(p), p)[0][0]), 6)   # -0.5 * (1 + 0.1 * 2)
      -0.6
    """
    del foreach, differentiable, capturable
    return labelled_chain("torch.ASGD", *_sign(maximize), *_decay(weight_decay), scale_by_asgd(lr, lambd, alpha),
                          average_iterates(t0))
