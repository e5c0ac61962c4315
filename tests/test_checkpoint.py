"""Optimizer state through orbax checkpoints: round trips, exact resume, restore validation.

- Round trip: a state with NamedTuples, ``Hyperparams`` nodes, ``None`` leaves, int32 and bool
  counters and bfloat16 moments saves with orbax and comes back leaf for leaf, bit for bit,
  restored without a target (plain dicts and lists) and rebuilt by ``momentax.restore_state``,
  or restored into a target made by ``jax.eval_shape``.
- Exact resume: a run stopped at step k, saved, and resumed from disk with fresh Python
  objects (a new optimizer of the same configuration, a new jitted step) gives parameters and
  state bit-identical to an uninterrupted run at step 2k (float32 on CPU), for a schedule
  given as a lambda, a ``momentax.schedules`` schedule, gradient accumulation stopped in the
  middle of a cycle, and ``apply_if_finite`` stopped in the middle of a run of skipped steps.
- A checkpoint of another optimizer, another parameter tree, other shapes or other state
  dtypes fails in ``restore_state`` with ``TreeMismatchError`` naming the first path.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import momentax as mx

ocp = pytest.importorskip("orbax.checkpoint")

K = 7  # stop after K steps, resume for K more


def init_params():
    rng = np.random.default_rng(0)
    return {"w": jnp.asarray(rng.normal(size=(4, 3)), jnp.float32), "b": jnp.zeros(3, jnp.float32),
            "frozen": None}


def batch(t: int):
    rng = np.random.default_rng(100 + t)
    return jnp.asarray(rng.normal(size=(8, 4)), jnp.float32), jnp.asarray(rng.normal(size=(8, 3)), jnp.float32)


# Non-finite gradients at these steps (from 0); steps 5 and 6 are the last two before the stop
# at K = 7, so the checkpoint holds two consecutive skips (max_consecutive_errors=2 below).
BAD_STEPS = (3, 5, 6)


def loss_fn(params, x, y):
    return jnp.mean((jnp.tanh(x @ params["w"] + params["b"]) - y) ** 2)


def make_step(opt):
    @jax.jit
    def step(params, state, x, y, bad):
        grads = jax.grad(loss_fn)(params, x, y)
        grads = jax.tree.map(lambda g: jnp.where(bad, jnp.nan, g), grads)
        updates, state = opt.update(grads, state, params)
        return mx.apply_updates(params, updates), state

    return step


def run(opt, params, state, start: int, stop: int, inject_nan: bool):
    step = make_step(opt)
    for t in range(start, stop):
        params, state = step(params, state, *batch(t), jnp.asarray(inject_nan and t in BAD_STEPS))
    return params, state


OPTIMIZERS = {
    "sgd_lambda_schedule": (lambda: mx.sgd(lambda t: 0.1 / (1.0 + 0.5 * t), momentum=0.9), False),
    "clip_adamw_warmup_cosine": (lambda: mx.chain(
        mx.clip_by_global_norm(0.5),
        mx.adamw(mx.schedules.warmup_cosine_decay(0.0, 3e-2, 4, 2 * K), weight_decay=1e-2)), False),
    "accumulate_adam_k3": (lambda: mx.accumulate_gradients(mx.adam(1e-2), k=3), False),  # K = 7: stops mid-cycle
    "apply_if_finite_adam": (lambda: mx.apply_if_finite(mx.adam(1e-2), max_consecutive_errors=2), True),
}


def save(path, tree) -> None:
    with ocp.StandardCheckpointer() as ckpt:
        ckpt.save(path, tree)


def restore(path, target=None):
    with ocp.StandardCheckpointer() as ckpt:
        return ckpt.restore(path) if target is None else ckpt.restore(path, target)


def assert_bit_identical(a, b, what: str) -> None:
    assert jax.tree.structure(a) == jax.tree.structure(b), what
    for (path, x), y in zip(jax.tree_util.tree_flatten_with_path(a)[0], jax.tree.leaves(b)):
        where = f"{what}{jax.tree_util.keystr(path)}"
        assert np.asarray(x).dtype == np.asarray(y).dtype, where
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=where, strict=True)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resume_from_disk_is_bit_identical(tmp_path, name):
    make, inject_nan = OPTIMIZERS[name]
    opt = make()
    p0 = init_params()
    ref_params, ref_state = run(opt, p0, opt.init(p0), 0, 2 * K, inject_nan)

    first = make()
    params, state = run(first, p0, first.init(p0), 0, K, inject_nan)
    if name == "apply_if_finite_adam":
        assert int(state.notfinite_count) == 2  # stopped inside a run of skipped steps
    save(tmp_path / "ckpt", {"params": params, "opt_state": state})
    del first, params, state

    resumed = make()  # a fresh optimizer object of the same configuration, and a fresh jit
    raw = restore(tmp_path / "ckpt")
    params = raw["params"]  # a plain dict, with the None leaf restored as None
    state = mx.restore_state(resumed, params, raw["opt_state"])
    params, state = run(resumed, params, state, K, 2 * K, inject_nan)

    assert_bit_identical(params, ref_params, f"{name} params")
    assert_bit_identical(state, ref_state, f"{name} state")
    if name == "apply_if_finite_adam":  # the skip counters went through the checkpoint
        assert int(ref_state.total_notfinite) == len(BAD_STEPS)
        assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(params))
    if name == "accumulate_adam_k3":
        assert int(ref_state.gradient_step) == 2 * K // 3


def rich_optimizer():
    """NamedTuples, Hyperparams, int32 and bool counters, a bfloat16 moment, a masked None leaf."""
    inner = mx.chain(mx.clip_by_global_norm(1.0),
                     mx.adam(mx.schedules.cosine_decay(1e-2, 100), mu_dtype=jnp.bfloat16))
    return mx.apply_if_finite(mx.accumulate_gradients(mx.masked(inner, {"w": True, "b": False, "frozen": False}),
                                                      k=2), max_consecutive_errors=3)


def stepped_state(opt, params, steps: int = 3):
    state = opt.init(params)
    for t in range(steps):
        grads = jax.grad(loss_fn)(params, *batch(t))
        _, state = opt.update(grads, state, params)
    return state


# PyTreeCheckpointer, restoring without a target, warns that it reads the shardings from the
# checkpoint (safe here: same single-device topology).
@pytest.mark.filterwarnings("ignore:Sharding info not provided when restoring:UserWarning")
@pytest.mark.parametrize("checkpointer", ["StandardCheckpointer", "PyTreeCheckpointer"])
def test_round_trip_without_target_then_restore_state(tmp_path, checkpointer):
    opt, params = rich_optimizer(), init_params()
    state = stepped_state(opt, params)
    with getattr(ocp, checkpointer)() as ckpt:
        ckpt.save(tmp_path / "state", state)
    with getattr(ocp, checkpointer)() as ckpt:
        raw = ckpt.restore(tmp_path / "state")
    assert isinstance(raw, dict)  # orbax gives plain containers without a target
    restored = mx.restore_state(rich_optimizer(), params, raw)
    assert_bit_identical(restored, state, "state")
    assert type(restored) is mx.ApplyIfFiniteState and isinstance(restored.hyperparams, mx.Hyperparams)
    assert mx.hyperparams(restored).keys() == mx.hyperparams(state).keys()


def test_round_trip_into_an_abstract_target(tmp_path):
    opt, params = rich_optimizer(), init_params()
    state = stepped_state(opt, params)
    save(tmp_path / "state", state)
    restored = restore(tmp_path / "state", jax.eval_shape(opt.init, params))
    assert_bit_identical(restored, state, "state")


def saved_adam_state(tmp_path, opt=None, params=None):
    opt = opt or mx.adam(1e-2)
    params = params or init_params()
    save(tmp_path / "adam", stepped_state(opt, params, steps=1))
    return restore(tmp_path / "adam")


def test_restoring_into_another_optimizer_names_the_first_path(tmp_path):
    raw = saved_adam_state(tmp_path)
    with pytest.raises(mx.TreeMismatchError) as err:
        mx.restore_state(mx.sgd(0.1, momentum=0.9), init_params(), raw)
    message = str(err.value)
    assert message.startswith("restore_state: the restored state does not have the tree structure")
    assert "first difference at [0]['hyperparams']['dampening']" in message
    assert "different optimizer configuration" in message
    with pytest.raises(mx.TreeMismatchError, match=r"first difference at \['hyperparams'\]\['max_consecutive_"):
        mx.restore_state(mx.apply_if_finite(mx.adam(1e-2)), init_params(), raw)


def test_restoring_for_another_parameter_tree_names_the_first_path(tmp_path):
    raw = saved_adam_state(tmp_path)
    params = {**init_params(), "extra": jnp.zeros(2)}
    with pytest.raises(mx.TreeMismatchError, match=r"first difference at \[0\]\['mu'\]\['extra'\]: the state of "
                                                   r"this optimizer has float32\[2\], the restored state has nothing"):
        mx.restore_state(mx.adam(1e-2), params, raw)
    params = {"w": init_params()["w"]}
    with pytest.raises(mx.TreeMismatchError, match=r"first difference at \[0\]\['mu'\]\['b'\]: the state of this "
                                                   r"optimizer has nothing, the restored state has float32\[3\]"):
        mx.restore_state(mx.adam(1e-2), params, raw)


def test_restoring_other_shapes_or_dtypes_names_the_path(tmp_path):
    raw = saved_adam_state(tmp_path)
    params = {**init_params(), "b": jnp.zeros(5)}
    with pytest.raises(mx.TreeMismatchError, match=r"restored state has float32\[3\] at \[0\]\.mu\['b'\], where "
                                                   r"the state of this optimizer has float32\[5\]"):
        mx.restore_state(mx.adam(1e-2), params, raw)
    with pytest.raises(mx.TreeMismatchError, match=r"float32\[3\] at \[0\]\.mu\['b'\], where the state of this "
                                                   r"optimizer has bfloat16\[3\]"):
        mx.restore_state(mx.adam(1e-2, mu_dtype=jnp.bfloat16), init_params(), raw)


def test_restore_state_accepts_orbax_metadata_before_reading_arrays(tmp_path):
    """Validation needs only shapes and dtypes, so a sharded restore can be checked first."""
    opt, params = mx.adam(1e-2), init_params()
    save(tmp_path / "adam", stepped_state(opt, params, steps=1))
    with ocp.StandardCheckpointer() as ckpt:
        metadata = ckpt.metadata(tmp_path / "adam")
    tree = getattr(metadata, "item_metadata", metadata)
    tree = getattr(tree, "tree", tree)
    checked = mx.restore_state(opt, params, tree)
    assert jax.tree.structure(checked) == jax.tree.structure(opt.init(params))
    with pytest.raises(mx.TreeMismatchError, match="first difference"):
        mx.restore_state(mx.sgd(0.1, momentum=0.9), params, tree)
