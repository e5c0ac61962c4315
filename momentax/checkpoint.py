"""Checking a restored optimizer state against the optimizer that will continue the run.

The state is a pytree of arrays, so any checkpointer saves it (orbax's
``StandardCheckpointer`` or ``PyTreeCheckpointer``). Restored without a target, orbax gives
plain nested dicts and lists; :func:`restore_state` checks that tree, path by path, against
``jax.eval_shape(tx.init, params)`` and rebuilds the state's own containers (NamedTuples,
``Hyperparams`` nodes), so a checkpoint of another optimizer or another parameter tree fails
with the first mismatching path instead of a shape error deep inside a step.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from momentax import trees
from momentax.storage import QuantizedArray, RoundedArray

__all__ = ["restore_state"]


def _is_none(x: Any) -> bool:
    return x is None


def _name(key: Any) -> Any:
    """A key as a checkpoint stores it: field and dict names as strings, sequence indices as ints."""
    if isinstance(key, jax.tree_util.SequenceKey):
        return key.idx
    if isinstance(key, jax.tree_util.GetAttrKey):
        return key.name
    if isinstance(key, jax.tree_util.DictKey):
        return str(key.key)
    if isinstance(key, jax.tree_util.FlattenedIndexKey):
        return key.key
    return str(key)


def _plain(tree: Any) -> tuple[dict, list[tuple[tuple, tuple, Any]]]:
    """``tree`` as nested dicts keyed by plain names, and its (plain path, path, leaf) list."""
    root: dict = {}
    entries = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_none)[0]:
        names = tuple(_name(k) for k in path)
        entries.append((names, tuple(path), leaf))
        if not names:
            return leaf, entries  # a bare array: the tree is its only leaf
        node = root
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = leaf
    return root, entries


def _describe(x: Any) -> str:
    return f"{jnp.dtype(x.dtype).name}{list(x.shape)}"


_STORED_FIELDS = {("codes", "scales"): "8-bit blocks", ("key", "value"): "stochastically rounded bfloat16"}


def _stored_kind(names: tuple, got_by_name: dict) -> str | None:
    """What kind of stored leaf the restored tree holds at ``names`` (None: not a stored one)."""
    for fields, kind in _STORED_FIELDS.items():
        if all(names + (f,) in got_by_name for f in fields):
            return kind
    return None


def _describe_stored(leaf: Any) -> str:
    if isinstance(leaf, QuantizedArray):
        return (f"8-bit blocks (codes {_describe(leaf.codes)}, scales {_describe(leaf.scales)}, "
                f"block_size={leaf.block_size})")
    if isinstance(leaf, RoundedArray):
        return f"stochastically rounded bfloat16 (value {_describe(leaf.value)}, key {_describe(leaf.key)})"
    return type(leaf).__name__


def _check_stored(expected: Any, got_by_name: dict, where: str) -> None:
    """Clear errors where a checkpoint and the optimizer store a moment differently
    (``mu_dtype``/``nu_dtype``: float vs 8-bit vs stochastic rounding, or another block size)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(expected, is_leaf=trees.is_stored)[0]:
        if leaf is None:
            continue
        names = tuple(_name(k) for k in path)
        at = jax.tree_util.keystr(path) or "<root>"
        hint = ("The state dtypes (mu_dtype, nu_dtype: a dtype, momentax.stochastic_rounding(...) or "
                "momentax.blockwise_8bit(...)) differ from the run that wrote the checkpoint; restore it "
                "with the same ones.")
        kind = _stored_kind(names, got_by_name)
        if not isinstance(leaf, trees.Stored):
            if kind is not None:
                raise trees.TreeMismatchError(
                    f"{where}: the restored state holds {kind} at {at}, where the state of this optimizer "
                    f"has a plain {_describe(leaf)} array. {hint}")
            continue
        value = got_by_name.get(names)
        plain = value is not None and hasattr(value, "shape")  # an array where the state stores blocks
        wanted = "8-bit blocks" if isinstance(leaf, QuantizedArray) else "stochastically rounded bfloat16"
        if plain or kind not in (None, wanted):
            got = f"a plain {_describe(value)} array" if plain else kind
            raise trees.TreeMismatchError(
                f"{where}: the restored state has {got} at {at}, where the state of this optimizer "
                f"has {_describe_stored(leaf)}. {hint}")
        if isinstance(leaf, QuantizedArray) and kind is not None:
            scales = got_by_name[names + ("scales",)]
            n = int(np.prod(getattr(scales, "shape", None) or np.shape(scales)))
            if (n,) != tuple(leaf.scales.shape):
                size = int(np.prod(leaf.codes.shape))
                raise trees.TreeMismatchError(
                    f"{where}: the restored 8-bit state at {at} has {n} block scales, where this "
                    f"optimizer, with block_size={leaf.block_size}, has {leaf.scales.shape[0]} for "
                    f"{size} elements: the checkpoint was written with another block_size (one "
                    f"giving {n} blocks). Pass the block_size of the run that wrote it to "
                    f"momentax.blockwise_8bit.")


