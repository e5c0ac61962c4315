"""torch.optim presets: the same names, arguments, defaults and trajectories, as momentax chains.

``momentax.torch.Adam(lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2, amsgrad=True)`` takes
exactly torch.optim.Adam's arguments (without ``params``: call ``init(params)``) and returns a
:class:`momentax.GradientTransformation` whose parameters follow torch's step for step (the
parity tests hold float64 trajectories to 1e-10 relative error over 200 steps). Each preset
is one chain of public transforms; the arithmetic is in :mod:`momentax.math`.

Shared conventions:

- ``maximize=True`` puts ``scale(-1.0)`` first in the chain: the gradient's sign is flipped
  before anything else, as torch does.
- A component whose construction value is zero (``weight_decay=0``, ``momentum=0``) is left
  out, so the state keeps no buffer for it; to change it later, construct it non-zero.
- The numeric hyperparameters live in the state under momentax's names (``learning_rate``,
  ``b1``, ``b2``, ``decay`` for RMSprop's ``alpha``, ...); read and change them with
  :func:`momentax.hyperparams` and :func:`momentax.set_hyperparams`, without recompiling.
- ``foreach``, ``fused``, ``capturable`` and ``differentiable`` choose among torch's
  implementations of the same arithmetic; they are accepted for drop-in use and ignored
  (XLA compiles one program; every momentax update is differentiable).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.optimizers.factored import adafactor
from momentax.optimizers.orthogonal import muon
from momentax.transforms.adam_family import scale_by_adamax, scale_by_amsgrad, scale_by_nadam, scale_by_radam
from momentax.transforms.adaptive import scale_by_adadelta, scale_by_adam, scale_by_rms, scale_by_rss
from momentax.transforms.averaging import average_iterates, scale_by_asgd
from momentax.transforms.decay import add_decayed_weights
from momentax.transforms.momentum import trace
from momentax.transforms.rprop import scale_by_rprop
from momentax.transforms.scaling import scale, scale_by_learning_rate

__all__ = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "Rprop", "ASGD",
           "Adafactor", "Muon"]

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


def SGD(lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, *, maximize: bool = False, foreach: Any = None, differentiable: bool = False,
        fused: Any = None) -> GradientTransformation:
    """torch.optim.SGD: ``p' = p - lr * v'`` with ``v' = momentum * v + (1 - dampening) * (g + wd * p)``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], [trace(momentum, dampening=...,
    nesterov=...)], scale_by_learning_rate(lr))``; the first step's buffer is the gradient
    itself, and ``nesterov`` uses ``g + momentum * v'``.

    Args:
      lr: >= 0. momentum: in [0, 1). dampening: in [0, 1]. weight_decay: >= 0 (coupled L2).
      nesterov: static; needs ``momentum > 0`` and ``dampening == 0``. maximize: static.
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


