"""Lifting per-array rules over pytrees, with errors that name the tree path.

Every transform applies its per-array rule (from :mod:`momentax.math`) through
:func:`lift`, which checks that the gradient tree, the state trees and (when given) the
parameter tree agree before any arithmetic runs. A mismatch raises
:class:`TreeMismatchError` naming the first differing path, never a silent broadcast.
"""

from __future__ import annotations

import abc
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["TreeMismatchError", "Stored", "lift", "zeros_like_tree", "check_float_leaves", "is_stored", "loaded"]


class TreeMismatchError(ValueError):
    """Two trees that must have the same structure (and leaf shapes) do not."""


class Stored(abc.ABC):
    """A state leaf kept in a form the per-array rules do not read directly.

    ``load()`` gives its values in float32; ``store(x)`` gives the same kind of leaf holding
    ``x``; ``shape`` is the logical shape (the parameter's). :func:`lift` reads such leaves
    before a rule runs and writes the rule's new state back through them; the kinds live in
    :mod:`momentax.storage`.
    """

    shape: tuple[int, ...]
    # The fields holding one entry per parameter element (sharded like the parameter); the
    # others (block scales, PRNG keys) are small and replicated.
    param_shaped: tuple[str, ...] = ()

    @abc.abstractmethod
    def load(self) -> jax.Array:
        """The values as a float32 array of ``shape``."""

    @abc.abstractmethod
    def store(self, x: jax.Array) -> "Stored":
        """A leaf of the same kind holding ``x`` (any float array of ``shape``)."""


def _is_none(x: Any) -> bool:
    return x is None


def _describe_leaf(x: Any) -> str:
    if x is None:
        return "None"
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{jnp.dtype(x.dtype).name}{list(x.shape)}"
    return f"{type(x).__name__}"


def _paths(tree: Any) -> list[tuple[str, Any]]:
    flat, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_none)
    return [(jax.tree_util.keystr(path) or "<root>", leaf) for path, leaf in flat]


def _where_in(path: str, paths: dict) -> str:
    """What a tree has at ``path``: a leaf, a subtree, or nothing."""
    if path in paths:
        return _describe_leaf(paths[path])
    prefix = path.rstrip(">") if path != "<root>" else ""
    return "a subtree" if any(p.startswith(prefix) and p != path for p in paths) else "nothing"


def structure_error(reference: Any, got: Any, reference_name: str, got_name: str, where: str) -> TreeMismatchError:
    """The error for ``got`` not having the tree structure of ``reference``, at the first differing path."""
    a, b = dict(_paths(reference)), dict(_paths(got))
    first = next((p for p in a if p not in b or (a[p] is None) != (b[p] is None)), None)
    first = first or next((p for p in b if p not in a), None)
    if first is not None:
        return TreeMismatchError(
            f"{where}: {got_name} does not have the tree structure of {reference_name}; first "
            f"difference at {first}: {reference_name} has {_where_in(first, a)}, {got_name} has "
            f"{_where_in(first, b)}. Pass {got_name} with the structure the optimizer was "
            f"initialised with (same keys, same containers, None in the same places)."
        )
    return TreeMismatchError(
        f"{where}: {got_name} has the leaf paths of {reference_name} but different container "
        f"types ({reference_name}: {jax.tree.structure(reference)}, {got_name}: "
        f"{jax.tree.structure(got)}). Use the same container types (e.g. tuple vs list, dict vs "
        f"a dict subclass) as when the optimizer was initialised."
    )


def leaves_like(treedef: Any, tree: Any, expected_name: str, got_name: str, where: str,
                reference: Any = None) -> list:
    """The leaves of ``tree``, which must have structure ``treedef`` (that of ``reference``).

    Raises TreeMismatchError naming the first path where ``tree`` differs from ``reference``
    (the tree called ``expected_name``; without it, only the structures are reported).
    """
    if jax.tree.structure(tree) != treedef:
        if reference is None:
            reference = jax.tree.unflatten(treedef, [0] * treedef.num_leaves)
        raise structure_error(reference, tree, expected_name, got_name, where)
    return treedef.flatten_up_to(tree)


def check_float_leaves(tree: Any, name: str, where: str) -> None:
    """Raises TypeError naming the first leaf of ``tree`` that is not floating point."""
    for path, leaf in _paths(tree):
        if leaf is None:
            continue
        dtype = getattr(leaf, "dtype", None)
        if dtype is None:
            dtype = np.asarray(leaf).dtype
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{where}: {name}{'' if path == '<root>' else ' at ' + path} has dtype "
                f"{jnp.dtype(dtype).name}; momentax optimizes floating-point arrays only. Leave "
                f"integer and boolean leaves out of the tree given to the optimizer (for example "
                f"with equinox.filter or a flax nnx.Param filter), or cast them to a float dtype."
            )


