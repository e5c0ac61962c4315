"""Presets for large models: Adafactor and Muon (torch.optim's names and defaults)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.optimizers.factored import adafactor
from momentax.optimizers.orthogonal import muon
from momentax.torch._common import _pair, _sign

__all__ = ["Adafactor", "Muon"]


def Adafactor(lr: float = 1e-2, beta2_decay: float = -0.8, eps: tuple[float | None, float] = (None, 1e-3),
              d: float = 1.0, weight_decay: float = 0.0, *, foreach: Any = None,
              maximize: bool = False) -> GradientTransformation:
    """torch.optim.Adafactor: factored second moments, update clipping, relative step sizes.

    For step ``t``: ``V_t`` the factored EMA of ``g**2`` (last two axes) with
    ``1 - b2_t = t ** beta2_decay``; ``U = g / sqrt(V_t)`` clipped to RMS ``d``;
    ``p' = p * (1 - lr * weight_decay) - max(eps2, RMS(p)) * min(lr, 1 / sqrt(t)) * U``.
    ``chain([scale(-1)], momentax.adafactor(learning_rate=lr, decay_rate=-beta2_decay,
    eps=eps1, clipping_threshold=d, min_scale=eps2, weight_decay=weight_decay,
    clamp_eps=True))``; the rule is in :func:`momentax.adafactor`.

    Args:
      lr: >= 0 (caps the relative step ``1 / sqrt(t)``).
      beta2_decay: <= 0.
      eps: ``(eps1, eps2)``; ``eps1`` floors the second moment (``None``: each leaf's
        machine epsilon), ``eps2`` the parameter scale.
      d: >= 1, the clipping threshold.
      weight_decay: >= 0, lr-coupled.
      maximize: static.
      foreach: ignored.

    Raises:
      ValueError: an argument out of range, or ``eps`` not a pair.

    Source: N. Shazeer, M. Stern, ICML 2018, https://arxiv.org/abs/1804.04235.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Adafactor()
      >>> p = {"w": jnp.full((2, 3), 2.0)}
      >>> u, _ = opt.update({"w": jnp.ones((2, 3))}, opt.init(p), p)
      >>> [round(x, 6) for x in u["w"][0].tolist()]   # -RMS(p) * min(lr, 1) * 1
      [-0.02, -0.02, -0.02]
    """
    del foreach
    eps1, eps2 = _pair(eps, "eps", "Adafactor")
    core = adafactor(learning_rate=lr, decay_rate=-beta2_decay, eps=eps1, clipping_threshold=d, min_scale=eps2,
                     weight_decay=weight_decay, clamp_eps=True)
    return labelled_chain("torch.Adafactor", *_sign(maximize), core)


def Muon(lr: float = 1e-3, weight_decay: float = 0.1, momentum: float = 0.95, nesterov: bool = True,
         ns_coefficients: tuple[float, float, float] = (3.4445, -4.775, 2.0315), eps: float = 1e-7,
         ns_steps: int = 5, adjust_lr_fn: str | None = None) -> GradientTransformation:
    """torch.optim.Muon: momentum orthogonalised by a Newton-Schulz iteration, for matrices.

    For each 2-D parameter of shape ``(out, in)``: ``m' = momentum * m + (1 - momentum) * g``;
    ``D = momentum * m' + (1 - momentum) * g`` (nesterov, else ``m'``); ``O = NS(D)`` in
    bfloat16; ``p' = p * (1 - lr * weight_decay) - lr * s * O`` with
    ``s = sqrt(max(1, out / in))`` (``adjust_lr_fn="match_rms_adamw"``:
    ``0.2 * sqrt(max(out, in))``). ``momentax.muon(lr, momentum, weight_decay,
    nesterov=..., ns_coeffs=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr=...,
    clamp_eps=True, fan_in_axis=-1, ns_dtype=jnp.bfloat16)``.

    Args:
      lr: >= 0.
      weight_decay: >= 0, lr-coupled.
      momentum: in [0, 1).
      nesterov: static.
      ns_coefficients: static ``(a, b, c)`` of the quintic iteration.
      eps: > 0, floor of the Frobenius norm.
      ns_steps: static.
      adjust_lr_fn: static, ``None``/``"original"`` or ``"match_rms_adamw"``.

    Note:
      torch.optim.Muon accepts 2-D parameters only; on those the trajectories agree (up to
      the bfloat16 rounding inside the iteration, which XLA and torch may order
      differently). Other leaves get :func:`momentax.muon`'s AdamW step (torch users give
      them a separate AdamW); leaves with more than two axes are treated as batches of
      matrices.

    Raises:
      ValueError: an argument out of range, or an unknown ``adjust_lr_fn``.

    Source: K. Jordan et al., "Muon: An optimizer for hidden layers in neural networks", 2024,
    https://kellerjordan.github.io/posts/muon/.

    Example:
      >>> import jax.numpy as jnp, momentax.torch
      >>> opt = momentax.torch.Muon(lr=0.1, weight_decay=0.0)
      >>> p = {"w": jnp.zeros((2, 2))}
      >>> u, _ = opt.update({"w": jnp.eye(2)}, opt.init(p), p)
      >>> [round(x, 2) for x in u["w"].diagonal().tolist()]
      [-0.11, -0.11]
    """
    return labelled_chain("torch.Muon", muon(lr, momentum, weight_decay, nesterov=nesterov, ns_coeffs=ns_coefficients,
                                              eps=eps, ns_steps=ns_steps, adjust_lr=adjust_lr_fn or "original",
                                              clamp_eps=True, fan_in_axis=-1, ns_dtype=jnp.bfloat16))
