"""Adafactor's building blocks: factored second moments, parameter scale, relative step size."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import NONNEGATIVE, POSITIVE, SCHEDULED, Hyperparams, Interval, default_float, validate
from momentax.math import factored as rules
from momentax.storage import check_storage, state_like
from momentax.transforms.decay import Mask
from momentax.transforms.scaling import ScalarOrSchedule

__all__ = [
    "FactoredRmsState",
    "ParamBlockRmsState",
    "RelativeStepState",
    "scale_by_factored_rms",
    "scale_by_param_block_rms",
    "scale_by_relative_step",
]

AT_LEAST_ONE = Interval(1.0, float("inf"), hi_open=True)


class FactoredRmsState(NamedTuple):
    """State of :func:`scale_by_factored_rms`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    v_row: Any  # tree like params: row means of g**2 (leaf shape without its column axis), or shape [0]
    v_col: Any  # tree like params: column means of g**2 (leaf shape without its row axis), or shape [0]
    v: Any  # tree like params: full second moment of unfactored leaves (in nu_dtype), or shape [0] for factored ones
    hyperparams: Hyperparams  # {"decay_rate", "decay_offset", "eps"?, "clipping_threshold"?}


def _zeros_without(p: Any, axis: int | None, dtype: Any) -> jax.Array:
    """Zeros shaped like ``p`` with ``axis`` removed (``None``: shape [0]), on ``p``'s sharding."""
    if axis is None:
        return jnp.zeros((0,), dtype)
    shape = tuple(np.delete(np.asarray(np.shape(p), dtype=int), axis).tolist())
    sharding = None
    if isinstance(p, jax.ShapeDtypeStruct) or (isinstance(p, jax.Array) and not isinstance(p, jax.core.Tracer)):
        sharding = getattr(p, "sharding", None)
    if isinstance(sharding, jax.sharding.NamedSharding):
        spec = list(sharding.spec) + [None] * (len(np.shape(p)) - len(sharding.spec))
        del spec[axis]
        sharding = jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec(*spec))
    elif not isinstance(sharding, jax.sharding.SingleDeviceSharding):
        sharding = None
    return jnp.zeros(shape, dtype, device=sharding)


