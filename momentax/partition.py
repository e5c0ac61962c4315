"""Acting on part of the parameters: ``masked``, ``partition`` (parameter groups), ``freeze``.

Each gives its inner transforms a view of the tree in which the leaves they do not own are
``None``: an inner transform allocates no state and does no arithmetic for them.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp

from momentax import trees
from momentax.base import GradientTransformation
from momentax.combine import as_momentax

__all__ = ["masked", "partition", "freeze", "label_by_path"]


def _is_none(x: Any) -> bool:
    return x is None


def _labels_for(spec: Any, tree: Any, spec_name: str, where: str) -> Any:
    """``spec`` (a tree, a prefix of the tree, or a function of it) broadcast over ``tree``."""
    value = spec(tree) if callable(spec) else spec
    return trees.broadcast_prefix(value, tree, spec_name, "params", where)


def _select(tree: Any, labels: Any, keep: Callable[[Any], bool]) -> Any:
    """``tree`` with the leaves whose label fails ``keep`` replaced by ``None``."""
    return jax.tree.map(lambda x, lab: x if x is not None and keep(lab) else None, tree, labels, is_leaf=_is_none)


def _merge(base: Any, part: Any, labels: Any, keep: Callable[[Any], bool]) -> Any:
    """``base`` with the leaves whose label passes ``keep`` taken from ``part``."""
    part_leaves = jax.tree.structure(base, is_leaf=_is_none).flatten_up_to(part)
    leaves, treedef = jax.tree.flatten(base, is_leaf=_is_none)
    flags = treedef.flatten_up_to(labels)
    merged = [p if keep(flag) and b is not None else b for b, p, flag in zip(leaves, part_leaves, flags)]
    return jax.tree.unflatten(treedef, merged)


def _nested(update: Callable, level: str, updates: Any, state: Any, params: Any, extra: dict):
    """Runs an inner update; a tree error from inside says which wrapper level it came from."""
    try:
        return update(updates, state, params, **extra)
    except trees.TreeMismatchError as err:
        raise trees.TreeMismatchError(f"inside {level}: {err}") from None


def masked(inner: Any, mask: Any) -> GradientTransformation:
    """Applies ``inner`` to the leaves where ``mask`` is True; other updates pass through.

    ``u'[leaf] = inner(u)[leaf]`` where the mask is True, ``u[leaf]`` elsewhere. ``inner``
    sees ``None`` at the masked-out leaves, so it keeps no state for them.

    Args:
      inner: a gradient transformation (momentax or optax).
      mask: static; a tree of bools with the params' structure or a prefix of it, or a
        function ``tree -> such a tree`` (called on the params in ``init`` and on the updates
        in ``update``, as optax). Nesting ``masked`` inside ``masked`` works.

    Raises:
      TreeMismatchError: the mask does not fit the tree; the message names the first path.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.masked(momentax.scale(-1.0), {"w": True, "b": False})
      >>> u, _ = tx.update({"w": jnp.ones(1), "b": jnp.ones(1)}, tx.init({"w": jnp.ones(1), "b": jnp.ones(1)}))
      >>> float(u["w"][0]), float(u["b"][0])
      (-1.0, 1.0)
    """
    inner = as_momentax(inner)
    where = "masked"

    def init(params):
        flags = _labels_for(mask, params, "mask", where)
        return inner.init(_select(params, flags, bool))

    def update(updates, state, params=None, **extra):
        flags = _labels_for(mask, updates, "mask", where)
        part_params = None if params is None else _select(params, flags, bool)
        new, state = _nested(inner.update, "masked", _select(updates, flags, bool), state, part_params, extra)
        return _merge(updates, new, flags, bool), state

    return GradientTransformation(init, update, name=where, static={"mask": mask}, children=(inner,))


def partition(transforms: Mapping[str, Any], param_labels: Any) -> GradientTransformation:
    """Parameter groups: each leaf is updated by the transform of its label.

    Like torch.optim's param groups: ``transforms`` maps a label to an optimizer (each with
    its own hyperparameters); ``param_labels`` gives each leaf its label. The state is a dict
    label -> state; a hyperparameter present in several groups is addressed as
    ``"label/name"`` by :func:`momentax.set_hyperparams` (a plain name sets every group).

    Args:
      transforms: label -> gradient transformation.
      param_labels: static; a tree of labels with the params' structure or a prefix of it, or
        a function ``params -> such a tree`` (see :func:`label_by_path` for path patterns).

    Raises:
      ValueError: a leaf's label has no transform (the message names the path and label).
      TreeMismatchError: the labels do not fit the params tree.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.partition({"fast": momentax.sgd(1.0), "slow": momentax.sgd(0.1)},
      ...                         {"w": "fast", "b": "slow"})
      >>> p = {"w": jnp.ones(1), "b": jnp.ones(1)}
      >>> u, _ = tx.update(p, tx.init(p), p)
      >>> round(float(u["w"][0]), 6), round(float(u["b"][0]), 6)
      (-1.0, -0.1)
    """
    groups = {label: as_momentax(tx) for label, tx in transforms.items()}
    where = "partition"

    def labels_of(tree):
        labels = _labels_for(param_labels, tree, "param_labels", where)
        flat, _ = jax.tree_util.tree_flatten_with_path(jax.tree.map(lambda x, lab: None if x is None else lab,
                                                                    tree, labels, is_leaf=_is_none))
        for path, label in flat:
            if label not in groups:
                raise ValueError(
                    f"{where}: the leaf at {jax.tree_util.keystr(path)} has label {label!r}, which has "
                    f"no transform; the labels with transforms are {sorted(groups)}."
                )
        return labels

    def init(params):
        labels = labels_of(params)
        return {label: tx.init(_select(params, labels, lambda x, k=label: x == k)) for label, tx in groups.items()}

    def update(updates, state, params=None, **extra):
        labels = labels_of(updates if params is None else params)
        out, new_state = updates, {}
        for label, tx in groups.items():
            keep = (lambda x, k=label: x == k)
            part_params = None if params is None else _select(params, labels, keep)
            part, new_state[label] = _nested(tx.update, f"partition group {label!r}", _select(updates, labels, keep),
                                             state[label], part_params, extra)
            out = _merge(out, part, labels, keep)
        return out, new_state

    return GradientTransformation(init, update, name=where, static={"param_labels": param_labels},
                                  children=tuple(groups.values()))


def freeze(inner: Any, frozen: Any) -> GradientTransformation:
    """``inner`` on the trainable leaves; frozen leaves get zero updates, no state and no compute.

    Args:
      inner: a gradient transformation.
      frozen: static; a tree of bools (True: frozen) with the params' structure or a prefix of
        it, or a function ``params -> such a tree``.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.freeze(momentax.adam(0.1), {"w": False, "emb": True})
      >>> p = {"w": jnp.ones(2), "emb": jnp.ones(3)}
      >>> u, state = tx.update(p, tx.init(p), p)
      >>> u["emb"].tolist(), state[0].mu["emb"] is None
      ([0.0, 0.0, 0.0], True)
    """
    inner = as_momentax(inner)
    where = "freeze"

    def trainable(flag):
        return not bool(flag)

    def init(params):
        flags = _labels_for(frozen, params, "frozen", where)
        return inner.init(_select(params, flags, trainable))

    def update(updates, state, params=None, **extra):
        flags = _labels_for(frozen, updates if params is None else params, "frozen", where)
        part_params = None if params is None else _select(params, flags, trainable)
        new, state = _nested(inner.update, "freeze", _select(updates, flags, trainable), state, part_params, extra)
        zeros = jax.tree.map(lambda u: None if u is None else jnp.zeros_like(u), updates, is_leaf=_is_none)
        return _merge(zeros, new, flags, trainable), state

    return GradientTransformation(init, update, name=where, static={"frozen": frozen}, children=(inner,))


def label_by_path(rules: Mapping[str, str], default: str | None = None) -> Callable[[Any], Any]:
    """A ``param_labels`` function from regular expressions on the parameter path.

    Each leaf's path is written ``"enc/w"`` (dict keys, attribute names and list indices joined
    by ``/``); the first pattern (in order) that ``re.search`` finds in it gives the label,
    else ``default``.

    Raises:
      ValueError: a leaf matches no pattern and there is no default (names the path).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> labels = momentax.label_by_path({r"(^|/)b$": "no_decay"}, default="decay")
      >>> labels({"enc": {"w": jnp.ones(1), "b": jnp.ones(1)}})
      {'enc': {'b': 'no_decay', 'w': 'decay'}}
    """
    compiled = [(re.compile(pattern), label) for pattern, label in rules.items()]

    def text(path) -> str:
        parts = []
        for key in path:
            for attr in ("key", "name", "idx"):
                if hasattr(key, attr):
                    parts.append(str(getattr(key, attr)))
                    break
        return "/".join(parts)

    def label(path, leaf):
        name = text(path)
        for pattern, lab in compiled:
            if pattern.search(name):
                return lab
        if default is None:
            raise ValueError(f"label_by_path: no pattern matches the parameter at {name!r}, and no default is given.")
        return default

    def labels(params):
        return jax.tree_util.tree_map_with_path(label, params)

    return labels
