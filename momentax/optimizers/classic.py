"""The classic optimizers: SGD, momentum, Nesterov, Adagrad, Adadelta, RMSProp, Adam, AdamW.

Components whose construction value is zero (``momentum=0``, ``weight_decay=0``) are left out
of the chain, so plain SGD keeps no momentum buffer and needs no ``params`` in ``update``
(as torch.optim and optax). A hyperparameter whose component is in the chain can be changed
between steps with :func:`momentax.set_hyperparams` without recompiling; construct with a
non-zero value to be able to sweep it.
"""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.hyperparams import DECAY, rename_hyperparams, validate
from momentax.storage import check_storage
from momentax.transforms.adaptive import scale_by_adadelta, scale_by_adam, scale_by_rms, scale_by_rss
from momentax.transforms.decay import Mask, add_decayed_weights
from momentax.transforms.moments import ema
from momentax.transforms.momentum import trace
from momentax.transforms.scaling import ScalarOrSchedule, scale_by_learning_rate

__all__ = ["sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw"]


def _l2(weight_decay: float) -> tuple[GradientTransformation, ...]:
    """Coupled L2 regularisation (torch's ``weight_decay=``): ``g += weight_decay * p`` first."""
    return (add_decayed_weights(weight_decay),) if weight_decay else ()


def sgd(learning_rate: ScalarOrSchedule, momentum: float = 0.0, nesterov: bool = False,
        dampening: float = 0.0, weight_decay: float = 0.0, *, mu_dtype: Any = None) -> GradientTransformation:
    """Stochastic gradient descent with torch.optim.SGD's momentum, exactly.

    ::

        g  = g + weight_decay * p
        v' = momentum * v + (1 - d) * g        (d = 0 on the first step, else dampening)
        g  = g + momentum * v'  if nesterov  else  v'
        p' = p - learning_rate * g

    ``chain(add_decayed_weights(weight_decay), trace(momentum, dampening=..., nesterov=...),
    scale_by_learning_rate(learning_rate))``; a zero ``momentum`` or ``weight_decay`` leaves
    its transform out.

    Args:
      learning_rate: >= 0, or a schedule ``step -> value``.
      momentum: in [0, 1). Sum form (heavy ball), as torch; see :func:`momentum` for the EMA form.
      nesterov: static; needs ``momentum > 0`` and ``dampening == 0``.
      dampening: in [0, 1]; the first step is undampened, as torch.
      weight_decay: >= 0; coupled L2 (added to the gradient before momentum).
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (the momentum buffer; plain SGD
        keeps none).

    Note:
      Defaults and arithmetic equal torch.optim.SGD's. optax's ``sgd`` has no dampening and no
      weight decay; with those at zero the two agree.

    Raises:
      ValueError: an argument out of range, or ``nesterov`` with zero momentum or non-zero
        dampening.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: H. Robbins, S. Monro, "A Stochastic Approximation Method", 1951,
    https://doi.org/10.1214/aoms/1177729586; momentum: see :func:`momentax.trace`.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.sgd(0.1, momentum=0.9)
      >>> params = {"w": jnp.array([1.0, -2.0])}
      >>> updates, state = opt.update({"w": jnp.array([1.0, 1.0])}, opt.init(params), params)
      >>> momentax.apply_updates(params, updates)["w"].tolist()
      [0.8999999761581421, -2.0999999046325684]
    """
    if nesterov and momentum <= 0:
        raise ValueError("sgd: Nesterov momentum requires momentum > 0.")
    check_storage("sgd", mu_dtype=mu_dtype)  # also without momentum, where no buffer takes it
    parts = _l2(weight_decay)
    if momentum or nesterov:
        parts += (trace(momentum, dampening=dampening, nesterov=nesterov, mu_dtype=mu_dtype),)
    return labelled_chain("sgd", *parts, scale_by_learning_rate(learning_rate))


def momentum(learning_rate: ScalarOrSchedule, momentum: float = 0.9, *, mu_dtype: Any = None) -> GradientTransformation:
    """Gradient descent with momentum in the textbook average form.

    ``v' = momentum * v + (1 - momentum) * g``; ``p' = p - learning_rate * v'``.
    ``chain(ema(momentum, debias=False), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule.
      momentum: in [0, 1).
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32.

    Note:
      The average form equals torch's sum form with the learning rate scaled by
      ``1 - momentum``: ``momentum(lr, b)`` follows ``sgd(lr * (1 - b), momentum=b)``. optax's
      ``sgd(momentum=...)`` is the sum form.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: B. T. Polyak, 1964 (see :func:`momentax.trace`).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.momentum(1.0, momentum=0.9)
      >>> round(float(opt.update(jnp.array([1.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.1
    """
    validate("momentum", momentum=(momentum, DECAY))  # name the caller's argument in errors
    averaged = rename_hyperparams(ema(momentum, debias=False, mu_dtype=mu_dtype), decay="momentum")
    return labelled_chain("momentum", averaged, scale_by_learning_rate(learning_rate))


