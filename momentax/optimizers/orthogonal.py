"""Muon: orthogonalised momentum for matrix parameters, AdamW for the rest."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.partition import partition
from momentax.transforms.adaptive import scale_by_adam
from momentax.transforms.decay import add_decayed_weights
from momentax.transforms.orthogonal import NS_COEFFS, scale_by_muon
from momentax.transforms.scaling import ScalarOrSchedule, scale_by_learning_rate

__all__ = ["muon"]


class _MuonLabels:
    """``params -> {"muon", "adamw"} labels`` from a mask; equal masks give equal labellers.

    Equality (not identity) keeps two ``muon(...)`` built with the same mask on one compiled
    program. ``mask=None`` labels leaves with two or more axes ``"muon"``.
    """

    def __init__(self, mask: Any):
        self.mask = mask
        leaves, treedef = jax.tree.flatten(mask)
        self._key = (treedef, tuple(leaves)) if not callable(mask) else (mask,)

    def __call__(self, tree: Any) -> Any:
        if self.mask is None:
            return jax.tree.map(lambda p: "muon" if jnp.ndim(p) >= 2 else "adamw", tree)
        chosen = self.mask(tree) if callable(self.mask) else self.mask
        return jax.tree.map(lambda flag: "muon" if flag else "adamw", chosen)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _MuonLabels) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return "muon_mask" if self.mask is not None else "ndim>=2"


def muon(learning_rate: ScalarOrSchedule, momentum: float = 0.95, weight_decay: float = 0.0, *,
         nesterov: bool = True, ns_coeffs: Sequence[float] = NS_COEFFS, ns_steps: int = 5, eps: float = 1e-7,
         debias: bool = False, clamp_eps: bool = False, adjust_lr: str | None = "original",
         consistent_rms: float = 0.2, fan_in_axis: int = -2, ns_dtype: Any = None, mu_dtype: Any = None,
         nu_dtype: Any = None, muon_mask: Any | Callable[[Any], Any] | None = None,
         adam_learning_rate: ScalarOrSchedule | None = None,
         adam_b1: float = 0.9, adam_b2: float = 0.999, adam_eps: float = 1e-8, adam_eps_root: float = 0.0,
         adam_weight_decay: float = 0.0) -> GradientTransformation:
    """Muon (MomentUm Orthogonalized by Newton-Schulz) for matrices, AdamW for other leaves.

    For each leaf selected by ``muon_mask`` (default: two or more axes; the last two are the
    matrix, leading axes a batch), at step ``t``::

        m' = momentum * m + (1 - momentum) * g
        D  = momentum * m' + (1 - momentum) * g          (nesterov; else D = m')
        O  = NS5(D)                                       (Newton-Schulz, see scale_by_muon)
        p' = p - learning_rate * (s * O + weight_decay * p),  s = sqrt(max(1, fan_out / fan_in))

    and every other leaf takes an AdamW step with ``adam_*`` settings and
    ``adam_learning_rate`` (default: ``learning_rate``).
    ``chain(partition({"muon": chain(scale_by_muon(...), add_decayed_weights(weight_decay),
    scale_by_learning_rate(learning_rate)), "adamw": chain(scale_by_adam(...),
    add_decayed_weights(adam_weight_decay), scale_by_learning_rate(adam_learning_rate))},
    labels from muon_mask))``; a zero weight decay leaves its transform out. Hyperparameters
    present in both groups are addressed as ``"muon/learning_rate"``, ``"adamw/eps"``, ...

    Args:
      learning_rate: >= 0, or a schedule.
      momentum: in [0, 1) (average form).
      weight_decay: >= 0; lr-coupled, as torch's ``p *= 1 - lr * weight_decay``.
      nesterov, ns_coeffs, ns_steps, eps, debias, clamp_eps, adjust_lr, consistent_rms, fan_in_axis, ns_dtype:
        see :func:`momentax.scale_by_muon`.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32 (``mu_dtype``: Muon's momentum and the AdamW group's
        first moment; ``nu_dtype``: the AdamW group's second moment).
      muon_mask: static; a tree of bools with the params' structure or a prefix of it
        (``True``: Muon), or a function ``params -> such a tree``; default: ``p.ndim >= 2``.
      adam_learning_rate: >= 0, a schedule, or ``None`` (use ``learning_rate``).
      adam_b1, adam_b2, adam_eps, adam_eps_root, adam_weight_decay: the AdamW settings.

    Note:
      torch.optim.Muon(lr, weight_decay, momentum, nesterov, ns_coefficients, eps, ns_steps,
      adjust_lr_fn) on its (2-D, ``(out, in)``) parameters is ``muon(lr, momentum=momentum,
      weight_decay=weight_decay, nesterov=nesterov, ns_coeffs=ns_coefficients, eps=eps,
      ns_steps=ns_steps, adjust_lr=adjust_lr_fn or "original", clamp_eps=True,
      fan_in_axis=-1, ns_dtype=jnp.bfloat16)`` (torch's defaults: lr 1e-3, weight_decay 0.1,
      momentum 0.95, eps 1e-7). ``ns_dtype=None`` runs the same iteration without torch's
      bfloat16 rounding.

      optax.contrib.muon(learning_rate, ns_coeffs, ns_steps, beta, eps, weight_decay, ...)
      is ``muon(learning_rate, momentum=beta, weight_decay=weight_decay, eps=eps,
      debias=True, adam_eps=eps, muon_mask=lambda p: jax.tree.map(lambda x: x.ndim == 2, p),
      adam_*=...)`` (``consistent_rms=r`` is ``adjust_lr="match_rms_adamw",
      consistent_rms=r``), except that with ``nesterov=True`` optax's non-matrix leaves take
      a NAdam-style step, and momentax's a plain AdamW step.

    Raises:
      ValueError: an argument out of range.
      TreeMismatchError: ``muon_mask`` does not fit the params tree.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: K. Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024,
    https://kellerjordan.github.io/posts/muon/.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.muon(0.1, adjust_lr=None)
      >>> p = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
      >>> u, _ = opt.update({"w": jnp.eye(2), "b": jnp.ones(2)}, opt.init(p), p)
      >>> [round(x, 4) for x in u["w"].diagonal().tolist()], [round(x, 4) for x in u["b"].tolist()]
      ([-0.1108, -0.1108], [-0.1, -0.1])
    """
    matrices = [scale_by_muon(momentum, ns_coeffs, ns_steps, eps, nesterov=nesterov, debias=debias,
                              clamp_eps=clamp_eps, adjust_lr=adjust_lr, consistent_rms=consistent_rms,
                              fan_in_axis=fan_in_axis, ns_dtype=ns_dtype, mu_dtype=mu_dtype)]
    if weight_decay:
        matrices.append(add_decayed_weights(weight_decay))
    matrices.append(scale_by_learning_rate(learning_rate))
    others = [scale_by_adam(adam_b1, adam_b2, adam_eps, adam_eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype)]
    if adam_weight_decay:
        others.append(add_decayed_weights(adam_weight_decay))
    others.append(scale_by_learning_rate(learning_rate if adam_learning_rate is None else adam_learning_rate))
    groups = {"muon": labelled_chain("muon_matrices", *matrices), "adamw": labelled_chain("adamw", *others)}
    return labelled_chain("muon", partition(groups, _MuonLabels(muon_mask)))
