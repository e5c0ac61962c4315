"""``mu_dtype`` / ``nu_dtype`` on every optimizer with moments.

For every optimizer in tests/registry.py whose constructor takes ``mu_dtype`` or ``nu_dtype``
and for each storage kind (bfloat16 rounded to nearest, bfloat16 with stochastic rounding,
8-bit blocks of 64): 20 jitted steps on a diagonal quadratic with deterministic gradient noise,
compared with the float32-state run of the same optimizer. Then: each option reaches the
state (the buffers it stores, their leaf types, the bytes saved, exactly), a bad value raises
TypeError naming the option, and masks, parameter groups and the wrappers work on stored state.

Tolerances are on ``||x - x_f32|| / ||x_f32 - x_0||`` (the deviation from the float32-state
run relative to the distance that run moved, over all leaves; ``x`` is the parameters and
``momentax.eval_params``). Measured on this problem: at most 6.5e-3 for bfloat16 (either
rounding) and 3.5e-2 for 8-bit moments (Adam-like rules, where a block's small entries get the
coarser codes); the bounds below leave about 2.5x.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import momentax as mx
from momentax.storage import QuantizedArray, RoundedArray, state_nbytes
from momentax.trees import Stored, is_stored
from registry import OPTIMIZERS, Case

BLOCK = 64
Q8 = mx.blockwise_8bit(block_size=BLOCK, min_size=0)
KINDS = {"bfloat16": jnp.bfloat16, "stochastic_rounding": mx.stochastic_rounding(seed=1), "blockwise_8bit": Q8}
TOLERANCE = {"bfloat16": 2e-2, "stochastic_rounding": 2e-2, "blockwise_8bit": 8e-2}
# ASGD's evaluation point is the average of the iterates, stored at parameter scale: 8-bit codes
# put it off by about 1% of each block's largest parameter (measured 6e-2 here).
AVERAGE_8BIT = 1.5e-1
OPTIONS = ("mu_dtype", "nu_dtype")
STEPS = 20

# The quantise and round programs compile 2-3x faster at XLA's CPU optimisation level 0; the
# float32 reference is compiled the same way, so the comparison is like for like.
FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def options_of(case: Case) -> tuple[str, ...]:
    parameters = inspect.signature(case.make).parameters
    return tuple(o for o in OPTIONS if o in parameters)


CASES = [c for c in OPTIMIZERS if options_of(c)]

# How many parameter-sized buffers each option stores on PARAMS ("w" a matrix, "b" a vector):
# two per buffer kind for elementwise optimizers (one per leaf).
BUFFERS = {
    ("sgd", "mu_dtype"): 0,  # no momentum, no buffer
    ("sgd_momentum", "mu_dtype"): 2, ("sgd_nesterov", "mu_dtype"): 2,
    ("momentum", "mu_dtype"): 2, ("nesterov", "mu_dtype"): 2,
    ("adagrad", "nu_dtype"): 2,
    ("adadelta", "nu_dtype"): 4,  # nu and delta
    ("rmsprop", "mu_dtype"): 2, ("rmsprop", "nu_dtype"): 2,  # mu: the momentum buffer
    ("rmsprop_centered", "mu_dtype"): 2, ("rmsprop_centered", "nu_dtype"): 2,  # mu: the centred average
    ("adam", "mu_dtype"): 2, ("adam", "nu_dtype"): 2, ("adamw", "mu_dtype"): 2, ("adamw", "nu_dtype"): 2,
    ("amsgrad", "mu_dtype"): 2, ("amsgrad", "nu_dtype"): 4,  # nu and nu_max
    ("adamax", "mu_dtype"): 2, ("adamax", "nu_dtype"): 2, ("adamaxw", "mu_dtype"): 2, ("adamaxw", "nu_dtype"): 2,
    ("nadam", "mu_dtype"): 2, ("nadam", "nu_dtype"): 2, ("nadam_schedule", "mu_dtype"): 2,
    ("nadam_schedule", "nu_dtype"): 2, ("nadamw", "mu_dtype"): 2, ("nadamw", "nu_dtype"): 2,
    ("radam", "mu_dtype"): 2, ("radam", "nu_dtype"): 2,
    ("asgd", "mu_dtype"): 2,  # the average of the iterates
    ("signum", "mu_dtype"): 2, ("lion", "mu_dtype"): 2,
    ("adabelief", "mu_dtype"): 2, ("adabelief", "nu_dtype"): 2,
    ("yogi", "mu_dtype"): 2, ("yogi", "nu_dtype"): 2,
    ("novograd", "mu_dtype"): 2,  # its nu is a scalar per leaf: no nu_dtype
    ("adan", "mu_dtype"): 4, ("adan", "nu_dtype"): 2,  # mu and delta; the previous gradient stays
    ("lamb", "mu_dtype"): 2, ("lamb", "nu_dtype"): 2, ("lars", "mu_dtype"): 2,
    ("adafactor", "mu_dtype"): 2,
    ("adafactor", "nu_dtype"): 1,  # the vector's full moment; the matrix's is factored (float32 rows, columns)
    ("muon", "mu_dtype"): 2,  # Muon's momentum of the matrix, the AdamW group's first moment of the vector
    ("muon", "nu_dtype"): 1,  # the AdamW group's second moment of the vector
    ("schedule_free_adamw", "nu_dtype"): 2,
}
SIGNED = {"mu_dtype": True, "nu_dtype": False}


def params() -> dict:
    rng = np.random.default_rng(0)
    # 1536 + 64 elements: 24 blocks and 1 block of 64.
    return {"w": jnp.asarray(rng.normal(size=(24, 64)), jnp.float32),
            "b": jnp.asarray(rng.normal(size=(64,)), jnp.float32)}


def _constants(p):
    """Per-element curvature (log-spaced over [0.2, 5]) and noise phase, fixed by position."""
    n = p.size
    curvature = jnp.reshape(jnp.logspace(np.log10(0.2), np.log10(5.0), n, dtype=jnp.float32), p.shape)
    phase = jnp.reshape(jnp.arange(n, dtype=jnp.float32) * 0.37, p.shape)
    return curvature, phase


def grads(p: dict, t) -> dict:
    """Gradient of ``0.5 * sum(c * (p - 0.3)**2)`` plus a deterministic oscillating noise."""
    def one(x):
        c, phase = _constants(x)
        return c * (x - 0.3) + 0.1 * jnp.cos(0.7 * t + phase)

    return jax.tree.map(one, p)


def run(transforms: dict, p0: dict, steps: int = STEPS, grad_fn=grads) -> dict:
    """``steps`` updates of each transform from ``p0``, all in one compiled program (one XLA
    compilation per test, not one per transform); returns name -> (params, eval_params, state)."""
    states = {name: tx.init(p0) for name, tx in transforms.items()}

    def trajectories(states):
        def body(carry, t):
            new = {}
            for name, tx in transforms.items():
                p, s = carry[name]
                u, s = tx.update(grad_fn(p, t), s, p)
                new[name] = (mx.apply_updates(p, u), s)
            return new, None

        start = {name: (p0, s) for name, s in states.items()}
        final, _ = jax.lax.scan(body, start, jnp.arange(steps, dtype=jnp.float32))
        return {name: (p, mx.eval_params(s, p), s) for name, (p, s) in final.items()}

    return jax.jit(trajectories).lower(states).compile(FAST_COMPILE)(states)


def relative_deviation(x, reference, start) -> float:
    flat = lambda t: np.concatenate([np.ravel(np.asarray(v, np.float64)) for v in jax.tree.leaves(t)])  # noqa: E731
    return float(np.linalg.norm(flat(x) - flat(reference)) / np.linalg.norm(flat(reference) - flat(start)))


def stored_leaves(state, kind: str) -> list:
    """The state's leaves stored as ``kind`` (a bfloat16 array, a RoundedArray, a QuantizedArray)."""
    leaves = jax.tree.leaves(state, is_leaf=is_stored)
    if kind == "bfloat16":
        return [x for x in leaves if not isinstance(x, Stored) and getattr(x, "dtype", None) == jnp.bfloat16]
    wanted = {"stochastic_rounding": RoundedArray, "blockwise_8bit": QuantizedArray}[kind]
    return [x for x in leaves if isinstance(x, wanted)]


