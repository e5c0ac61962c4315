"""momentax.with_schedules: any numeric hyperparameter on a schedule, against torch's schedulers.

Trajectory tests run in float64 (the ``x64`` fixture) through tests/parity.py: the same JAX
gradient function drives torch and momentax, and the relative error (max-norm of the
difference over the max-norm of torch's parameters, per leaf and step) must stay <= 1e-10.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
import torch
from torch.optim import lr_scheduler as tls

import momentax as mx
from conftest import random_tree
from momentax import schedules as S
from parity import assert_trajectories_close, max_rel_error, momentax_trajectory, noisy_quadratic, torch_trajectory

STEPS = 100


class _Stepped:
    """A torch optimizer whose ``step`` also runs ``before(opt, t)`` first and the scheduler after."""

    def __init__(self, opt, scheduler=None, before=None):
        self.opt, self.scheduler, self.before, self.t = opt, scheduler, before, 0
        self.lrs, self.momenta = [], []

    def step(self):
        if self.before is not None:
            self.before(self.opt, self.t)
        group = self.opt.param_groups[0]
        self.lrs.append(float(group["lr"]))
        self.momenta.append(float(group["momentum"] if "momentum" in group else group["betas"][0]))
        self.opt.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.t += 1


def _torch_run(make, params0, grad_fn):
    holder = []

    def make_opt(tensors):
        holder.append(make(tensors))
        return holder[0]

    traj = torch_trajectory(make_opt, params0, grad_fn, STEPS)
    return traj, holder[0]


def test_one_cycle_rate_and_momentum_on_sgd_match_torch_one_cycle_lr(x64):
    params0 = random_tree(0)
    grad_fn = noisy_quadratic(params0, STEPS, seed=1)

    def make(tensors):
        opt = torch.optim.SGD(tensors, lr=0.1, momentum=0.9)
        return _Stepped(opt, tls.OneCycleLR(opt, max_lr=0.1, total_steps=STEPS))

    want, stepped = _torch_run(make, params0, grad_fn)
    assert len(set(stepped.lrs)) > 50 and len(set(stepped.momenta)) > 50  # both really cycled
    opt = mx.with_schedules(mx.sgd(0.1, momentum=0.9), learning_rate=S.one_cycle(0.1, STEPS),
                            momentum=S.one_cycle_momentum(STEPS))
    got = momentax_trajectory(opt, params0, grad_fn, STEPS)
    assert_trajectories_close(got, want, 1e-10, "with_schedules(sgd) vs torch SGD + OneCycleLR")


def test_one_cycle_on_adam_b1_matches_torch_one_cycle_lr_cycling_betas(x64):
    params0 = random_tree(2)
    grad_fn = noisy_quadratic(params0, STEPS, seed=3)

    def make(tensors):
        opt = torch.optim.Adam(tensors, lr=1e-2)
        return _Stepped(opt, tls.OneCycleLR(opt, max_lr=1e-2, total_steps=STEPS, three_phase=True,
                                            anneal_strategy="linear"))

    want, stepped = _torch_run(make, params0, grad_fn)
    assert len(set(stepped.momenta)) > 20  # symmetric phases repeat values, the last holds max_momentum
    opt = mx.with_schedules(mx.adam(1e-2),
                            learning_rate=S.one_cycle(1e-2, STEPS, anneal_strategy="linear", three_phase=True),
                            b1=S.one_cycle_momentum(STEPS, anneal_strategy="linear", three_phase=True))
    got = momentax_trajectory(opt, params0, grad_fn, STEPS)
    assert_trajectories_close(got, want, 1e-10, "with_schedules(adam, b1) vs torch Adam + OneCycleLR")


def test_scheduled_weight_decay_matches_torch_adamw_with_the_same_values(x64):
    params0 = random_tree(4)
    grad_fn = noisy_quadratic(params0, STEPS, seed=5)
    wd = S.cosine_restarts(0.5, t_0=30, eta_min=0.01)
    values = [float(wd(t)) for t in range(STEPS)]

    def set_weight_decay(opt, t):
        opt.param_groups[0]["weight_decay"] = values[t]

    want, _ = _torch_run(lambda ts: _Stepped(torch.optim.AdamW(ts, lr=1e-2), before=set_weight_decay),
                         params0, grad_fn)
    got = momentax_trajectory(mx.with_schedules(mx.adamw(1e-2), weight_decay=wd), params0, grad_fn, STEPS)
    assert_trajectories_close(got, want, 1e-10, "with_schedules(adamw, weight_decay) vs torch AdamW")
    # The schedule matters: a constant weight decay gives a different trajectory.
    constant = momentax_trajectory(mx.adamw(1e-2, weight_decay=0.5), params0, grad_fn, STEPS)
    assert max_rel_error(constant, want) > 1e-4


def test_agrees_with_a_schedule_given_to_scale_by_learning_rate(x64):
    params0 = random_tree(6)
    grad_fn = noisy_quadratic(params0, STEPS, seed=7)
    sched = S.one_cycle(0.1, STEPS)
    direct = mx.sgd(sched, momentum=0.9)
    wrapped = mx.with_schedules(mx.sgd(0.1, momentum=0.9), learning_rate=sched)
    a = momentax_trajectory(direct, params0, grad_fn, STEPS)
    b = momentax_trajectory(wrapped, params0, grad_fn, STEPS)
    assert max_rel_error(b, a) <= 1e-15
    # The state reports the rate the last step used, the same way on both paths.
    p = jax.tree.map(jnp.asarray, params0)
    sa, sb = direct.init(p), wrapped.init(p)
    for t in range(3):
        g = grad_fn(p, jnp.asarray(t, jnp.int32))
        sa = direct.update(g, sa, p)[1]
        sb = wrapped.update(g, sb, p)[1]
        assert float(mx.hyperparams(sa)["learning_rate"]) == float(mx.hyperparams(sb)["learning_rate"]) \
            == float(sched(t))


def test_values_change_every_step_without_recompiling():
    traces = []

    @jax.jit
    def step(opt, g, state, p):
        traces.append(1)
        return opt.update(g, state, p)

    def make():
        return mx.with_schedules(mx.sgd(0.1, momentum=0.9), learning_rate=S.linear(0.1, 0.0, 10),
                                 momentum=S.cyclic_momentum(0.5, 0.9, 2))

    p, g = {"w": jnp.ones(3)}, {"w": jnp.ones(3)}
    opt = make()
    state = opt.init(p)
    seen = []
    for t in range(5):
        updates, state = step(opt, g, state, p)
        h = mx.hyperparams(state)
        seen.append((float(h["learning_rate"]), float(h["momentum"])))
        assert seen[-1] == pytest.approx((0.1 - 0.01 * t, [0.9, 0.7, 0.5, 0.7, 0.9][t]), rel=1e-6)
    assert int(state.count) == 5
    # A second optimizer built with equal schedules is the same program.
    other = make()
    step(other, g, other.init(p), p)
    assert len(traces) == 1


def test_init_writes_the_step_zero_values_and_names_can_be_qualified():
    base = mx.chain(mx.trace(0.9), mx.scale_by_learning_rate(0.1), mx.scale_by_learning_rate(0.2))
    p = jnp.zeros(2)
    state = mx.with_schedules(base, **{"2/learning_rate": S.constant(0.5)}, momentum=S.linear(0.3, 0.6, 3)).init(p)
    h = mx.hyperparams(state.inner_state)
    assert float(h["2/learning_rate"]) == 0.5 and float(h["1/learning_rate"]) == pytest.approx(0.1)
    assert float(h["momentum"]) == pytest.approx(0.3)
    both = mx.with_schedules(base, learning_rate=S.constant(0.25)).init(p)
    assert [float(v) for k, v in mx.hyperparams(both.inner_state).items() if "learning_rate" in k] == [0.25, 0.25]


def test_unknown_name_raises_at_init_listing_the_valid_names():
    opt = mx.with_schedules(mx.adam(1e-3), lr=S.constant(1e-3))
    with pytest.raises(ValueError, match=r"'lr' is not a numeric hyperparameter of adam.*"
                                         r"\['b1', 'b2', 'eps', 'eps_root', 'learning_rate'\]"):
        opt.init({"w": jnp.zeros(2)})


@pytest.mark.parametrize("make,error,message", [
    (lambda: mx.with_schedules(mx.sgd(S.constant(0.1)), learning_rate=S.constant(0.2)).init(jnp.zeros(1)),
     ValueError, "already follows a schedule"),
    (lambda: mx.with_schedules(mx.sgd(0.1)), ValueError, "at least one"),
    (lambda: mx.with_schedules(mx.sgd(0.1), learning_rate=0.2), ValueError, "not callable"),
    (lambda: mx.with_schedules(mx.sgd(0.1, momentum=0.9), momentum=S.constant(1.5)).init(jnp.zeros(1)),
     ValueError, "momentum=1.5 is out of range"),
    (lambda: mx.with_schedules(42, learning_rate=S.constant(0.2)), TypeError, "expected a gradient transformation"),
])
def test_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_repr_names_the_schedules():
    opt = mx.with_schedules(mx.sgd(0.1, momentum=0.9), momentum=S.constant(0.8))
    assert repr(opt).startswith("with_schedules[momentum=constant(value=0.8)](\n  sgd(")


def test_optax_transform_inside_is_accepted_but_has_nothing_to_schedule():
    import optax

    opt = mx.with_schedules(optax.sgd(0.1), learning_rate=S.constant(0.1))
    with pytest.raises(ValueError, match=r"its state has \[\]"):
        opt.init(jnp.zeros(2))
