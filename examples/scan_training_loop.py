"""A plain-JAX training loop: every step inside one ``jax.lax.scan``, no Python per step.

The optimizer state is a pytree of arrays, so it is an ordinary scan carry. One compiled
program runs all the steps. The learning rate is read from the state, so changing it with
``momentax.set_hyperparams`` between scans needs no new optimizer and no new trace; the
example prints how many programs ``jax.jit`` holds at the end (the aim is 1; it is 2 until
the committed-array issue noted in ``tests/test_examples.py`` is fixed). The task: least squares
``min_w |X w - y|^2`` with 64 samples and 8 features, solved by ``momentax.sgd`` with
Nesterov momentum; the loss falls by more than 100x in 200 steps.

Run: ``python examples/scan_training_loop.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import momentax


def data(seed: int = 0, n: int = 64, d: int = 8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w_true = rng.normal(size=(d,)).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(x @ w_true)


def loss_fn(params, x, y):
    return jnp.mean((x @ params["w"] + params["b"] - y) ** 2)


def make_train(opt: momentax.GradientTransformation, steps: int):
    @jax.jit
    def train(params, state, x, y):
        def body(carry, _):
            params, state = carry
            loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
            updates, state = opt.update(grads, state, params)
            return (momentax.apply_updates(params, updates), state), loss

        (params, state), losses = jax.lax.scan(body, (params, state), None, length=steps)
        return params, state, losses

    return train


def main(steps: int = 200, seed: int = 0) -> dict[str, float]:
    """Runs two scans of ``steps // 2`` steps (the second at half the learning rate)."""
    x, y = data(seed)
    params = {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}
    opt = momentax.sgd(learning_rate=0.05, momentum=0.9, nesterov=True)
    state = opt.init(params)
    train = make_train(opt, steps // 2)
    first = float(loss_fn(params, x, y))
    params, state, losses1 = train(params, state, x, y)
    state = momentax.set_hyperparams(state, learning_rate=0.025)  # same compiled program
    params, state, losses2 = train(params, state, x, y)
    last = float(loss_fn(params, x, y))
    print(f"lax.scan + momentax.sgd(nesterov): loss {first:.4f} -> {last:.2e} in {steps} steps, "
          f"{train._cache_size()} compiled program(s)")
    return {"first_loss": first, "last_loss": last, "compiles": train._cache_size(),
            "losses": np.concatenate([np.asarray(losses1), np.asarray(losses2)])}


if __name__ == "__main__":
    main()
