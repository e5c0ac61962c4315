"""named_chain, masked, partition (parameter groups) and freeze."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import momentax as mx


def params():
    rng = np.random.default_rng(0)
    return {
        "enc": {"w": jnp.asarray(rng.normal(size=(4, 3))), "b": jnp.asarray(rng.normal(size=3))},
        "head": {"w": jnp.asarray(rng.normal(size=(3, 2))), "b": jnp.asarray(rng.normal(size=2))},
    }


def grad_fn(p):
    return jax.tree.map(lambda x: 0.5 * x + 0.1, p)


def run(tx, steps=5, p=None):
    p = params() if p is None else p
    state = tx.init(p)
    step = jax.jit(tx.update)
    for _ in range(steps):
        updates, state = step(grad_fn(p), state, p)
        p = mx.apply_updates(p, updates)
    return p, state


def assert_trees_close(a, b, rtol=1e-10):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=1e-14)


def test_masked_equals_optax_masked_and_keeps_no_state_for_masked_out_leaves(x64):
    mask = {"enc": True, "head": {"w": True, "b": False}}  # a prefix tree
    ours, state = run(mx.masked(mx.adam(0.1), mask))
    theirs, _ = run(optax.masked(optax.adam(0.1), mask))
    assert_trees_close(ours, theirs)
    assert state[0].mu["head"]["b"] is None and state[0].mu["head"]["w"] is not None


def test_masked_with_a_function_and_nested():
    only_w = lambda tree: {k: {"w": True, "b": False} for k in tree}  # noqa: E731
    only_enc = {"enc": True, "head": False}
    tx = mx.masked(mx.masked(mx.scale(-1.0), only_w), only_enc)
    p = params()
    u, _ = tx.update(p, tx.init(p), p)
    np.testing.assert_array_equal(u["enc"]["w"], -p["enc"]["w"])
    for path in (("enc", "b"), ("head", "w"), ("head", "b")):
        np.testing.assert_array_equal(u[path[0]][path[1]], p[path[0]][path[1]])


def test_nested_mask_errors_say_which_level_is_wrong():
    inner_bad = {"enc": {"w": True, "bias": False}}
    tx = mx.masked(mx.masked(mx.scale(-1.0), lambda t: inner_bad), {"enc": True, "head": False})
    p = params()
    with pytest.raises(mx.TreeMismatchError) as err:
        tx.init(p)
    assert "params has nothing at ['enc']['bias']" in str(err.value)
    state = mx.masked(mx.masked(mx.scale(-1.0), {"enc": True, "head": False}), {"enc": True, "head": False}).init(p)
    bad_updates = {"enc": {"w": p["enc"]["w"]}, "head": p["head"]}
    with pytest.raises(mx.TreeMismatchError, match="^masked: the mask tree must have the structure"):
        mx.masked(mx.masked(mx.scale(-1.0), {"enc": True, "head": False}), {"enc": True, "head": {"w": True}}).update(
            bad_updates, state)


def test_partition_gives_each_group_its_own_optimizer_and_hyperparameters(x64):
    labels = mx.label_by_path({r"/b$": "no_decay"}, default="decay")
    tx = mx.partition({"decay": mx.adamw(0.1, weight_decay=0.5), "no_decay": mx.adam(0.01)}, labels)
    ours, state = run(tx)
    decay_only, _ = run(optax.masked(optax.adamw(0.1, weight_decay=0.5), {"enc": {"w": True, "b": False},
                                                                       "head": {"w": True, "b": False}}))
    no_decay_only, _ = run(optax.masked(optax.adam(0.01), {"enc": {"w": False, "b": True},
                                                          "head": {"w": False, "b": True}}))
    for k in ("enc", "head"):
        np.testing.assert_allclose(ours[k]["w"], decay_only[k]["w"], rtol=1e-10)
        np.testing.assert_allclose(ours[k]["b"], no_decay_only[k]["b"], rtol=1e-10)
    names = mx.hyperparams(state)
    assert float(names["decay/learning_rate"]) == 0.1 and float(names["no_decay/learning_rate"]) == 0.01
    state = mx.set_hyperparams(state, **{"no_decay/learning_rate": 0.02})
    assert float(mx.hyperparams(state)["decay/learning_rate"]) == 0.1
    assert float(mx.hyperparams(state)["no_decay/learning_rate"]) == 0.02


def test_partition_reports_a_label_without_a_transform():
    tx = mx.partition({"a": mx.sgd(0.1)}, {"enc": "a", "head": {"w": "a", "b": "c"}})
    with pytest.raises(ValueError, match=r"leaf at \['head'\]\['b'\] has label 'c', which has no transform"):
        tx.init(params())


def test_label_by_path_without_default_names_the_unmatched_path():
    with pytest.raises(ValueError, match="no pattern matches the parameter at 'enc/b'"):
        mx.label_by_path({r"/w$": "x"})(params())


def n_state_elements(state):
    return sum(int(np.size(x)) for x in jax.tree.leaves(state))


def test_freeze_gives_frozen_leaves_no_state_and_no_computation():
    big = {f"layer{i}": jnp.ones((64, 64)) for i in range(10)}
    frozen = {f"layer{i}": i > 0 for i in range(10)}
    full_tx, frozen_tx = mx.adam(0.1), mx.freeze(mx.adam(0.1), frozen)
    p_full, s_full = run(full_tx, steps=2, p=big)
    p_frz, s_frz = run(frozen_tx, steps=2, p=big)
    for i in range(1, 10):
        np.testing.assert_array_equal(p_frz[f"layer{i}"], big[f"layer{i}"])
    np.testing.assert_allclose(p_frz["layer0"], p_full["layer0"], rtol=1e-6)
    # State: only the trainable leaf (2 moments of 64*64) plus scalars.
    assert n_state_elements(s_frz) < 2 * 64 * 64 + 16
    assert n_state_elements(s_full) > 20 * 64 * 64

    def program(tx):
        compiled = jax.jit(tx.update).lower(big, tx.init(big), big).compile()
        return compiled.cost_analysis()["flops"], len(compiled.as_text())

    (full_flops, full_size), (frozen_flops, frozen_size) = program(full_tx), program(frozen_tx)
    assert frozen_flops < 0.2 * full_flops, (frozen_flops, full_flops)
    # The compiled program itself is smaller: no fusions for the frozen leaves' moments.
    assert frozen_size < 0.6 * full_size, (frozen_size, full_size)


def test_named_chain_state_and_hyperparameters_by_name():
    tx = mx.named_chain(("clip", mx.scale(0.5)), ("adam", mx.scale_by_adam()), ("lr", mx.scale(-0.1)))
    state = tx.init(params())
    assert set(state) == {"clip", "adam", "lr"}
    names = mx.hyperparams(state)
    assert {"clip/step_size", "lr/step_size", "b1"} <= set(names)
    with pytest.raises(ValueError, match="names must be unique"):
        mx.named_chain(("a", mx.scale(1.0)), ("a", mx.scale(2.0)))
