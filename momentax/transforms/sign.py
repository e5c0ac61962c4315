"""Sign-based directions: signSGD's ``sign(g)`` and Lion's interpolated sign momentum."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from momentax import trees
from momentax.base import EmptyState, GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, Hyperparams, validate
from momentax.math import sign as rules
from momentax.storage import check_storage, state_like


def scale_by_sign() -> GradientTransformation:
    """Replaces each update by its sign: ``u' = sign(u)`` elementwise, ``sign(0) = 0``.

    Stateless; the output has the input's shape and dtype, with entries in {-1, 0, 1}.

    Raises:
      TypeError: an update leaf is not floating point.

    Source: J. Bernstein, Y.-X. Wang, K. Azizzadenesheli, A. Anandkumar, "signSGD: Compressed
    Optimisation for Non-Convex Problems", ICML 2018, https://arxiv.org/abs/1802.04434.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_sign()
      >>> tx.update(jnp.array([-0.3, 0.0, 2.0]), tx.init(jnp.zeros(3)))[0].tolist()
      [-1.0, 0.0, 1.0]
    """
    where = "scale_by_sign"

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return EmptyState()

    def update(updates, state, params=None, **extra):
        del params, extra
        (out,) = trees.lift(rules.sign, updates, names=("updates",), where=where)
        return out, state

    return GradientTransformation(init, update, name=where)


class ScaleByLionState(NamedTuple):
    """State of :func:`scale_by_lion`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: momentum (EMA of g with decay b2), in mu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"b1", "b2"}


def scale_by_lion(b1: float = 0.9, b2: float = 0.99, *, mu_dtype: Any = None) -> GradientTransformation:
    """Lion's direction: the sign of an interpolation between momentum and gradient.

    With ``m`` starting at zero::

        u  = sign(b1 * m + (1 - b1) * g)
        m' = b2 * m + (1 - b2) * g

    Every entry of ``u`` is -1, 0 or 1, so the step size is set entirely by the learning
    rate that follows.

    Args:
      b1: in [0, 1); state ``b1``. Weight of the momentum in the direction.
      b2: in [0, 1); state ``b2``. Decay of the stored momentum.
      mu_dtype: static storage of the momentum: ``None`` (the parameter's dtype), a dtype,
        :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32.

    Raises:
      ValueError: ``b1`` or ``b2`` out of range.
      TypeError: ``mu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: X. Chen, C. Liang, D. Huang, E. Real, K. Wang, Y. Liu, H. Pham, X. Dong, T. Luong,
    C.-J. Hsieh, Y. Lu, Q. V. Le, "Symbolic Discovery of Optimization Algorithms", NeurIPS
    2023, https://arxiv.org/abs/2302.06675 (Program 1).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_lion()
      >>> u, state = tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))
      >>> u.tolist(), [round(x, 6) for x in state.mu.tolist()]
      ([1.0, -1.0], [0.005, -0.02])
    """
    where = "scale_by_lion"
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY))
    check_storage(where, mu_dtype=mu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ScaleByLionState(init_count(), state_like(params, mu_dtype, salt="mu"), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        out, mu = trees.lift(lambda g, m: rules.lion(g, m, h["b1"], h["b2"]), updates, state.mu,
                             names=("updates", "state.mu"), where=where)
        return out, ScaleByLionState(safe_increment(state.count), mu, h)

    return GradientTransformation(init, update, name=where, hyper={"b1": b1, "b2": b2},
                                  static={"mu_dtype": mu_dtype})
