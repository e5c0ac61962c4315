"""Schedule-free learning: interpolation and averaging in place of momentum and a decay schedule."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, NONNEGATIVE, POSITIVE, SCHEDULED, Hyperparams, Interval, default_float, validate
from momentax.math import schedule_free as rules
from momentax.storage import check_storage, state_like
from momentax.transforms.scaling import ScalarOrSchedule

__all__ = ["ScheduleFreeState", "scale_by_schedule_free"]

OPEN_UNIT = Interval(0.0, 1.0, lo_open=True, hi_open=True)


class ScheduleFreeState(NamedTuple):
    """State of :func:`scale_by_schedule_free`; ``momentax.eval_params`` reads ``x`` from it."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    lr_max: jax.Array  # scalar, default float dtype: the largest step size so far
    weight_sum: jax.Array  # scalar, default float dtype: sum of the averaging weights so far
    z: Any  # tree like params: the base iterate z, in z_dtype (default: param dtype); set to y at step 1
    nu: Any  # tree like params: EMA of g**2 in nu_dtype (Adam form), else None
    # {"learning_rate", "b1", "weight_decay", "warmup_steps", "r", "weight_lr_power", "b2"?, "eps"?}
    hyperparams: Hyperparams

    def eval_params(self, params: Any) -> Any:
        """The average ``x = (y - (1 - b1) z) / b1`` to evaluate the model at (``y`` = params).

        Before the first step, ``x`` is the parameters themselves.
        """
        b1, fresh = self.hyperparams["b1"], self.count == 0

        return jax.tree.map(lambda y, z: jnp.where(fresh, y, rules.eval_point(y, trees.loaded(z), b1)), params,
                            self.z)


