"""Checkpoint a momentax training run with orbax, restore it, and continue bit for bit.

The optimizer state is a pytree of arrays (moments, int32 step counters and the
``hyperparams`` nodes), so orbax saves and restores it like the parameters. Restoring
needs a target with the state's structure: build it with ``opt.init`` (or
``jax.eval_shape(opt.init, params)``) and let orbax fill in the arrays.

The check: train 40 steps straight through, and separately 20 steps, save, restore into a
fresh process-like setup, and 20 more steps. Parameters, optimizer state and losses of the
two runs are bit-identical.

Run: ``python examples/orbax_checkpoint.py``.
"""

from __future__ import annotations

import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

import momentax


def data(seed: int = 0, n: int = 64, d: int = 8):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(np.tanh(x @ rng.normal(size=(d,))).astype(np.float32))


def init_params(d: int = 8, width: int = 16, seed: int = 1):
    rng = np.random.default_rng(seed)
    return {"w1": jnp.asarray(rng.normal(size=(d, width)).astype(np.float32) / np.sqrt(d)),
            "b1": jnp.zeros(width), "w2": jnp.asarray(rng.normal(size=(width,)).astype(np.float32) / 4.0)}


def loss_fn(params, x, y):
    return jnp.mean((jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] - y) ** 2)


def make_optimizer():
    # A schedule, clipping and weight decay: counters and several hyperparameter nodes to save.
    lr = momentax.schedules.warmup_cosine_decay(0.0, 3e-2, 10, 100)
    return momentax.chain(momentax.clip_by_global_norm(1.0), momentax.adamw(lr, weight_decay=1e-3))


def make_step(opt):
    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, state = opt.update(grads, state, params)
        return momentax.apply_updates(params, updates), state, loss

    return step


def run(params, state, step, x, y, steps: int):
    losses = []
    for _ in range(steps):
        params, state, loss = step(params, state, x, y)
        losses.append(loss)
    return params, state, [float(v) for v in losses]


def save(path: str, params, state) -> None:
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(path, {"params": params, "opt_state": state})


def restore(path: str, opt):
    """Restores into a target built from a fresh ``init``: orbax needs the tree structure."""
    params = init_params()
    abstract = jax.eval_shape(lambda p: {"params": p, "opt_state": opt.init(p)}, params)
    with ocp.StandardCheckpointer() as ckpt:
        restored = ckpt.restore(path, abstract)
    return restored["params"], restored["opt_state"]


def main(steps: int = 40, workdir: str | None = None) -> dict:
    """Compares an uninterrupted run with a saved-restored-continued one."""
    x, y = data()
    opt = make_optimizer()
    step = make_step(opt)
    half = steps // 2

    p0 = init_params()
    ref_params, ref_state, ref_losses = run(p0, opt.init(p0), step, x, y, steps)

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(workdir or tmp, "ckpt")
        p0 = init_params()
        params, state, losses = run(p0, opt.init(p0), step, x, y, half)
        save(path, params, state)
        del params, state
        params, state = restore(path, opt)
        params, state, more = run(params, state, step, x, y, steps - half)
    losses += more

    def same(a, b):
        return all(np.array_equal(np.asarray(u), np.asarray(v))
                   for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    identical = same(ref_params, params) and same(ref_state, state) and ref_losses == losses
    assert jax.tree.structure(ref_state) == jax.tree.structure(state)
    print(f"orbax round trip at step {half}: loss {losses[0]:.4f} -> {losses[-1]:.4f}; "
          f"bit-identical to the uninterrupted run: {identical}")
    return {"first_loss": losses[0], "last_loss": losses[-1], "identical": identical,
            "restored_learning_rate": float(momentax.hyperparams(state)["learning_rate"])}


if __name__ == "__main__":
    main()