def Adam(lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
         amsgrad: bool = False, *, foreach: Any = None, maximize: bool = False, capturable: bool = False,
         differentiable: bool = False, fused: Any = None, decoupled_weight_decay: bool = False) -> GradientTransformation:
    """torch.optim.Adam: ``p' = p - lr * m_hat / (sqrt(v_hat) + eps)``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], scale_by_adam(b1, b2, eps) or
    scale_by_amsgrad(b1, b2, eps), scale_by_learning_rate(lr))``; with
    ``decoupled_weight_decay`` the decay moves after the moments (AdamW).

    Args:
      lr: >= 0. betas: ``(b1, b2)``, each in [0, 1). eps: > 0. weight_decay: >= 0 (coupled
      L2, or decoupled and lr-scaled with ``decoupled_weight_decay``). amsgrad: static, use the
      maximum of the second moment (torch's form, see :func:`momentax.scale_by_amsgrad`).
      maximize: static. foreach, capturable, differentiable, fused: ignored.

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
      lr: >= 0. betas: ``(b1, b2)`` in [0, 1). eps: > 0. weight_decay: >= 0 (default 1e-2).
      amsgrad, maximize: static. foreach, capturable, differentiable, fused: ignored.

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
      lr: >= 0. betas: ``(b1, b2)`` in [0, 1). eps: > 0. weight_decay: >= 0 (coupled L2).
      maximize: static. foreach, differentiable, capturable: ignored.

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
      lr: >= 0. betas: ``(b1, b2)`` in [0, 1). eps: > 0. weight_decay: >= 0.
      momentum_decay: >= 0 (``0`` gives ``mu_t = b1 / 2``, as torch).
      decoupled_weight_decay: static; lr-scaled decay of the weights instead of L2.
      maximize: static. foreach, capturable, differentiable: ignored.

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
      lr: >= 0. betas: ``(b1, b2)`` in [0, 1). eps: > 0. weight_decay: >= 0.
      decoupled_weight_decay: static; lr-scaled decay of the weights instead of L2.
      maximize: static. foreach, capturable, differentiable: ignored.

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


def RMSprop(lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
            centered: bool = False, capturable: bool = False, foreach: Any = None, maximize: bool = False,
            differentiable: bool = False) -> GradientTransformation:
    """torch.optim.RMSprop: ``v' = momentum * v + g / (sqrt(nu') + eps)``; ``p' = p - lr * v'``.

    ``chain([scale(-1)], [add_decayed_weights(weight_decay)], scale_by_rms(alpha, eps,
    centered=centered), [trace(momentum)], scale_by_learning_rate(lr))``, with
    ``nu' = alpha * nu + (1 - alpha) * g**2`` (minus the squared mean when ``centered``) and
    ``eps`` outside the root.

    Args:
      lr: >= 0. alpha: in [0, 1) (state ``decay``). eps: > 0. weight_decay: >= 0 (coupled
      L2). momentum: in [0, 1). centered, maximize: static. capturable, foreach,
      differentiable: ignored.

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
      lr: >= 0. lr_decay: >= 0; a non-zero value makes the learning rate the schedule
        ``count -> lr / (1 + count * lr_decay)`` (``count`` = steps already taken), whose
        values are then fixed at construction (``learning_rate`` is read-only in the state).
      weight_decay: >= 0 (coupled L2). initial_accumulator_value: >= 0. eps: > 0.
      maximize: static. foreach, differentiable, fused: ignored.

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
      lr: >= 0. rho: in [0, 1). eps: > 0. weight_decay: >= 0 (coupled L2). maximize:
      static. foreach, capturable, differentiable: ignored.

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
      lr: >= 0; the initial step size (static). etas: ``(eta_minus, eta_plus)`` with
      ``0 < eta_minus < 1 < eta_plus``. step_sizes: ``(min, max)`` bounds of the step sizes.
      maximize: static. capturable, foreach, differentiable: ignored.

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
      lr: >= 0. lambd: >= 0. alpha: >= 0. t0: >= 0. weight_decay: >= 0 (coupled L2).
      maximize: static. foreach, differentiable, capturable: ignored.

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


