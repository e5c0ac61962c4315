"""Layer-wise trust ratios (LARS, LAMB): each leaf's step is rescaled to its parameter's norm."""

from __future__ import annotations

from typing import NamedTuple

from momentax import trees
from momentax.base import GradientTransformation
from momentax.hyperparams import NONNEGATIVE, POSITIVE, Hyperparams, validate
from momentax.math import trust as rules
from momentax.transforms.decay import Mask


class ScaleByTrustRatioState(NamedTuple):
    """State of :func:`scale_by_trust_ratio`."""

    hyperparams: Hyperparams  # {"min_norm", "trust_coefficient", "eps"}


def scale_by_trust_ratio(min_norm: float = 0.0, trust_coefficient: float = 1.0, eps: float = 0.0, *,
                         mask: Mask | None = None) -> GradientTransformation:
    """Scales each leaf's update by the ratio of its parameter's norm to the update's norm.

    For every leaf (the norms are over the whole array, so a leaf is a "layer")::

        np = max(||p||, min_norm),  nu = max(||u||, min_norm)
        u' = trust_coefficient * np / (nu + eps) * u     if np > 0 and nu > 0
        u' = u                                           otherwise

    so a zero-initialised parameter or a zero update passes through unscaled.

    Args:
      min_norm: >= 0; state ``min_norm``. Lower bound on both norms.
      trust_coefficient: > 0; state ``trust_coefficient`` (LARS's ``eta``, 0.001 in the paper).
      eps: >= 0; state ``eps``, added to the update's norm.
      mask: static; a tree of Python bools with the structure of the params or of a prefix of
        it (``True``: scale this leaf or subtree), or a function ``params -> such a tree``;
        unmasked leaves pass through. ``None`` scales every leaf.

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.
      TreeMismatchError: the params or mask tree differs from the updates' tree.

    Note:
      Arithmetic and defaults equal optax's ``scale_by_trust_ratio``; the ``mask`` argument
      does what optax spells ``optax.masked(scale_by_trust_ratio(...), mask)``.

    Source: Y. You, I. Gitman, B. Ginsburg, "Large Batch Training of Convolutional Networks",
    2017, https://arxiv.org/abs/1708.03888.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_trust_ratio()
      >>> p = jnp.array([3.0, 4.0])
      >>> tx.update(jnp.array([0.0, 0.5]), tx.init(p), p)[0].tolist()
      [0.0, 5.0]
    """
    where = "scale_by_trust_ratio"
    specs = validate(where, min_norm=(min_norm, NONNEGATIVE), trust_coefficient=(trust_coefficient, POSITIVE),
                     eps=(eps, NONNEGATIVE))

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ScaleByTrustRatioState(Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError(f"{where}: update needs the parameters; call update(updates, state, params).")
        h = state.hyperparams
        extra_trees, names = (params,), ("updates", "params")
        if mask is not None:
            flags = trees.broadcast_prefix(mask(params) if callable(mask) else mask, params, "mask", "params", where)
            extra_trees, names = (params, flags), names + ("mask",)

        def rule(u, p, scale_this=True):
            if not bool(scale_this):
                return (u,)
            return rules.trust_ratio(u, p, h["min_norm"], h["trust_coefficient"], h["eps"])

        (out,) = trees.lift(rule, updates, *extra_trees, names=names, where=where)
        return out, state

    return GradientTransformation(init, update, name=where,
                                  hyper={"min_norm": min_norm, "trust_coefficient": trust_coefficient, "eps": eps},
                                  static={"mask": mask})
