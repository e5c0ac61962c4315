"""Training-loop wrappers: skip-non-finite, loss-spike skipping, accumulation, lookahead, weight EMA.

Each is checked against optax's counterpart where one exists (float32: 1e-6; float64 under
``x64``: 1e-12) and against a hand-written loop of its documented rule (float64: 1e-12).
Every loop runs a jitted step compiled once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import momentax as mx

F32 = dict(rtol=1e-6, atol=1e-6)
F64 = dict(rtol=1e-12, atol=1e-12)


def _params(dtype=jnp.float32, seed=0):
    rng = np.random.default_rng(seed)
    return {"w": jnp.asarray(rng.normal(size=(3, 2)), dtype), "b": jnp.asarray(rng.normal(size=(2,)), dtype),
            "frozen": None}


def _grads(n, dtype=jnp.float32, seed=1):
    rng = np.random.default_rng(seed)
    return [{"w": jnp.asarray(rng.normal(size=(3, 2)), dtype), "b": jnp.asarray(rng.normal(size=(2,)), dtype),
             "frozen": None} for _ in range(n)]


def _bits(tree):
    """Every leaf's raw bytes: equal bits, not merely equal values."""
    return [np.asarray(x).tobytes() for x in jax.tree.leaves(tree)]


def _close(a, b, tol):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), **tol)


def _nan_like(g):
    return jax.tree.map(lambda x: x.at[(0,) * x.ndim].set(jnp.nan), g)


# ---------------------------------------------------------------- apply_if_finite


def test_apply_if_finite_skips_bit_for_bit_and_matches_optax():
    opt = mx.apply_if_finite(mx.adam(0.1), max_consecutive_errors=2)
    ref = optax.apply_if_finite(optax.adam(0.1), max_consecutive_errors=2)
    step, ref_step = jax.jit(opt.update), jax.jit(ref.update)
    p = q = _params()
    state, ref_state = opt.init(p), ref.init(q)
    gs = _grads(9)
    inf = jax.tree.map(lambda x: x.at[0].set(jnp.inf), gs[5])
    # finite, finite, NaN, NaN (skipped), NaN, NaN (3rd and 4th in a row: applied), finite...
    seq = [gs[0], gs[1], _nan_like(gs[2]), inf, _nan_like(gs[4]), _nan_like(gs[5]), gs[6], gs[7]]
    expect = [(0, True, 0), (0, True, 0), (1, False, 1), (2, False, 2), (3, False, 3), (4, False, 4),
              (0, True, 4), (0, True, 4)]
    for i, (g, (count, last, total)) in enumerate(zip(seq, expect)):
        before = _bits(state.inner_state)
        u, state = step(g, state, p)
        ru, ref_state = ref_step(g, ref_state, q)
        assert (int(state.notfinite_count), bool(state.last_finite), int(state.total_notfinite)) == (count, last, total)
        assert state.notfinite_count.dtype == jnp.int32 and state.total_notfinite.dtype == jnp.int32
        for x, y in zip(jax.tree.leaves(u), jax.tree.leaves(ru)):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), **F32)  # NaN == NaN here
        if i in (2, 3):  # skipped: zero updates, inner state untouched, params unchanged
            assert _bits(state.inner_state) == before
            new_p = mx.apply_updates(p, u)
            assert _bits(new_p) == _bits(p)
            assert all(np.all(np.asarray(x) == 0) for x in jax.tree.leaves(u))
        p, q = mx.apply_updates(p, u), optax.apply_updates(q, ru)
    assert np.isnan(np.asarray(p["w"])).any()  # it gave up after 2 skips, as documented


def test_apply_if_finite_protects_params_below_the_limit():
    opt = mx.apply_if_finite(mx.sgd(0.1, momentum=0.9), max_consecutive_errors=3)
    step = jax.jit(opt.update)
    p = _params()
    state = opt.init(p)
    gs = _grads(4)
    for i, g in enumerate(gs):
        u, state = step(_nan_like(g) if i % 2 else g, state, p)
        p = mx.apply_updates(p, u)
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(p))
    # Only the finite gradients 0 and 2 reached SGD with momentum.
    ref = mx.sgd(0.1, momentum=0.9)
    q, rs = _params(), ref.init(_params())
    for g in (gs[0], gs[2]):
        u, rs = ref.update(g, rs, q)
        q = mx.apply_updates(q, u)
    _close(p, q, F32)


