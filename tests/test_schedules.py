"""momentax.schedules: torch.optim.lr_scheduler parity, optax parity, hand-computed values, errors.

Parity tests run in float64 (the ``x64`` fixture) and compare every step with
``rtol=1e-12, atol=1e-12 * peak`` (``peak``: the largest value of the schedule). torch's
schedulers are stepped the way a training loop steps them (``optimizer.step()`` then
``scheduler.step()``), so their values include the rounding of torch's recursive updates; the
value for step ``t`` is the rate the ``t``-th optimizer step uses, which is what momentax's
schedules return for ``t``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from torch.optim import lr_scheduler as tls

import momentax as mx
from momentax import schedules as S

LR = 0.1
RTOL = 1e-12


def torch_values(make_scheduler, steps, lr=LR):
    """The rate (and momentum) each of ``steps`` torch SGD steps uses under the scheduler."""
    param = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([param], lr=lr, momentum=0.9)
    sched = make_scheduler(opt)
    lrs, momenta = [], []
    for _ in range(steps):
        lrs.append(float(opt.param_groups[0]["lr"]))
        momenta.append(float(opt.param_groups[0]["momentum"]))
        assert lrs[-1] == float(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return np.array(lrs), np.array(momenta)


def ours(schedule, steps):
    """The schedule on steps 0..steps-1, as one jitted vmap over an int32 step array."""
    return np.asarray(jax.jit(jax.vmap(schedule))(jnp.arange(steps, dtype=jnp.int32)))


def assert_close(got, want):
    peak = np.max(np.abs(want))
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * peak)


# (id, torch scheduler factory, steps, momentax lr schedule, momentax momentum schedule or None)
TORCH_CASES = [
    ("StepLR", lambda o: tls.StepLR(o, step_size=30, gamma=0.5), 300,
     S.exponential_decay(LR, 30, 0.5, staircase=True), None),
    ("MultiStepLR", lambda o: tls.MultiStepLR(o, milestones=[50, 120, 200], gamma=0.3), 300,
     S.piecewise_constant(LR, [50, 120, 200], [0.3, 0.3, 0.3]), None),
    ("ExponentialLR", lambda o: tls.ExponentialLR(o, gamma=0.99), 300, S.exponential_decay(LR, 1, 0.99), None),
    ("CosineAnnealingLR", lambda o: tls.CosineAnnealingLR(o, T_max=300, eta_min=1e-3), 301,
     S.cosine_decay(LR, 300, end_value=1e-3), None),
    ("CosineAnnealingLR-eta0", lambda o: tls.CosineAnnealingLR(o, T_max=200), 201, S.cosine_decay(LR, 200), None),
    ("CosineAnnealingWarmRestarts", lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2, eta_min=1e-4),
     300, S.cosine_restarts(LR, t_0=10, t_mult=2, eta_min=1e-4), None),
    ("CosineAnnealingWarmRestarts-mult1", lambda o: tls.CosineAnnealingWarmRestarts(o, T_0=37), 300,
     S.cosine_restarts(LR, t_0=37), None),
    ("LinearLR-warmup", lambda o: tls.LinearLR(o, start_factor=0.1, total_iters=40), 300, S.linear(LR * 0.1, LR, 40),
     None),
    ("LinearLR-decay", lambda o: tls.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=150), 300,
     S.linear(LR, LR * 0.2, 150), None),
    ("PolynomialLR", lambda o: tls.PolynomialLR(o, total_iters=250, power=2.0), 300, S.polynomial(LR, 0.0, 2.0, 250),
     None),
    ("ConstantLR", lambda o: tls.ConstantLR(o, factor=0.25, total_iters=40), 300,
     S.piecewise_constant(LR * 0.25, [40], [1 / 0.25]), None),
    ("SequentialLR", lambda o: tls.SequentialLR(
        o, [tls.LinearLR(o, start_factor=0.1, total_iters=20), tls.CosineAnnealingLR(o, T_max=280, eta_min=1e-4)],
        milestones=[20]), 300, S.join([S.linear(LR * 0.1, LR, 20), S.cosine_decay(LR, 280, end_value=1e-4)], [20]),
     None),
    ("SequentialLR-as-warmup_cosine_decay", lambda o: tls.SequentialLR(
        o, [tls.LinearLR(o, start_factor=0.1, total_iters=20), tls.CosineAnnealingLR(o, T_max=280, eta_min=1e-4)],
        milestones=[20]), 300, S.warmup_cosine_decay(LR * 0.1, LR, 20, 300, end_value=1e-4), None),
    ("OneCycleLR-cos", lambda o: tls.OneCycleLR(o, max_lr=LR, total_steps=300), 300,
     S.one_cycle(LR, 300), S.one_cycle_momentum(300)),
    ("OneCycleLR-linear", lambda o: tls.OneCycleLR(o, max_lr=LR, total_steps=300, anneal_strategy="linear",
                                                   pct_start=0.25, div_factor=10.0, final_div_factor=100.0), 300,
     S.one_cycle(LR, 300, pct_start=0.25, div_factor=10.0, final_div_factor=100.0, anneal_strategy="linear"),
     S.one_cycle_momentum(300, pct_start=0.25, anneal_strategy="linear")),
    ("OneCycleLR-three-phase-cos", lambda o: tls.OneCycleLR(o, max_lr=LR, total_steps=250, three_phase=True,
                                                            base_momentum=0.8, max_momentum=0.9), 250,
     S.one_cycle(LR, 250, three_phase=True),
     S.one_cycle_momentum(250, base_momentum=0.8, max_momentum=0.9, three_phase=True)),
    ("OneCycleLR-three-phase-linear", lambda o: tls.OneCycleLR(o, max_lr=LR, total_steps=199, pct_start=0.35,
                                                               three_phase=True, anneal_strategy="linear"), 199,
     S.one_cycle(LR, 199, pct_start=0.35, anneal_strategy="linear", three_phase=True),
     S.one_cycle_momentum(199, pct_start=0.35, anneal_strategy="linear", three_phase=True)),
    ("CyclicLR-triangular", lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=LR, step_size_up=20, step_size_down=30),
     300, S.cyclic(0.01, LR, 20, 30), S.cyclic_momentum(0.8, 0.9, 20, 30)),
    ("CyclicLR-triangular2", lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=LR, step_size_up=25,
                                                    mode="triangular2"), 300,
     S.cyclic(0.01, LR, 25, mode="triangular2"), S.cyclic_momentum(0.8, 0.9, 25, mode="triangular2")),
    ("CyclicLR-exp_range", lambda o: tls.CyclicLR(o, base_lr=0.01, max_lr=LR, step_size_up=15, step_size_down=5,
                                                  mode="exp_range", gamma=0.995, base_momentum=0.7,
                                                  max_momentum=0.95), 300,
     S.cyclic(0.01, LR, 15, 5, mode="exp_range", gamma=0.995),
     S.cyclic_momentum(0.7, 0.95, 15, 5, mode="exp_range", gamma=0.995)),
]


@pytest.mark.parametrize("case", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_matches_torch_step_by_step(case, x64):
    _, make, steps, lr_schedule, momentum_schedule = case
    want_lr, want_momentum = torch_values(make, steps)
    assert len(np.unique(want_lr)) > 1  # the scheduler did change the rate
    assert_close(ours(lr_schedule, steps), want_lr)
    if momentum_schedule is not None:
        assert len(np.unique(want_momentum)) > 1
        assert_close(ours(momentum_schedule, steps), want_momentum)


def test_torch_cosine_annealing_rises_after_t_max_where_momentax_holds(x64):
    # The documented difference: torch's CosineAnnealingLR keeps following the cosine.
    want, _ = torch_values(lambda o: tls.CosineAnnealingLR(o, T_max=50, eta_min=1e-3), 80)
    got = ours(S.cosine_decay(LR, 50, end_value=1e-3), 80)
    assert_close(got[:51], want[:51])
    assert want[79] > 0.05 and np.all(got[50:] == 1e-3)


# optax's schedules with the same meaning, compared in float64 (see each docstring's Note).
OPTAX_CASES = [
    ("linear", S.linear(2.0, 0.5, 40, 10), optax.linear_schedule(2.0, 0.5, 40, 10)),
    ("polynomial", S.polynomial(2.0, 0.5, 3.0, 40, 10), optax.polynomial_schedule(2.0, 0.5, 3.0, 40, 10)),
    ("exponential", S.exponential_decay(2.0, 7, 0.8, 5), optax.exponential_decay(2.0, 7, 0.8, 5)),
    ("exponential-staircase-end", S.exponential_decay(2.0, 7, 0.8, 5, staircase=True, end_value=0.3),
     optax.exponential_decay(2.0, 7, 0.8, 5, staircase=True, end_value=0.3)),
    ("exponential-growth-end", S.exponential_decay(0.1, 4, 1.5, end_value=2.0),
     optax.exponential_decay(0.1, 4, 1.5, end_value=2.0)),
    ("cosine-alpha-exponent", S.cosine_decay(2.0, 60, alpha=0.1, exponent=2.0),
     optax.cosine_decay_schedule(2.0, 60, alpha=0.1, exponent=2.0)),
    ("piecewise_constant", S.piecewise_constant(2.0, [10, 30, 31], [0.5, 3.0, 0.1]),
     optax.piecewise_constant_schedule(2.0, {10: 0.5, 30: 3.0, 31: 0.1})),
    ("piecewise_linear", S.piecewise_interpolate(2.0, [10, 30, 45], [0.5, 3.0, 0.1]),
     optax.piecewise_interpolate_schedule("linear", 2.0, {10: 0.5, 30: 3.0, 45: 0.1})),
    ("piecewise_cosine", S.piecewise_interpolate(2.0, [10, 30, 45], [0.5, 3.0, 0.1], "cosine"),
     optax.piecewise_interpolate_schedule("cosine", 2.0, {10: 0.5, 30: 3.0, 45: 0.1})),
    ("warmup_constant", S.warmup_constant(0.1, 2.0, 15), optax.warmup_constant_schedule(0.1, 2.0, 15)),
    ("warmup_cosine_decay", S.warmup_cosine_decay(0.1, 2.0, 15, 50, end_value=0.2, exponent=1.5),
     optax.warmup_cosine_decay_schedule(0.1, 2.0, 15, 50, end_value=0.2, exponent=1.5)),
    ("join", S.join([S.constant(1.0), S.linear(1.0, 0.0, 10), S.exponential_decay(0.5, 3, 0.5)], [5, 20]),
     optax.join_schedules([optax.constant_schedule(1.0), optax.linear_schedule(1.0, 0.0, 10),
                           optax.exponential_decay(0.5, 3, 0.5)], [5, 20])),
]


@pytest.mark.parametrize("case", OPTAX_CASES, ids=[c[0] for c in OPTAX_CASES])
def test_matches_optax(case, x64):
    _, schedule, reference = case
    steps = 70
    want = np.array([float(reference(t)) for t in range(steps)])
    assert_close(ours(schedule, steps), want)


def test_hand_computed_values(x64):
    t = np.arange(12)
    # piecewise_interpolate, cosine: half-cosines between 1 -> 0.5 (steps 0..4) and 0.5 -> 0.05 (4..10).
    want = np.where(t < 4, 0.5 + 0.5 * (1 + np.cos(np.pi * t / 4)) / 2,
                    np.where(t < 10, 0.05 + 0.45 * (1 + np.cos(np.pi * (t - 4) / 6)) / 2, 0.05))
    assert_close(ours(S.piecewise_interpolate(1.0, [4, 10], [0.5, 0.1], "cosine"), 12), want)
    # A first boundary at step 0 applies its scale from the start.
    assert_close(ours(S.piecewise_interpolate(1.0, [0, 4], [2.0, 0.5]), 6), [2.0, 1.75, 1.5, 1.25, 1.0, 1.0])
    assert_close(ours(S.piecewise_constant(1.0, [0, 3], [0.5, 0.5]), 5), [0.5, 0.5, 0.5, 0.25, 0.25])
    # cosine_restarts with t_mult=3: periods of 2, 6, 18 steps.
    starts, period = [0, 2, 8], [2, 6, 18]
    want = []
    for step in range(20):
        i = max(k for k in range(3) if starts[k] <= step)
        want.append(0.01 + (1.0 - 0.01) * (1 + math.cos(math.pi * (step - starts[i]) / period[i])) / 2)
    assert_close(ours(S.cosine_restarts(1.0, 2, 3, 0.01), 20), want)
    # warmup_constant with no warmup starts at the peak.
    assert_close(ours(S.warmup_constant(0.0, 3.0, 0), 3), [3.0, 3.0, 3.0])


def test_one_cycle_holds_after_the_last_step_and_negative_steps_read_as_zero():
    s = S.one_cycle(1.0, 50, div_factor=10.0, final_div_factor=4.0)
    values = ours(s, 60)
    np.testing.assert_allclose(values[49:], 0.025, rtol=1e-6)
    assert float(s(-5)) == float(s(0)) == pytest.approx(0.1, rel=1e-6)
    m = S.one_cycle_momentum(50)
    assert float(m(49)) == float(m(10**6)) == pytest.approx(0.95, rel=1e-6)


def test_cosine_restarts_near_the_int32_limit(x64):
    s = S.cosine_restarts(1.0, t_0=3, t_mult=2)
    for step in [2**31 - 1, 10**9, 3 * (2**29 - 1), 3 * (2**29 - 1) - 1]:
        n, start = 0, 0
        while start + 3 * 2**n <= step:
            start, n = start + 3 * 2**n, n + 1
        want = (1 + math.cos(math.pi * (step - start) / (3 * 2**n))) / 2
        got = float(jax.jit(s)(jnp.asarray(step, jnp.int32)))
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), step


# One schedule per factory (and per mode of cyclic), from the cases above.
ALL_SCHEDULES = list({(s.name, dict(s.args).get("mode")): s for s in [c[3] for c in TORCH_CASES] + [
    c[4] for c in TORCH_CASES if c[4] is not None] + [c[1] for c in OPTAX_CASES] + [S.constant(0.3)]}.values())


def test_float32_values_dtype_and_jit():
    """Without x64: float32 scalars, int32 and Python-int steps, and within 1e-6 of float64."""
    for s in (S.cosine_decay(1.0, 10), S.piecewise_constant(1.0, [2], [0.5]), S.cyclic(0.1, 1.0, 4)):
        single = s(jnp.asarray(3, jnp.int32))  # eager, outside jit
        assert single.dtype == jnp.float32 and single.shape == ()
        assert float(s(3)) == float(single) == float(jax.jit(s)(3))

    def table(steps):  # every schedule on every step, in one compiled program
        return jnp.stack([jax.vmap(s)(steps) for s in ALL_SCHEDULES])

    steps = np.arange(0, 300, 7, dtype=np.int32)
    f32 = np.asarray(jax.jit(table)(steps))
    with jax.enable_x64(True):
        f64 = np.asarray(jax.jit(table)(steps))
    assert f32.dtype == np.float32 and f64.dtype == np.float64 and f32.shape == (len(ALL_SCHEDULES), len(steps))
    for s, a, b in zip(ALL_SCHEDULES, f32, f64):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * np.max(np.abs(b)), err_msg=repr(s))


def test_equal_arguments_give_equal_schedules_and_share_compilations():
    a = S.warmup_cosine_decay(0.0, 1.0, 10, 100)
    b = S.warmup_cosine_decay(0.0, 1.0, 10, 100)
    c = S.warmup_cosine_decay(0.0, 1.0, 10, 101)
    assert a == b and hash(a) == hash(b) and a != c
    assert repr(a) == ("warmup_cosine_decay(init_value=0, peak_value=1, warmup_steps=10, decay_steps=100, "
                       "end_value=0, exponent=1)")
    traces = []

    @jax.jit
    def step(opt, g, state):
        traces.append(1)
        return opt.update(g, state)

    g = jnp.ones(2)
    for sched in (a, b):
        opt = mx.sgd(sched)
        step(opt, g, opt.init(g))
    assert len(traces) == 1
    opt = mx.sgd(c)
    step(opt, g, opt.init(g))
    assert len(traces) == 2


@pytest.mark.parametrize("make,message", [
    (lambda: S.linear(1.0, 0.0, 0), "transition_steps=0"),
    (lambda: S.linear(1.0, 0.0, 10, -1), "transition_begin=-1"),
    (lambda: S.linear(1.0, 0.0, 10.5), "must be an integer"),
    (lambda: S.linear(float("nan"), 0.0, 10), "init_value"),
    (lambda: S.polynomial(1.0, 0.0, 0.0, 10), "power"),
    (lambda: S.exponential_decay(1.0, 10, 0.0), "decay_rate"),
    (lambda: S.exponential_decay(1.0, -3, 0.5), "transition_steps=-3"),
    (lambda: S.cosine_decay(1.0, 0), "decay_steps=0"),
    (lambda: S.cosine_decay(1.0, 10, alpha=1.5), "alpha"),
    (lambda: S.cosine_decay(1.0, 10, alpha=0.1, end_value=0.2), "not both"),
    (lambda: S.piecewise_constant(1.0, [], []), "boundaries is empty"),
    (lambda: S.piecewise_constant(1.0, [10, 5], [0.1, 0.1]), "strictly increasing"),
    (lambda: S.piecewise_constant(1.0, [5, 5], [0.1, 0.1]), "strictly increasing"),
    (lambda: S.piecewise_constant(1.0, [-5, 5], [0.1, 0.1]), r"boundaries\[0\]=-5"),
    (lambda: S.piecewise_constant(1.0, [5, 10], [0.1]), "need 2 scales"),
    (lambda: S.piecewise_constant(1.0, [5], [-0.1]), r"scales\[0\]"),
    (lambda: S.piecewise_interpolate(1.0, [5], [0.1], "cubic"), "interpolate_type"),
    (lambda: S.warmup_constant(0.0, 1.0, -2), "warmup_steps=-2"),
    (lambda: S.warmup_cosine_decay(0.0, 1.0, 10, 10), "greater than warmup_steps"),
    (lambda: S.join([S.constant(1.0)], [3]), "need 0 boundaries"),
    (lambda: S.join([], []), "at least one"),
    (lambda: S.join([S.constant(1.0), 0.5], [3]), "not callable"),
    (lambda: S.join([S.constant(1.0)] * 3, [8, 4]), "strictly increasing"),
    (lambda: S.cosine_restarts(1.0, 0), "t_0=0"),
    (lambda: S.cosine_restarts(1.0, 10, 0), "t_mult=0"),
    (lambda: S.cosine_restarts(1.0, 10, 1.5), "must be an integer"),
    (lambda: S.one_cycle(1.0, 100, pct_start=1.2), "pct_start"),
    (lambda: S.one_cycle(1.0, 3, pct_start=0.3), "phase 1"),
    (lambda: S.one_cycle(1.0, 100, pct_start=0.6, three_phase=True), "phase 3"),
    (lambda: S.one_cycle(1.0, 100, anneal_strategy="cosine"), "anneal_strategy"),
    (lambda: S.one_cycle(1.0, 100, div_factor=0.0), "div_factor"),
    (lambda: S.one_cycle_momentum(100, base_momentum=1.0), "base_momentum"),
    (lambda: S.cyclic(0.1, 1.0, 0), "step_size_up=0"),
    (lambda: S.cyclic(0.1, 1.0, 10, mode="triangle"), "mode"),
    (lambda: S.cyclic(0.1, 1.0, 10, mode="exp_range", gamma=-1.0), "gamma"),
    (lambda: S.cyclic_momentum(0.8, 1.2), "max_momentum"),
    (lambda: S.constant("0.1"), "real number"),
])
def test_bad_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()
