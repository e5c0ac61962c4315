"""Adafactor: Adam-like steps with factored second moments and relative step sizes."""

from __future__ import annotations

from typing import Any

from momentax.base import GradientTransformation
from momentax.combine import labelled_chain
from momentax.storage import check_storage
from momentax.transforms.decay import Mask
from momentax.transforms.factored import scale_by_factored_rms, scale_by_param_block_rms, scale_by_relative_step
from momentax.transforms.moments import ema
from momentax.transforms.scaling import ScalarOrSchedule

__all__ = ["adafactor"]


def adafactor(learning_rate: ScalarOrSchedule = 1e-2, decay_rate: float = 0.8, eps: float | None = 1e-30,
              clipping_threshold: float | None = 1.0, min_scale: float = 1e-3, b1: float | None = None,
              weight_decay: float = 0.0, mask: Mask | None = None, *, relative_step: bool = True,
              multiply_by_parameter_scale: bool = True, lr_coupled_decay: bool = True, clamp_eps: bool = False,
              factored: bool = True, factored_dims: str = "last", min_dim_size_to_factor: int = 1,
              decay_offset: float = 0, mu_dtype: Any = None, nu_dtype: Any = None) -> GradientTransformation:
    """Adafactor: factored second moments, update clipping and relative step sizes.

    For step ``t`` (from 1), with ``b_t = 1 - t**(-decay_rate)``::

        U   = g / sqrt(V_t)                  V_t: factored second moment (scale_by_factored_rms)
        U   = U / max(1, RMS(U) / clipping_threshold)
        U   = U * max(min_scale, RMS(p))     (multiply_by_parameter_scale)
        m'  = b1 * m + (1 - b1) * U;  U = m' (b1 given; average form, no bias correction)
        rho = min(lr, 1/sqrt(t)) if relative_step else lr
        p'  = p - rho * U - lam * p,   lam = lr * weight_decay (lr_coupled_decay) or weight_decay

    ``chain(scale_by_factored_rms(decay_rate, eps, clipping_threshold, ...),
    scale_by_param_block_rms(min_scale), ema(b1, debias=False), scale_by_relative_step(
    learning_rate, weight_decay, mask, ...))``; the parameter scale and the momentum are left
    out when switched off.

    Args:
      learning_rate: >= 0, or a schedule. With ``relative_step`` it caps ``1/sqrt(t)``
        (the paper's 1e-2 is the default); otherwise it is the step size.
      decay_rate: >= 0; the exponent of the decay schedule ``1 - t**(-decay_rate)``.
      eps: > 0, added to ``g**2`` (the paper's epsilon_1); ``None`` means the machine
        epsilon of each leaf's dtype (torch's default; static).
      clipping_threshold: >= 1 (the paper's ``d``); ``None`` switches clipping off.
      min_scale: > 0; floor of the parameter scale (the paper's epsilon_2).
      b1: in [0, 1), or ``None``/0 for no momentum (the paper's default). In the state it
        is the ``decay`` of the :func:`momentax.ema` transform.
      weight_decay: >= 0.
      mask: static; which leaves to decay.
      relative_step: static; see :func:`momentax.scale_by_relative_step`.
      multiply_by_parameter_scale: static.
      lr_coupled_decay: static; see :func:`momentax.scale_by_relative_step`.
      clamp_eps: see :func:`momentax.scale_by_factored_rms`.
      factored: see :func:`momentax.scale_by_factored_rms`.
      factored_dims: see :func:`momentax.scale_by_factored_rms`.
      min_dim_size_to_factor: see :func:`momentax.scale_by_factored_rms`.
      decay_offset: see :func:`momentax.scale_by_factored_rms`.
      mu_dtype, nu_dtype: static storage of the moments: a dtype,
        momentax.stochastic_rounding(...) or momentax.blockwise_8bit(...); arithmetic runs in
        float32 (``mu_dtype``: the momentum; ``nu_dtype``: the full second
        moment of unfactored leaves; the factored statistics keep the parameter's dtype).

    Note:
      torch.optim.Adafactor(lr, beta2_decay, eps=(eps1, eps2), d, weight_decay) is exactly
      ``adafactor(learning_rate=lr, decay_rate=-beta2_decay, eps=eps1, clipping_threshold=d,
      min_scale=eps2, weight_decay=weight_decay, clamp_eps=True)`` (``eps1=None`` is
      passed as ``eps=None``; the other defaults already match: ``relative_step=True``,
      ``lr_coupled_decay=True``, last two axes factored for every leaf with >= 2 axes);
      ``maximize=True`` is ``chain(scale(-1.0), adafactor(...))``.

      optax.adafactor(learning_rate, min_dim_size_to_factor, decay_rate, decay_offset,
      multiply_by_parameter_scale, clipping_threshold, momentum, dtype_momentum,
      weight_decay_rate, eps, factored, weight_decay_mask) is ``adafactor(learning_rate
      (1.0 for optax's None), decay_rate=decay_rate, eps=eps, clipping_threshold=...,
      b1=momentum, mu_dtype=dtype_momentum, weight_decay=weight_decay_rate or 0,
      mask=weight_decay_mask, relative_step=False, lr_coupled_decay=False,
      factored_dims="largest", min_dim_size_to_factor=min_dim_size_to_factor,
      multiply_by_parameter_scale=..., factored=..., decay_offset=...)``. optax applies a
      learning-rate *schedule* before its momentum and momentax after (the same for a
      constant rate), and optax evaluates ``1 - t**(-decay_rate)`` in float32 even under
      ``jax_enable_x64``.

    Raises:
      ValueError: an argument out of range.
      TypeError: ``mu_dtype`` or ``nu_dtype`` is not a dtype or a storage spec.

    Source: N. Shazeer, M. Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory
    Cost", ICML 2018, https://arxiv.org/abs/1804.04235.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adafactor()
      >>> p = {"w": jnp.full((2, 3), 2.0)}
      >>> u, _ = opt.update({"w": jnp.ones((2, 3))}, opt.init(p), p)
      >>> [round(x, 6) for x in u["w"][0].tolist()]
      [-0.02, -0.02, -0.02]
    """
    check_storage("adafactor", mu_dtype=mu_dtype)  # also without momentum (b1 None), where no buffer takes it
    parts = [scale_by_factored_rms(decay_rate, eps, clipping_threshold, decay_offset=decay_offset, factored=factored,
                                   factored_dims=factored_dims, min_dim_size_to_factor=min_dim_size_to_factor,
                                   clamp_eps=clamp_eps, nu_dtype=nu_dtype)]
    if multiply_by_parameter_scale:
        parts.append(scale_by_param_block_rms(min_scale))
    if b1:
        parts.append(ema(b1, debias=False, mu_dtype=mu_dtype))
    parts.append(scale_by_relative_step(learning_rate, weight_decay, mask, relative_step=relative_step,
                                        lr_coupled_decay=lr_coupled_decay))
    return labelled_chain("adafactor", *parts)
