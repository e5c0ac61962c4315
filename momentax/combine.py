"""Combining transforms: ``chain`` and the wrapping of foreign (optax) transforms."""

from __future__ import annotations

from typing import Any

from momentax import trees
from momentax.base import GradientTransformation, accepts_extra_args

__all__ = ["chain", "named_chain", "as_momentax"]


def as_momentax(tx: Any) -> GradientTransformation:
    """Wraps any object with ``init``/``update`` (an optax transform) as a momentax transform.

    A momentax transform is returned unchanged. A foreign ``update`` that does not take
    ``**extra`` keyword arguments has them dropped, as ``optax.chain`` does.

    Raises:
      TypeError: ``tx`` has no callable ``init`` and ``update``.
    """
    if isinstance(tx, GradientTransformation):
        return tx
    if not (callable(getattr(tx, "init", None)) and callable(getattr(tx, "update", None))):
        raise TypeError(
            f"expected a gradient transformation (an object with init and update), got "
            f"{type(tx).__name__}; did you pass an optimizer's constructor instead of calling it?"
        )
    foreign_update = tx.update
    if accepts_extra_args(foreign_update):
        update = foreign_update
    else:
        def update(updates, state, params=None, **extra):
            del extra
            return foreign_update(updates, state, params)
    return GradientTransformation(tx.init, update, name="foreign", static={"transformation": tx})


def labelled_chain(name: str, *transforms: Any) -> GradientTransformation:
    """:func:`chain` shown under another name (each optimizer is one labelled chain)."""
    txs = tuple(as_momentax(t) for t in transforms)

    def init(params):
        return tuple(t.init(params) for t in txs)

    def update(updates, state, params=None, **extra):
        if not isinstance(state, tuple) or len(state) != len(txs):
            got = f"a {type(state).__name__} of length {len(state)}" if isinstance(state, (tuple, list)) \
                else type(state).__name__
            raise trees.TreeMismatchError(
                f"{name}: expected the state made by this chain's init (a tuple of {len(txs)} "
                f"states), got {got}. Was the state made by a different optimizer?"
            )
        new_state = []
        for t, s in zip(txs, state):
            updates, s = t.update(updates, s, params, **extra)
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformation(init, update, name=name, children=txs)


def chain(*transforms: Any) -> GradientTransformation:
    """Applies transforms in order; the state is the tuple of their states.

    ``chain(a, b).update(g, (sa, sb), p)`` runs ``u, sa' = a.update(g, sa, p)`` then
    ``u', sb' = b.update(u, sb, p)``. Every extra keyword argument reaches every transform.
    Accepts momentax transforms and anything with optax's ``init``/``update`` interface.

    Raises:
      TypeError: an argument is not a gradient transformation.
      TreeMismatchError: ``update`` got a state that this chain's ``init`` did not make.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.chain(momentax.trace(0.9), momentax.scale_by_learning_rate(0.1))
      >>> params = {"w": jnp.ones(2)}
      >>> updates, state = tx.update({"w": jnp.ones(2)}, tx.init(params), params)
      >>> [round(x, 6) for x in updates["w"].tolist()]
      [-0.1, -0.1]
    """
    return labelled_chain("chain", *transforms)


def named_chain(*named: tuple[str, Any]) -> GradientTransformation:
    """:func:`chain` whose state is a dict keyed by the names given, ``(name, transform)`` pairs.

    The state is addressable by name (``state["adam"]``), and hyperparameters that occur in
    several transforms are qualified by those names (``"adam/eps"``) in
    :func:`momentax.hyperparams`.

    Raises:
      ValueError: a name repeats, or an argument is not a ``(str, transform)`` pair.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.named_chain(("momentum", momentax.trace(0.9)),
      ...                           ("lr", momentax.scale_by_learning_rate(0.1)))
      >>> sorted(tx.init(jnp.zeros(2)))
      ['lr', 'momentum']
    """
    names = []
    for item in named:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"named_chain: expected (name, transform) pairs, got {item!r}.")
        names.append(item[0])
    if len(set(names)) != len(names):
        raise ValueError(f"named_chain: names must be unique, got {names}.")
    txs = tuple(as_momentax(t) for _, t in named)

    def init(params):
        return {n: t.init(params) for n, t in zip(names, txs)}

    def update(updates, state, params=None, **extra):
        if not isinstance(state, dict) or sorted(state) != sorted(names):
            raise trees.TreeMismatchError(
                f"named_chain: expected a state with the keys {sorted(names)}, got "
                f"{sorted(state) if isinstance(state, dict) else type(state).__name__}."
            )
        new_state = {}
        for n, t in zip(names, txs):
            updates, new_state[n] = t.update(updates, state[n], params, **extra)
        return updates, new_state

    return GradientTransformation(init, update, name="named_chain", static={"names": tuple(names)}, children=txs)