# ------------------------------------------------------------- skip_on_loss_spike


def _spike_reference(losses, threshold, decay, warmup, max_skips):
    """The documented rule, in float64 Python."""
    count, mean, var, skips, total, out = 0, 0.0, 0.0, 0, 0, []
    for x in losses:
        finite = np.isfinite(x)
        spike = (not finite) or (count >= warmup and x > mean + threshold * np.sqrt(var))
        skips = skips + 1 if spike else 0
        apply = (not spike) or skips > max_skips
        if apply and finite:
            if count == 0:
                mean, var = x, 0.0
            else:
                d = x - mean
                mean, var = mean + (1 - decay) * d, decay * (var + (1 - decay) * d * d)
            count += 1
        if apply:
            skips = 0
        else:
            total += 1
        out.append((apply, count, mean, var, total))
    return out


def test_skip_on_loss_spike_follows_the_documented_rule(x64):
    rng = np.random.default_rng(0)
    losses = list(2.0 + 0.1 * rng.normal(size=12))
    losses[6] = 9.0  # spike after warm-up
    losses[8] = float("nan")
    losses[1] = 2.5  # during warm-up: above the band, yet applied and folded in
    losses += [50.0, 51.0, 52.0, 2.0]  # three in a row: the 3rd exceeds max_consecutive_skips=2
    opt = mx.skip_on_loss_spike(mx.adam(0.05), threshold=3.0, decay=0.8, warmup=4, max_consecutive_skips=2)
    step = jax.jit(opt.update)
    p = _params(jnp.float64)
    state = opt.init(p)
    gs = _grads(len(losses), jnp.float64)
    ref = _spike_reference(losses, 3.0, 0.8, 4, 2)
    assert [r[0] for r in ref].count(False) == 4  # the case exercises skipping
    for g, loss, (apply, count, mean, var, total) in zip(gs, losses, ref):
        before = _bits(state.inner_state)
        u, state = step(g, state, p, loss=jnp.asarray(loss))
        assert bool(state.last_skipped) == (not apply)
        assert int(state.count) == count and int(state.total_skips) == total
        np.testing.assert_allclose(float(state.mean), mean, **F64)
        np.testing.assert_allclose(float(state.var), var, **F64)
        if not apply:
            assert _bits(state.inner_state) == before
            assert all(np.all(np.asarray(x) == 0) for x in jax.tree.leaves(u))
        else:
            assert _bits(state.inner_state) != before
        p = mx.apply_updates(p, u)


def test_skip_on_loss_spike_needs_a_scalar_loss():
    opt = mx.skip_on_loss_spike(mx.sgd(0.1))
    state = opt.init(jnp.zeros(2))
    with pytest.raises(ValueError, match="loss"):
        opt.update(jnp.ones(2), state)
    with pytest.raises(ValueError, match="loss must be a scalar"):
        opt.update(jnp.ones(2), state, loss=jnp.ones(3))
    with pytest.raises(ValueError, match="warmup"):
        mx.skip_on_loss_spike(mx.sgd(0.1), warmup=0)
    with pytest.raises(ValueError, match="decay"):
        mx.skip_on_loss_spike(mx.sgd(0.1), decay=1.0)


# ----------------------------------------------------------- accumulate_gradients


def test_accumulation_equals_inner_steps_on_the_mean(x64):
    k, cycles = 3, 3
    opt = mx.accumulate_gradients(mx.adamw(0.05, weight_decay=0.1), k, acc_dtype=jnp.float64)
    ref = mx.adamw(0.05, weight_decay=0.1)
    step, ref_step = jax.jit(opt.update), jax.jit(ref.update)
    p = q = _params(jnp.float64)
    state, ref_state = opt.init(p), ref.init(q)
    gs = _grads(k * cycles, jnp.float64)
    for c in range(cycles):
        for i in range(k):
            before = _bits(state.inner_state)
            u, state = step(gs[c * k + i], state, p)
            if i < k - 1:
                assert _bits(state.inner_state) == before
                assert all(np.all(np.asarray(x) == 0) for x in jax.tree.leaves(u))
                assert int(state.mini_step) == i + 1
            p = mx.apply_updates(p, u)
        mean = jax.tree.map(lambda *xs: sum(xs) / k, *gs[c * k:(c + 1) * k])
        ru, ref_state = ref_step(mean, ref_state, q)
        q = mx.apply_updates(q, ru)
        _close(u, ru, F64)
        _close(state.inner_state, ref_state, F64)
        assert int(state.mini_step) == 0 and int(state.gradient_step) == c + 1
    _close(p, q, F64)


