"""Bad input raises a clear error naming the problem and, for trees, the path."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import pytest

import momentax as mx


def params():
    return {"enc": {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}, "head": [jnp.ones(4), None]}


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_gradient_tree_with_a_missing_key_names_the_path(jit):
    opt = mx.adam(1e-3)
    state = opt.init(params())
    grads = {"enc": {"w": jnp.ones((2, 3))}, "head": [jnp.ones(4), None]}
    update = jax.jit(opt.update) if jit else opt.update
    with pytest.raises(mx.TreeMismatchError, match=re.escape("first difference at ['enc']['b']")):
        update(grads, state, params())


def test_gradient_tree_with_an_extra_array_where_none_was_names_the_path():
    opt = mx.sgd(0.1, momentum=0.9)
    state = opt.init(params())
    grads = {"enc": {"w": jnp.ones((2, 3)), "b": jnp.ones(3)}, "head": [jnp.ones(4), jnp.ones(1)]}
    with pytest.raises(mx.TreeMismatchError) as err:
        opt.update(grads, state, params())
    message = str(err.value)
    assert "['head'][1]" in message and "None" in message and "float32[1]" in message


def test_gradient_with_the_wrong_shape_names_the_path_and_both_shapes():
    opt = mx.adamw(1e-3)
    state = opt.init(params())
    grads = params()
    grads["enc"]["w"] = jnp.ones((3, 2))
    with pytest.raises(mx.TreeMismatchError, match=re.escape("shape mismatch at ['enc']['w']: updates has shape [3, 2], state.mu has shape [2, 3]")):
        opt.update(grads, state, params())


def test_list_versus_tuple_is_reported_as_a_container_difference():
    opt = mx.adam(1e-3)
    state = opt.init([jnp.ones(2), jnp.ones(3)])
    with pytest.raises(mx.TreeMismatchError, match="different container types"):
        opt.update((jnp.ones(2), jnp.ones(3)), state)


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_])
def test_integer_and_boolean_parameters_are_refused_at_init_with_the_path(dtype):
    bad = {"w": jnp.ones(3), "step": jnp.zeros((), dtype)}
    with pytest.raises(TypeError, match=re.escape("params at ['step'] has dtype")):
        mx.adam(1e-3).init(bad)


def test_integer_gradients_are_refused_with_the_path():
    opt = mx.sgd(0.1)
    state = opt.init({"w": jnp.ones(3)})
    with pytest.raises(TypeError, match=re.escape("updates at ['w'] has dtype int32")):
        opt.update({"w": jnp.ones(3, jnp.int32)}, state)


def test_apply_updates_refuses_integer_parameters_and_mismatched_trees():
    with pytest.raises(TypeError, match="params at \\['n'\\] has dtype int32"):
        mx.apply_updates({"n": jnp.ones(2, jnp.int32)}, {"n": jnp.ones(2)})
    with pytest.raises(mx.TreeMismatchError, match=re.escape("first difference at ['b']")):
        mx.apply_updates({"a": jnp.ones(2), "b": jnp.ones(1)}, {"a": jnp.ones(2)})


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: mx.sgd(-0.1), "learning_rate=-0.1 is out of range; it must lie in [0, inf)"),
        (lambda: mx.adam(-1e-3), "learning_rate=-0.001 is out of range"),
        (lambda: mx.adam(1e-3, b1=1.0), "b1=1.0 is out of range; it must lie in [0, 1)"),
        (lambda: mx.adam(1e-3, b2=-0.1), "b2=-0.1 is out of range; it must lie in [0, 1)"),
        (lambda: mx.adamw(1e-3, eps=0.0), "eps=0.0 is out of range; it must lie in (0, inf)"),
        (lambda: mx.rmsprop(1e-3, eps=-1e-8), "eps=-1e-08 is out of range"),
        (lambda: mx.adagrad(1e-3, eps=0.0), "eps=0.0 is out of range"),
        (lambda: mx.adadelta(rho=1.5), "rho=1.5 is out of range"),
        (lambda: mx.sgd(0.1, momentum=1.0), "momentum=1.0 is out of range"),
        (lambda: mx.momentum(0.1, momentum=1.5), "momentum: momentum=1.5 is out of range"),
        (lambda: mx.nesterov(0.1, momentum=-0.5), "nesterov: momentum=-0.5 is out of range"),
        (lambda: mx.sgd(0.1, momentum=0.9, dampening=2.0), "dampening=2.0 is out of range; it must lie in [0, 1]"),
        (lambda: mx.adamw(1e-3, weight_decay=-1.0), "weight_decay=-1.0 is out of range"),
        (lambda: mx.adam(float("nan")), "learning_rate=nan is out of range"),
    ],
)
def test_hyperparameters_out_of_range_are_refused(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_nesterov_needs_momentum_and_no_dampening():
    with pytest.raises(ValueError, match="requires momentum > 0"):
        mx.sgd(0.1, nesterov=True)
    with pytest.raises(ValueError, match="requires dampening=0"):
        mx.sgd(0.1, momentum=0.9, nesterov=True, dampening=0.1)


def test_set_hyperparams_refuses_unknown_names_and_bad_values():
    state = mx.adam(1e-3).init(params())
    with pytest.raises(KeyError, match=re.escape("'lr' is not a hyperparameter of this optimizer state; it has ['b1', 'b2', 'eps', 'eps_root', 'learning_rate']")):
        mx.set_hyperparams(state, lr=0.1)
    with pytest.raises(ValueError, match=re.escape("b1=1.5 is out of range")):
        mx.set_hyperparams(state, b1=1.5)
    scheduled = mx.sgd(lambda t: 0.1).init(params())
    with pytest.raises(ValueError, match="follows a schedule"):
        mx.set_hyperparams(scheduled, learning_rate=0.2)


def test_chain_refuses_a_state_from_another_optimizer():
    p = params()
    with pytest.raises(mx.TreeMismatchError, match="expected the state made by this chain's init"):
        mx.adam(1e-3).update(p, mx.sgd(0.1).init(p), p)


def test_weight_decay_without_params_says_to_pass_them():
    opt = mx.adamw(1e-3)
    with pytest.raises(ValueError, match=re.escape("add_decayed_weights: update needs the parameters")):
        opt.update(params(), opt.init(params()))


def test_a_mask_that_does_not_fit_the_params_names_the_path():
    opt = mx.adamw(1e-3, mask={"enc": True, "decoder": False})
    p = params()
    with pytest.raises(mx.TreeMismatchError, match=re.escape("params has nothing at ['decoder']")):
        opt.update(p, opt.init(p), p)


def test_chain_refuses_something_that_is_not_a_transformation():
    with pytest.raises(TypeError, match="did you pass an optimizer's constructor instead of calling it"):
        mx.chain(mx.adam)


def test_params_that_do_not_match_the_updates_name_the_path():
    opt = mx.adamw(1e-3)
    p = params()
    state = opt.init(p)
    wrong = {"enc": {"w": jnp.ones((2, 3))}, "head": [jnp.ones(4), None]}
    with pytest.raises(mx.TreeMismatchError, match=re.escape("first difference at ['enc']['b']: params has nothing")):
        opt.update(p, state, wrong)


def test_partition_labels_that_do_not_fit_the_params_name_the_path():
    tx = mx.partition({"a": mx.sgd(0.1)}, {"enc": "a", "body": "a"})
    with pytest.raises(mx.TreeMismatchError, match=re.escape("params has nothing at ['body'], where param_labels has")):
        tx.init(params())


def test_a_freeze_mask_that_does_not_fit_names_the_path():
    tx = mx.freeze(mx.adam(1e-3), {"enc": {"w": True, "x": False}, "head": False})
    with pytest.raises(mx.TreeMismatchError, match=re.escape("params has nothing at ['enc']['x'], where frozen has bool")):
        tx.init(params())


def test_an_error_inside_a_partition_group_says_which_group():
    p = params()
    tx = mx.partition({"a": mx.adam(1e-3), "b": mx.sgd(0.1, momentum=0.9)}, {"enc": "a", "head": "b"})
    state = tx.init(p)
    # Group b's state made for a head of 5 elements where the params have 4.
    state["b"] = mx.sgd(0.1, momentum=0.9).init({"enc": {"w": None, "b": None}, "head": [jnp.ones(5), None]})
    with pytest.raises(mx.TreeMismatchError, match="^inside partition group 'b': .*shape mismatch at \\['head'\\]\\[0\\]"):
        tx.update(p, state, p)


def test_named_chain_refuses_a_state_with_other_names():
    tx = mx.named_chain(("a", mx.scale(1.0)), ("b", mx.scale(2.0)))
    with pytest.raises(mx.TreeMismatchError, match=re.escape("expected a state with the keys ['a', 'b'], got ['a', 'c']")):
        tx.update(params(), {"a": None, "c": None})