def scale_by_schedule_free(learning_rate: ScalarOrSchedule = 1.0, b1: float = 0.9, weight_decay: float = 0.0,
                           warmup_steps: float = 0, r: float = 0.0, weight_lr_power: float = 2.0, *,
                           b2: float | None = None, eps: float = 1e-8, z_dtype: Any = None,
                           nu_dtype: Any = None) -> GradientTransformation:
    """Schedule-free steps on the incoming direction, as the authors' reference implementation.

    For step ``k`` (from 0) with base rate ``lr`` (a constant, or ``learning_rate(k)``)::

        gamma = lr * min(1, (k + 1) / warmup_steps) * sqrt(1 - b2**(k+1))   (no warmup if 0;
                                                                            last factor: b2 given)
        lr_max = max(lr_max, gamma);   w = (k + 1)**r * lr_max**weight_lr_power
        ck = w / (sum of w so far)
        d  = g  (b2 None)   or   g / (sqrt(nu') + eps),  nu' = b2 nu + (1 - b2) g**2
        d  = d + weight_decay * y
        z' = z - gamma * d;   x' = (1 - ck) x + ck z';   y' = b1 x' + (1 - b1) z'

    The parameters are ``y`` (gradients are taken there) and the returned update is
    ``y' - y``; ``z`` starts at the first step's ``y``. Evaluate the model at ``x``:
    ``momentax.eval_params(state, params)``. Give it a momentum-free direction (``g`` or a
    preconditioned ``g``); with ``b2`` it normalises by Adam's second moment itself, because
    the reference folds ``sqrt(1 - b2**(k+1))`` into ``gamma`` and so into the weights.

    Args:
      learning_rate: >= 0, state ``learning_rate``; or a schedule ``k -> value`` (static).
      b1: in (0, 1); state ``b1``: the interpolation between ``x`` and ``z``.
      weight_decay: >= 0; state ``weight_decay``, decay at ``y``, scaled by ``gamma``.
      warmup_steps: >= 0; state ``warmup_steps``; linear warmup ``(k+1)/warmup_steps``.
      r: >= 0; state ``r``; polynomial weighting ``(k+1)**r`` of the average.
      weight_lr_power: >= 0; state ``weight_lr_power``.
      b2: in [0, 1), state ``b2``; ``None`` (static) for the SGD form.
      eps: > 0; state ``eps`` (Adam form only), outside the root.
      z_dtype, nu_dtype: static storage of ``z`` and ``nu``: ``None`` (the parameter's dtype),
        a dtype, :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32. ``z`` is an iterate (the parameters' own scale),
        not a moment: an 8-bit ``z`` moves the evaluated parameters by its rounding, so keep
        it at the parameters' precision (or stochastically rounded bfloat16) unless measured.

    Shapes and dtypes: ``z`` (and ``nu``) have each parameter's shape; ``lr_max`` and
    ``weight_sum`` are scalars of the default float dtype.

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params``.
      TypeError: ``z_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' or params' tree differs from the one ``init`` saw.

    Source: A. Defazio, X. A. Yang, H. Mehta, K. Mishchenko, A. Khaled, A. Cutkosky, "The Road
    Less Scheduled", NeurIPS 2024, https://arxiv.org/abs/2405.15682; reference implementation
    https://github.com/facebookresearch/schedule_free.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_schedule_free(learning_rate=0.5, b1=0.5)
      >>> y = jnp.array([2.0])
      >>> u, s = tx.update(jnp.array([1.0]), tx.init(y), y)
      >>> u.tolist(), momentax.eval_params(s, y + u).tolist()
      ([-0.5], [1.5])
    """
    where = "scale_by_schedule_free"
    scheduled = callable(learning_rate)
    specs = {} if scheduled else validate(where, learning_rate=(learning_rate, NONNEGATIVE))
    specs.update(validate(where, b1=(b1, OPEN_UNIT), weight_decay=(weight_decay, NONNEGATIVE),
                          warmup_steps=(warmup_steps, NONNEGATIVE), r=(r, NONNEGATIVE),
                          weight_lr_power=(weight_lr_power, NONNEGATIVE)))
    adam = b2 is not None
    if adam:
        specs.update(validate(where, b2=(b2, DECAY), eps=(eps, POSITIVE)))
    check_storage(where, z_dtype=z_dtype, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        if scheduled:
            lr0 = jnp.asarray(learning_rate(init_count()), default_float())
            h = Hyperparams.create({"learning_rate": (lr0, SCHEDULED), **specs})
        else:
            h = Hyperparams.create(specs)
        zero = jnp.zeros([], default_float())
        return ScheduleFreeState(init_count(), zero, zero, state_like(params, z_dtype, salt="z"),
                                 state_like(params, nu_dtype, salt="nu", signed=False) if adam else None, h)

    def update(updates, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError(f"{where}: update needs the parameters (the y sequence); call "
                             f"update(updates, state, params).")
        h = state.hyperparams
        dt = default_float()
        k = state.count.astype(dt)
        lr = jnp.asarray(learning_rate(state.count), dt) if scheduled else h["learning_rate"]
        warm = h["warmup_steps"]
        gamma = lr * jnp.where(k < warm, (k + 1) / jnp.where(warm > 0, warm, 1), 1)
        if adam:
            gamma = gamma * jnp.sqrt(1 - h["b2"] ** (k + 1))
        lr_max = jnp.maximum(state.lr_max, gamma)
        weight = (k + 1) ** h["r"] * lr_max ** h["weight_lr_power"]
        weight_sum = state.weight_sum + weight
        ck = jnp.where(weight_sum > 0, weight / jnp.where(weight_sum > 0, weight_sum, 1), 0)
        first = state.count == 0
        b2_, eps_ = (h["b2"], h["eps"]) if adam else (None, None)

        # The state trees come first and params last: lift writes output 1 + i back through
        # input i, and the rule returns (u, z', nu').
        def rule(g, z, *rest):
            nu, y = rest if adam else (None, rest[0])
            return rules.schedule_free(g, y, z, nu, gamma, ck, h["b1"], b2_, eps_, h["weight_decay"], first)

        if adam:
            moments, names = (state.z, state.nu, params), ("updates", "state.z", "state.nu", "params")
        else:
            moments, names = (state.z, params), ("updates", "state.z", "params")
        out, z, nu = trees.lift(rule, updates, *moments, names=names, where=where)
        new_h = h.replace(learning_rate=lr) if scheduled else h
        return out, ScheduleFreeState(safe_increment(state.count), lr_max, weight_sum, z, nu if adam else None, new_h)

    hyper = {} if scheduled else {"learning_rate": learning_rate}
    hyper.update(b1=b1, weight_decay=weight_decay, warmup_steps=warmup_steps, r=r, weight_lr_power=weight_lr_power)
    if adam:
        hyper.update(b2=b2, eps=eps)
    return GradientTransformation(init, update, name=where, hyper=hyper,
                                  static={"learning_rate": learning_rate if scheduled else None,
                                          "adam": adam or None, "z_dtype": z_dtype, "nu_dtype": nu_dtype})
