"""Adaptive scaling by accumulated squared gradients: Adagrad, RMSProp, Adadelta, Adam."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, NONNEGATIVE, POSITIVE, Hyperparams, validate
from momentax.math import classic as rules
from momentax.storage import check_storage, state_like


class ScaleByRssState(NamedTuple):
    """State of :func:`scale_by_rss`."""

    sum_of_squares: Any  # tree like params: running sum of g**2, stored as nu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"eps"}


def scale_by_rss(initial_accumulator_value: float = 0.0, eps: float = 1e-10, *,
                 eps_in_sqrt: bool = False, nu_dtype: Any = None) -> GradientTransformation:
    """Adagrad's scaling by the root of the summed squared gradients.

    ``s' = s + g**2``, ``u = g / (sqrt(s') + eps)``; with ``eps_in_sqrt``, ``u = g / sqrt(s' + eps)``.
    ``s`` starts at ``initial_accumulator_value``.

    Args:
      initial_accumulator_value: >= 0; static (it only sets the initial state).
      eps: > 0; state ``eps``.
      eps_in_sqrt: static.
      nu_dtype: static storage of ``s``: ``None`` (the parameter's dtype), a dtype,
        :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit` (unsigned map);
        the start value is written through it. Arithmetic runs in at least float32. ``s``
        only grows, so once ``g**2`` is below half a unit in the last place of ``s`` a
        round-to-nearest bfloat16 sum stops growing; stochastic rounding keeps it unbiased.

    Note:
      The defaults are torch.optim.Adagrad's (accumulator 0, ``eps=1e-10`` outside the root).
      optax's ``scale_by_rss`` is ``initial_accumulator_value=0.1, eps=1e-7, eps_in_sqrt=True``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``nu_dtype`` is not a storage spec.

    Source: J. Duchi, E. Hazan, Y. Singer, "Adaptive Subgradient Methods for Online Learning
    and Stochastic Optimization", JMLR 2011, https://jmlr.org/papers/v12/duchi11a.html.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_rss()
      >>> round(float(tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0][0]), 6)
      1.0
    """
    where = "scale_by_rss"
    validate(where, initial_accumulator_value=(initial_accumulator_value, NONNEGATIVE))
    specs = validate(where, eps=(eps, POSITIVE))
    check_storage(where, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        acc = state_like(params, nu_dtype, salt="sum_of_squares", signed=False, initial=initial_accumulator_value)
        return ScaleByRssState(acc, Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        eps_ = state.hyperparams["eps"]
        out, acc = trees.lift(lambda g, s: rules.rss(g, s, eps_, eps_in_sqrt), updates, state.sum_of_squares,
                              names=("updates", "state.sum_of_squares"), where=where)
        return out, ScaleByRssState(acc, state.hyperparams)

    return GradientTransformation(init, update, name=where, hyper={"eps": eps},
                                  static={"initial_accumulator_value": initial_accumulator_value,
                                          "eps_in_sqrt": eps_in_sqrt, "nu_dtype": nu_dtype})


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`."""

    nu: Any  # tree like params: EMA of g**2, stored as nu_dtype (default: param dtype)
    mu: Any  # tree like params: EMA of g when centered (stored as mu_dtype), else None
    hyperparams: Hyperparams  # {"decay", "eps"}


def scale_by_rms(decay: float = 0.99, eps: float = 1e-8, *, centered: bool = False,
                 eps_in_sqrt: bool = False, initial_scale: float = 0.0, mu_dtype: Any = None,
                 nu_dtype: Any = None) -> GradientTransformation:
    """RMSProp's scaling by a moving average of squared gradients.

    ::

        nu' = decay * nu + (1 - decay) * g**2
        mu' = decay * mu + (1 - decay) * g                  (centered only)
        s   = nu' - mu'**2  if centered  else  nu'
        u   = g / (sqrt(s) + eps)                           (eps_in_sqrt: g / sqrt(s + eps))

    ``nu`` starts at ``initial_scale`` and ``mu`` at zero.

    Args:
      decay: in [0, 1); state ``decay`` (torch calls it ``alpha``).
      eps: > 0; state ``eps``.
      centered: static; divide by the estimated variance instead of the second moment.
      eps_in_sqrt: static.
      initial_scale: >= 0; static.
      mu_dtype, nu_dtype: static storage of ``mu`` (centered only) and ``nu``: ``None`` (the
        parameter's dtype), a dtype, :func:`momentax.stochastic_rounding` or
        :func:`momentax.blockwise_8bit`; ``initial_scale`` is written through ``nu_dtype``.
        Arithmetic runs in at least float32.

    Note:
      The defaults are torch.optim.RMSprop's (``alpha=0.99``, ``eps=1e-8`` outside the root).
      optax's ``scale_by_rms`` is ``decay=0.9, eps=1e-8, eps_in_sqrt=True``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.

    Source: T. Tieleman, G. Hinton, "Lecture 6.5 - rmsprop", COURSERA: Neural Networks for
    Machine Learning, 2012, https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf;
    centered form: A. Graves, "Generating Sequences With Recurrent Neural Networks", 2013,
    https://arxiv.org/abs/1308.0850.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_rms(decay=0.0)
      >>> round(float(tx.update(jnp.array([-3.0]), tx.init(jnp.zeros(1)))[0][0]), 6)
      -1.0
    """
    where = "scale_by_rms"
    validate(where, initial_scale=(initial_scale, NONNEGATIVE))
    specs = validate(where, decay=(decay, DECAY), eps=(eps, POSITIVE))
    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        nu = state_like(params, nu_dtype, salt="nu", signed=False, initial=initial_scale)
        mu = state_like(params, mu_dtype, salt="mu") if centered else None
        return ScaleByRmsState(nu, mu, Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams

        def rule(g, nu, mu=None):
            return rules.rms(g, nu, mu, h["decay"], h["eps"], centered, eps_in_sqrt)

        moments = (state.nu, state.mu) if centered else (state.nu,)
        names = ("updates", "state.nu", "state.mu")[: len(moments) + 1]
        out, nu, mu = trees.lift(rule, updates, *moments, names=names, where=where)
        return out, ScaleByRmsState(nu, mu if centered else None, h)

    return GradientTransformation(init, update, name=where, hyper={"decay": decay, "eps": eps},
                                  static={"centered": centered, "eps_in_sqrt": eps_in_sqrt,
                                          "initial_scale": initial_scale or None, "mu_dtype": mu_dtype,
                                          "nu_dtype": nu_dtype})


class ScaleByAdadeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`."""

    nu: Any  # tree like params: EMA of g**2, stored as nu_dtype (default: param dtype)
    delta: Any  # tree like params: EMA of squared updates, stored as nu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"rho", "eps"}


def scale_by_adadelta(rho: float = 0.9, eps: float = 1e-6, *, nu_dtype: Any = None) -> GradientTransformation:
    """Adadelta's unit-corrected step.

    ::

        nu'    = rho * nu + (1 - rho) * g**2
        u      = sqrt(delta + eps) / sqrt(nu' + eps) * g
        delta' = rho * delta + (1 - rho) * u**2

    Args:
      rho: in [0, 1); state ``rho``.
      eps: > 0; state ``eps``.
      nu_dtype: static storage of both accumulators ``nu`` and ``delta`` (each a nonnegative
        average of squares; Adadelta has no first moment): ``None`` (the parameter's dtype),
        a dtype, :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32.

    Note:
      Defaults and arithmetic are torch.optim.Adadelta's; apply it with a learning rate of
      1.0 (torch's default) through ``scale_by_learning_rate`` to descend.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``nu_dtype`` is not a storage spec.

    Source: M. D. Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012,
    https://arxiv.org/abs/1212.5701.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_adadelta()
      >>> float(tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))[0][0]) > 0
      True
    """
    where = "scale_by_adadelta"
    specs = validate(where, rho=(rho, DECAY), eps=(eps, POSITIVE))
    check_storage(where, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ScaleByAdadeltaState(state_like(params, nu_dtype, salt="nu", signed=False),
                                    state_like(params, nu_dtype, salt="delta", signed=False),
                                    Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        out, nu, delta = trees.lift(lambda g, n, d: rules.adadelta(g, n, d, h["rho"], h["eps"]), updates,
                                    state.nu, state.delta, names=("updates", "state.nu", "state.delta"),
                                    where=where)
        return out, ScaleByAdadeltaState(nu, delta, h)

    return GradientTransformation(init, update, name=where, hyper={"rho": rho, "eps": eps},
                                  static={"nu_dtype": nu_dtype})


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: first moment, in mu_dtype (default: param dtype)
    nu: Any  # tree like params: second moment, in nu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"b1", "b2", "eps", "eps_root"}


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0, *,
                  mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """Adam's bias-corrected moment estimates.

    For step ``t`` (from 1), with ``m`` and ``v`` starting at zero::

        m' = b1 * m + (1 - b1) * g
        v' = b2 * v + (1 - b2) * g**2
        u  = (m' / (1 - b1**t)) / (sqrt(v' / (1 - b2**t) + eps_root) + eps)

    Args:
      b1: in [0, 1); state ``b1``.
      b2: in [0, 1); state ``b2``.
      eps: > 0; state ``eps`` (outside the root, as torch and optax).
      eps_root: >= 0; state ``eps_root`` (inside the root; keeps the gradient of the update
        finite when differentiating through the optimizer).
      mu_dtype, nu_dtype: static storage of ``m`` and ``v``: ``None`` (the parameter's dtype),
        a dtype, :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`
        (signed map for ``m``, unsigned for ``v``). Arithmetic runs in at least float32.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: D. P. Kingma, J. Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
    https://arxiv.org/abs/1412.6980.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_adam()
      >>> round(float(tx.update(jnp.array([0.3]), tx.init(jnp.zeros(1)))[0][0]), 4)
      1.0
    """
    where = "scale_by_adam"
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE), eps_root=(eps_root, NONNEGATIVE))
    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ScaleByAdamState(init_count(), state_like(params, mu_dtype, salt="mu"),
                                state_like(params, nu_dtype, salt="nu", signed=False),
                                Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)

        def rule(g, m, v):
            return rules.adam(g, m, v, h["b1"], h["b2"], h["eps"], h["eps_root"], count)

        out, mu, nu = trees.lift(rule, updates, state.mu, state.nu, names=("updates", "state.mu", "state.nu"),
                                 where=where)
        return out, ScaleByAdamState(count, mu, nu, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"b1": b1, "b2": b2, "eps": eps, "eps_root": eps_root},
                                  static={"mu_dtype": mu_dtype, "nu_dtype": nu_dtype})
