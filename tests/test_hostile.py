"""Hostile inputs: non-finite, huge and tiny gradients, odd dtypes, empty and scalar leaves.

What each test pins, in one line:

- NaN gradients without protection: NaN reaches the parameters and the moments, in the
  elements it touched (elementwise optimizers) and for good; an infinite gradient behind
  ``clip_by_global_norm`` zeroes every other element's step.
- ``apply_if_finite``: parameters and state stay bit for bit as they were.
- integer, boolean and complex leaves: a TypeError naming the tree path and the dtype.
  Complex parameters are optimised like torch by viewing them as (real, imag) pairs.
- zero-size leaves change nothing (not even the global norm); scalar leaves match torch.
- gradients in another dtype than the parameters: parameters and state keep their dtypes;
  updates come out in the gradient's dtype.
- hyperparameters out of range: ValueError naming the argument and its range.
- huge gradients: Adam's second moment is computed in float32 also for bfloat16, so bfloat16
  gradients up to ~1e19 are fine; float32 matches torch (root before the bias correction), and beyond
  ~5.8e20 (where ``(1 - b2) * g**2`` overflows) both freeze the element, as torch;
  float16 moments overflow from |g| ~8e3 unless ``nu_dtype=jnp.float32``.
- core bugs found here were pinned as strict xfails, and fixed; the tests now pass as written.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import momentax as mx

F32_SQRT_MAX = float(np.sqrt(np.finfo(np.float32).max))  # 1.84e19: g * g overflows above it


def step(opt, params, state, grads):
    updates, state = opt.update(grads, state, params)
    return mx.apply_updates(params, updates), state, updates


def finite(x) -> np.ndarray:
    return np.isfinite(np.asarray(x, np.float64))


# ---- non-finite gradients ----


def test_nan_gradient_without_protection_poisons_params_and_moments():
    opt = mx.adam(0.1)
    params = {"w": jnp.ones(3), "b": jnp.ones(2)}
    params, state, _ = step(opt, params, opt.init(params),
                            {"w": jnp.array([1.0, jnp.nan, 1.0]), "b": jnp.ones(2)})
    # Adam is elementwise: the NaN stays in the element it came in.
    assert finite(params["w"]).tolist() == [True, False, True]
    assert finite(state[0].mu["w"]).tolist() == [True, False, True]
    assert finite(state[0].nu["w"]).tolist() == [True, False, True]
    assert finite(params["b"]).all() and int(state[0].count) == 1
    # ... and stays there: the moments carry it into every later step.
    params, state, _ = step(opt, params, state, {"w": jnp.ones(3), "b": jnp.ones(2)})
    assert finite(params["w"]).tolist() == [True, False, True]



def test_infinite_gradient_through_global_norm_clipping_zeroes_the_step():
    clipped = mx.chain(mx.clip_by_global_norm(1.0), mx.adam(0.1))
    params = {"w": jnp.ones(3), "b": jnp.ones(2)}
    out, _, updates = step(clipped, params, clipped.init(params),
                           {"w": jnp.array([1.0, jnp.inf, 1.0]), "b": jnp.ones(2)})
    # An infinite norm makes the factor 0: inf * 0 = NaN where the inf was, and every other
    # element gets a zero gradient (a step silently lost), as torch's clip_grad_norm_.
    assert finite(out["w"]).tolist() == [True, False, True]
    np.testing.assert_array_equal(np.asarray(updates["b"]), [0.0, 0.0])


def test_nan_gradient_through_global_norm_clipping_reaches_every_leaf_like_torch():
    clipped = mx.chain(mx.clip_by_global_norm(1.0), mx.adam(0.1))
    params = {"w": jnp.ones(3), "b": jnp.ones(2)}
    out, _, _ = step(clipped, params, clipped.init(params), {"w": jnp.array([1.0, jnp.nan, 1.0]), "b": jnp.ones(2)})
    assert not finite(out["b"]).any()


@pytest.mark.parametrize("bad", [jnp.nan, jnp.inf, -jnp.inf])
def test_apply_if_finite_never_corrupts_params_or_state(bad):
    opt = mx.apply_if_finite(mx.chain(mx.clip_by_global_norm(1.0), mx.adamw(0.1)), max_consecutive_errors=3)
    params = {"w": jnp.array([1.0, -2.0, 3.0]), "b": jnp.array(0.5)}
    good = {"w": jnp.array([0.1, 0.2, -0.3]), "b": jnp.array(1.0)}
    params, state, _ = step(opt, params, opt.init(params), good)
    before_params, before_state = params, state
    for _ in range(3):  # up to max_consecutive_errors bad steps in a row are skipped
        params, state, updates = step(opt, params, state, {"w": jnp.array([0.1, bad, -0.3]), "b": jnp.array(1.0)})
        assert not any(np.any(np.asarray(u)) for u in jax.tree.leaves(updates))  # all zero
    for a, b in zip(jax.tree.leaves((params, state.inner_state)), jax.tree.leaves((before_params, before_state.inner_state))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), strict=True)
    assert int(state.notfinite_count) == 3 and int(state.total_notfinite) == 3 and not bool(state.last_finite)
    # Training resumes as if the bad steps had not happened.
    params, state, _ = step(opt, params, state, good)
    expected, _, _ = step(opt, before_params, before_state, good)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(state.notfinite_count) == 0 and int(state.total_notfinite) == 3


# ---- dtypes the optimizers do not take ----


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_, jnp.complex64])
def test_non_float_parameters_raise_naming_the_path(dtype):
    params = {"dense": {"w": jnp.ones(2), "n": jnp.ones(2, dtype)}}
    name = jnp.dtype(dtype).name
    with pytest.raises(TypeError, match=rf"scale_by_adam: params at \['dense'\]\['n'\] has dtype {name}"):
        mx.adam(0.1).init(params)
    with pytest.raises(TypeError, match=rf"apply_updates: params at \['dense'\]\['n'\] has dtype {name}"):
        mx.apply_updates(params, params)
    floats = {"dense": {"w": jnp.ones(2), "n": jnp.ones(2)}}
    opt = mx.sgd(0.1, momentum=0.9)
    with pytest.raises(TypeError, match=rf"updates at \['dense'\]\['n'\] has dtype {name}"):
        opt.update(params, opt.init(floats), floats)


def test_complex_parameters_as_real_pairs_match_torch_complex_adam():
    """torch's Adam views a complex tensor as (real, imag) pairs; momentax does the same on
    the pairs, given them explicitly (complex leaves themselves raise, see above)."""
    p0 = np.array([1 + 2j, -0.5 + 0.1j], np.complex64)
    grads = [np.array([0.3 - 1j, 2 + 0.5j], np.complex64), np.array([1 + 1j, -1 + 0j], np.complex64),
             np.array([-0.2 + 0.4j, 0.0 + 3j], np.complex64)]
    tp = torch.tensor(p0, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.1)
    opt = mx.adam(0.1)
    pairs = jnp.stack([p0.real, p0.imag], axis=-1)
    state = opt.init(pairs)
    for g in grads:
        tp.grad = torch.tensor(g)
        topt.step()
        pairs, state, _ = step(opt, pairs, state, jnp.stack([g.real, g.imag], axis=-1))
    np.testing.assert_allclose(np.asarray(pairs), torch.view_as_real(tp.detach()).numpy(), rtol=1e-6, atol=1e-7)


# ---- empty and scalar leaves ----


@pytest.mark.parametrize("make", [lambda: mx.sgd(0.1, momentum=0.9), lambda: mx.adam(0.1),
                                  lambda: mx.chain(mx.clip_by_global_norm(0.5), mx.adamw(0.1))],
                         ids=["sgd_momentum", "adam", "clip_adamw"])
def test_zero_size_leaves_change_nothing(make):
    opt = make()
    base = {"w": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "s": jnp.array(0.7)}
    empty = {**base, "e1": jnp.zeros((0,)), "e2": jnp.zeros((3, 0), jnp.bfloat16)}
    g_base = {"w": jnp.array([[0.4, 0.1], [-1.0, 2.0]]), "s": jnp.array(-0.3)}
    g_empty = {**g_base, "e1": jnp.zeros((0,)), "e2": jnp.zeros((3, 0), jnp.bfloat16)}
    p1, s1, p2, s2 = base, opt.init(base), empty, opt.init(empty)
    for _ in range(3):
        p1, s1, _ = step(opt, p1, s1, g_base)
        p2, s2, _ = step(opt, p2, s2, g_empty)
    assert p2["e1"].shape == (0,) and p2["e2"].shape == (3, 0) and p2["e2"].dtype == jnp.bfloat16
    for k in base:  # same values bit for bit: an empty leaf adds nothing, not even to a global norm
        np.testing.assert_array_equal(np.asarray(p2[k]), np.asarray(p1[k]))


def test_scalar_parameter_matches_torch():
    tp = torch.tensor(0.7, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.1, weight_decay=0.01)
    opt = mx.adam(0.1, weight_decay=0.01)
    p = jnp.array(0.7)
    state = opt.init(p)
    for g in (0.5, -1.5, 0.25):
        tp.grad = torch.tensor(g)
        topt.step()
        p, state, _ = step(opt, p, state, jnp.array(g))
    assert p.shape == () and p.dtype == jnp.float32
    np.testing.assert_allclose(float(p), tp.item(), rtol=1e-6)


# ---- gradients in another dtype than the parameters ----


def test_bfloat16_gradients_with_float32_parameters():
    opt = mx.adam(0.1)
    params = {"w": jnp.array([1.0, -2.0, 0.5])}
    g = {"w": jnp.array([0.3, -1.7, 2.5], jnp.bfloat16)}
    p, state, updates = step(opt, params, opt.init(params), g)
    assert updates["w"].dtype == jnp.bfloat16  # the rule returns the update in the gradient's dtype
    assert p["w"].dtype == jnp.float32
    assert state[0].mu["w"].dtype == jnp.float32 and state[0].nu["w"].dtype == jnp.float32
    # The moments are the float32 ones of the same gradient values; only the update is rounded.
    g32 = {"w": g["w"].astype(jnp.float32)}
    p32, state32, updates32 = step(opt, params, opt.init(params), g32)
    np.testing.assert_array_equal(np.asarray(state[0].nu["w"]), np.asarray(state32[0].nu["w"]))
    np.testing.assert_allclose(np.asarray(updates["w"], np.float32), np.asarray(updates32["w"]), rtol=2.0**-8)
    # The state keeps its dtypes, so a scan carry or lax.cond sees the same types every step.
    _, state2, _ = step(opt, p, state, g)
    assert jax.tree.map(lambda x: x.dtype, state2) == jax.tree.map(lambda x: x.dtype, state)


def test_float32_gradients_with_bfloat16_parameters():
    opt = mx.sgd(0.1, momentum=0.9)
    params = {"w": jnp.array([1.0, -2.0, 0.5], jnp.bfloat16)}
    g = {"w": jnp.array([0.3, -1.7, 2.5], jnp.float32)}
    p, state, updates = step(opt, params, opt.init(params), g)
    assert updates["w"].dtype == jnp.float32 and p["w"].dtype == jnp.bfloat16
    assert state[0].trace["w"].dtype == jnp.bfloat16  # the buffer is stored in the parameter's dtype
    np.testing.assert_allclose(np.asarray(p["w"], np.float32), [0.97, -1.83, 0.25], rtol=2.0**-8)
    _, state2, _ = step(opt, p, state, g)
    assert jax.tree.map(lambda x: x.dtype, state2) == jax.tree.map(lambda x: x.dtype, state)


# ---- hyperparameters out of range ----


@pytest.mark.parametrize("build, message", [
    (lambda: mx.adam(0.1, b1=1.0), r"scale_by_adam: b1=1\.0 is out of range; it must lie in \[0, 1\)"),
    (lambda: mx.adam(0.1, b2=-0.1), r"b2=-0\.1 is out of range"),
    (lambda: mx.adam(0.1, eps=0.0), r"eps=0\.0 is out of range; it must lie in \(0, inf\)"),
    (lambda: mx.adam(-1e-3), r"learning_rate=-0\.001 is out of range"),
    (lambda: mx.sgd(0.1, momentum=float("nan")), r"momentum=nan is out of range"),
    (lambda: mx.clip_by_global_norm(0.0), r"clip_by_global_norm: max_norm=0\.0 is out of range"),
])
def test_hyperparameters_out_of_range_raise(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_set_hyperparams_out_of_range_raises():
    state = mx.adam(0.1).init(jnp.zeros(2))
    with pytest.raises(ValueError, match=r"set_hyperparams: b2=1\.5 is out of range"):
        mx.set_hyperparams(state, b2=1.5)


# ---- huge and tiny gradients ----


def torch_adam_run(p0, grads, dtype=torch.float32, **kw):
    tp = torch.tensor(p0, dtype=dtype, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=0.1, **kw)
    for g in grads:
        tp.grad = torch.tensor(g, dtype=dtype)
        topt.step()
    return tp.detach().float().numpy(), topt.state[tp]["exp_avg_sq"].float().numpy()


def momentax_adam_run(p0, grads, dtype=jnp.float32, **kw):
    opt = mx.adam(0.1, **kw)
    p = jnp.asarray(p0, dtype)
    state = opt.init(p)
    for g in grads:
        p, state, _ = step(opt, p, state, jnp.asarray(g, dtype))
    return np.asarray(p, np.float32), np.asarray(state[0].nu, np.float32)


@pytest.mark.parametrize("scale", [1e-30, 1e-20, 1e10, 1e18])
def test_float32_gradients_far_from_one_match_torch(scale):
    # 1e-30: g**2 underflows and the step is m_hat / eps, in both; 1e18: g**2 = 1e36, finite.
    grads = [[scale, 1.0], [-0.5 * scale, 1.0], [2.0 * scale, -1.0]]
    p, nu = momentax_adam_run([1.0, 2.0], grads)
    tp, tnu = torch_adam_run([1.0, 2.0], grads)
    assert finite(nu).all() and finite(p).all()
    np.testing.assert_allclose(p, tp, rtol=1e-6)
    # v differs by 1.3e-5 relative: momentax stores b2 as float32 0.999 (0.99900001) and forms
    # 1 - b2 in float32 (9.9998713e-4), torch forms 1 - 0.999 in double and rounds it to 1e-3;
    # the bias correction uses the same b2, so the steps above agree to 1e-6. atol: XLA on CPU
    # flushes subnormals to zero, torch keeps them (v = 5e-43 for g = 1e-20).
    np.testing.assert_allclose(nu, tnu, rtol=2e-5, atol=1e-38)


def test_float32_gradients_beyond_the_squared_range_freeze_the_element_like_torch():
    # (1 - b2) * g * g overflows to inf for |g| > ~5.8e20: v = inf, the step is m / inf = 0,
    # and v stays inf, so the element never moves again. torch does exactly the same.
    grads = [[1e30, 1.0], [1.0, 1.0], [1.0, 1.0]]
    p, nu = momentax_adam_run([1.0, 2.0], grads)
    tp, tnu = torch_adam_run([1.0, 2.0], grads)
    assert np.isinf(nu[0]) and np.isinf(tnu[0])
    assert p[0] == tp[0] == 1.0  # frozen, in both
    np.testing.assert_allclose(p[1], tp[1], rtol=1e-6)


def test_float32_gradients_just_beyond_sqrt_max_match_torch():
    grads = [[10 * F32_SQRT_MAX, 1.0], [1.0, 1.0]]
    p, _ = momentax_adam_run([1.0, 2.0], grads)
    tp, _ = torch_adam_run([1.0, 2.0], grads)
    np.testing.assert_allclose(p, tp, rtol=1e-6)


@pytest.mark.parametrize("scale", [1e4, 1e19])
def test_bfloat16_huge_gradients_keep_the_second_moment_finite(scale):
    # The rule computes in float32 and bfloat16 has float32's exponent range, so (1-b2) g**2
    # is stored without overflow; the first step is -lr * sign(g) up to bfloat16 rounding.
    p, nu = momentax_adam_run([1.0, 2.0], [[scale, -scale]], dtype=jnp.bfloat16)
    assert finite(nu).all()
    np.testing.assert_allclose(nu, [1e-3 * scale**2] * 2, rtol=2.0**-7)
    np.testing.assert_allclose(p, [0.9, 2.1], rtol=2.0**-7)


def test_float16_second_moment_overflows_unless_stored_in_float32():
    grads = [[1e4, 1.0], [1.0, 1.0]]  # (1 - b2) * 1e8 = 1e5 > 65504, float16's maximum
    p, nu = momentax_adam_run([1.0, 2.0], grads, dtype=jnp.float16)
    _, tnu = torch_adam_run([1.0, 2.0], grads, dtype=torch.float16)
    assert np.isinf(nu[0]) and np.isinf(tnu[0])  # as torch
    p, nu = momentax_adam_run([1.0, 2.0], grads, dtype=jnp.float16, nu_dtype=jnp.float32)
    p32, nu32 = momentax_adam_run([1.0, 2.0], grads)
    assert finite(nu).all()
    np.testing.assert_allclose(nu, nu32, rtol=1e-6)
    np.testing.assert_allclose(p, p32, rtol=2.0**-10)


def test_global_norm_of_huge_gradients_matches_torch():
    # The sum of squares overflows to inf for |g| > 1.8e19 in float32: the factor is 0 and the
    # clipped gradient is zero, as torch.nn.utils.clip_grad_norm_ (which returns norm inf).
    g = np.array([1e20, -1e20], np.float32)
    tg = torch.zeros(2, requires_grad=True)
    tg.grad = torch.tensor(g)
    total = torch.nn.utils.clip_grad_norm_([tg], 1.0)
    clip = mx.clip_by_global_norm(1.0)
    u, _ = clip.update(jnp.asarray(g), clip.init(jnp.asarray(g)))
    assert np.isinf(total.item())
    np.testing.assert_array_equal(np.asarray(u), tg.grad.numpy())
    # Below the overflow, the clipped norm is max_norm exactly as in torch.
    g = np.array([1e18, -1e18], np.float32)
    u, _ = clip.update(jnp.asarray(g), clip.init(jnp.asarray(g)))
    np.testing.assert_allclose(float(jnp.linalg.norm(u)), 1.0, rtol=1e-6)


# ---- core bugs found by these tests and tests/test_properties.py ----


@pytest.mark.parametrize("g", [0.0, 1e-20])
def test_adafactor_zero_gradients_are_finite(g):
    opt = mx.adafactor(0.05)
    params = jnp.ones((2, 3))
    updates, _ = opt.update(jnp.full((2, 3), g), opt.init(params), params)
    assert finite(updates).all()


def test_partition_with_a_bare_array_root():
    opt = mx.partition({"decay": mx.add_decayed_weights(0.1), "rest": mx.identity()}, lambda p: "rest")
    params = jnp.ones(3)
    updates, _ = opt.update(jnp.ones(3), opt.init(params), params)
    np.testing.assert_array_equal(np.asarray(updates), np.ones(3))