def restore_state(tx: Any, params: Any, restored: Any) -> Any:
    """Returns ``restored`` as the state of ``tx`` for ``params``, after checking it leaf by leaf.

    The reference is ``expected = jax.eval_shape(tx.init, params)`` (nothing is allocated).
    ``restored`` may be a checkpoint read without a target (orbax gives nested dicts for
    NamedTuples and ``Hyperparams``, lists for tuples) or with one; leaves are matched by
    tree path, field and key names as strings and sequence positions as integers::

        for each path of expected:  restored[path].shape == expected[path].shape
                                    restored[path].dtype == expected[path].dtype
        state = expected's containers with restored's leaves

    Args:
      tx: the gradient transformation that will continue the run (same configuration as
        the one that wrote the checkpoint).
      params: the parameters (arrays or ``jax.ShapeDtypeStruct`` leaves) the state is for.
      restored: the restored tree; leaves are arrays (NumPy or JAX) or anything with
        ``shape`` and ``dtype`` (orbax metadata), and are passed through unchanged.

    Returns:
      A tree with the structure of ``tx.init(params)`` (the same NamedTuples,
      ``Hyperparams`` and ``None`` leaves) holding the leaves of ``restored``.

    Raises:
      TreeMismatchError: the restored tree has a leaf where the state has none or the other
        way round (another optimizer, another chain, another parameter tree), or a leaf of
        another shape or dtype (another parameter shape, ``mu_dtype``, ...). The message
        names the first such path. A moment stored otherwise than the optimizer stores it
        (a float checkpoint restored into 8-bit or stochastically rounded state, or the other
        way round, or 8-bit blocks of another ``block_size``) is reported as such, with its
        path.

    Note:
      torch's ``Optimizer.load_state_dict`` checks only the number of parameter groups and
      of parameters per group (not shapes or which buffers exist); optax has no restore
      step, and a state of the wrong structure fails (or silently broadcasts) inside the
      first update.

    Source: orbax-checkpoint, "Checkpointing PyTrees",
    https://orbax.readthedocs.io/en/latest/guides/checkpoint/checkpointing_pytrees.html.

    Example:
      >>> import jax, jax.numpy as jnp, momentax
      >>> params = {"w": jnp.zeros(2)}
      >>> adam_state = {"count": 3, "mu": {"w": jnp.full(2, 0.5)}, "nu": {"w": jnp.ones(2)},
      ...               "hyperparams": {"b1": 0.9, "b2": 0.999, "eps": 1e-8, "eps_root": 0.0}}
      >>> saved = [adam_state, {"hyperparams": {"learning_rate": 0.1}}]  # as orbax returns it
      >>> saved = jax.tree.map(jnp.asarray, saved)
      >>> state = momentax.restore_state(momentax.adam(0.1), params, saved)
      >>> type(state[0]).__name__, int(state[0].count), float(momentax.hyperparams(state)["b1"])
      ('ScaleByAdamState', 3, 0.8999999761581421)
      >>> try:
      ...     momentax.restore_state(momentax.sgd(0.1, momentum=0.9), params, saved)
      ... except momentax.TreeMismatchError as err:
      ...     print(str(err).split(";")[1].split(":")[0].strip())
      first difference at [0]['hyperparams']['dampening']
    """
    where = "restore_state"
    expected = jax.eval_shape(tx.init, params)
    want_tree, want = _plain(expected)
    got_tree, got = _plain(restored)
    got_by_name = {names: leaf for names, _, leaf in got}
    want_names = {names for names, _, _ in want}
    first_missing = next((n for n, _, leaf in want if n not in got_by_name
                          or (leaf is None) != (got_by_name[n] is None)), None)
    first_extra = next((n for n, _, _ in got if n not in want_names), None)
    _check_stored(expected, got_by_name, where)
    if first_missing is not None or first_extra is not None:
        err = trees.structure_error(want_tree, got_tree, "the state of this optimizer", "the restored state", where)
        raise trees.TreeMismatchError(
            f"{err} The checkpoint was probably written by a different optimizer configuration "
            f"(another chain, wrapper or option such as momentum or nesterov) or for another "
            f"parameter tree; restore it with the optimizer and parameters that wrote it."
        )
    leaves = []
    for names, path, leaf in want:
        value = got_by_name[names]
        if leaf is not None:
            shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
            if shape is None or dtype is None:
                value = jnp.asarray(value)
                shape, dtype = value.shape, value.dtype
            if tuple(shape) != tuple(leaf.shape) or jnp.dtype(dtype) != jnp.dtype(leaf.dtype):
                raise trees.TreeMismatchError(
                    f"{where}: the restored state has {jnp.dtype(dtype).name}{list(shape)} at "
                    f"{jax.tree_util.keystr(path) or '<root>'}, where the state of this optimizer has "
                    f"{_describe(leaf)}. The parameters' shapes or the state dtypes (mu_dtype, "
                    f"nu_dtype, acc_dtype, jax_enable_x64) differ from the run that wrote the "
                    f"checkpoint."
                )
        leaves.append(value)
    return jax.tree.unflatten(jax.tree.structure(expected, is_leaf=_is_none), leaves)
