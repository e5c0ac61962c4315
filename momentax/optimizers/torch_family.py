"""Rprop and averaged SGD as optimizers, with torch.optim's arithmetic.

Each is one chain of transforms with no array math; the rules are in
:mod:`momentax.math.rprop` and :mod:`momentax.math.averaging`.
"""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.transforms.averaging import average_iterates, scale_by_asgd
from momentax.transforms.decay import add_decayed_weights
from momentax.transforms.rprop import scale_by_rprop
from momentax.transforms.scaling import scale

__all__ = ["rprop", "asgd"]


def rprop(learning_rate: float = 1e-2, eta_minus: float = 0.5, eta_plus: float = 1.2, min_step_size: float = 1e-6,
          max_step_size: float = 50.0) -> GradientTransformation:
    """Rprop: move each element by its own step size, against the sign of its gradient.

    ``p' = p - sign(g') * d'`` with the per-element step sizes ``d`` of
    :func:`momentax.scale_by_rprop` (grown by ``eta_plus`` while the sign holds, shrunk by
    ``eta_minus`` when it flips, clipped to ``[min_step_size, max_step_size]``).
    ``chain(scale_by_rprop(...), scale(-1.0))``.

    Args:
      learning_rate: >= 0; the initial step size (static: it only sets the initial state).
      eta_minus: in (0, 1).
      eta_plus: > 1.
      min_step_size: >= 0.
      max_step_size: > 0, >= ``min_step_size``.

    Note:
      torch.optim.Rprop(lr, etas=(eta_minus, eta_plus), step_sizes=(min, max)) exactly: the
      step of the current gradient is applied at once. optax 0.2.8's ``rprop`` applies each
      step one iteration late (see :func:`momentax.scale_by_rprop`). Rprop is meant for
      full-batch gradients; with noisy gradients the sign flips too often.

    Raises:
      ValueError: an argument out of range.

    Source: M. Riedmiller, H. Braun, IEEE ICNN 1993, https://doi.org/10.1109/ICNN.1993.298623.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.rprop(0.1)
      >>> [round(x, 6) for x in opt.update(jnp.array([3.0, -0.5]), opt.init(jnp.zeros(2)))[0].tolist()]
      [-0.1, 0.1]
    """
    return labelled_chain("rprop", scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size, max_step_size),
                          scale(-1.0))


def asgd(learning_rate: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75, t0: float = 1e6,
         weight_decay: float = 0.0, *, mu_dtype: Any = None) -> GradientTransformation:
    """Averaged SGD: a decaying SGD step plus a running average of the iterates from ``t0`` on.

    ::

        g     = g + weight_decay * p
        eta_t = learning_rate / (1 + lambd * learning_rate * (t - 1)) ** alpha
        p'    = p * (1 - lambd * eta_t) - eta_t * g
        ax'   = p'  until step t0 + 2, then  ax + (p' - ax) / (t - 1 - t0)

    ``chain(add_decayed_weights(weight_decay), scale_by_asgd(learning_rate, lambd, alpha),
    average_iterates(t0))``. The optimizer moves ``p``; evaluate the model with
    ``momentax.eval_params(state, params)``, which returns the average ``ax``.

    Args:
      learning_rate: >= 0 (``eta_1``).
      lambd: >= 0; decay term of both ``eta_t`` and the weights.
      alpha: >= 0; power of the decay of ``eta_t``.
      t0: >= 0; the step at which averaging starts.
      weight_decay: >= 0; coupled L2.
      mu_dtype: static storage of the moments: a dtype, momentax.stochastic_rounding(...) or
        momentax.blockwise_8bit(...); arithmetic runs in float32 (the average ``ax``; see
        :func:`momentax.average_iterates`).

    Note:
      Defaults and arithmetic equal torch.optim.ASGD's (whose average is ``state["ax"]``);
      optax has no ASGD.

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.
      TypeError: ``mu_dtype`` is not a dtype or a storage spec.

    Source: B. T. Polyak, A. B. Juditsky, SIAM J. Control Optim. 1992,
    https://doi.org/10.1137/0330046.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.asgd(0.1, lambd=0.0, t0=0.0)
      >>> p = jnp.array([0.0])
      >>> s = opt.init(p)
      >>> for _ in range(3):
      ...     u, s = opt.update(jnp.array([-10.0]), s, p)
      ...     p = momentax.apply_updates(p, u)
      >>> float(p[0]), float(momentax.eval_params(s, p)[0])
      (3.0, 2.5)
    """
    parts = (add_decayed_weights(weight_decay),) if weight_decay else ()
    return labelled_chain("asgd", *parts, scale_by_asgd(learning_rate, lambd, alpha),
                          average_iterates(t0, mu_dtype=mu_dtype))
