"""Adam's relatives: AMSGrad, Adamax, NAdam and RAdam scalings (rules in momentax.math.adam_family)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, NONNEGATIVE, POSITIVE, Hyperparams, default_float, validate
from momentax.math import adam_family as rules
from momentax.storage import check_storage, state_like
from momentax.transforms.adaptive import ScaleByAdamState

__all__ = [
    "ScaleByAmsgradState",
    "ScaleByAdamaxState",
    "ScaleByNadamState",
    "scale_by_amsgrad",
    "scale_by_adamax",
    "scale_by_nadam",
    "scale_by_radam",
]

# r_t needs rho_t > 4 to be real; a threshold at or below 4 would take its root of a negative.
_ABOVE_FOUR = POSITIVE._replace(lo=4.0)


def _check_init(params, where):
    trees.check_float_leaves(params, "params", where)


class ScaleByAmsgradState(NamedTuple):
    """State of :func:`scale_by_amsgrad`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: first moment, in mu_dtype (default: param dtype)
    nu: Any  # tree like params: second moment, in nu_dtype (default: param dtype)
    nu_max: Any  # tree like params: running maximum of nu (or of nu / (1 - b2**t)), in nu_dtype
    hyperparams: Hyperparams  # {"b1", "b2", "eps", "eps_root"}


def scale_by_amsgrad(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0, *,
                     debias_before_max: bool = False, mu_dtype: Any = None,
                     nu_dtype: Any = None) -> GradientTransformation:
    """AMSGrad: Adam that never lets its per-element step size grow back.

    For step ``t`` (from 1), with ``m``, ``v`` and ``v_max`` starting at zero::

        m'     = b1 * m + (1 - b1) * g
        v'     = b2 * v + (1 - b2) * g**2
        v_max' = max(v_max, v')
        u      = (m' / (1 - b1**t)) / (sqrt(v_max' / (1 - b2**t) + eps_root) + eps)

    With ``debias_before_max=True`` the maximum is taken over the bias-corrected moments,
    ``v_max' = max(v_max, v' / (1 - b2**t))`` and ``u = (m' / (1 - b1**t)) / (sqrt(v_max' +
    eps_root) + eps)``.

    Args:
      b1: in [0, 1); state ``b1``.
      b2: in [0, 1); state ``b2``.
      eps: > 0; state ``eps`` (outside the root).
      eps_root: >= 0; state ``eps_root`` (inside the root).
      debias_before_max: static; ``False`` is torch.optim.Adam(amsgrad=True), ``True`` is
        optax's ``scale_by_amsgrad``.
      mu_dtype, nu_dtype: static storage of ``mu`` and of ``nu`` and ``nu_max``: ``None``
        (the parameter's dtype), a dtype, :func:`momentax.stochastic_rounding` or
        :func:`momentax.blockwise_8bit`. Arithmetic runs in at least float32; with 8-bit or
        rounded storage the stored ``nu_max`` is the maximum up to one rounding.

    Shapes and dtypes: ``mu``, ``nu``, ``nu_max`` have each parameter's shape; updates keep
    the gradient's dtype.

    Note:
      momentax follows torch by default: the maximum of the raw second moment, corrected by
      the current ``1 - b2**t``. optax keeps the maximum of the corrected moments, which
      weighs early (more strongly corrected) moments more; the two differ as soon as the
      maximum is attained at an earlier step.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: S. J. Reddi, S. Kale, S. Kumar, "On the Convergence of Adam and Beyond", ICLR 2018,
    https://openreview.net/forum?id=ryQu7f-RZ.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_amsgrad(b1=0.0, b2=0.5)
      >>> s = tx.init(jnp.zeros(1))
      >>> u, s = tx.update(jnp.array([2.0]), s)
      >>> u, s = tx.update(jnp.array([1.0]), s)
      >>> float(s.nu_max[0]), round(float(u[0]), 6)
      (2.0, 0.612372)
    """
    where = "scale_by_amsgrad"
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE), eps_root=(eps_root, NONNEGATIVE))

    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        _check_init(params, where)
        return ScaleByAmsgradState(init_count(), state_like(params, mu_dtype, salt="mu"),
                                   state_like(params, nu_dtype, salt="nu", signed=False),
                                   state_like(params, nu_dtype, salt="nu_max", signed=False),
                                   Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)

        def rule(g, m, v, top):
            return rules.amsgrad(g, m, v, top, h["b1"], h["b2"], h["eps"], h["eps_root"], count, debias_before_max)

        out, mu, nu, top = trees.lift(rule, updates, state.mu, state.nu, state.nu_max,
                                      names=("updates", "state.mu", "state.nu", "state.nu_max"), where=where)
        return out, ScaleByAmsgradState(count, mu, nu, top, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"b1": b1, "b2": b2, "eps": eps, "eps_root": eps_root},
                                  static={"debias_before_max": debias_before_max or None, "mu_dtype": mu_dtype,
                                          "nu_dtype": nu_dtype})


