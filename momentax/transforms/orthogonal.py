"""Muon's transform: momentum orthogonalised by Newton-Schulz iterations, for matrices."""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation, init_count, safe_increment
from momentax.hyperparams import DECAY, POSITIVE, REAL, Hyperparams, validate
from momentax.math import orthogonal as rules
from momentax.storage import check_storage, state_like

__all__ = ["ScaleByMuonState", "scale_by_muon"]

NS_COEFFS = (3.4445, -4.7750, 2.0315)
ADJUST_LR = ("original", "match_rms_adamw", None)


class ScaleByMuonState(NamedTuple):
    """State of :func:`scale_by_muon`."""

    count: jax.Array  # int32 scalar: steps taken, saturating
    mu: Any  # tree like params: the momentum buffer, in mu_dtype (default: param dtype)
    hyperparams: Hyperparams  # {"momentum", "eps", "ns_a", "ns_b", "ns_c", "consistent_rms"?}


def scale_by_muon(momentum: float = 0.95, ns_coeffs: Sequence[float] = NS_COEFFS, ns_steps: int = 5,
                  eps: float = 1e-7, *, nesterov: bool = True, debias: bool = False, clamp_eps: bool = False,
                  adjust_lr: str | None = "original", consistent_rms: float = 0.2, fan_in_axis: int = -2,
                  ns_dtype: Any = None, mu_dtype: Any = None) -> GradientTransformation:
    """Muon's direction: momentum, then Newton-Schulz orthogonalisation, then a shape factor.

    For step ``t`` (from 1), on each matrix (the last two axes; leading axes are a batch)::

        m' = momentum * m + (1 - momentum) * g
        D  = momentum * m' + (1 - momentum) * g    if nesterov   else   m'
        X  = D / (||D||_F + eps),  transposed to be wide;  5 times:  A = X X^T,
        X  = a X + (b A + c A A) X,  with (a, b, c) = ns_coeffs
        u  = s * X,   s = sqrt(max(1, fan_out / fan_in))   (adjust_lr="original")

    Every leaf given to it must have at least two axes; route the others elsewhere with
    :func:`momentax.partition` (as :func:`momentax.muon` does).

    Args:
      momentum: in [0, 1); state ``momentum`` (the average form, as torch.optim.Muon).
      ns_coeffs: three reals, state ``ns_a``, ``ns_b``, ``ns_c`` (K. Jordan's quintic).
      ns_steps: static int >= 1 (iterations).
      eps: > 0; state ``eps``.
      nesterov: static; look-ahead direction (default, as torch and optax).
      debias: static; divide the momentum terms by ``1 - momentum**t`` in the NAdam manner
        of optax.contrib.muon (see :func:`momentax.math.orthogonal.muon_momentum`).
      clamp_eps: static; normalise by ``max(||D||_F, eps)`` (torch) instead of ``||D||_F + eps``.
      adjust_lr: static; ``"original"`` (K. Jordan), ``"match_rms_adamw"``
        (``s = consistent_rms * sqrt(max(fan_in, fan_out))``, Moonshot) or ``None`` (``s = 1``).
      consistent_rms: > 0; state ``consistent_rms``, used by ``"match_rms_adamw"`` only.
      fan_in_axis: static, -2 (JAX's ``(in, out)`` kernels, optax) or -1 (torch's ``(out, in)``).
      ns_dtype: static; dtype of the iteration (``None``: the gradient's compute dtype at
        full matmul precision; ``jnp.bfloat16``: torch's choice, rounded as torch rounds).
      mu_dtype: static storage of the momentum: ``None`` (the parameter's dtype), a dtype,
        :func:`momentax.stochastic_rounding` or :func:`momentax.blockwise_8bit`.
        Arithmetic runs in at least float32.

    Raises:
      ValueError: an argument out of range; a leaf with fewer than two axes.
      TypeError: ``mu_dtype`` is not a storage spec.
      TreeMismatchError: the updates' tree differs from the one ``init`` saw.

    Source: K. Jordan, Y. Jin, V. Boza, J. You, F. Cesista, L. Newhouse, J. Bernstein, "Muon:
    An optimizer for hidden layers in neural networks", 2024,
    https://kellerjordan.github.io/posts/muon/; ``match_rms_adamw``: J. Liu et al., "Muon is
    Scalable for LLM Training", 2025, https://arxiv.org/abs/2502.16982.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.scale_by_muon(adjust_lr=None)
      >>> g = jnp.array([[2.0, 0.0], [0.0, 0.5]])
      >>> u, _ = tx.update(g, tx.init(g))
      >>> [[round(x, 2) for x in row] for row in u.tolist()]
      [[0.74, 0.0], [0.0, 0.74]]
    """
    where = "scale_by_muon"
    if len(tuple(ns_coeffs)) != 3:
        raise ValueError(f"{where}: ns_coeffs must be three numbers (a, b, c), got {ns_coeffs!r}.")
    if int(ns_steps) != ns_steps or ns_steps < 1:
        raise ValueError(f"{where}: ns_steps must be an integer >= 1, got {ns_steps!r}.")
    if adjust_lr not in ADJUST_LR:
        raise ValueError(f"{where}: adjust_lr must be one of {ADJUST_LR}, got {adjust_lr!r}.")
    if fan_in_axis not in (-2, -1):
        raise ValueError(f"{where}: fan_in_axis must be -2 (JAX's (in, out) layout) or -1 (torch's), "
                         f"got {fan_in_axis!r}.")
    a, b, c = (float(x) for x in ns_coeffs)
    specs = validate(where, momentum=(momentum, DECAY), eps=(eps, POSITIVE), ns_a=(a, REAL), ns_b=(b, REAL),
                     ns_c=(c, REAL))
    if adjust_lr == "match_rms_adamw":
        specs.update(validate(where, consistent_rms=(consistent_rms, POSITIVE)))
    check_storage(where, mu_dtype=mu_dtype)

    def check_matrices(tree, name):
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            if jnp.ndim(leaf) < 2:
                raise ValueError(
                    f"{where}: {name} at {jax.tree_util.keystr(path) or '<root>'} has shape "
                    f"{list(jnp.shape(leaf))}; Muon orthogonalises matrices (two or more axes). Use "
                    f"momentax.muon, or momentax.partition, to send other leaves to another optimizer.")

    def init(params):
        trees.check_float_leaves(params, "params", where)
        check_matrices(params, "params")
        return ScaleByMuonState(init_count(), state_like(params, mu_dtype, salt="mu"), Hyperparams.create(specs))

    def update(updates, state, params=None, **extra):
        del params, extra
        check_matrices(updates, "updates")
        h = state.hyperparams
        count = safe_increment(state.count)
        rms = h["consistent_rms"] if "consistent_rms" in h else None

        def rule(g, m):
            return rules.muon(g, m, h["momentum"], (h["ns_a"], h["ns_b"], h["ns_c"]), h["eps"], rms, count,
                              steps=int(ns_steps), nesterov=nesterov, debias=debias, clamp_eps=clamp_eps,
                              ns_dtype=ns_dtype, adjust_lr=adjust_lr, fan_in_axis=fan_in_axis)

        if not jax.tree.leaves(updates):  # nothing to orthogonalise (e.g. a group with no matrices)
            return updates, ScaleByMuonState(count, state.mu, h)
        out, mu = trees.lift(rule, updates, state.mu, names=("updates", "state.mu"), where=where)
        return out, ScaleByMuonState(count, mu, h)

    hyper = {"momentum": momentum, "eps": eps, "ns_a": a, "ns_b": b, "ns_c": c}
    if adjust_lr == "match_rms_adamw":
        hyper["consistent_rms"] = consistent_rms
    return GradientTransformation(
        init, update, name=where, hyper=hyper,
        static={"ns_steps": int(ns_steps), "nesterov": nesterov, "debias": debias or None,
                "clamp_eps": clamp_eps or None, "adjust_lr": adjust_lr, "fan_in_axis": fan_in_axis,
                "ns_dtype": ns_dtype, "mu_dtype": mu_dtype})