@pytest.mark.parametrize("dtype,tol", [(jnp.float32, F32), (jnp.float64, F64)])
def test_accumulation_matches_optax_multisteps(dtype, tol):
    with jax.enable_x64(dtype == jnp.float64):
        opt = mx.accumulate_gradients(mx.adam(0.05), 4, acc_dtype=dtype)
        ref = optax.MultiSteps(optax.adam(0.05), 4, accumulator_dtype=dtype)
        step, ref_step = jax.jit(opt.update), jax.jit(ref.update)
        p = q = _params(dtype)
        state, ref_state = opt.init(p), ref.init(q)
        for g in _grads(10, dtype):
            u, state = step(g, state, p)
            ru, ref_state = ref_step(g, ref_state, q)
            _close(u, ru, tol)
            p, q = mx.apply_updates(p, u), optax.apply_updates(q, ru)
        _close(p, q, tol)
        assert int(state.gradient_step) == int(ref_state.gradient_step) == 2


def test_k_changes_without_recompiling():
    traces = []
    opt = mx.accumulate_gradients(mx.sgd(1.0), 2)

    @jax.jit
    def step(g, state, k):
        traces.append(1)
        return opt.update(g, mx.set_hyperparams(state, k=k))

    state = opt.init(jnp.zeros(1))
    got = []
    for g, k in zip([1.0, 3.0, 1.0, 2.0, 6.0, 5.0], [2, 2, 3, 3, 3, 1]):
        u, state = step(jnp.array([g]), state, k)
        got.append(float(u[0]))
    assert len(traces) == 1
    assert got == [0.0, -2.0, 0.0, 0.0, -3.0, -5.0]


def test_accumulator_is_the_only_extra_buffer_and_dtype():
    p = {"w": jnp.zeros((4, 3), jnp.bfloat16), "b": jnp.zeros(3, jnp.bfloat16)}
    inner = mx.adam(1e-3)
    state = mx.accumulate_gradients(inner, 4).init(p)
    _close(state.inner_state, inner.init(p), F32)
    own = jax.tree.leaves(state._replace(inner_state=None))
    # mini_step, gradient_step, k and one accumulator leaf per parameter: nothing else.
    assert sum(x.size for x in own) == sum(x.size for x in jax.tree.leaves(p)) + 3
    assert [x.dtype for x in jax.tree.leaves(state.acc)] == [jnp.float32, jnp.float32]


def test_accumulation_memory_against_optax_multisteps():
    n = 4 * 1024 * 1024  # 16 MiB of float32 in one leaf
    buffer = 4 * n
    p = {"w": jax.ShapeDtypeStruct((n,), jnp.float32)}

    def analyse(opt, donate):
        state = jax.eval_shape(opt.init, p)

        def step(g, s, params):
            u, s = opt.update(g, s, params)
            return mx.apply_updates(params, u), s

        jitted = jax.jit(step, donate_argnums=(1, 2) if donate else ())
        return jitted.lower(p, state, p).compile().memory_analysis()

    ours = analyse(mx.accumulate_gradients(mx.adam(1e-3), 4), False)
    theirs = analyse(optax.MultiSteps(optax.adam(1e-3), 4), False)
    ours_d = analyse(mx.accumulate_gradients(mx.adam(1e-3), 4), True)
    theirs_d = analyse(optax.MultiSteps(optax.adam(1e-3), 4), True)
    print(f"\ntemp bytes, 4M-float leaf, Adam inside: momentax {ours.temp_size_in_bytes}, optax.MultiSteps "
          f"{theirs.temp_size_in_bytes}; with state+params donated: momentax {ours_d.temp_size_in_bytes} "
          f"({ours_d.temp_size_in_bytes / buffer:.2f} buffers), optax {theirs_d.temp_size_in_bytes} "
          f"({theirs_d.temp_size_in_bytes / buffer:.2f} buffers); peak: momentax {ours.peak_memory_in_bytes}, "
          f"optax {theirs.peak_memory_in_bytes}")
    assert ours.temp_size_in_bytes < buffer // 100
    assert ours.peak_memory_in_bytes <= theirs.peak_memory_in_bytes + 4096  # a few scalars apart at most
    assert ours_d.temp_size_in_bytes < theirs_d.temp_size_in_bytes
    assert ours_d.peak_memory_in_bytes <= theirs_d.peak_memory_in_bytes + 4096