def Adafactor(lr: float = 1e-2, beta2_decay: float = -0.8, eps: tuple[float | None, float] = (None, 1e-3),
              d: float = 1.0, weight_decay: float = 0.0, *, foreach: Any = None,
              maximize: bool = False) -> GradientTransformation:
    """torch.optim.Adafactor: factored second moments, update clipping, relative step sizes.

    For step ``t``: ``V_t`` the factored EMA of ``g**2`` (last two axes) with
    ``1 - b2_t = t ** beta2_decay``; ``U = g / sqrt(V_t)`` clipped to RMS ``d``;
    ``p' = p * (1 - lr * weight_decay) - max(eps2, RMS(p)) * min(lr, 1 / sqrt(t)) * U``.
    ``chain([scale(-1)], momentax.adafactor(learning_rate=lr, decay_rate=-beta2_decay,
    eps=eps1, clipping_threshold=d, min_scale=eps2, weight_decay=weight_decay,
    clamp_eps=True))``; the rule is in :func:`momentax.adafactor`.

    Args:
      lr: >= 0 (caps the relative step ``1 / sqrt(t)``). beta2_decay: <= 0.
      eps: ``(eps1, eps2)``; ``eps1`` floors the second moment (``None``: each leaf's
      machine epsilon), ``eps2`` the parameter scale. d: >= 1, the clipping threshold.
      weight_decay: >= 0, lr-coupled. maximize: static. foreach: ignored.

    Raises:
      ValueError: an argument out of range, or ``eps`` not a pair.

    Source: N. Shazeer, M. Stern, ICML 2018, https://arxiv.org/abs/1804.04235.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Adafactor()
      >>> p = {"w": jnp.full((2, 3), 2.0)}
      >>> u, _ = opt.update({"w": jnp.ones((2, 3))}, opt.init(p), p)
      >>> [round(x, 6) for x in u["w"][0].tolist()]   # -RMS(p) * min(lr, 1) * 1
      [-0.02, -0.02, -0.02]
    """
    del foreach
    eps1, eps2 = _pair(eps, "eps", "Adafactor")
    core = adafactor(learning_rate=lr, decay_rate=-beta2_decay, eps=eps1, clipping_threshold=d, min_scale=eps2,
                     weight_decay=weight_decay, clamp_eps=True)
    return labelled_chain("torch.Adafactor", *_sign(maximize), core)


def Muon(lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95, nesterov: bool = True,
         ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315), eps: float = 1e-7,
         ns_steps: int = 5, adjust_lr_fn: str | None = None) -> GradientTransformation:
    """torch.optim.Muon: momentum orthogonalised by a Newton-Schulz iteration, for matrices.

    For each 2-D parameter of shape ``(out, in)``: ``m' = momentum * m + (1 - momentum) * g``;
    ``D = momentum * m' + (1 - momentum) * g`` (nesterov, else ``m'``); ``O = NS(D)`` in
    bfloat16; ``p' = p * (1 - lr * weight_decay) - lr * s * O`` with
    ``s = sqrt(max(1, out / in))`` (``adjust_lr_fn="match_rms_adamw"``:
    ``0.2 * sqrt(max(out, in))``). ``momentax.muon(lr, momentum, weight_decay,
    nesterov=..., ns_coeffs=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr=...,
    clamp_eps=True, fan_in_axis=-1, ns_dtype=jnp.bfloat16)``.

    Args:
      lr: >= 0. weight_decay: >= 0, lr-coupled. momentum: in [0, 1). nesterov: static.
      ns_coefficients: static ``(a, b, c)`` of the quintic iteration. eps: > 0, floor of
      the Frobenius norm. ns_steps: static. adjust_lr_fn: static, ``None``/``"original"``
      or ``"match_rms_adamw"``.

    Note:
      torch.optim.Muon accepts 2-D parameters only; on those the trajectories agree (up to
      the bfloat16 rounding inside the iteration, which XLA and torch may order
      differently). Other leaves get :func:`momentax.muon`'s AdamW step (torch users give
      them a separate AdamW); leaves with more than two axes are treated as batches of
      matrices.

    Raises:
      ValueError: an argument out of range, or an unknown ``adjust_lr_fn``.

    Source: K. Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024,
    https://kellerjordan.github.io/posts/muon/.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Muon(lr=0.1, weight_decay=0.0)
      >>> p = {"w": jnp.zeros((2, 2))}
      >>> u, _ = opt.update({"w": jnp.eye(2)}, opt.init(p), p)
      >>> [round(x, 2) for x in u["w"].diagonal().tolist()]
      [-0.11, -0.11]
    """
    return labelled_chain("torch.Muon", muon(lr, momentum, weight_decay, nesterov=nesterov, ns_coeffs=ns_coefficients,
                                              eps=eps, ns_steps=ns_steps, adjust_lr=adjust_lr_fn or "original",
                                              clamp_eps=True, fan_in_axis=-1, ns_dtype=jnp.bfloat16))