def _check_shapes(names: Sequence[str], leaves: Sequence[Sequence[Any]], first: Any, where: str) -> None:
    """Every tree's leaf must have the shape of the updates' leaf at the same position."""
    for i, u in enumerate(leaves[0]):
        for name, tree_leaves in zip(names[1:], leaves[1:]):
            other = tree_leaves[i]
            if other is None or isinstance(other, (bool, np.bool_)):  # absent, or a mask flag
                continue
            if np.shape(other) != np.shape(u):
                path = jax.tree_util.keystr(jax.tree_util.tree_flatten_with_path(first)[0][i][0])
                raise TreeMismatchError(
                    f"{where}: shape mismatch at {path or '<root>'}: {names[0]} has shape "
                    f"{list(np.shape(u))}, {name} has shape {list(np.shape(other))}. Each gradient "
                    f"must have the shape of its parameter."
                )


def lift(
    rule: Callable[..., tuple],
    updates: Any,
    *trees: Any,
    names: Sequence[str],
    where: str,
) -> tuple:
    """Applies ``rule(u, *xs) -> tuple`` to every leaf of ``updates`` and the matching leaves.

    Args:
      rule: a per-array function returning a tuple of arrays (or ``None`` entries).
      updates: the incoming updates (gradients).
      *trees: state trees (and optionally params) with the structure of ``updates``.
      names: a name for each tree, ``updates`` first, used in error messages.
      where: the transform's name, used in error messages.

    Returns:
      A tuple of trees with the structure of ``updates``, one per output of ``rule``.

    Raises:
      TreeMismatchError: a tree's structure or a leaf's shape differs from ``updates``.
      TypeError: a gradient leaf is not floating point.
    """
    leaves, treedef = jax.tree.flatten(updates)
    check_float_leaves(updates, names[0], where)
    others = []
    for tree, name in zip(trees, names[1:]):
        if jax.tree.structure(tree, is_leaf=is_stored) != treedef:  # the state (or params) is the reference
            raise structure_error(tree, updates, name, names[0], where)
        others.append(treedef.flatten_up_to(tree))
    _check_shapes(names, [leaves, *others], updates, where)
    outs = [call_stored(rule, u, xs) for u, *xs in zip(leaves, *others)]
    if not outs:  # a tree with no array leaves: every output is that same empty tree
        return tuple(jax.tree.unflatten(treedef, []) for _ in range(_count_outputs(rule, trees)))
    return tuple(jax.tree.unflatten(treedef, list(col)) for col in zip(*outs))


def is_stored(x: Any) -> bool:
    """True for a :class:`Stored` state leaf (8-bit blocks, stochastically rounded bfloat16).

    Pass it as ``is_leaf`` to treat stored leaves as leaves of a state tree.

    Example:
      >>> import jax, jax.numpy as jnp, momentax
      >>> q8 = momentax.blockwise_8bit(min_size=0)
      >>> state = momentax.adam(1e-3, mu_dtype=q8).init({"w": jnp.zeros(8)})
      >>> [type(x).__name__ for x in jax.tree.leaves(state[0].mu, is_leaf=momentax.trees.is_stored)]
      ['QuantizedArray']
    """
    return isinstance(x, Stored)


def loaded(x: Any) -> Any:
    """A stored leaf's float32 values; any other leaf as it is.

    Example:
      >>> import jax, jax.numpy as jnp, momentax
      >>> state = momentax.adam(1e-3, nu_dtype=momentax.stochastic_rounding()).init({"w": jnp.ones(2)})
      >>> jax.tree.map(momentax.trees.loaded, state[0].nu, is_leaf=momentax.trees.is_stored)["w"].dtype
      dtype('float32')
    """
    return x.load() if isinstance(x, Stored) else x


def call_stored(rule: Callable, u: Any, xs: Sequence[Any]) -> tuple:
    """``rule(u, *xs)`` with stored leaves of ``xs`` read as float32; the rule's output ``1 + i``
    is written back into the storage of ``xs[i]`` (rules return the new state in their inputs'
    order)."""
    if not any(isinstance(x, Stored) for x in xs):
        return rule(u, *xs)
    out = rule(u, *[loaded(x) for x in xs])
    return (out[0], *[xs[i].store(o) if i < len(xs) and isinstance(xs[i], Stored) else o
                      for i, o in enumerate(out[1:])])


