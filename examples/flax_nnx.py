"""Train a flax ``nnx`` model with a momentax optimizer through ``nnx.Optimizer``.

``nnx.Optimizer`` accepts any object with optax's ``init``/``update`` contract, so a momentax
chain goes in unchanged. The task: regress ``y = sin(3x)`` on [-1, 1] with a 1-32-32-1 MLP
and ``momentax.adamw``; the training loss falls by more than 10x in 300 steps.

Run: ``python examples/flax_nnx.py``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

import momentax


class MLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs, width: int = 32):
        self.l1 = nnx.Linear(1, width, rngs=rngs)
        self.l2 = nnx.Linear(width, width, rngs=rngs)
        self.l3 = nnx.Linear(width, 1, rngs=rngs)

    def __call__(self, x):
        return self.l3(jnp.tanh(self.l2(jnp.tanh(self.l1(x)))))


def data(n: int = 128):
    x = jnp.linspace(-1.0, 1.0, n)[:, None]
    return x, jnp.sin(3.0 * x)


def loss_fn(model: MLP, x, y):
    return jnp.mean((model(x) - y) ** 2)


@nnx.jit
def train_step(model: MLP, optimizer: nnx.Optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


def main(steps: int = 300, seed: int = 0) -> dict[str, float]:
    """Trains for ``steps`` steps; returns the first and last training loss."""
    model = MLP(nnx.Rngs(seed))
    tx = momentax.adamw(learning_rate=1e-2, weight_decay=1e-4)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x, y = data()
    first = float(loss_fn(model, x, y))
    for _ in range(steps):
        loss = train_step(model, optimizer, x, y)
    last = float(loss_fn(model, x, y))
    print(f"flax nnx + momentax.adamw: loss {first:.4f} -> {last:.5f} in {steps} steps")
    return {"first_loss": first, "last_loss": last}


if __name__ == "__main__":
    main()