def test_accumulate_rejects_bad_k():
    for k in (0, 2.5):
        with pytest.raises(ValueError, match="k must be a whole number"):
            mx.accumulate_gradients(mx.sgd(0.1), k)


# --------------------------------------------------------------------- lookahead


def test_lookahead_matches_hand_written_loop(x64):
    sync, alpha, lr, b1 = 3, 0.4, 0.1, 0.9
    opt = mx.lookahead(mx.sgd(lr, momentum=b1), sync_period=sync, alpha=alpha)
    step = jax.jit(opt.update)
    p = _params(jnp.float64)
    state = opt.init(p)
    assert _bits(mx.eval_params(state, p)) == _bits(p)
    fast = {k: np.asarray(v) for k, v in p.items() if v is not None}
    slow = {k: v.copy() for k, v in fast.items()}
    buf = {k: np.zeros_like(v) for k, v in fast.items()}
    for t, g in enumerate(_grads(8, jnp.float64), start=1):
        for k in fast:  # torch-style heavy ball, then lookahead's sync every `sync` steps
            buf[k] = b1 * buf[k] + np.asarray(g[k]) if t > 1 else np.asarray(g[k])
            fast[k] = fast[k] - lr * buf[k]
            if t % sync == 0:
                slow[k] = slow[k] + alpha * (fast[k] - slow[k])
                fast[k] = slow[k].copy()
        u, state = step(g, state, p)
        p = mx.apply_updates(p, u)
        for k in fast:
            np.testing.assert_allclose(np.asarray(p[k]), fast[k], **F64)
            np.testing.assert_allclose(np.asarray(mx.eval_params(state, p)[k]), slow[k], **F64)
        assert mx.eval_params(state, p)["frozen"] is None
        assert int(state.steps_since_sync) == t % sync


def test_lookahead_matches_optax_lookahead():
    opt = mx.lookahead(mx.adam(0.05), sync_period=4, alpha=0.5)
    ref = optax.lookahead(optax.adam(0.05), sync_period=4, slow_step_size=0.5)
    step, ref_step = jax.jit(opt.update), jax.jit(ref.update)
    p = _params()
    q = optax.LookaheadParams.init_synced(p)
    state, ref_state = opt.init(p), ref.init(q)
    for g in _grads(10):
        u, state = step(g, state, p)
        ru, ref_state = ref_step(g, ref_state, q)
        p, q = mx.apply_updates(p, u), optax.apply_updates(q, ru)
        _close(p, q.fast, F32)
        _close(mx.eval_params(state, p), q.slow, F32)


def test_lookahead_needs_params():
    opt = mx.lookahead(mx.sgd(0.1))
    with pytest.raises(ValueError, match="needs the current parameters"):
        opt.update(jnp.ones(2), opt.init(jnp.zeros(2)))
    with pytest.raises(ValueError, match="alpha"):
        mx.lookahead(mx.sgd(0.1), alpha=1.5)


# --------------------------------------------------------------------- weight_ema


@pytest.mark.parametrize("debias", [True, False])
def test_weight_ema_matches_hand_computation(x64, debias):
    decay, lr = 0.7, 0.1
    opt = mx.weight_ema(mx.sgd(lr), decay=decay, debias=debias)
    step = jax.jit(opt.update)
    p = _params(jnp.float64)
    state = opt.init(p)
    assert _bits(mx.eval_params(state, p)) == _bits(p)
    history = [{k: np.asarray(v) for k, v in p.items() if v is not None}]
    for t, g in enumerate(_grads(6, jnp.float64), start=1):
        u, state = step(g, state, p)
        p = mx.apply_updates(p, u)
        history.append({k: np.asarray(v) for k, v in p.items() if v is not None})
        for k in history[0]:
            if debias:  # normalised weights (1 - decay) decay**(t-i) / (1 - decay**t), i = 1..t
                w = [(1 - decay) * decay ** (t - i) for i in range(1, t + 1)]
                want = sum(wi * history[i][k] for i, wi in zip(range(1, t + 1), w)) / (1 - decay ** t)
            else:  # plain EMA started at the initial parameters
                want = decay ** t * history[0][k] + sum(
                    (1 - decay) * decay ** (t - i) * history[i][k] for i in range(1, t + 1))
            np.testing.assert_allclose(np.asarray(mx.eval_params(state, p)[k]), want, **F64)
        np.testing.assert_allclose(np.asarray(u["w"]), -lr * np.asarray(g["w"]), **F64)  # updates pass through


