"""Exponential moving average (Polyak averaging) of the parameters, for evaluation."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation
from momentax.combine import as_momentax
from momentax.hyperparams import DECAY, Hyperparams, default_float, validate
from momentax.math import classic as rules
from momentax.math.common import compute_dtype
from momentax.wrappers._common import check_state, copy_tree, require_params

__all__ = ["WeightEmaState", "weight_ema"]


def _average(u: jax.Array, p: jax.Array, avg: jax.Array, decay: jax.Array) -> tuple[jax.Array]:
    """Per-array rule: ``avg' = decay * avg + (1 - decay) * (p + u)``, in avg's dtype.

    ``p + u`` is rounded to p's dtype first, so the average is of exactly the parameters
    ``apply_updates`` produces; the moving average itself is :func:`momentax.math.classic.ema`.
    """
    new_p = (p + u).astype(p.dtype)
    # ema computes in the compute dtype of its first argument; widen it to the storage dtype
    # so that a float64 average of float32 parameters is also accumulated in float64.
    new_p = new_p.astype(jnp.promote_types(new_p.dtype, avg.dtype))
    _, new_avg = rules.ema(new_p, avg, decay, None, False, False)
    return (new_avg,)


class WeightEmaState(NamedTuple):
    """State of :func:`weight_ema`; ``momentax.eval_params`` gives the averaged parameters."""

    ema: Any  # tree like params, ema_dtype: the (un-normalised) moving average of the parameters
    weight: jax.Array  # scalar, default float: moving average of 1 (1 - decay**t if debias, else 1)
    inner_state: Any  # the wrapped transform's state
    hyperparams: Hyperparams  # {"decay"}

    def eval_params(self, params: Any) -> Any:
        """``ema / weight`` in the dtypes of ``params``; ``params`` itself before the first step."""
        leaves, treedef = jax.tree.flatten(params)
        avgs = trees.leaves_like(treedef, self.ema, "params", "state.ema", "weight_ema.eval_params", params)
        started = self.weight > 0

        def normalise(a, p):
            dt = jnp.promote_types(a.dtype, self.weight.dtype)
            w = jnp.where(started, self.weight, 1).astype(dt)
            return jnp.where(started, (a.astype(dt) / w).astype(p.dtype), p)

        return jax.tree.unflatten(treedef, [normalise(a, p) for a, p in zip(avgs, leaves)])


def weight_ema(inner: Any, decay: float = 0.999, debias: bool = True, *,
               ema_dtype: Any = None) -> GradientTransformation:
    """Keeps an exponential moving average of the parameters after each update.

    The updates pass through unchanged; with ``p_new = p + u`` the parameters the caller gets
    from ``apply_updates``::

        ema'    = decay * ema + (1 - decay) * p_new
        weight' = decay * weight + (1 - decay)                    (debias only)
        momentax.eval_params(state, p) = ema / weight

    With ``debias`` (default) ``ema`` and ``weight`` start at 0, so ``weight = 1 - decay**t``
    after ``t`` steps and the result is the normalised weighted average of the parameters
    after steps ``1..t`` (the initial parameters before the first step). Without it ``ema``
    starts at the initial parameters and ``weight`` stays 1: the plain EMA.

    Args:
      inner: the optimizer whose parameters are averaged (momentax or optax); extra keyword
        arguments reach it.
      decay: in [0, 1); state ``decay``; the average spans about ``1 / (1 - decay)`` steps.
      debias: static; normalise by ``1 - decay**t`` (zero start) or start from the initial
        parameters.
      ema_dtype: static; storage dtype of the average. Default: the parameter's dtype widened
        to at least float32 (a bfloat16 average with ``decay=0.999`` would not move: the
        increments are below its resolution).

    Returns:
      A transform with state :class:`WeightEmaState`: ``ema`` (like params), the scalar
      ``weight`` and the inner state.

    Raises:
      ValueError: ``decay`` out of range; ``update`` called without ``params``.
      TypeError: ``inner`` is not a gradient transformation, or ``update`` got another state.
      TreeMismatchError: ``params`` or the updates do not have the structure ``init`` saw.

    Note:
      ``torch.optim.swa_utils.AveragedModel`` with an EMA rule starts the average at the
      parameters after the first step, ``ema_1 = p_1``; the debiased average here weighs
      ``p_1`` by ``(1 - decay) * decay**(t-1) / (1 - decay**t)`` instead. The updates applied to
      the parameters are unchanged by this wrapper, so it composes with any optimizer.

    Source: B. T. Polyak, A. B. Juditsky, "Acceleration of Stochastic Approximation by
    Averaging", SIAM J. Control Optim. 1992, https://doi.org/10.1137/0330046; the exponential
    form and its bias correction: D. P. Kingma, J. Ba, ICLR 2015, https://arxiv.org/abs/1412.6980.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.weight_ema(momentax.sgd(1.0), decay=0.5)
      >>> p = jnp.zeros(1)
      >>> state = opt.init(p)
      >>> for _ in range(2):
      ...     u, state = opt.update(jnp.ones(1), state, p)
      ...     p = momentax.apply_updates(p, u)
      >>> p.tolist(), [round(x, 6) for x in momentax.eval_params(state, p).tolist()]
      ([-2.0], [-1.666667])
    """
    where = "weight_ema"
    inner = as_momentax(inner)
    specs = validate(where, decay=(decay, DECAY))

    def storage(p):
        return jnp.dtype(ema_dtype) if ema_dtype is not None else compute_dtype(jnp.zeros((), p.dtype))

    def init(params):
        trees.check_float_leaves(params, "params", where)
        if debias:
            avg = jax.tree.map(lambda p: trees.zeros_like_tree(p, storage(p)), params)
        else:
            avg = jax.tree.map(lambda p: copy_tree(p, storage(p)), params)
        weight = jnp.asarray(0.0 if debias else 1.0, default_float())
        return WeightEmaState(avg, weight, inner.init(params), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        check_state(state, WeightEmaState, where)
        require_params(params, where)
        d = state.hyperparams["decay"]
        out, inner_state = inner.update(updates, state.inner_state, params, **extra)
        (avg,) = trees.lift(lambda u, p, a: _average(u, p, a, d), out, params, state.ema,
                            names=("updates", "params", "state.ema"), where=where)
        w = state.weight
        weight = (d.astype(w.dtype) * w + (1 - d.astype(w.dtype))) if debias else w
        return out, WeightEmaState(avg, weight, inner_state, state.hyperparams)

    return GradientTransformation(init, update, name=where, hyper={"decay": decay},
                                  static={"debias": debias, "ema_dtype": ema_dtype}, children=(inner,))
