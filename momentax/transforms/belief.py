"""Adam's relatives: AdaBelief, Yogi, NovoGrad (layer-wise moments) and Adan."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, NONNEGATIVE, POSITIVE, Hyperparams, validate
from momentax.math import belief as rules
from momentax.storage import check_storage, state_like


class ScaleByBeliefState(NamedTuple):
    """State of :func:`scale_by_belief`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: EMA of g, in mu_dtype (default: param dtype)
    nu: Any  # tree like params: EMA of (g - mu)**2 plus eps_root per step, in nu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"b1", "b2", "eps", "eps_root"}


def scale_by_belief(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16, eps_root: float = 1e-16, *,
                    nesterov: bool = False, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """AdaBelief's scaling by the "belief" in the gradient: the spread of ``g`` around its EMA.

    For step ``t`` (from 1), with ``m`` and ``s`` starting at zero::

        m' = b1 * m + (1 - b1) * g
        s' = b2 * s + (1 - b2) * (g - m')**2 + eps_root
        m_hat = m' / (1 - b1**t)
                (nesterov: b1 * m' / (1 - b1**(t+1)) + (1 - b1) * g / (1 - b1**t))
        u  = m_hat / (sqrt(s' / (1 - b2**t)) + eps)

    Args:
      b1, b2: in [0, 1); state ``b1``, ``b2``.
      eps: > 0; state ``eps``, added outside the root.
      eps_root: >= 0; state ``eps_root``, added to the stored ``s`` every step (the paper's
        ``epsilon`` inside ``s_t``).
      nesterov: static; use the Nesterov form of the first moment.
      mu_dtype, nu_dtype: static storage of ``m`` and ``s``: ``None`` (the parameter's dtype),
        a dtype, :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32.

    Note:
      Arithmetic and defaults equal optax's ``scale_by_belief`` (``eps = eps_root = 1e-16``,
      as the authors' PyTorch release); the paper's experiments use ``eps=1e-8``. There is no
      AdaBelief in torch.optim.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: J. Zhuang, T. Tang, Y. Ding, S. Tatikonda, N. Dvornek, X. Papademetris,
    J. S. Duncan, "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed
    Gradients", NeurIPS 2020, https://arxiv.org/abs/2010.07468.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_belief(eps=1e-3, eps_root=0.0)
      >>> u, _ = tx.update(jnp.array([0.0, 3.0]), tx.init(jnp.zeros(2)))
      >>> [round(x, 4) for x in u.tolist()]
      [0.0, 1.1107]
    """
    where = "scale_by_belief"
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE), eps_root=(eps_root, NONNEGATIVE))
    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ScaleByBeliefState(init_count(), state_like(params, mu_dtype, salt="mu"),
                                  state_like(params, nu_dtype, salt="nu", signed=False), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)

        def rule(g, m, s):
            return rules.belief(g, m, s, h["b1"], h["b2"], h["eps"], h["eps_root"], count, nesterov)

        out, mu, nu = trees.lift(rule, updates, state.mu, state.nu, names=("updates", "state.mu", "state.nu"),
                                 where=where)
        return out, ScaleByBeliefState(count, mu, nu, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"b1": b1, "b2": b2, "eps": eps, "eps_root": eps_root},
                                  static={"nesterov": nesterov or None, "mu_dtype": mu_dtype, "nu_dtype": nu_dtype})