def test_weight_ema_storage_and_errors():
    p = {"w": jnp.ones(3, jnp.bfloat16)}
    opt = mx.weight_ema(mx.sgd(0.1), decay=0.999)
    state = opt.init(p)
    assert state.ema["w"].dtype == jnp.float32
    u, state = opt.update({"w": jnp.ones(3, jnp.bfloat16)}, state, p)
    assert mx.eval_params(state, p)["w"].dtype == jnp.bfloat16
    with pytest.raises(ValueError, match="needs the current parameters"):
        opt.update({"w": jnp.ones(3, jnp.bfloat16)}, state)
    with pytest.raises(mx.TreeMismatchError, match="'v'"):
        mx.eval_params(state, {"v": jnp.ones(3)})


# --------------------------------------------------------------- shared behaviour


def _needs_scale_by():
    """An inner transform that needs a keyword argument ``scale_by`` (and ignores others)."""

    def update(updates, state, params=None, *, scale_by, **extra):
        return jax.tree.map(lambda u: -scale_by * u, updates), state

    return mx.GradientTransformation(lambda params: mx.EmptyState(), update)


WRAPPERS = {
    "apply_if_finite": lambda inner: mx.apply_if_finite(inner, 2),
    "skip_on_loss_spike": lambda inner: mx.skip_on_loss_spike(inner, warmup=2),
    "accumulate_gradients": lambda inner: mx.accumulate_gradients(inner, 1),
    "lookahead": lambda inner: mx.lookahead(inner, sync_period=2),
    "weight_ema": lambda inner: mx.weight_ema(inner, 0.9),
}


@pytest.mark.parametrize("name", list(WRAPPERS))
def test_wrapper_contract(name):
    """jit equals eager; state is arrays and survives lax.cond; extra kwargs reach the inner."""
    opt = WRAPPERS[name](_needs_scale_by())
    p = {"a": jnp.array([1.0, 2.0]), "n": None}
    g = {"a": jnp.array([0.5, -1.0]), "n": None}
    state = opt.init(p)
    assert all(isinstance(x, jax.Array) for x in jax.tree.leaves(state))
    kwargs = dict(scale_by=jnp.asarray(3.0), loss=jnp.asarray(1.0), unknown_option="ignored")
    eager = opt.update(g, state, p, **kwargs)
    jitted = jax.jit(lambda g, s, p: opt.update(g, s, p, **kwargs))(g, state, p)
    _close(eager, jitted, F32)
    np.testing.assert_allclose(np.asarray(jitted[0]["a"]), [-1.5, 3.0], rtol=1e-6)  # scale_by reached the inner
    assert jitted[0]["n"] is None

    @jax.jit
    def maybe(pred, s):
        return jax.lax.cond(pred, lambda s: opt.update(g, s, p, **kwargs)[1], lambda s: s, s)

    _close(maybe(True, state), jitted[1], F32)
    assert _bits(maybe(False, state)) == _bits(state)
    with pytest.raises(TypeError, match="expected the state made by this wrapper's init"):
        opt.update(g, mx.adam(0.1).init(p), p, **kwargs)


def test_optax_inner_and_hyperparams_reachable():
    opt = mx.apply_if_finite(mx.weight_ema(optax.sgd(0.1), decay=0.9), 3)
    p = {"w": jnp.ones(2)}
    state = opt.init(p)
    assert sorted(mx.hyperparams(state)) == ["decay", "max_consecutive_errors"]
    u, state = jax.jit(opt.update)({"w": jnp.ones(2)}, state, p)
    np.testing.assert_allclose(np.asarray(u["w"]), [-0.1, -0.1], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(mx.eval_params(state, mx.apply_updates(p, u))["w"]), [0.9, 0.9], rtol=1e-6)
    assert "apply_if_finite[max_consecutive_errors=3]" in repr(opt)