def _paths(tree: Any) -> list[str]:
    return [jax.tree_util.keystr(k) or "<root>" for k, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


def scale_by_factored_rms(decay_rate: float = 0.8, eps: float | None = 1e-30, clipping_threshold: float | None = 1.0,
                          *, decay_offset: float = 0, factored: bool = True, factored_dims: str = "last",
                          min_dim_size_to_factor: int = 1, clamp_eps: bool = False,
                          nu_dtype: Any = None) -> GradientTransformation:
    """Adafactor's scaling by a factored estimate of the second moment, with update clipping.

    For step ``t`` (from 1), ``b_t = 1 - (t - decay_offset)**(-decay_rate)`` (0 on the first
    step; ``t - decay_offset`` is floored at 1). For a leaf with factored axes (rows ``i``,
    columns ``j``; leading axes are batch axes and are kept), with ``S = g**2 + eps``::

        R' = b_t R + (1 - b_t) mean_j(S)        C' = b_t C + (1 - b_t) mean_i(S)
        V  = R'_i C'_j / mean_i(R')
        U  = g / sqrt(V)
        u  = U / max(1, RMS(U) / clipping_threshold)

    and for the other leaves ``v' = b_t v + (1 - b_t) S`` and ``V = v'``. With ``clamp_eps``
    (torch.optim.Adafactor), ``S = g**2`` and eps enters as ``V = R'_i C'_j / max(mean_i(R'), eps)``
    and ``U = g / sqrt(max(V, eps**2))``.

    Args:
      decay_rate: >= 0; state ``decay_rate`` (torch's ``beta2_decay`` is ``-decay_rate``).
      eps: > 0; state ``eps`` (the paper's epsilon_1). ``None`` (static): the machine epsilon of
        each gradient's dtype, torch's default.
      clipping_threshold: >= 1; state ``clipping_threshold`` (torch's ``d``). ``None`` (static):
        no update clipping.
      decay_offset: >= 0; state ``decay_offset``, the step at which a fine-tuning run started.
      factored: static; ``False`` keeps a full second moment for every leaf.
      factored_dims: static; ``"last"`` factors the last two axes (the paper, torch);
        ``"largest"`` the two largest axes (optax).
      min_dim_size_to_factor: static int >= 0; leaves whose smaller factored axis is shorter
        stay unfactored (optax uses 128; the default 1 factors every leaf with >= 2 axes).
      clamp_eps: static; torch's placement of eps (see above) instead of the paper's.
      nu_dtype: static storage of the full ``v`` of unfactored leaves: ``None`` (the
        parameter's dtype), a dtype, :func:`momentax.stochastic_rounding` or
        :func:`momentax.blockwise_8bit`. The factored statistics ``v_row``/``v_col`` keep the
        parameter's dtype: they are already sublinear in size, and every element's step
        depends on them.

    Shapes and dtypes: for a factored leaf of shape ``(..., m, n)`` (``"last"``) the state keeps
    ``(..., m)`` and ``(..., n)`` and an empty ``v``; an unfactored leaf keeps ``v`` of its own
    shape (stored as ``nu_dtype``) and empty ``v_row``/``v_col``. The other states have the
    parameter's dtype; arithmetic runs in at least float32.

    Raises:
      ValueError: an argument out of range, or an unknown ``factored_dims``.
      TypeError: ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree or leaf shapes differ from the ones ``init`` saw.

    Source: N. Shazeer, M. Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
    Cost", ICML 2018, https://arxiv.org/abs/1804.04235 (algorithms 4 and 5, section 5).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_factored_rms()
      >>> g = jnp.array([[3.0, 0.0], [0.0, 4.0]])
      >>> u, _ = tx.update(g, tx.init(g))
      >>> [[round(x, 4) for x in row] for row in u.tolist()]
      [[1.6, 0.0], [0.0, 1.2]]
    """
    where = "scale_by_factored_rms"
    if factored_dims not in ("last", "largest"):
        raise ValueError(f"{where}: factored_dims must be 'last' or 'largest', got {factored_dims!r}.")
    if int(min_dim_size_to_factor) != min_dim_size_to_factor or min_dim_size_to_factor < 0:
        raise ValueError(f"{where}: min_dim_size_to_factor must be an integer >= 0, got {min_dim_size_to_factor!r}.")
    specs = validate(where, decay_rate=(decay_rate, NONNEGATIVE), decay_offset=(decay_offset, NONNEGATIVE))
    if eps is not None:
        specs.update(validate(where, eps=(eps, POSITIVE)))
    if clipping_threshold is not None:
        specs.update(validate(where, clipping_threshold=(clipping_threshold, AT_LEAST_ONE)))
    check_storage(where, nu_dtype=nu_dtype)

    def axes_of(shape):
        return rules.factored_axes(tuple(shape), factored, factored_dims, min_dim_size_to_factor)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        leaves, treedef = jax.tree.flatten(params)
        rows, cols = [], []
        for p in leaves:
            axes = axes_of(np.shape(p))
            rows.append(_zeros_without(p, None if axes is None else axes[1], p.dtype))
            cols.append(_zeros_without(p, None if axes is None else axes[0], p.dtype))
        # The full moments of the unfactored leaves, built together so the storage numbers
        # (and seeds) them in tree order; the factored leaves keep an empty placeholder.
        unfactored = [i for i, p in enumerate(leaves) if axes_of(np.shape(p)) is None]
        stored = state_like([leaves[i] for i in unfactored], nu_dtype, salt="v", signed=False)
        full = [_zeros_without(p, None, p.dtype) for p in leaves]
        for i, x in zip(unfactored, stored):
            full[i] = x
        v_row, v_col, v = (jax.tree.unflatten(treedef, x) for x in (rows, cols, full))
        return FactoredRmsState(init_count(), v_row, v_col, v, Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)
        dt = h["decay_rate"].dtype
        t = jnp.maximum(count.astype(dt) - h["decay_offset"], 1)
        decay = 1 - t ** (-h["decay_rate"])
        eps_ = h["eps"] if eps is not None else None
        threshold = h["clipping_threshold"] if clipping_threshold is not None else None

        trees.check_float_leaves(updates, "updates", where)
        leaves, treedef = jax.tree.flatten(updates)
        named = [(n, trees.leaves_like(treedef, s, "updates", n, where, reference=updates))
                 for n, s in (("state.v_row", state.v_row), ("state.v_col", state.v_col))]
        # v's leaves may be stored (8-bit, rounded): they are nodes, not leaves, of its tree.
        if jax.tree.structure(state.v, is_leaf=trees.is_stored) != treedef:
            raise trees.structure_error(updates, state.v, "updates", "state.v", where)
        named.append(("state.v", treedef.flatten_up_to(state.v)))
        outs = []
        for i, (g, path) in enumerate(zip(leaves, _paths(updates))):
            axes = axes_of(g.shape)
            row, col, v = (x[i] for _, x in named)
            if axes:
                expected = (np.delete(g.shape, axes[1]), np.delete(g.shape, axes[0]), (0,))
            else:
                expected = ((0,), (0,), g.shape)
            for (name, _), x, shape in zip(named, (row, col, v), expected):
                if tuple(np.shape(x)) != tuple(int(s) for s in shape):
                    raise trees.TreeMismatchError(
                        f"{where}: shape mismatch at {path}: updates has shape {list(g.shape)}, so {name} should "
                        f"have shape {[int(s) for s in shape]} but has {list(np.shape(x))}. Each gradient must "
                        f"have the shape of the parameter the state was initialised with.")
            outs.append(trees.call_stored(
                lambda g, row, col, v: rules.factored_rms(g, row, col, v, decay, eps_, threshold, axes, clamp_eps),
                g, (row, col, v)))
        u, v_row, v_col, v = (jax.tree.unflatten(treedef, [o[k] for o in outs]) for k in range(4))
        return u, FactoredRmsState(count, v_row, v_col, v, h)

    return GradientTransformation(
        init, update, name=where,
        hyper={k: v for k, v in (("decay_rate", decay_rate), ("eps", eps), ("clipping_threshold", clipping_threshold),
                                 ("decay_offset", decay_offset)) if v is not None},
        static={"factored": factored, "factored_dims": factored_dims, "min_dim_size_to_factor": min_dim_size_to_factor,
                "clamp_eps": clamp_eps or None, "eps": "dtype" if eps is None else None,
                "clipping": "off" if clipping_threshold is None else None, "nu_dtype": nu_dtype})


class ParamBlockRmsState(NamedTuple):
    """State of :func:`scale_by_param_block_rms`."""

    hyperparams: Hyperparams  # {"min_scale"}


def scale_by_param_block_rms(min_scale: float = 1e-3) -> GradientTransformation:
    """Scales each leaf's update by the root mean square of its parameter.

    ``u' = u * max(min_scale, RMS(p))`` with ``RMS(p) = sqrt(mean(p**2))`` over the whole leaf,
    so steps are relative to the parameter's own scale (Adafactor's relative step size).

    Args:
      min_scale: > 0; state ``min_scale`` (the paper's epsilon_2; torch's ``eps[1]``).

    Raises:
      ValueError: ``min_scale`` out of range, or ``update`` called without ``params``.
      TreeMismatchError: the params tree differs from the updates' tree.

    Source: N. Shazeer, M. Stern, ICML 2018, https://arxiv.org/abs/1804.04235 (section 8).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_param_block_rms()
      >>> p = jnp.array([3.0, 4.0])
      >>> [round(x, 4) for x in tx.update(jnp.array([1.0, -1.0]), tx.init(p), p)[0].tolist()]
      [3.5355, -3.5355]
    """
    where = "scale_by_param_block_rms"
    specs = validate(where, min_scale=(min_scale, POSITIVE))

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ParamBlockRmsState(Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del extra
        if params is None:
            raise ValueError(f"{where}: update needs the parameters; call update(updates, state, params).")
        m = state.hyperparams["min_scale"]
        (out,) = trees.lift(lambda g, p: rules.param_block_rms(g, p, m), updates, params,
                            names=("updates", "params"), where=where)
        return out, state

    return GradientTransformation(init, update, name=where, hyper={"min_scale": min_scale})


class RelativeStepState(NamedTuple):
    """State of :func:`scale_by_relative_step`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    hyperparams: Hyperparams  # {"learning_rate", "weight_decay"?}; a scheduled rate is the last one used


def scale_by_relative_step(learning_rate: ScalarOrSchedule = 1e-2, weight_decay: float = 0.0, mask: Mask | None = None,
                           *, relative_step: bool = True, lr_coupled_decay: bool = True) -> GradientTransformation:
    """Adafactor's step size and weight decay, the last transform of :func:`momentax.adafactor`.

    For step ``t`` (from 1) with learning rate ``lr`` (a constant, or ``learning_rate(t - 1)``)::

        rho = min(lr, 1 / sqrt(t))   if relative_step   else   lr
        lam = lr * weight_decay      if lr_coupled_decay else   weight_decay
        u'  = -(rho * u + lam * p)

    Args:
      learning_rate: >= 0, state ``learning_rate``; or a schedule ``step -> value`` (static).
        With ``relative_step`` it caps the paper's ``1/sqrt(t)`` (the paper uses 1e-2).
      weight_decay: >= 0; state ``weight_decay``. A zero construction value leaves the decay
        out (then ``update`` does not need ``params`` and it cannot be set later).
      mask: static; a tree of Python bools like the params (``True``: decay this leaf), or a
        function ``params -> such a tree``.
      relative_step: static; cap by ``1/sqrt(t)`` (paper, torch) or use ``lr`` as is (optax).
      lr_coupled_decay: static; decay by ``lr * weight_decay`` (torch: ``p *= 1 - lr * wd``;
        note it uses ``lr``, not ``rho``) or by ``weight_decay`` alone (optax's adafactor).

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params`` when
        ``weight_decay`` is non-zero.
      TreeMismatchError: the params or mask tree differs from the updates' tree.

    Source: N. Shazeer, M. Stern, ICML 2018, https://arxiv.org/abs/1804.04235 (section 8);
    decoupled decay: I. Loshchilov, F. Hutter, ICLR 2019, https://arxiv.org/abs/1711.05101.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_relative_step(learning_rate=2.0)
      >>> s = tx.init(jnp.zeros(1))
      >>> u1, s = tx.update(jnp.ones(1), s)
      >>> u2, s = tx.update(jnp.ones(1), s)
      >>> u1.tolist(), [round(x, 4) for x in u2.tolist()]
      ([-1.0], [-0.7071])
    """
    where = "scale_by_relative_step"
    scheduled = callable(learning_rate)
    specs = {} if scheduled else validate(where, learning_rate=(learning_rate, NONNEGATIVE))
    validate(where, weight_decay=(weight_decay, NONNEGATIVE))
    if weight_decay != 0:
        specs.update(weight_decay=(weight_decay, NONNEGATIVE))

    def init(params):
        trees.check_float_leaves(params, "params", where)
        if not scheduled:
            return RelativeStepState(init_count(), Hyperparams.create(specs))
        lr0 = jnp.asarray(learning_rate(init_count()), default_float())
        h = Hyperparams.create({"learning_rate": (lr0, SCHEDULED), **specs})
        return RelativeStepState(init_count(), h)

    def update(updates, state, params=None, **extra):
        del extra
        h = state.hyperparams
        lr = jnp.asarray(learning_rate(state.count), default_float()) if scheduled else h["learning_rate"]
        count = safe_increment(state.count)
        wd = h["weight_decay"] if "weight_decay" in h else None
        if wd is None:
            def plain(g):
                return rules.relative_step(g, None, lr, None, count, relative_step, lr_coupled_decay)

            (out,) = trees.lift(plain, updates, names=("updates",), where=where)
        else:
            if params is None:
                raise ValueError(f"{where}: update needs the parameters for weight decay; call "
                                 f"update(updates, state, params).")
            extra_trees, names = (params,), ("updates", "params")
            if mask is not None:
                extra_trees, names = (params, mask(params) if callable(mask) else mask), names + ("mask",)

            def rule(g, p, decay_this=True):
                return rules.relative_step(g, p, lr, wd if bool(decay_this) else None, count, relative_step,
                                           lr_coupled_decay)

            (out,) = trees.lift(rule, updates, *extra_trees, names=names, where=where)
        new_h = h.replace(learning_rate=lr) if scheduled else h
        return out, RelativeStepState(count, new_h)

    hyper = {} if scheduled else {"learning_rate": learning_rate}
    if "weight_decay" in specs:
        hyper["weight_decay"] = weight_decay
    return GradientTransformation(init, update, name=where, hyper=hyper,
                                  static={"learning_rate": learning_rate if scheduled else None, "mask": mask,
                                          "relative_step": relative_step, "lr_coupled_decay": lr_coupled_decay})