class ScaleByYogiState(NamedTuple):
    """State of :func:`scale_by_yogi`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: first moment, in mu_dtype (default: param dtype)
    nu: Any  # tree like params: additive second moment (stays >= 0), in nu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"b1", "b2", "eps", "eps_root"}


def scale_by_yogi(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3, eps_root: float = 0.0,
                  initial_accumulator_value: float = 1e-6, *, mu_dtype: Any = None,
                  nu_dtype: Any = None) -> GradientTransformation:
    """Yogi's scaling: Adam with an additive, sign-controlled second-moment update.

    For step ``t`` (from 1), with ``m`` and ``v`` starting at ``initial_accumulator_value``::

        m' = b1 * m + (1 - b1) * g
        v' = v - (1 - b2) * sign(v - g**2) * g**2
        u  = (m' / (1 - b1**t)) / (sqrt(v' / (1 - b2**t) + eps_root) + eps)

    Args:
      b1, b2: in [0, 1); state ``b1``, ``b2``.
      eps: > 0; state ``eps``, outside the root (default 1e-3, the paper's).
      eps_root: >= 0; state ``eps_root``, inside the root.
      initial_accumulator_value: >= 0; static (it only sets the initial state).
      mu_dtype, nu_dtype: static storage of ``m`` and ``v``: ``None`` (the parameter's dtype),
        a dtype, :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`; the
        start value is written through them. Arithmetic runs in at least float32.

    Note:
      Both moments start at ``initial_accumulator_value``, as in the authors' TensorFlow
      Addons code and optax's ``scale_by_yogi`` (the paper's Algorithm 2 starts ``m`` at
      zero); arithmetic and defaults equal optax's.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: M. Zaheer, S. Reddi, D. Sachan, S. Kale, S. Kumar, "Adaptive Methods for Nonconvex
    Optimization", NeurIPS 2018,
    https://papers.nips.cc/paper/8186-adaptive-methods-for-nonconvex-optimization.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_yogi(initial_accumulator_value=0.0)
      >>> u, _ = tx.update(jnp.array([-2.0]), tx.init(jnp.zeros(1)))
      >>> round(float(u[0]), 4)
      -0.9995
    """
    where = "scale_by_yogi"
    validate(where, initial_accumulator_value=(initial_accumulator_value, NONNEGATIVE))
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE), eps_root=(eps_root, NONNEGATIVE))

    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        start = initial_accumulator_value
        return ScaleByYogiState(init_count(), state_like(params, mu_dtype, salt="mu", initial=start),
                                state_like(params, nu_dtype, salt="nu", signed=False, initial=start),
                                Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        count = safe_increment(state.count)

        def rule(g, m, v):
            return rules.yogi(g, m, v, h["b1"], h["b2"], h["eps"], h["eps_root"], count)

        out, mu, nu = trees.lift(rule, updates, state.mu, state.nu, names=("updates", "state.mu", "state.nu"),
                                 where=where)
        return out, ScaleByYogiState(count, mu, nu, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"b1": b1, "b2": b2, "eps": eps, "eps_root": eps_root},
                                  static={"initial_accumulator_value": initial_accumulator_value,
                                          "mu_dtype": mu_dtype, "nu_dtype": nu_dtype})


class ScaleByNovogradState(NamedTuple):
    """State of :func:`scale_by_novograd`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: momentum of normalised gradients, in mu_dtype (default: param dtype)
    nu: Any  # tree like params, but each leaf a scalar (shape ()): EMA of ||g||**2, float32 or wider
    hyperparams: Hyperparams  # {"b1", "b2", "eps", "eps_root"} and "weight_decay" when used


def scale_by_novograd(b1: float = 0.9, b2: float = 0.25, eps: float = 1e-8, eps_root: float = 0.0,
                      weight_decay: float = 0.0, *, mu_dtype: Any = None) -> GradientTransformation:
    """NovoGrad's momentum of gradients normalised by a layer-wise (per-leaf) second moment.

    For each leaf, with ``||g||`` the norm over the whole leaf and ``m`` starting at zero::

        v' = ||g||**2                                   (first step)
        v' = b2 * v + (1 - b2) * ||g||**2               (later steps)
        m' = b1 * m + g / (sqrt(v' + eps_root) + eps) + weight_decay * p
        u  = m'

    ``v`` is one scalar per leaf, so the state costs one array like the params plus a scalar
    per leaf (half of Adam's). The momentum is the "sum" form (no ``1 - b1`` factor), as in
    the paper; the learning rate that follows multiplies the whole of ``m'``.

    Args:
      b1: in [0, 1); state ``b1``.
      b2: in [0, 1); state ``b2``.
      eps: > 0; state ``eps``, outside the root.
      eps_root: >= 0; state ``eps_root``, inside the root.
      weight_decay: >= 0; L2 decay added inside the momentum. Zero leaves the term out (then
        ``update`` needs no ``params`` and the state has no ``weight_decay``); construct with
        a non-zero value to be able to change it between steps.
      mu_dtype: static storage of ``m``: ``None`` (the parameter's dtype), a dtype,
        :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`. ``v`` is
        one scalar per leaf, kept in float32 or the parameter's dtype if wider: storing it
        smaller saves nothing, so there is no ``nu_dtype``.

    Note:
      Arithmetic equals optax's ``scale_by_novograd`` (layer = leaf, first step ``v = ||g||**2``).

    Raises:
      ValueError: an argument out of range, or ``update`` called without ``params`` when
        ``weight_decay`` is non-zero.
      TypeError: ``mu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' (or params') tree differs from the one ``init`` saw.

    Source: B. Ginsburg, P. Castonguay, O. Hrinchuk, O. Kuchaiev, V. Lavrukhin, R. Leary, J. Li,
    H. Nguyen, Y. Zhang, J. M. Cohen, "Stochastic Gradient Methods with Layer-wise Adaptive
    Moments for Training of Deep Networks", 2019, https://arxiv.org/abs/1905.11286.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_novograd()
      >>> u, state = tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))
      >>> [round(x, 6) for x in u.tolist()], float(state.nu)
      ([0.6, -0.8], 25.0)
    """
    where = "scale_by_novograd"
    decays = bool(weight_decay)
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), eps=(eps, POSITIVE), eps_root=(eps_root, NONNEGATIVE),
                     weight_decay=(weight_decay, NONNEGATIVE))
    if not decays:
        del specs["weight_decay"]
    check_storage(where, mu_dtype=mu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        nu = jax.tree.map(lambda p: jnp.zeros((), jnp.promote_types(p.dtype, jnp.float32)), params)
        return ScaleByNovogradState(init_count(), state_like(params, mu_dtype, salt="mu"), nu,
                                    Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del extra
        if decays and params is None:
            raise ValueError(f"{where}: update needs the parameters for weight_decay; call "
                             f"update(updates, state, params).")
        h = state.hyperparams
        count = safe_increment(state.count)
        first = count == 1
        # nu holds one scalar per leaf, which lift's shape check would reject; its structure is
        # checked here, and it is broadcast back to each leaf's shape for the momentum rule.
        trees.check_float_leaves(updates, "updates", where)
        leaves, treedef = jax.tree.flatten(updates)
        old_nu = trees.leaves_like(treedef, state.nu, "updates", "state.nu", where, reference=updates)
        for path_leaf, n in zip(jax.tree_util.tree_flatten_with_path(updates)[0], old_nu):
            if jnp.shape(n) != ():
                raise trees.TreeMismatchError(
                    f"{where}: state.nu at {jax.tree_util.keystr(path_leaf[0])} has shape {list(jnp.shape(n))}; "
                    f"it must be a scalar per leaf. Pass the state made by this transform's init.")
        nu = jax.tree.unflatten(treedef, [rules.novograd_norm(g, n, h["b2"], first)[0]
                                          for g, n in zip(leaves, old_nu)])
        wd = h["weight_decay"] if decays else None

        def rule(g, m, n, p=None):
            return rules.novograd(g, m, n, p, h["b1"], h["eps"], h["eps_root"], wd)

        nu_wide = jax.tree.map(lambda n, g: jnp.broadcast_to(n, jnp.shape(g)), nu, updates)
        moments = (state.mu, nu_wide, params) if decays else (state.mu, nu_wide)
        names = ("updates", "state.mu", "state.nu", "params")[: len(moments) + 1]
        out, mu = trees.lift(rule, updates, *moments, names=names, where=where)
        return out, ScaleByNovogradState(count, mu, nu, h)

    hyper = {"b1": b1, "b2": b2, "eps": eps, "eps_root": eps_root}
    if decays:
        hyper["weight_decay"] = weight_decay
    return GradientTransformation(init, update, name=where, hyper=hyper, static={"mu_dtype": mu_dtype})


class ScaleByAdanState(NamedTuple):
    """State of :func:`scale_by_adan`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: EMA of g, in mu_dtype (default: param dtype)
    delta: Any  # tree like params: EMA of gradient differences g - g_prev, in mu_dtype (default: param dtype)
    nu: Any  # tree like params: EMA of (g + b2 (g - g_prev))**2, in nu_dtype (default: param dtype)
    prev_grad: Any  # tree like params: the previous step's gradient (param dtype)
    hyperparams: Hyperparams  # {"b1", "b2", "b3", "eps", "eps_root"}