def nesterov(learning_rate: ScalarOrSchedule, momentum: float = 0.9, *, mu_dtype: Any = None) -> GradientTransformation:
    """Nesterov's accelerated gradient in the average form.

    ``v' = momentum * v + (1 - momentum) * g``;
    ``p' = p - learning_rate * (momentum * v' + (1 - momentum) * g)``.
    ``chain(ema(momentum, debias=False, nesterov=True), scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule.
      momentum: in [0, 1).
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32.

    Note:
      Equals ``sgd(learning_rate * (1 - momentum), momentum=momentum, nesterov=True)``, the
      form torch.optim.SGD and optax's ``sgd(nesterov=True)`` use.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: Y. Nesterov, "A method of solving a convex programming problem with convergence
    rate O(1/k^2)", 1983; in this form: I. Sutskever et al., ICML 2013,
    https://proceedings.mlr.press/v28/sutskever13.html.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.nesterov(1.0, momentum=0.5)
      >>> float(opt.update(jnp.array([1.0]), opt.init(jnp.zeros(1)))[0][0])
      -0.75
    """
    validate("nesterov", momentum=(momentum, DECAY))
    averaged = rename_hyperparams(ema(momentum, debias=False, nesterov=True, mu_dtype=mu_dtype), decay="momentum")
    return labelled_chain("nesterov", averaged, scale_by_learning_rate(learning_rate))


def adagrad(learning_rate: ScalarOrSchedule, initial_accumulator_value: float = 0.0, eps: float = 1e-10,
            weight_decay: float = 0.0, *, eps_in_sqrt: bool = False, nu_dtype: Any = None) -> GradientTransformation:
    """Adagrad: ``s' = s + g**2``; ``p' = p - learning_rate * g / (sqrt(s') + eps)``.

    ``chain(add_decayed_weights(weight_decay), scale_by_rss(...), scale_by_learning_rate(...))``.

    Args:
      learning_rate: >= 0, or a schedule (torch's ``lr_decay`` is the schedule
        ``lr / (1 + t * lr_decay)``).
      initial_accumulator_value: >= 0; where ``s`` starts.
      eps: > 0.
      weight_decay: >= 0; coupled L2.
      eps_in_sqrt: static; ``g / sqrt(s' + eps)`` instead.
      nu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (the sum ``s``; see
        :func:`momentax.scale_by_rss`).

    Note:
      Defaults are torch.optim.Adagrad's (``initial_accumulator_value=0``, ``eps=1e-10``
      outside the root). optax's ``adagrad`` is ``initial_accumulator_value=0.1, eps=1e-7,
      eps_in_sqrt=True``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``nu_dtype`` is not a dtype or a storage spec.

    Source: J. Duchi, E. Hazan, Y. Singer, JMLR 2011, https://jmlr.org/papers/v12/duchi11a.html.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adagrad(0.5)
      >>> round(float(opt.update(jnp.array([4.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.5
    """
    return labelled_chain("adagrad", *_l2(weight_decay),
                          scale_by_rss(initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt, nu_dtype=nu_dtype),
                          scale_by_learning_rate(learning_rate))


