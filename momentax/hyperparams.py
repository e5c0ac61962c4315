"""Numeric hyperparameters as data: kept in the state, read and written by name.

Every numeric hyperparameter of a momentax transform (learning rate, betas, eps, weight
decay, ...) lives in the transform's state inside a :class:`Hyperparams` node, as a scalar
array of the default float dtype (float32, or float64 under ``jax_enable_x64``). The update
reads it from there, so a new value never changes the compiled program:

    >>> import jax, jax.numpy as jnp, momentax
    >>> opt = momentax.adam(1e-3)
    >>> state = opt.init({"w": jnp.zeros(3)})
    >>> round(float(momentax.hyperparams(state)["learning_rate"]), 6)
    0.001
    >>> state = momentax.set_hyperparams(state, learning_rate=3e-4)
    >>> round(float(momentax.hyperparams(state)["learning_rate"]), 6)
    0.0003

Static options (``nesterov``, ``centered``, state dtypes, masks) change shapes, dtypes or
control flow; they are arguments of the constructor and not part of the state.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterator, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from momentax.base import GradientTransformation

__all__ = ["Hyperparams", "Interval", "hyperparams", "set_hyperparams", "validate"]


class Interval(NamedTuple):
    """The allowed range of a hyperparameter, checked whenever a concrete value is given."""

    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    settable: bool = True

    def describe(self) -> str:
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        hi = "inf" if math.isinf(self.hi) else f"{self.hi:g}"
        return f"{left}{self.lo:g}, {hi}{right}"

    def check(self, name: str, value: Any, where: str) -> None:
        """Raises ValueError if a concrete ``value`` lies outside the interval (or is NaN)."""
        if isinstance(value, jax.core.Tracer) or callable(value):
            return
        v = np.asarray(value)
        if v.shape != ():
            raise ValueError(f"{where}: {name} must be a scalar, got shape {list(v.shape)}.")
        x = float(v)
        ok = not math.isnan(x)
        ok = ok and (x > self.lo if self.lo_open else x >= self.lo)
        ok = ok and (x < self.hi if self.hi_open else x <= self.hi)
        if not ok:
            raise ValueError(f"{where}: {name}={x!r} is out of range; it must lie in {self.describe()}.")


NONNEGATIVE = Interval(0.0, math.inf, hi_open=True)
POSITIVE = Interval(0.0, math.inf, lo_open=True, hi_open=True)
DECAY = Interval(0.0, 1.0, hi_open=True)  # betas, decay rates: [0, 1)
FRACTION = Interval(0.0, 1.0)  # dampening: [0, 1]
REAL = Interval(-math.inf, math.inf, hi_open=True, lo_open=True)
SCHEDULED = Interval(-math.inf, math.inf, True, True, settable=False)


def validate(where: str, **specs: tuple[Any, Interval]) -> dict[str, tuple[Any, Interval]]:
    """Checks each ``name=(value, interval)`` and returns the specs for :meth:`Hyperparams.create`.

    Raises:
      ValueError: a value lies outside its interval; the message names ``where`` and the range.
    """
    for name, (value, interval) in specs.items():
        interval.check(name, value, where)
    return specs


def default_float() -> Any:
    """float64 when ``jax_enable_x64`` is on, else float32."""
    return jax.dtypes.canonicalize_dtype(jnp.float64)


class Hyperparams(Mapping[str, jax.Array]):
    """An immutable ``{name: scalar array}`` node of a transform's state.

    A pytree whose leaves are the values, in the order given; the allowed ranges travel in
    the tree's static data, so :func:`set_hyperparams` validates without knowing the transform.
    """

    __slots__ = ("_values", "_ranges")

    def __init__(self, values: Mapping[str, Any], ranges: Mapping[str, Interval]):
        self._values = dict(values)
        self._ranges = dict(ranges)

    @classmethod
    def create(cls, specs: Mapping[str, tuple[Any, Interval]]) -> "Hyperparams":
        """Stores each ``name: (value, interval)`` value as a scalar array of the default float."""
        dtype = default_float()
        return cls({n: jnp.asarray(v, dtype) for n, (v, _) in specs.items()},
                   {n: iv for n, (_, iv) in specs.items()})

    def __getitem__(self, name: str) -> jax.Array:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def interval(self, name: str) -> Interval:
        return self._ranges[name]

    def renamed(self, names: Mapping[str, str]) -> "Hyperparams":
        """The same values and ranges with keys renamed by ``names`` (old -> new)."""
        def new(n):
            return names.get(n, n)
        return Hyperparams({new(n): v for n, v in self._values.items()},
                           {new(n): r for n, r in self._ranges.items()})

    def replace(self, **values: Any) -> "Hyperparams":
        new = dict(self._values)
        for name, value in values.items():
            new[name] = value
        return Hyperparams(new, self._ranges)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Hyperparams({inner})"


def _flatten(h: Hyperparams):
    names = tuple(h._values)
    children = [(jax.tree_util.DictKey(n), h._values[n]) for n in names]
    return children, (names, tuple(h._ranges[n] for n in names))


def _unflatten(aux, children) -> Hyperparams:
    names, ranges = aux
    return Hyperparams(dict(zip(names, children)), dict(zip(names, ranges)))


jax.tree_util.register_pytree_with_keys(Hyperparams, _flatten, _unflatten)


def _is_hyper(x: Any) -> bool:
    return isinstance(x, Hyperparams)


def _prefix(path: tuple) -> str:
    parts = []
    for key in path:
        if isinstance(key, jax.tree_util.SequenceKey):
            parts.append(str(key.idx))
        elif isinstance(key, jax.tree_util.GetAttrKey):
            parts.append(key.name)
        elif isinstance(key, jax.tree_util.DictKey):
            parts.append(str(key.key))
        else:
            parts.append(str(key))
    return "/".join(p for p in parts if p != "hyperparams")


def _find(state: Any) -> tuple[list[tuple[str, Any]], Any]:
    flat, treedef = jax.tree_util.tree_flatten_with_path(state, is_leaf=_is_hyper)
    return [(_prefix(path), leaf) for path, leaf in flat], treedef


def _keys(found: list[tuple[str, Any]]) -> list[tuple[str, str, int]]:
    """(public key, plain name, index into found) for every hyperparameter in the state.

    A name that occurs once is its own key. Repeated names are qualified by the path of their
    transform: by the named parts alone (``"decay/learning_rate"`` in a partition) when that
    tells them apart, else by the full path with chain positions (``"0/step_size"``).
    """
    entries = [(prefix, name, i) for i, (prefix, h) in enumerate(found) if _is_hyper(h) for name in h]
    counts = Counter(name for _, name, _ in entries)

    def named_part(prefix: str) -> str:
        return "/".join(p for p in prefix.split("/") if p and not p.isdigit())

    keys = []
    for prefix, name, i in entries:
        if counts[name] == 1:
            keys.append((name, name, i))
            continue
        if not prefix:  # a wrapper's own value at the top of the state keeps the plain name
            keys.append((name, name, i))
            continue
        short = [named_part(p) for p, n, _ in entries if n == name]
        mine = named_part(prefix)
        qualifier = mine if mine and short.count(mine) == 1 else prefix
        keys.append((f"{qualifier}/{name}", name, i))
    return keys


def hyperparams(state: Any) -> dict[str, jax.Array]:
    """The current numeric hyperparameters in ``state``, by name.

    A name that occurs once (``learning_rate``, ``b1``) is returned plain; a name that occurs
    in several transforms of a chain is qualified by its position, ``"0/learning_rate"``.
    For a learning rate that follows a schedule, the value is the one used by the last step.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> sorted(momentax.hyperparams(momentax.adamw(1e-3).init(jnp.zeros(2))))
      ['b1', 'b2', 'eps', 'eps_root', 'learning_rate', 'weight_decay']
    """
    found, _ = _find(state)
    return {key: found[i][1][name] for key, name, i in _keys(found)}


def _like(old: Any, value: Any) -> jax.Array:
    """``value`` with the dtype, shape and placement of ``old``.

    Keeping a committed value committed (on the same sharding) matters: ``jax.jit`` treats a
    change of placement as a new input signature and would compile again.
    """
    new = jnp.asarray(value, old.dtype).reshape(jnp.shape(old))
    if isinstance(old, jax.Array) and not isinstance(old, jax.core.Tracer) and old.committed \
            and not isinstance(new, jax.core.Tracer):
        new = jax.device_put(new, old.sharding)
    return new


def set_hyperparams(state: Any, **values: Any) -> Any:
    """Returns ``state`` with the named hyperparameters replaced; nothing recompiles.

    Keys are those of :func:`hyperparams`; a plain name that occurs in several transforms
    (and is not itself one of the keys) sets every occurrence. Values may be Python numbers or scalar arrays (also traced ones,
    inside ``jax.jit``); each is stored in the dtype the state already uses.

    Raises:
      KeyError: a name is not a hyperparameter of this state (the message lists the names).
      ValueError: a concrete value is out of the allowed range, or the hyperparameter
        follows a schedule (change the schedule instead).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> s = momentax.sgd(0.1, momentum=0.9).init(jnp.zeros(2))
      >>> float(momentax.hyperparams(momentax.set_hyperparams(s, momentum=0.5))["momentum"])
      0.5
    """
    found, treedef = _find(state)
    keys = _keys(found)
    updates: dict[int, dict[str, Any]] = {}
    for given, value in values.items():
        # An exact key sets that one value; a plain name that is not itself a key sets every
        # occurrence of that name (every group of a partition, say).
        targets = [(name, i) for key, name, i in keys if given in (key, f"{found[i][0]}/{name}")]
        if not targets:
            targets = [(name, i) for _, name, i in keys if given == name]
        if not targets:
            raise KeyError(
                f"set_hyperparams: {given!r} is not a hyperparameter of this optimizer state; "
                f"it has {sorted(k for k, _, _ in keys)}."
            )
        for name, i in targets:
            interval = found[i][1].interval(name)
            if not interval.settable:
                raise ValueError(
                    f"set_hyperparams: {given!r} follows a schedule and cannot be set; give the "
                    f"optimizer a different schedule instead."
                )
            interval.check(given, value, "set_hyperparams")
            old = found[i][1][name]
            updates.setdefault(i, {})[name] = _like(old, value)
    leaves = [h.replace(**updates[i]) if i in updates else h for i, (_, h) in enumerate(found)]
    return jax.tree.unflatten(treedef, leaves)


def _rename_all(state: Any, names: Mapping[str, str]) -> Any:
    return jax.tree.map(lambda x: x.renamed(names) if _is_hyper(x) else x, state, is_leaf=_is_hyper)


def rename_hyperparams(tx: Any, **names: str) -> Any:
    """``tx`` with its state's hyperparameters renamed, ``old="new"``.

    An optimizer uses this so the names in its state are its own argument names (``momentum``
    rather than the inner ``ema``'s ``decay``). The inner transform sees its original names.
    """
    back = {new: old for old, new in names.items()}

    def init(params):
        return _rename_all(tx.init(params), names)

    def update(updates, state, params=None, **extra):
        updates, state = tx.update(updates, _rename_all(state, back), params, **extra)
        return updates, _rename_all(state, names)

    return GradientTransformation(init, update, name=tx.name,
                                  hyper={names.get(k, k): v for k, v in tx.hyper.items()},
                                  static=tx.static, children=tx.children)