def stored_bytes(leaf, kind: str) -> int:
    n = int(np.prod(leaf.shape))
    return {"bfloat16": 2 * n, "stochastic_rounding": 2 * n + 8, "blockwise_8bit": n + 4 * -(-n // BLOCK)}[kind]


def tree_for(case: Case) -> dict:
    """The matrix alone, or with the vector where a rule treats vectors otherwise (Muon's AdamW
    group, Adafactor's unfactored moment): half the program to compile for the others."""
    p = params()
    return p if case.name in ("muon", "adafactor") else {"w": p["w"]}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_stored_moments_follow_the_float32_run(case: Case):
    p0 = tree_for(case)
    transforms = {"float32": case.build()}
    transforms.update({kind: case.build(**{option: spec for option in options_of(case)})
                       for kind, spec in KINDS.items()})
    out = run(transforms, p0)
    p_ref, x_ref, _ = out["float32"]
    for kind in KINDS:
        p, x, state = out[kind]
        # Still stored so after 20 steps: as many stored buffers as init made (none for plain SGD).
        made = len(stored_leaves(transforms[kind].init(p0), kind))
        assert len(stored_leaves(state, kind)) == made, kind
        assert (made > 0) == any(BUFFERS[(case.name, option)] for option in options_of(case)), kind
        for got, reference, averaged in ((p, p_ref, False), (x, x_ref, case.name == "asgd")):
            assert all(bool(jnp.all(jnp.isfinite(v))) for v in jax.tree.leaves(got)), kind
            tolerance = AVERAGE_8BIT if averaged and kind == "blockwise_8bit" else TOLERANCE[kind]
            deviation = relative_deviation(got, reference, p0)
            assert deviation < tolerance, (kind, deviation)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("case, option", [(c, o) for c in CASES for o in options_of(c)],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_option_reaches_the_state(case: Case, option: str, kind: str):
    p0 = params()
    reference = case.build().init(p0)
    state = case.build(**{option: KINDS[kind]}).init(p0)
    stored = stored_leaves(state, kind)
    assert len(stored) == BUFFERS[(case.name, option)]
    assert not stored_leaves(reference, kind)
    assert {tuple(x.shape) for x in stored} <= {(24, 64), (64,)}
    for x in stored:
        if kind == "stochastic_rounding":
            assert x.value.dtype == jnp.bfloat16 and x.key.dtype == jnp.uint32 and x.key.shape == (2,)
        if kind == "blockwise_8bit":
            assert x.codes.dtype == jnp.uint8 and x.codes.shape == x.shape
            assert x.scales.dtype == jnp.float32 and x.scales.shape == (-(-int(np.prod(x.shape)) // BLOCK),)
            assert x.signed is SIGNED[option]
    saved = sum(4 * int(np.prod(x.shape)) - stored_bytes(x, kind) for x in stored)
    assert state_nbytes(state) == state_nbytes(reference) - saved


@pytest.mark.parametrize("bad", ["float33", jnp.int8, 3, mx.blockwise_8bit])
@pytest.mark.parametrize("case, option", [(c, o) for c in CASES for o in options_of(c)],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_a_bad_storage_raises_naming_the_option(case: Case, option: str, bad):
    with pytest.raises(TypeError, match=option):
        case.build(**{option: bad})


def test_nonzero_initial_accumulators_are_stored():
    """Adagrad's and RMSProp's starts and Yogi's go through the storage, not as stored zeros."""
    p0 = params()
    for tx, field, value in ((mx.scale_by_rss(0.1, nu_dtype=Q8), "sum_of_squares", 0.1),
                             (mx.scale_by_rms(initial_scale=0.25, nu_dtype=Q8), "nu", 0.25),
                             (mx.scale_by_yogi(initial_accumulator_value=0.5, mu_dtype=Q8), "mu", 0.5),
                             (mx.scale_by_rss(0.1, nu_dtype=mx.stochastic_rounding()), "sum_of_squares", 0.1)):
        for leaf in jax.tree.leaves(getattr(tx.init(p0), field), is_leaf=is_stored):
            # 8-bit blocks hold a constant exactly; bfloat16 holds one of its two neighbours (spacing 2**-7 relative at most).
            np.testing.assert_allclose(np.asarray(leaf.load()), value, rtol=2 ** -7)


def _compare(make, p0, kind_spec, tolerance, steps=STEPS, grad_fn=grads):
    out = run({"float32": make(None), "stored": make(kind_spec)}, p0, steps, grad_fn)
    (p_ref, x_ref, _), (p, x, state) = out["float32"], out["stored"]
    assert relative_deviation(p, p_ref, p0) < tolerance
    assert relative_deviation(x, x_ref, p0) < tolerance
    return state


def test_masked_8bit_adam():
    mask = {"w": True, "b": False}
    state = _compare(lambda s: mx.masked(mx.adam(0.01, mu_dtype=s, nu_dtype=s), mask), params(), Q8, 0.1)
    assert isinstance(state[0].mu["w"], QuantizedArray) and state[0].mu["b"] is None


def test_adamw_decay_mask_with_8bit_moments():
    mask = {"w": True, "b": False}
    state = _compare(lambda s: mx.adamw(0.01, weight_decay=0.1, mask=mask, mu_dtype=s, nu_dtype=s), params(), Q8, 0.1)
    assert all(isinstance(x, QuantizedArray) for x in (state[0].mu["w"], state[0].nu["b"]))


def test_parameter_groups_with_different_storages():
    sr = mx.stochastic_rounding(seed=2)

    def make(spec):
        a, b = (None, None) if spec is None else spec
        return mx.partition({"a": mx.adam(0.01, mu_dtype=a, nu_dtype=a), "b": mx.sgd(0.01, momentum=0.9, mu_dtype=b)},
                            {"w": "a", "b": "b"})

    state = _compare(make, params(), (Q8, sr), 0.1)
    assert isinstance(state["a"][0].mu["w"], QuantizedArray) and state["a"][0].mu["b"] is None
    assert isinstance(state["b"][0].trace["b"], RoundedArray) and state["b"][0].trace["w"] is None


def _with_a_nan_at_step_5(p, t):
    g = grads(p, t)
    return {**g, "b": jnp.where(t == 5, jnp.nan, 1.0) * g["b"]}


@pytest.mark.parametrize("wrapper", ["apply_if_finite", "accumulate_gradients", "lookahead"])
def test_wrappers_around_8bit_adam(wrapper):
    options = {"apply_if_finite": {"max_consecutive_errors": 3}, "accumulate_gradients": {"k": 2},
               "lookahead": {"sync_period": 3, "alpha": 0.5}}[wrapper]
    grad_fn = _with_a_nan_at_step_5 if wrapper == "apply_if_finite" else grads

    def make(spec):
        return getattr(mx, wrapper)(mx.adam(0.02, mu_dtype=spec, nu_dtype=spec), **options)

    state = _compare(make, params(), Q8, 0.1, grad_fn=grad_fn)
    assert isinstance(state.inner_state[0].mu["w"], QuantizedArray)
    if wrapper == "apply_if_finite":
        assert int(state.total_notfinite) == 1
        assert int(state.inner_state[0].count) == STEPS - 1  # the NaN step did not reach Adam
    if wrapper == "accumulate_gradients":
        assert int(state.gradient_step) == STEPS // 2