def adadelta(learning_rate: ScalarOrSchedule = 1.0, rho: float = 0.9, eps: float = 1e-6,
             weight_decay: float = 0.0, *, nu_dtype: Any = None) -> GradientTransformation:
    """Adadelta, with torch.optim.Adadelta's arithmetic and defaults.

    ``chain(add_decayed_weights(weight_decay), scale_by_adadelta(rho, eps),
    scale_by_learning_rate(learning_rate))``; the rule is in :func:`momentax.scale_by_adadelta`.

    Args:
      learning_rate: >= 0 (default 1.0, as torch and the paper), or a schedule.
      rho: in [0, 1).
      eps: > 0.
      weight_decay: >= 0; coupled L2.
      nu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (both accumulators, ``nu`` and
        ``delta``).

    Note:
      Defaults equal torch's. optax 0.2.8's ``adadelta()`` with its default
      ``learning_rate=None`` does not descend; here the default descends.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``nu_dtype`` is not a dtype or a storage spec.

    Source: M. D. Zeiler, 2012, https://arxiv.org/abs/1212.5701.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adadelta()
      >>> float(opt.update(jnp.array([1.0]), opt.init(jnp.zeros(1)))[0][0]) < 0
      True
    """
    return labelled_chain("adadelta", *_l2(weight_decay), scale_by_adadelta(rho, eps, nu_dtype=nu_dtype),
                          scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate: ScalarOrSchedule, decay: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
            *, centered: bool = False, eps_in_sqrt: bool = False, weight_decay: float = 0.0, mu_dtype: Any = None,
            nu_dtype: Any = None) -> GradientTransformation:
    """RMSProp, with torch.optim.RMSprop's arithmetic and defaults.

    ::

        g  = g + weight_decay * p
        u  = g / (sqrt(nu') + eps)          (scale_by_rms; centered: variance instead of nu')
        v' = momentum * v + u                (only if momentum > 0)
        p' = p - learning_rate * v'

    Args:
      learning_rate: >= 0, or a schedule.
      decay: in [0, 1) (torch: ``alpha``, default 0.99).
      eps: > 0.
      momentum: in [0, 1).
      centered: static.
      eps_in_sqrt: static; ``g / sqrt(nu' + eps)`` (optax's placement).
      weight_decay: >= 0; coupled L2.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32 (``mu_dtype``: the centered
        average of ``g`` and the momentum buffer; ``nu_dtype``: ``nu``).

    Note:
      torch: ``alpha=0.99``, eps outside the root. optax: ``decay=0.9``, eps inside the root,
      and its learning rate scales the update before the momentum buffer (momentax after,
      like torch; the same for a constant learning rate).

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: T. Tieleman, G. Hinton, 2012 (see :func:`momentax.scale_by_rms`).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.rmsprop(0.01, decay=0.0)
      >>> round(float(opt.update(jnp.array([3.0]), opt.init(jnp.zeros(1)))[0][0]), 6)
      -0.01
    """
    parts = (*_l2(weight_decay), scale_by_rms(decay, eps, centered=centered, eps_in_sqrt=eps_in_sqrt,
                                              mu_dtype=mu_dtype, nu_dtype=nu_dtype))
    if momentum:
        parts += (trace(momentum, mu_dtype=mu_dtype),)
    return labelled_chain("rmsprop", *parts, scale_by_learning_rate(learning_rate))


def adam(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         eps_root: float = 0.0, weight_decay: float = 0.0, *, mu_dtype: Any = None,
         nu_dtype: Any = None) -> GradientTransformation:
    """Adam: ``p' = p - learning_rate * m_hat / (sqrt(v_hat + eps_root) + eps)``.

    ``chain(add_decayed_weights(weight_decay), scale_by_adam(...), scale_by_learning_rate(...))``;
    the moments are in :func:`momentax.scale_by_adam`. ``weight_decay`` here is coupled L2
    (torch.optim.Adam's ``weight_decay=``); for decoupled decay use :func:`adamw`.

    Args:
      learning_rate: >= 0, or a schedule.
      b1, b2: in [0, 1).
      eps: > 0.
      eps_root: >= 0.
      weight_decay: >= 0; coupled L2.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Note:
      Defaults equal torch's and optax's.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: D. P. Kingma, J. Ba, ICLR 2015, https://arxiv.org/abs/1412.6980.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adam(0.1)
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(jnp.zeros(1)))[0][0]), 4)
      -0.1
    """
    return labelled_chain("adam", *_l2(weight_decay),
                          scale_by_adam(b1, b2, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          scale_by_learning_rate(learning_rate))


def adamw(learning_rate: ScalarOrSchedule, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, weight_decay: float = 1e-2, mask: Mask | None = None, *,
          mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """AdamW: Adam with weight decay decoupled from the moments.

    ``p' = p - learning_rate * (m_hat / (sqrt(v_hat + eps_root) + eps) + weight_decay * p)``,
    which equals torch's ``p *= 1 - learning_rate * weight_decay`` followed by the Adam step.
    ``chain(scale_by_adam(...), add_decayed_weights(weight_decay, mask),
    scale_by_learning_rate(learning_rate))``.

    Args:
      learning_rate: >= 0, or a schedule (the decay follows it, as in torch and optax).
      b1, b2: in [0, 1).
      eps: > 0.
      eps_root: >= 0.
      weight_decay: >= 0 (default 1e-2, torch's; optax's default is 1e-4).
      mask: static; which leaves to decay (see :func:`momentax.add_decayed_weights`).
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: I. Loshchilov, F. Hutter, ICLR 2019, https://arxiv.org/abs/1711.05101.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adamw(0.1, weight_decay=0.5)
      >>> p = jnp.array([2.0])
      >>> round(float(opt.update(jnp.array([5.0]), opt.init(p), p)[0][0]), 4)
      -0.2
    """
    return labelled_chain("adamw", scale_by_adam(b1, b2, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
                          add_decayed_weights(weight_decay, mask), scale_by_learning_rate(learning_rate))