class ScaleByAdamaxState(NamedTuple):
    """State of :func:`scale_by_adamax`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: first moment, in mu_dtype (default: param dtype)
    nu: Any  # tree like params: weighted infinity norm max(b2 nu, |g| + eps), in nu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"b1", "b2", "eps"}


def scale_by_adamax(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, *,
                    mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """Adamax: Adam's step with an exponentially weighted infinity norm in the denominator.

    For step ``t`` (from 1), with ``m`` and ``n`` starting at zero::

        m' = b1 * m + (1 - b1) * g
        n' = max(b2 * n, |g| + eps)
        u  = (m' / (1 - b1**t)) / n'

    Args:
      b1: in [0, 1); state ``b1``.
      b2: in [0, 1); state ``b2``.
      eps: > 0; state ``eps`` (inside the maximum, so ``n' >= eps``).
      mu_dtype, nu_dtype: static storage of ``mu`` and of the norm ``nu`` (nonnegative):
        ``None`` (the parameter's dtype), a dtype, :func:`momentax.stochastic_rounding` or
        :func:`momentax.blockwise_8bit`. Arithmetic runs in at least float32.

    Shapes and dtypes: ``mu`` and ``nu`` have each parameter's shape; updates keep the
    gradient's dtype.

    Note:
      torch.optim.Adamax and optax's ``scale_by_adamax`` compute the same thing; the norm
      needs no bias correction (the maximum is not biased towards zero).

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
    https://arxiv.org/abs/1412.6980 (section 7.1).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_adamax()
      >>> u, s = tx.update(jnp.array([-4.0]), tx.init(jnp.zeros(1)))
      >>> round(float(u[0]), 6)
      -1.0
    """
    where = "scale_by_adamax"
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE))
    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        _check_init(params, where)
        return ScaleByAdamaxState(init_count(), state_like(params, mu_dtype, salt="mu"),
                                  state_like(params, nu_dtype, salt="nu", signed=False), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)

        def rule(g, m, n):
            return rules.adamax(g, m, n, h["b1"], h["b2"], h["eps"], count)

        out, mu, nu = trees.lift(rule, updates, state.mu, state.nu, names=("updates", "state.mu", "state.nu"),
                                 where=where)
        return out, ScaleByAdamaxState(count, mu, nu, h)

    return GradientTransformation(init, update, name=where, hyper={"b1": b1, "b2": b2, "eps": eps},
                                  static={"mu_dtype": mu_dtype, "nu_dtype": nu_dtype})


class ScaleByNadamState(NamedTuple):
    """State of :func:`scale_by_nadam`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: first moment, in mu_dtype (default: param dtype)
    nu: Any  # tree like params: second moment, in nu_dtype (default: param dtype)
    mu_product: Any  # scalar, default float dtype: mu_1 * ... * mu_t (momentum schedule only), else None
    hyperparams: Hyperparams  # {"b1", "b2", "eps", "eps_root"} (+ "momentum_decay" with the schedule)


def scale_by_nadam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                   momentum_decay: float | None = None, *, mu_dtype: Any = None,
                   nu_dtype: Any = None) -> GradientTransformation:
    """NAdam: Adam with Nesterov momentum, with a constant or a scheduled momentum.

    For step ``t`` (from 1), with ``m`` and ``v`` starting at zero::

        m' = b1 * m + (1 - b1) * g
        v' = b2 * v + (1 - b2) * g**2
        u  = ((1 - mu_t) / (1 - P_t) * g + mu_{t+1} / (1 - P_{t+1}) * m')
             / (sqrt(v' / (1 - b2**t) + eps_root) + eps)

    with ``P_t = mu_1 * ... * mu_t``. With ``momentum_decay=None`` the momentum is constant,
    ``mu_t = b1`` and ``P_t = b1**t`` (optax's ``nadam``). With a number, it follows Dozat's
    schedule ``mu_t = b1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))`` (torch.optim.NAdam) and
    the running product ``P_t`` is kept in the state as ``mu_product``.

    Args:
      b1: in [0, 1); state ``b1``.
      b2: in [0, 1); state ``b2``.
      eps: > 0; state ``eps`` (outside the root).
      eps_root: >= 0; state ``eps_root`` (inside the root).
      momentum_decay: ``None`` (static: constant momentum) or >= 0, state ``momentum_decay``
        (torch's default is 4e-3). ``0`` is not the constant form: it gives ``mu_t = b1 / 2``,
        as torch does.
      mu_dtype, nu_dtype: static storage of ``mu`` and ``nu``: ``None`` (the parameter's
        dtype), a dtype, :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32.

    Shapes and dtypes: ``mu``, ``nu`` have each parameter's shape; ``mu_product`` is a scalar
    of the default float dtype; updates keep the gradient's dtype.

    Note:
      The schedule's ``mu_product`` is a running product, so changing ``b1`` or
      ``momentum_decay`` mid-run affects the following factors only, as in torch.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: T. Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop,
    https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_nadam(b1=0.5, b2=0.0)
      >>> u, s = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> round(float(u[0]), 6)   # (0.5 * 2 / 0.5 + 0.5 * 1 / 0.75) / 2
      1.333333
    """
    where = "scale_by_nadam"
    scheduled = momentum_decay is not None
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE), eps_root=(eps_root, NONNEGATIVE))
    if scheduled:
        specs.update(validate(where, momentum_decay=(momentum_decay, NONNEGATIVE)))
    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        _check_init(params, where)
        product = jnp.ones([], default_float()) if scheduled else None
        return ScaleByNadamState(init_count(), state_like(params, mu_dtype, salt="mu"),
                                 state_like(params, nu_dtype, salt="nu", signed=False), product,
                                 Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)
        b1_ = h["b1"]
        if scheduled:
            mu_t = rules.nadam_momentum(b1_, h["momentum_decay"], count)
            mu_next = rules.nadam_momentum(b1_, h["momentum_decay"], safe_increment(count))
            product = state.mu_product * mu_t.astype(state.mu_product.dtype)
            product_next = product * mu_next
        else:
            mu_t = mu_next = b1_
            product = b1_ ** count.astype(b1_.dtype)
            product_next = product * b1_

        def rule(g, m, v):
            return rules.nadam(g, m, v, b1_, h["b2"], h["eps"], h["eps_root"], count, mu_t, mu_next, product,
                               product_next)

        out, mu, nu = trees.lift(rule, updates, state.mu, state.nu, names=("updates", "state.mu", "state.nu"),
                                 where=where)
        return out, ScaleByNadamState(count, mu, nu, product if scheduled else None, h)

    hyper = {"b1": b1, "b2": b2, "eps": eps, "eps_root": eps_root}
    if scheduled:
        hyper["momentum_decay"] = momentum_decay
    return GradientTransformation(init, update, name=where, hyper=hyper,
                                  static={"mu_dtype": mu_dtype, "nu_dtype": nu_dtype})


