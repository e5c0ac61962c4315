"""Averaged SGD (torch.optim.ASGD): the decaying step and the running average of the iterates.

The rules are in :mod:`momentax.math.averaging`. :func:`average_iterates` keeps the average
in its state; :func:`momentax.eval_params` reads it back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import NONNEGATIVE, Hyperparams, validate
from momentax.math import averaging as rules
from momentax.storage import check_storage, state_like

__all__ = ["ScaleByAsgdState", "AverageIteratesState", "scale_by_asgd", "average_iterates"]


def _need_params(params: Any, where: str) -> None:
    if params is None:
        raise ValueError(f"{where}: update needs the parameters; call update(updates, state, params).")


class ScaleByAsgdState(NamedTuple):
    """State of :func:`scale_by_asgd`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    hyperparams: Hyperparams  # {"learning_rate", "lambd", "alpha"}


def scale_by_asgd(learning_rate: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75) -> GradientTransformation:
    """ASGD's step: a decaying learning rate and a weight decay ``lambd`` tied to it.

    For step ``t`` (from 1)::

        eta_t = learning_rate / (1 + lambd * learning_rate * (t - 1)) ** alpha
        u     = -eta_t * (g + lambd * p)

    so ``p' = p * (1 - lambd * eta_t) - eta_t * g``. The minus sign is applied here: this
    transform ends a descent chain (before :func:`average_iterates`), in place of
    ``scale_by_learning_rate``.

    Args:
      learning_rate: >= 0; state ``learning_rate`` (``eta_1``).
      lambd: >= 0; state ``lambd`` (decay term, in units of 1 / learning rate).
      alpha: >= 0; state ``alpha`` (power of the decay of ``eta_t``).

    Shapes and dtypes: updates keep the gradient's dtype; the state holds only the step
    count and the hyperparameters.

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.
      TreeMismatchError: the params' tree differs from the updates' tree.

    Source: B. T. Polyak, A. B. Juditsky, "Acceleration of Stochastic Approximation by
    Averaging", SIAM J. Control Optim. 1992, https://doi.org/10.1137/0330046; the step-size
    rule is L. Bottou's, "Stochastic Gradient Descent Tricks", 2012,
    https://doi.org/10.1007/978-3-642-35289-8_25.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_asgd(learning_rate=0.5, lambd=0.1)
      >>> p = jnp.array([2.0])
      >>> u, s = tx.update(jnp.array([1.0]), tx.init(p), p)   # -0.5 * (1 + 0.1 * 2)
      >>> round(float(u[0]), 6)
      -0.6
    """
    where = "scale_by_asgd"
    specs = validate(where, learning_rate=(learning_rate, NONNEGATIVE), lambd=(lambd, NONNEGATIVE),
                     alpha=(alpha, NONNEGATIVE))

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ScaleByAsgdState(init_count(), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del extra
        _need_params(params, where)
        h = state.hyperparams
        count = safe_increment(state.count)
        eta = rules.asgd_learning_rate(h["learning_rate"], h["lambd"], h["alpha"], count)
        (out,) = trees.lift(lambda g, p: rules.asgd(g, p, eta, h["lambd"]), updates, params,
                            names=("updates", "params"), where=where)
        return out, ScaleByAsgdState(count, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"learning_rate": learning_rate, "lambd": lambd, "alpha": alpha})


class AverageIteratesState(NamedTuple):
    """State of :func:`average_iterates`; :func:`momentax.eval_params` returns its average."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    ax: Any  # tree like params: the averaged parameters, in mu_dtype (default: param dtype); zeros at first
    hyperparams: Hyperparams  # {"t0"}

    def eval_params(self, params: Any) -> Any:
        """The averaged parameters; before the first step, ``params`` itself."""
        started = self.count > 0

        def pick(p, a):
            return jnp.where(started, trees.loaded(a), p).astype(p.dtype)

        return jax.tree.map(pick, params, self.ax)


def average_iterates(t0: float = 1e6, *, mu_dtype: Any = None) -> GradientTransformation:
    """Keeps the running average of the parameters from step ``t0`` on; updates pass unchanged.

    With ``p' = p + u`` the parameters after this step ``t`` (from 1)::

        mu_t = 1 / max(1, t - 1 - t0)
        ax'  = p'                       if mu_t == 1
        ax'  = ax + mu_t * (p' - ax)    otherwise

    so ``ax`` follows the parameters until step ``t0 + 2`` and is then the mean of the
    iterates since about ``t0``. Read it with ``momentax.eval_params(state, params)``.

    Args:
      t0: >= 0; state ``t0`` (the step at which averaging starts; torch's default 1e6).
      mu_dtype: static storage of the average ``ax`` (the first moment of the iterates):
        ``None`` (the parameter's dtype), a dtype, :func:`momentax.stochastic_rounding` or
        :func:`momentax.blockwise_8bit`. Arithmetic runs in at least float32. The average
        moves by ``(p' - ax) / t``: a round-to-nearest bfloat16 ``ax`` stops following once
        that is below half its last place, and an 8-bit ``ax`` is off by its rounding, so
        prefer stochastic rounding to save memory here.

    Shapes and dtypes: ``ax`` has each parameter's shape (and, by default, dtype); updates are
    returned as given.

    Note:
      Place it last in the chain: it computes ``p'`` from the updates it receives, exactly as
      :func:`momentax.apply_updates` will (``p + u`` cast to ``p``'s dtype).

    Raises:
      ValueError: ``t0`` out of range, or ``update`` called without ``params``.
      TypeError: ``mu_dtype`` is not a storage spec.
      TreeMismatchError: the params' tree differs from the updates' tree.

    Source: B. T. Polyak, A. B. Juditsky, "Acceleration of Stochastic Approximation by
    Averaging", SIAM J. Control Optim. 1992, https://doi.org/10.1137/0330046.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.average_iterates(t0=0.0)
      >>> p = jnp.array([0.0])
      >>> s = tx.init(p)
      >>> for _ in range(3):
      ...     u, s = tx.update(jnp.array([1.0]), s, p)
      ...     p = momentax.apply_updates(p, u)
      >>> float(p[0]), float(momentax.eval_params(s, p)[0])   # iterates 1, 2, 3; mu_3 = 1/2
      (3.0, 2.5)
    """
    where = "average_iterates"
    specs = validate(where, t0=(t0, NONNEGATIVE))
    check_storage(where, mu_dtype=mu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return AverageIteratesState(init_count(), state_like(params, mu_dtype, salt="ax"), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del extra
        _need_params(params, where)
        count = safe_increment(state.count)
        mu = rules.averaging_weight(state.hyperparams["t0"], count)
        # The rule passes u through as its first output so that the new average is output 1,
        # written back through the storage of input 0 (state.ax).
        _, ax = trees.lift(lambda u, a, p: (u, *rules.average(p, u, a, mu)), updates, state.ax, params,
                           names=("updates", "state.ax", "params"), where=where)
        return updates, AverageIteratesState(count, ax, state.hyperparams)

    return GradientTransformation(init, update, name=where, hyper={"t0": t0}, static={"mu_dtype": mu_dtype})
