"""Low-precision parameters: stochastic rounding and Kahan-compensated updates.

Both go last in a chain: they turn the final update ``u`` into ``u' = p' - p`` (float32), where
``p'`` is the narrow parameter the step should land on, so that ``apply_updates`` (or
``optax.apply_updates``), which adds in float32 and casts back, writes exactly ``p'``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from momentax import trees
from momentax.base import GradientTransformation
from momentax.math import rounding

__all__ = ["StochasticRoundParamsState", "KahanSummationState", "stochastic_round_params", "kahan_summation"]


def _needs_params(params: Any, where: str) -> None:
    if params is None:
        raise ValueError(f"{where}: update needs the current params (call update(updates, state, params)).")


class StochasticRoundParamsState(NamedTuple):
    """State of :func:`stochastic_round_params`."""

    key: jax.Array  # uint32 [2]: a PRNG key, split at every step


def stochastic_round_params(seed: int = 0) -> GradientTransformation:
    """Lands bfloat16 parameters on ``stochastic_round(p + u)`` instead of the nearest value.

    For each bfloat16 leaf, with ``r`` a fresh key per step and leaf::

        p' = stochastic_round_bf16(float32(p) + u, r)        u' = float32(p') - float32(p)

    so ``E[p'] = p + u``: updates smaller than half a unit in the last place still move the
    parameter on average, where round-to-nearest drops them every step (a bfloat16 weight
    near 1 ignores any step below ``2**-9``). Leaves of other dtypes pass through unchanged.
    Put it last in the chain, after the learning rate.

    Args:
      seed: int; the state's PRNG key. The same seed gives the same run.

    Shapes and dtypes: updates of bfloat16 leaves leave as float32 (exact ``p' - p``), the
    others unchanged. State: one uint32 ``[2]`` key.

    Raises:
      ValueError: ``seed`` not an int; ``update`` called without ``params``.
      TreeMismatchError: updates and params differ in structure.

    Source: M. Gupta, A. Agrawal, P. Gopalakrishnan, P. Narayanan, "Deep Learning with
    Limited Numerical Precision", ICML 2015, https://arxiv.org/abs/1502.02551.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.chain(momentax.sgd(1e-3), momentax.stochastic_round_params(seed=0))
      >>> p = jnp.ones(1000, jnp.bfloat16)
      >>> s = opt.init(p)
      >>> for _ in range(100):
      ...     u, s = opt.update(jnp.ones(1000, jnp.bfloat16), s, p)
      ...     p = momentax.apply_updates(p, u)
      >>> round(float(p.astype(jnp.float32).mean()), 1)   # round-to-nearest would stay at 1.0
      0.9
    """
    where = "stochastic_round_params"
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"{where}: seed must be an int, got {seed!r}.")

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return StochasticRoundParamsState(jax.random.PRNGKey(seed))

    def update(updates, state, params=None, **extra):
        del extra
        _needs_params(params, where)
        key, step_key = jax.random.split(state.key)
        u_leaves, treedef = jax.tree.flatten(updates)
        p_leaves = trees.leaves_like(treedef, params, "updates", "params", where, reference=updates)

        def land(i, u, p):
            if p.dtype != jnp.bfloat16:
                return u
            new = rounding.stochastic_round_bf16(p.astype(jnp.float32) + u.astype(jnp.float32),
                                                 jax.random.fold_in(step_key, i))
            return new.astype(jnp.float32) - p.astype(jnp.float32)

        out = [land(i, u, p) for i, (u, p) in enumerate(zip(u_leaves, p_leaves))]
        return jax.tree.unflatten(treedef, out), StochasticRoundParamsState(key)

    return GradientTransformation(init, update, name=where, static={"seed": int(seed)})


class KahanSummationState(NamedTuple):
    """State of :func:`kahan_summation`."""

    compensation: Any  # tree like params, each in its parameter's dtype: what rounding lost


def kahan_summation() -> GradientTransformation:
    """Compensated parameter updates: what rounding drops is carried to the next step.

    For each leaf, with compensation ``c`` (zero at first), in float32::

        s  = p + (u + c)
        p' = round_to_nearest(s)  (the parameter's dtype)
        c' = s - p'               (stored in the parameter's dtype)
        u' = p' - p

    Updates too small to move a bfloat16 parameter accumulate in ``c`` until they do, so the
    parameter tracks the float32 sum of its updates to about its own precision, without
    randomness. Costs one parameter-sized buffer in the parameter's dtype (2 B/param for
    bfloat16). Put it last in the chain, after the learning rate; to compensate only the
    16-bit leaves, wrap it in :func:`momentax.masked`.

    Shapes and dtypes: updates leave as float32 (exact ``p' - p``); ``compensation`` has each
    parameter's shape and dtype.

    Raises:
      ValueError: ``update`` called without ``params``.
      TreeMismatchError: updates, params and state differ in structure or shape.

    Source: W. Kahan, "Further remarks on reducing truncation errors", Communications of the
    ACM 8(1), 1965, https://doi.org/10.1145/363707.363723; applied to bfloat16 training in
    P. Zamirai, J. Zhang, C. R. Aberger, C. De Sa, "Revisiting BFloat16 Training", 2020,
    https://arxiv.org/abs/2010.06192.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.chain(momentax.sgd(1e-3), momentax.kahan_summation())
      >>> p = jnp.ones(3, jnp.bfloat16)
      >>> s = opt.init(p)
      >>> for _ in range(100):
      ...     u, s = opt.update(jnp.ones(3, jnp.bfloat16), s, p)
      ...     p = momentax.apply_updates(p, u)
      >>> p.astype(jnp.float32).tolist()   # 1 - 100 * 1e-3, to bfloat16 precision
      [0.8984375, 0.8984375, 0.8984375]
    """
    where = "kahan_summation"

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return KahanSummationState(trees.zeros_like_tree(params))

    def update(updates, state, params=None, **extra):
        del extra
        _needs_params(params, where)

        def rule(u, c, p):
            new_p, new_c = rounding.kahan_add(p, u, c)
            return new_p.astype(jnp.float32) - p.astype(jnp.float32), new_c

        out, comp = trees.lift(rule, updates, state.compensation, params,
                               names=("updates", "state.compensation", "params"), where=where)
        return out, KahanSummationState(comp)

    return GradientTransformation(init, update, name=where)
