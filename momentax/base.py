"""The contract: gradient transformations, their state, and ``apply_updates``.

A gradient transformation is a pair of pure functions::

    init(params) -> state
    update(updates, state, params=None, **extra) -> (new_updates, new_state)

``updates`` enter as gradients and leave as deltas, so ``apply_updates`` is a plain add.

momentax keeps every numeric hyperparameter in the state (see :mod:`momentax.hyperparams`),
so changing one with ``set_hyperparams`` never recompiles. A :class:`GradientTransformation`
is also a pytree with no leaves, so it can be passed as an argument to a jitted function; its
identity there is its configuration including the initial values, so a new optimizer object
with other values compiles anew (its ``init`` writes those values) while the same object with
values changed in its state does not.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from momentax import trees

__all__ = [
    "GradientTransformation",
    "EmptyState",
    "apply_updates",
    "identity",
    "stateless",
]

Params = Any
Updates = Any
State = Any


class EmptyState(NamedTuple):
    """The state of a transform that keeps nothing."""


class GradientTransformation:
    """An ``init``/``update`` pair with a readable description.

    Attributes:
      init: ``init(params) -> state``.
      update: ``update(updates, state, params=None, **extra) -> (updates, state)``; unknown
        keyword arguments are accepted and ignored.
      name: the constructor's name (``"scale_by_adam"``); ``None`` for a user-made pair.
      hyper: initial numeric hyperparameters, ``{name: float}``, for display only: the live
        values are in the state.
      static: static configuration (dtypes, flags, schedules), part of the identity used by
        ``jax.jit`` caching.
      children: inner transforms (for ``chain``).

    A ``GradientTransformation`` is accepted wherever optax accepts one (``optax.chain``,
    ``optax.MultiSteps``, ``flax.nnx.Optimizer``) and unpacks as ``init, update = tx``.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.GradientTransformation(
      ...     lambda p: momentax.EmptyState(), lambda u, s, p=None, **kw: (u, s))
      >>> tx.update({"w": jnp.ones(2)}, tx.init({"w": jnp.ones(2)}))[0]["w"].tolist()
      [1.0, 1.0]
    """

    __slots__ = ("init", "update", "name", "hyper", "static", "children", "_raw_init")

    def __init__(
        self,
        init: Callable[[Params], State],
        update: Callable[..., tuple[Updates, State]],
        *,
        name: str | None = None,
        hyper: Mapping[str, Any] | None = None,
        static: Mapping[str, Any] | None = None,
        children: tuple["GradientTransformation", ...] = (),
    ):
        self._raw_init = init
        self.init = _placed(init)
        self.update = update
        self.name = name
        self.hyper = dict(hyper or {})
        self.static = dict(static or {})
        self.children = tuple(children)

    def __iter__(self) -> Iterator[Callable]:
        yield self.init
        yield self.update

    def static_key(self) -> tuple:
        """What must be equal for two transforms to share a compiled program.

        The initial numeric values are part of it because ``init`` writes them into the state:
        an ``init`` traced for ``sgd(0.1)`` must not be reused for ``sgd(0.5)``. Values changed
        in the state with ``set_hyperparams`` never change the key, so they never recompile.
        """
        if self.name is None:
            return ("fn", self._raw_init, self.update)
        return (
            self.name,
            tuple(sorted((k, _hashable(v)) for k, v in self.hyper.items())),
            tuple(sorted((k, _hashable(v)) for k, v in self.static.items())),
            tuple(c.static_key() for c in self.children),
        )

    def __repr__(self) -> str:
        return _describe(self, 0)


def _placed(init: Callable[[Params], State]) -> Callable[[Params], State]:
    """``init`` whose scalar state is committed where committed parameters are (no recompiles)."""

    def placed_init(params):
        return trees.align_placement(init(params), params)

    placed_init.__wrapped__ = init  # type: ignore[attr-defined]
    placed_init.__doc__ = init.__doc__
    return placed_init


def _hashable(value: Any) -> Any:
    """A hashable stand-in for an option or initial value (mask trees, arrays, callables)."""
    if isinstance(value, (jax.Array, np.ndarray, np.generic)) and not isinstance(value, jax.core.Tracer):
        arr = np.asarray(value)
        return ("array", arr.dtype.str, arr.shape, arr.tobytes())
    try:
        hash(value)
        return value
    except TypeError:
        leaves, treedef = jax.tree.flatten(value)
        return (treedef, tuple(_hashable(x) for x in leaves))


def _format_value(value: Any) -> str:
    if callable(value) and not isinstance(value, type):
        return getattr(value, "__name__", type(value).__name__)
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "dtype") and not hasattr(value, "shape"):
        return jnp.dtype(value).name
    try:
        return jnp.dtype(value).name if isinstance(value, type) else repr(value)
    except TypeError:
        return repr(value)


def _describe(tx: Any, indent: int) -> str:
    if tx.name == "foreign":
        inner = tx.static["transformation"]
        return f"<foreign transformation {getattr(inner.update, '__qualname__', type(inner).__name__)}>"
    if tx.name is None:
        return f"GradientTransformation({getattr(tx.update, '__qualname__', tx.update)!r})"
    args = [f"{k}={_format_value(v)}" for k, v in tx.hyper.items()]
    args += [f"{k}={_format_value(v)}" for k, v in tx.static.items() if v is not None]
    if not tx.children:
        return f"{tx.name}({', '.join(args)})"
    pad = "  " * (indent + 1)
    inner = ",\n".join(pad + _describe(c, indent + 1) for c in tx.children)
    head = tx.name if not args else f"{tx.name}[{', '.join(args)}]"
    return f"{head}(\n{inner},\n{'  ' * indent})"


class _StaticKey:
    """Tree auxiliary data for a transform: equal when the static configuration is equal."""

    __slots__ = ("tx", "key")

    def __init__(self, tx: GradientTransformation):
        self.tx = tx
        self.key = tx.static_key()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _StaticKey) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


jax.tree_util.register_pytree_node(
    GradientTransformation,
    lambda tx: ((), _StaticKey(tx)),
    lambda aux, _: aux.tx,
)


def accepts_extra_args(update: Callable) -> bool:
    """Whether ``update`` takes arbitrary keyword arguments (``**extra``)."""
    try:
        params = inspect.signature(update).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def identity() -> GradientTransformation:
    """Passes updates through unchanged: ``u' = u``.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> tx = momentax.identity()
      >>> tx.update(jnp.ones(2), tx.init(jnp.ones(2)))[0].tolist()
      [1.0, 1.0]
    """

    def init(params):
        del params
        return EmptyState()

    def update(updates, state, params=None, **extra):
        del params, extra
        return updates, state

    return GradientTransformation(init, update, name="identity")


def stateless(fn: Callable[[Updates, Params], Updates], name: str | None = None) -> GradientTransformation:
    """A transform with no state from ``fn(updates, params) -> updates``.

    Example:
      >>> import jax, jax.numpy as jnp, momentax
      >>> tx = momentax.stateless(lambda u, p: jax.tree.map(jnp.sign, u))
      >>> tx.update(jnp.array([-3.0, 2.0]), tx.init(None))[0].tolist()
      [-1.0, 1.0]
    """

    def init(params):
        del params
        return EmptyState()

    def update(updates, state, params=None, **extra):
        del extra
        return fn(updates, params), state

    return GradientTransformation(init, update, name=name, static={"fn": fn} if name else None)


def apply_updates(params: Params, updates: Updates) -> Params:
    """Returns ``params + updates``, each result cast back to its parameter's dtype.

    ``None`` leaves are passed through. The add happens in the wider of the two dtypes, then
    the result is cast to the parameter's dtype (so a bfloat16 parameter stays bfloat16).

    Raises:
      TreeMismatchError: ``updates`` does not have the structure of ``params``; the message
        names the first differing tree path.
      TypeError: a parameter is not floating point (integer, boolean).

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> momentax.apply_updates({"w": jnp.ones(2)}, {"w": jnp.array([0.5, -1.0])})["w"].tolist()
      [1.5, 0.0]
    """
    trees.check_float_leaves(params, "params", "apply_updates")
    leaves, treedef = jax.tree.flatten(params)
    u_leaves = trees.leaves_like(treedef, updates, "params", "updates", "apply_updates", reference=params)

    def add(p, u):
        return jnp.asarray(p + u).astype(p.dtype)

    return jax.tree.unflatten(treedef, [add(p, u) for p, u in zip(leaves, u_leaves)])


COUNT_DTYPE = jnp.int32


def init_count() -> jax.Array:
    """A step counter at zero (int32 scalar)."""
    return jnp.zeros([], COUNT_DTYPE)


def safe_increment(count: jax.Array) -> jax.Array:
    """``count + 1``, saturating at the int32 maximum instead of wrapping to negative."""
    top = jnp.iinfo(COUNT_DTYPE).max
    return jnp.where(count < top, count + 1, count).astype(COUNT_DTYPE)


def _keeps_eval_params(node: Any) -> bool:
    return callable(getattr(type(node), "eval_params", None))


def eval_params(state: State, params: Params) -> Params:
    """The parameters to evaluate a model with, given an optimizer's state.

    Transforms that keep averaged or extrapolated weights (weight EMA / Polyak averaging,
    schedule-free optimizers, averaged SGD) give their state class a method
    ``eval_params(self, params) -> params``; this function finds the first such node in
    ``state`` (in tree order) and returns what it gives. With none, ``params`` is returned.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adam(1e-3)
      >>> p = {"w": jnp.ones(2)}
      >>> momentax.eval_params(opt.init(p), p) is p
      True
    """
    for node in jax.tree_util.tree_leaves(state, is_leaf=_keeps_eval_params):
        if _keeps_eval_params(node):
            return node.eval_params(params)
    return params
