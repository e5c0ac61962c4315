"""Weight decay added to the updates (coupled to the learning rate that scales them)."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Union

import jax

from momentax import trees
from momentax.base import GradientTransformation
from momentax.hyperparams import NONNEGATIVE, Hyperparams, validate
from momentax.math import classic as rules

Mask = Union[Any, Callable[[Any], Any]]


class AddDecayedWeightsState(NamedTuple):
    """State of :func:`add_decayed_weights`."""

    hyperparams: Hyperparams  # {"weight_decay"}


def add_decayed_weights(weight_decay: float = 0.0, mask: Mask | None = None) -> GradientTransformation:
    """Adds ``weight_decay * params`` to the updates: ``u' = u + weight_decay * p``.

    Placed before the learning rate (``chain(..., add_decayed_weights(wd),
    scale_by_learning_rate(lr))``) it gives the lr-coupled decay ``p -= lr * wd * p`` of
    torch.optim.AdamW and optax's ``adamw``; placed first in a chain it is L2 regularisation
    (torch's ``weight_decay=`` on SGD and Adam).

    Args:
      weight_decay: >= 0; state ``weight_decay``.
      mask: static; a tree of Python bools with the structure of the params or of a prefix of
        it (``True``: decay this leaf or subtree), or a function ``params -> such a tree``.
        ``None`` decays every leaf.

    Raises:
      ValueError: ``weight_decay`` negative, or ``update`` called without ``params``.
      TreeMismatchError: the mask or params tree differs from the updates' tree.

    Source: I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
    https://arxiv.org/abs/1711.05101.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.add_decayed_weights(0.1)
      >>> p = jnp.array([2.0])
      >>> round(float(tx.update(jnp.array([1.0]), tx.init(p), p)[0][0]), 6)
      1.2
    """
    where = "add_decayed_weights"
    specs = validate(where, weight_decay=(weight_decay, NONNEGATIVE))

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return AddDecayedWeightsState(Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del extra
        if params is None and jax.tree.leaves(updates):
            raise ValueError(f"{where}: update needs the parameters; call update(updates, state, params).")
        if params is None:  # no array leaves (a partition group that owns nothing)
            return updates, state
        wd = state.hyperparams["weight_decay"]
        extra_trees, names = (params,), ("updates", "params")
        if mask is not None:
            flags = trees.broadcast_prefix(mask(params) if callable(mask) else mask, params, "mask", "params", where)
            extra_trees, names = (params, flags), names + ("mask",)

        def rule(g, p, decay_this=True):
            return rules.add_decayed_weights(g, p, wd) if bool(decay_this) else (g,)

        (out,) = trees.lift(rule, updates, *extra_trees, names=names, where=where)
        return out, state

    return GradientTransformation(init, update, name=where, hyper={"weight_decay": weight_decay},
                                  static={"mask": mask})
