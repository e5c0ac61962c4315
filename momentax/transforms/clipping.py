"""Clipping: by value, by global norm, by per-leaf RMS, and adaptive (unit-wise) clipping.

Every threshold is a numeric hyperparameter kept in the state (``ClipState.hyperparams``), so
it can be read and changed with :func:`momentax.set_hyperparams` without recompiling.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation
from momentax.hyperparams import NONNEGATIVE, POSITIVE, Hyperparams, default_float, validate
from momentax.math import classic
from momentax.math import clipping as rules

__all__ = ["ClipState", "clip", "clip_by_global_norm", "clip_by_block_rms", "adaptive_grad_clip"]


class ClipState(NamedTuple):
    """State of the clipping transforms: their thresholds, nothing parameter-sized."""

    hyperparams: Hyperparams  # e.g. {"max_norm", "eps"}: scalars, default float dtype


def _stateless_init(specs, where):
    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ClipState(Hyperparams.create(specs))

    return init


def clip(max_delta: float) -> GradientTransformation:
    """Clips every element of the updates to ``[-max_delta, max_delta]``.

    ``u' = min(max(u, -max_delta), max_delta)``, elementwise; shapes and dtypes unchanged.

    Args:
      max_delta: >= 0, in units of the updates; state ``max_delta``.

    Raises:
      ValueError: ``max_delta`` negative or NaN.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.clip(1.0)
      >>> tx.update(jnp.array([-3.0, 0.5, 2.0]), tx.init(jnp.zeros(3)))[0].tolist()
      [-1.0, 0.5, 1.0]
    """
    where = "clip"
    specs = validate(where, max_delta=(max_delta, NONNEGATIVE))

    def update(updates, state, params=None, **extra):
        del params, extra
        m = state.hyperparams["max_delta"]
        (out,) = trees.lift(lambda g: rules.clip(g, m), updates, names=("updates",), where=where)
        return out, state

    return GradientTransformation(_stateless_init(specs, where), update, name=where, hyper={"max_delta": max_delta})


def _total_sum_of_squares(updates) -> jax.Array:
    """Sum of ``u**2`` over every element of every leaf, in float32 or wider.

    Each leaf's sum is taken in its compute dtype (float32 for 16-bit leaves), and the total
    in the widest of those and the default float; ``None`` leaves are skipped.
    """
    sums = [rules.sum_of_squares(g) for g in jax.tree.leaves(updates)]
    dt = jnp.result_type(default_float(), *[s.dtype for s in sums])
    return sum((s.astype(dt) for s in sums), jnp.zeros((), dt))


def clip_by_global_norm(max_norm: float, eps: float = 0.0) -> GradientTransformation:
    """Scales all updates by one factor so that their global norm is at most ``max_norm``.

    ::

        norm = sqrt(sum over every leaf and element of u**2)
        u'   = u * max_norm / max(norm + eps, max_norm)       # = u * min(1, max_norm / (norm + eps))

    The norm is one number for the whole tree (not per leaf), accumulated in float32 or
    wider; updates keep their dtypes. A zero tree stays zero (no NaN).

    Args:
      max_norm: > 0, in units of the updates' L2 norm; state ``max_norm``.
      eps: >= 0; state ``eps``. Added to the norm before dividing; 0 (the default) is optax's
        rule, ``1e-6`` is torch's.

    Raises:
      ValueError: ``max_norm`` not positive, or ``eps`` negative.

    Note:
      optax's ``clip_by_global_norm`` leaves updates unchanged while ``norm < max_norm`` and
      otherwise multiplies by ``max_norm / norm``: the default here (``eps=0``) is that rule.
      ``torch.nn.utils.clip_grad_norm_`` always multiplies by
      ``min(1, max_norm / (norm + 1e-6))``; ``clip_by_global_norm(max_norm, eps=1e-6)`` is that
      rule exactly. The two differ only when clipping is active, by the factor
      ``norm / (norm + 1e-6)``, and when ``max_norm - 1e-6 < norm < max_norm``.

    Source: R. Pascanu, T. Mikolov, Y. Bengio, "On the difficulty of training Recurrent Neural
    Networks", ICML 2013, https://arxiv.org/abs/1211.5063.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.clip_by_global_norm(1.0)
      >>> g = {"a": jnp.array([3.0]), "b": jnp.array([4.0])}
      >>> u, _ = tx.update(g, tx.init(g))
      >>> [round(float(u["a"][0]), 6), round(float(u["b"][0]), 6)]
      [0.6, 0.8]
    """
    where = "clip_by_global_norm"
    specs = validate(where, max_norm=(max_norm, POSITIVE), eps=(eps, NONNEGATIVE))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        trees.check_float_leaves(updates, "updates", where)
        factor = rules.global_norm_factor(_total_sum_of_squares(updates), h["max_norm"], h["eps"])
        (out,) = trees.lift(lambda g: classic.scale(g, factor), updates, names=("updates",), where=where)
        return out, state

    return GradientTransformation(_stateless_init(specs, where), update, name=where,
                                  hyper={"max_norm": max_norm, "eps": eps})


def clip_by_block_rms(threshold: float) -> GradientTransformation:
    """Scales each leaf down so that its root-mean-square is at most ``threshold``.

    Per leaf (a "block": one weight matrix, bias vector or kernel)::

        rms = sqrt(mean(u**2))
        u'  = u / max(1, rms / threshold)

    Args:
      threshold: > 0, in units of the updates' RMS; state ``threshold``.

    Raises:
      ValueError: ``threshold`` not positive.

    Note:
      The same rule as optax's ``clip_by_block_rms``.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.clip_by_block_rms(1.0)
      >>> tx.update(jnp.array([4.0, -4.0]), tx.init(jnp.zeros(2)))[0].tolist()
      [1.0, -1.0]
    """
    where = "clip_by_block_rms"
    specs = validate(where, threshold=(threshold, POSITIVE))

    def update(updates, state, params=None, **extra):
        del params, extra
        t = state.hyperparams["threshold"]
        (out,) = trees.lift(lambda g: rules.clip_by_rms(g, t), updates, names=("updates",), where=where)
        return out, state

    return GradientTransformation(_stateless_init(specs, where), update, name=where, hyper={"threshold": threshold})


def _check_units(updates, axis, where):
    if axis is not None:
        return
    for path, leaf in jax.tree_util.tree_flatten_with_path(updates)[0]:
        if jnp.ndim(leaf) > 5:
            raise ValueError(
                f"{where}: cannot tell the units of the leaf at {jax.tree_util.keystr(path) or '<root>'} "
                f"(shape {list(jnp.shape(leaf))}, rank above 5); pass axis= naming the axes each "
                f"unit's norm is taken over."
            )


def adaptive_grad_clip(clipping: float = 0.01, eps: float = 1e-3, *, axis=None) -> GradientTransformation:
    """Adaptive gradient clipping (AGC): caps each unit's gradient norm relative to its weights.

    For every unit (output neuron) of every leaf, with ``||.||`` the L2 norm over the unit::

        M  = clipping * max(||p_unit||, eps)
        u' = u * M / ||u_unit||     if ||u_unit|| > M,   else u

    Units: the whole array for scalars and vectors; axis 0 for rank 2 ``(in, out)`` and rank 3
    ``(in, heads, head_dim)`` leaves; every axis but the last for rank 4/5 convolution
    kernels (``HWIO``, ``DHWIO``). That is one norm per output unit, the fan-in "row" of the
    paper's ``(out, in)`` matrices in the ``(in, out)`` layout of flax and haiku.

    Args:
      clipping: > 0, the largest allowed ratio ``||u_unit|| / ||p_unit||``; state ``clipping``.
      eps: > 0; state ``eps``. Floor on the parameter norm, so zero-initialised weights
        (biases) can still move.
      axis: static; an int or tuple of axes to take every leaf's unit norms over instead of the
        default by rank.

    Raises:
      ValueError: an argument out of range; ``update`` called without ``params``; a leaf of
        rank above 5 with ``axis=None`` (the message names its tree path).
      TreeMismatchError: ``params`` does not have the updates' structure and shapes.

    Note:
      The units and the rule equal optax's ``adaptive_grad_clip``; optax has no default for
      ``clipping``, 0.01 here is the paper's value for large batches.

    Source: A. Brock, S. De, S. L. Smith, K. Simonyan, "High-Performance Large-Scale Image
    Recognition Without Normalization", ICML 2021, https://arxiv.org/abs/2102.06171.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.adaptive_grad_clip(0.1)
      >>> p = jnp.array([3.0, 4.0])
      >>> [round(x, 6) for x in tx.update(jnp.array([6.0, 8.0]), tx.init(p), p)[0].tolist()]
      [0.3, 0.4]
    """
    where = "adaptive_grad_clip"
    specs = validate(where, clipping=(clipping, POSITIVE), eps=(eps, POSITIVE))

    def update(updates, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError(f"{where}: update needs the parameters; call update(updates, state, params).")
        h = state.hyperparams
        _check_units(updates, axis, where)

        def rule(g, p):
            return rules.adaptive_clip(g, p, h["clipping"], h["eps"], axis)

        (out,) = trees.lift(rule, updates, params, names=("updates", "params"), where=where)
        return out, state

    return GradientTransformation(_stateless_init(specs, where), update, name=where,
                                  hyper={"clipping": clipping, "eps": eps},
                                  static={"axis": axis})
