"""Wrappers around a transform, for the training loop; each is re-exported as ``momentax.<name>``.

- ``apply_if_finite``: skip steps with NaN/inf gradients;
- ``skip_on_loss_spike``: skip steps whose loss jumps far above its running mean;
- ``accumulate_gradients``: one inner step per ``k`` micro-steps, one accumulator buffer;
- ``lookahead``: fast and slow weights (Zhang et al. 2019);
- ``weight_ema``: a moving average of the parameters, for evaluation.

Each takes the inner transform first, keeps the inner state in its own state's
``inner_state`` field and passes extra keyword arguments through to it. The averaged or slow
weights are read with ``momentax.eval_params(state, params)``.
"""