def _count_outputs(rule: Callable, trees: Sequence[Any]) -> int:
    """How many outputs ``rule`` has, found by tracing it (no arithmetic) on a small probe.

    Used only for trees with no array leaves. A rule that needs matrices fails on a scalar
    probe, so matrices and stacks of matrices are tried next.
    """
    error: Exception | None = None
    for shape in ((), (2, 2), (2, 2, 2)):
        x = jax.ShapeDtypeStruct(shape, jnp.float32)
        try:
            return len(jax.eval_shape(rule, x, *[x for _ in trees]))
        except (TypeError, ValueError, IndexError) as err:
            error = err
    raise TypeError(f"cannot tell how many outputs the per-array rule {rule!r} has") from error


def zeros_like_tree(params: Any, dtype: Any = None) -> Any:
    """Zeros with each parameter's shape, dtype (or ``dtype``) and sharding.

    Works on concrete arrays, tracers and ``jax.ShapeDtypeStruct`` leaves; ``None`` leaves stay
    ``None``. State built this way lands on the parameter's sharding without first being
    materialised on one device.
    """

    def zeros(p):
        dt = jnp.dtype(dtype) if dtype is not None else jnp.dtype(p.dtype)
        sharding = None
        if isinstance(p, jax.ShapeDtypeStruct):
            sharding = getattr(p, "sharding", None)
        elif isinstance(p, jax.Array) and not isinstance(p, jax.core.Tracer) and p.committed:
            # Only a committed parameter pins its state: committing the state of an uncommitted
            # parameter would make jit see a new placement after the first step and recompile.
            sharding = p.sharding
        if sharding is not None:
            return jnp.zeros(p.shape, dt, device=sharding)
        return jnp.zeros(np.shape(p), dt)

    return jax.tree.map(zeros, params)


def broadcast_prefix(prefix: Any, full: Any, prefix_name: str, full_name: str, where: str) -> Any:
    """Repeats each leaf of ``prefix`` over the matching subtree of ``full``.

    ``prefix`` has the structure of ``full`` or of a prefix of it (a mask ``{"dense": False}``
    over ``{"dense": {"w": ..., "b": ...}}``). Raises TreeMismatchError naming the first path
    where ``prefix`` is not a prefix of ``full``.
    """
    try:
        return jax.tree.broadcast(prefix, full, is_leaf=_is_none)
    except (ValueError, TypeError) as err:
        for path, leaf in jax.tree_util.tree_flatten_with_path(prefix, is_leaf=_is_none)[0]:
            try:
                sub = full
                for key in path:
                    sub = sub[key.key] if isinstance(key, jax.tree_util.DictKey) else (
                        sub[key.idx] if isinstance(key, jax.tree_util.SequenceKey) else getattr(sub, key.name))
            except (KeyError, IndexError, AttributeError, TypeError):
                raise TreeMismatchError(
                    f"{where}: the {prefix_name} tree must have the structure of the {full_name} tree "
                    f"or of a prefix of it; {full_name} has nothing at {jax.tree_util.keystr(path)}, "
                    f"where {prefix_name} has {_describe_leaf(leaf)}."
                ) from err
        raise TreeMismatchError(
            f"{where}: the {prefix_name} tree must have the structure of the {full_name} tree or of a "
            f"prefix of it ({prefix_name}: {jax.tree.structure(prefix)}; {full_name}: "
            f"{jax.tree.structure(full)})."
        ) from err


def _concrete(x: Any) -> bool:
    return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer)


def _replicated_like(sharding: Any) -> Any:
    """A sharding that puts a scalar on every device of ``sharding`` (None if unknown)."""
    if isinstance(sharding, jax.sharding.NamedSharding):
        return jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    if len(sharding.device_set) == 1:
        return jax.sharding.SingleDeviceSharding(next(iter(sharding.device_set)))
    return None


def align_placement(state: Any, params: Any) -> Any:
    """Commits the state's uncommitted leaves (counters, hyperparameters, 8-bit scales, PRNG keys)
    where committed params live.

    ``jax.jit`` keys its cache on whether each input is committed to a device. A state whose
    moments are committed (because the parameters are) but whose scalars are not would change
    signature after the first step, whose outputs are all committed, and compile twice.
    """
    target = next((_replicated_like(p.sharding) for p in jax.tree.leaves(params)
                   if _concrete(p) and p.committed), None)
    if target is None:
        return state

    def place(x):
        if _concrete(x) and not x.committed:
            return jax.device_put(x, target)
        return x

    return jax.tree.map(place, state)