def scale_by_adan(b1: float = 0.98, b2: float = 0.92, b3: float = 0.99, eps: float = 1e-8,
                  eps_root: float = 0.0, *, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """Adan's scaling: Adam plus a moving average of gradient differences.

    For step ``t`` (from 1), with ``delta = g - g_prev`` (zero on the first step) and every
    average starting at zero::

        m' = b1 * m + (1 - b1) * g
        d' = b2 * d + (1 - b2) * delta
        n' = b3 * n + (1 - b3) * (g + b2 * delta)**2
        u  = (m' / (1 - b1**t) + b2 * d' / (1 - b2**t)) / (sqrt(n' / (1 - b3**t) + eps_root) + eps)

    Args:
      b1, b2, b3: in [0, 1); state ``b1``, ``b2``, ``b3``. Decay rates, i.e. one minus the
        paper's ``beta_1, beta_2, beta_3`` (the authors' code uses this convention too).
      eps: > 0; state ``eps``, outside the root.
      eps_root: >= 0; state ``eps_root``, inside the root.
      mu_dtype, nu_dtype: static storage of the two signed averages ``m`` and ``d`` and of
        ``n``: ``None`` (the parameter's dtype), a dtype, :func:`momentax.stochastic_rounding`
        or :func:`momentax.blockwise_8bit`. Arithmetic runs in at least float32. The previous
        gradient is not a moment and keeps the parameter's dtype: ``g - g_prev`` would carry
        its rounding error at full weight into ``d`` and ``n``.

    Note:
      This follows the paper's Algorithm 1 and the authors' PyTorch code, where the
      gradient-difference terms are weighted by ``b2`` (0.92). optax 0.2.8's
      ``scale_by_adan`` weights them by ``1 - b2`` (0.08; optax pull request 1715 proposes the fix),
      so the two agree only on the first step or when ``b2 = 0.5``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: X. Xie, P. Zhou, H. Li, Z. Lin, S. Yan, "Adan: Adaptive Nesterov Momentum
    Algorithm for Faster Optimizing Deep Models", 2022, https://arxiv.org/abs/2208.06677.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_adan()
      >>> u, _ = tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))
      >>> [round(x, 4) for x in u.tolist()]
      [1.0, -1.0]
    """
    where = "scale_by_adan"
    specs = validate(where, b1=(b1, DECAY), b2=(b2, DECAY), b3=(b3, DECAY), eps=(eps, POSITIVE),
                     eps_root=(eps_root, NONNEGATIVE))
    check_storage(where, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

    def init(params):
        trees.check_float_leaves(params, "params", where)
        return ScaleByAdanState(init_count(), state_like(params, mu_dtype, salt="mu"),
                                state_like(params, mu_dtype, salt="delta"),
                                state_like(params, nu_dtype, salt="nu", signed=False),
                                trees.zeros_like_tree(params), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        h = state.hyperparams
        first = state.count == 0
        count = safe_increment(state.count)

        def rule(g, prev, m, d, n):
            return rules.adan(g, prev, m, d, n, h["b1"], h["b2"], h["b3"], h["eps"], h["eps_root"], count, first)

        out, prev, mu, delta, nu = trees.lift(
            rule, updates, state.prev_grad, state.mu, state.delta, state.nu,
            names=("updates", "state.prev_grad", "state.mu", "state.delta", "state.nu"), where=where)
        return out, ScaleByAdanState(count, mu, delta, nu, prev, h)

    return GradientTransformation(init, update, name=where,
                                  hyper={"b1": b1, "b2": b2, "b3": b3, "eps": eps, "eps_root": eps_root},
                                  static={"mu_dtype": mu_dtype, "nu_dtype": nu_dtype})