def scale_by_radam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                   threshold: float = 5.0, *, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """RAdam: Adam whose adaptive step waits, rectified, until its variance is tractable.

    For step ``t`` (from 1), with ``m`` and ``v`` starting at zero, ``c1 = 1 - b1**t`` and
    ``c2 = 1 - b2**t``::

        m'      = b1 * m + (1 - b1) * g
        v'      = b2 * v + (1 - b2) * g**2
        rho_inf = 2 / (1 - b2) - 1
        rho_t   = rho_inf - 2 * t * b2**t / c2
        r_t     = sqrt((rho_t - 4) (rho_t - 2) rho_inf / ((rho_inf - 4) (rho_inf - 2) rho_t))
        u       = r_t * (m' / c1) * sqrt(c2) / (sqrt(v' + c2 * eps_root) + eps)   if rho_t > threshold
        u       = m' / c1                                                         otherwise

    Args:
      b1: in [0, 1); state ``b1``.
      b2: in [0, 1); state ``b2``.
      eps: > 0; state ``eps``, added to ``sqrt(v')`` before the bias correction (torch).
      eps_root: >= 0; state ``eps_root`` (inside the root, in units of the corrected moment).
      threshold: > 4; state ``threshold`` (torch uses 5; below it the step is momentum only).
      mu_dtype, nu_dtype: static storage of ``mu`` and ``nu``: ``None`` (the parameter's
        dtype), a dtype, :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32.

    Shapes and dtypes: the state is :class:`momentax.ScaleByAdamState`; updates keep the
    gradient's dtype.

    Note:
      momentax follows torch.optim.RAdam: rectify when ``rho_t > threshold`` (strictly), with
      ``eps`` added before the bias correction, i.e. ``eps / sqrt(1 - b2**t)`` in units of
      the corrected moment. optax's ``scale_by_radam`` rectifies when ``rho_t >= threshold``
      and adds ``eps`` after the correction; with a negligible ``eps`` the two agree.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: L. Liu, H. Jiang, P. He, W. Chen, X. Liu, J. Gao, J. Han, "On the Variance of the
    Adaptive Learning Rate and Beyond", ICLR 2020, https://arxiv.org/abs/1908.03265.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_radam()
      >>> u, s = tx.update(jnp.array([-3.0]), tx.init(jnp.zeros(1)))
      >>> round(float(u[0]), 6)   # rho_1 = 1 <= 5: the corrected momentum alone
      -3.0
    """
    where = "scale_by_radam"
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE), eps_root=(eps_root, NONNEGATIVE),
                     threshold=(threshold, _ABOVE_FOUR))
    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        _check_init(params, where)
        return ScaleByAdamState(init_count(), state_like(params, mu_dtype, salt="mu"),
                                state_like(params, nu_dtype, salt="nu", signed=False), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)
        rho, r = rules.radam_rectification(h["b2"], count)
        rectify = rho > h["threshold"]

        def rule(g, m, v):
            return rules.radam(g, m, v, h["b1"], h["b2"], h["eps"], h["eps_root"], count, rectify, r)

        out, mu, nu = trees.lift(rule, updates, state.mu, state.nu, names=("updates", "state.mu", "state.nu"),
                                 where=where)
        return out, ScaleByAdamState(count, mu, nu, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"b1": b1, "b2": b2, "eps": eps, "eps_root": eps_root, "threshold": threshold},
                                  static={"mu_dtype": mu_dtype, "nu_dtype": nu_dtype})
