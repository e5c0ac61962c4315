"""momentax.reduce_on_plateau against torch.optim.lr_scheduler.ReduceLROnPlateau.

The scale sequence is compared with torch's rate divided by the initial rate, step by step,
in float64 with ``rtol=1e-12`` (the two differ only by the rounding of that division). The
loss sequence has plateaus whose small improvements count in one threshold mode and not
in the other, so each mode's rule is exercised. Every run keeps torch's rate above 1e-6,
where torch's ``eps=1e-8`` (which momentax does not have) never skips a reduction.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import momentax as mx
from conftest import random_tree
from parity import assert_trajectories_close

BASE_LR = 0.1


def _losses() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([
        [10.0, 9.0, 8.0, 7.0],
        7.0 - 5e-4 * np.arange(1, 9),  # improves by 5e-4: better in "abs" (1e-4), not in "rel" (7e-4)
        np.full(10, 6.99),  # flat
        [7.0, 7.5, 8.0, 7.9, 7.8],  # worse
        [6.0, 5.0, 4.0, 3.0],
        3.0 + 1e-3 * rng.uniform(-1, 1, 15),  # noise around a floor
        3.0 - 2e-4 * np.arange(1, 13),  # slow progress
    ])


LOSSES = _losses()

CONFIGS = [
    dict(mode="min", threshold_mode="rel", patience=2, factor=0.5),
    dict(mode="min", threshold_mode="abs", patience=2, factor=0.5),
    dict(mode="min", threshold_mode="rel", patience=1, cooldown=3, factor=0.3, min_scale=0.05),
    dict(mode="min", threshold_mode="abs", patience=0, cooldown=2, factor=0.5, min_scale=0.1),
    dict(mode="min", threshold_mode="rel", patience=3, cooldown=1, factor=0.2, threshold=1e-2, min_scale=0.01),
    dict(mode="max", threshold_mode="rel", patience=2, cooldown=1, factor=0.5),
    dict(mode="max", threshold_mode="abs", patience=3, factor=0.25, threshold=1e-3, min_scale=0.02),
    dict(),  # torch's defaults: patience 10, factor 0.1, rel 1e-4
]


def torch_lrs(losses, **kw):
    kw = dict(kw)
    min_lr = kw.pop("min_scale", 0.0) * BASE_LR
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([param], lr=BASE_LR)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, min_lr=min_lr, **kw)
    out = []
    for loss in losses:
        opt.step()
        sched.step(float(loss))
        out.append(float(opt.param_groups[0]["lr"]))
    return np.array(out)


def momentax_scales(losses, **kw):
    """(scale applied by each update, scale in the state after it), from one jitted scan."""
    tx = mx.reduce_on_plateau(**kw)
    g = jnp.ones(1)

    @jax.jit
    def run(state, losses):
        def body(s, loss):
            u, s = tx.update(g, s, loss=loss)
            return s, (u[0], s.scale)

        return jax.lax.scan(body, state, losses)[1]

    applied, after = run(tx.init(g), jnp.asarray(losses))
    return np.asarray(applied), np.asarray(after)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "defaults")
def test_scale_sequence_equals_torch_lr_over_base_lr(config, x64):
    losses = -LOSSES if config.get("mode") == "max" else LOSSES
    if not config:  # the defaults need a longer plateau to act
        losses = np.concatenate([LOSSES, np.full(30, 2.99)])
    want = torch_lrs(losses, **config)
    applied, after = momentax_scales(losses, **config)
    assert want[-1] < BASE_LR and want.min() > 1e-6  # torch did reduce, and never near its eps
    np.testing.assert_allclose(after, want / BASE_LR, rtol=1e-12)
    # Each update is scaled by the scale in force before its loss is seen.
    np.testing.assert_allclose(applied, np.concatenate([[1.0], want[:-1] / BASE_LR]), rtol=1e-12)


def test_threshold_modes_and_cooldown_change_the_sequence(x64):
    rel = momentax_scales(LOSSES, **CONFIGS[0])[1]
    ab = momentax_scales(LOSSES, **CONFIGS[1])[1]
    cooled = momentax_scales(LOSSES, **dict(CONFIGS[0], cooldown=4))[1]
    assert not np.array_equal(rel, ab) and not np.array_equal(rel, cooled)


def _problem(seed, steps):
    """A noisy quadratic whose loss (without the noise) plateaus at the noise floor."""
    rng = np.random.default_rng(seed)
    params0 = random_tree(seed)
    leaves, treedef = jax.tree.flatten(params0)
    curv = [rng.uniform(0.5, 2.0, np.shape(x)) for x in leaves]
    target = [rng.normal(size=np.shape(x)) for x in leaves]
    noise = [0.3 * rng.normal(size=(steps, *np.shape(x))) for x in leaves]

    def loss_and_grad(params, t):
        ps = treedef.flatten_up_to(params)
        loss = sum(0.5 * jnp.sum(a * (p - c) ** 2) for p, a, c in zip(ps, curv, target))
        grads = [a * (p - c) + jnp.asarray(n)[t] for p, a, c, n in zip(ps, curv, target, noise)]
        return loss, jax.tree.unflatten(treedef, grads)

    return params0, jax.jit(loss_and_grad)


def test_sgd_trajectory_with_plateau_reduction_matches_torch(x64):
    steps, kw = 150, dict(factor=0.5, patience=3, threshold=1e-3, cooldown=2)
    params0, loss_and_grad = _problem(11, steps)
    leaves, treedef = jax.tree.flatten(params0)

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in leaves]
    opt = torch.optim.SGD(tensors, lr=BASE_LR, momentum=0.9)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    history, lrs = [[] for _ in tensors], []
    for t in range(steps):
        current = jax.tree.unflatten(treedef, [jnp.asarray(x.detach().numpy()) for x in tensors])
        loss, grads = loss_and_grad(current, jnp.asarray(t, jnp.int32))
        for x, g in zip(tensors, treedef.flatten_up_to(grads)):
            x.grad = torch.from_numpy(np.array(g))
        opt.step()
        sched.step(float(loss))
        lrs.append(opt.param_groups[0]["lr"])
        for h, x in zip(history, tensors):
            h.append(x.detach().numpy().copy())
    want = jax.tree.unflatten(treedef, [np.stack(h) for h in history])
    assert len(set(lrs)) >= 3  # at least two reductions happened

    tx = mx.chain(mx.sgd(BASE_LR, momentum=0.9), mx.reduce_on_plateau(**kw))

    @jax.jit
    def run(params, state):
        def body(carry, t):
            p, s = carry
            loss, g = loss_and_grad(p, t)
            u, s = tx.update(g, s, p, loss=loss)
            p = mx.apply_updates(p, u)
            return (p, s), p

        return jax.lax.scan(body, (params, state), jnp.arange(steps, dtype=jnp.int32))[1]

    p0 = jax.tree.map(jnp.asarray, params0)
    got = jax.tree.map(np.asarray, run(p0, tx.init(p0)))
    assert_trajectories_close(got, want, 1e-10, "chain(sgd, reduce_on_plateau) vs torch SGD + ReduceLROnPlateau")


def test_factor_is_data_and_can_be_changed_without_recompiling():
    tx, traces = mx.reduce_on_plateau(factor=0.5, patience=0), []

    @jax.jit
    def step(state, loss):
        traces.append(1)
        return tx.update(jnp.ones(1), state, loss=loss)[1]

    s = step(step(tx.init(jnp.ones(1)), 1.0), 2.0)  # one bad loss: reduced once
    assert float(s.scale) == 0.5
    s2 = step(mx.set_hyperparams(s, factor=0.1), 3.0)
    assert float(s2.scale) == pytest.approx(0.05)
    assert len(traces) == 1
    assert int(s2.num_bad_steps) == 0 and s2.num_bad_steps.dtype == jnp.int32


def test_missing_or_bad_loss_raises():
    tx = mx.reduce_on_plateau()
    state = tx.init(jnp.ones(2))
    with pytest.raises(TypeError, match="needs the current loss as a keyword argument"):
        tx.update(jnp.ones(2), state)
    with pytest.raises(TypeError, match="reduce_on_plateau: update needs the current loss"):
        mx.chain(mx.sgd(0.1), tx).update(jnp.ones(2), (mx.sgd(0.1).init(jnp.ones(2)), state))
    with pytest.raises(ValueError, match=r"loss must be a scalar, got shape \[2\]"):
        tx.update(jnp.ones(2), state, loss=jnp.ones(2))


@pytest.mark.parametrize("kw,message", [
    (dict(factor=1.0), "factor=1.0 is out of range"),
    (dict(factor=0.0), "factor=0.0 is out of range"),
    (dict(patience=-1), "patience must be an integer >= 0"),
    (dict(patience=2.5), "patience must be an integer >= 0"),
    (dict(cooldown=-2), "cooldown must be an integer >= 0"),
    (dict(threshold=-1e-4), "threshold=-0.0001 is out of range"),
    (dict(min_scale=2.0), "min_scale=2.0 is out of range"),
    (dict(threshold_mode="relative"), "threshold_mode='relative'"),
    (dict(mode="minimum"), "mode='minimum'"),
])
def test_bad_arguments_raise(kw, message):
    with pytest.raises(ValueError, match=message):
        mx.reduce_on_plateau(**kw)
