"""Helpers shared by the wrappers: state checks, zero updates shaped like the inner output."""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from momentax import trees
from momentax.hyperparams import Interval

AT_LEAST_ONE = Interval(1.0, math.inf, hi_open=True)  # whole-number counts stored as floats: k, warmup


def check_state(state: Any, state_type: type, where: str) -> None:
    """Raises TypeError unless ``state`` was made by the wrapper's ``init``."""
    if not isinstance(state, state_type):
        raise TypeError(
            f"{where}: expected the state made by this wrapper's init ({state_type.__name__}), got "
            f"{type(state).__name__}. Pass the state returned by init (or by the previous update)."
        )


def require_params(params: Any, where: str) -> None:
    if params is None:
        raise ValueError(
            f"{where}: update needs the current parameters; call update(updates, state, params)."
        )


def zeros_like_output(fn: Callable[[], tuple[Any, Any]]) -> Any:
    """Zeros with the structure, shapes and dtypes of the updates ``fn()`` would return.

    ``fn`` is only traced (``jax.eval_shape``), never run; the zeros match what the other
    branch of a ``lax.cond`` returns even if the inner transform changes a dtype.
    """
    shapes = jax.eval_shape(fn)[0]
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)


def all_finite(tree: Any) -> jax.Array:
    """A boolean scalar: every element of every leaf of ``tree`` is finite (True if none)."""
    flags = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.asarray(True)


def copy_tree(params: Any, dtype: Any = None) -> Any:
    """A copy of ``params`` (each leaf in ``dtype`` if given) in fresh buffers.

    A fresh buffer lets a caller donate both the parameters and the state; a
    ``jax.ShapeDtypeStruct`` leaf (abstract init) gives zeros of its shape and sharding.
    """

    def copy(p):
        if isinstance(p, jax.ShapeDtypeStruct):
            return trees.zeros_like_tree(p, dtype)
        return jnp.array(p, dtype=dtype, copy=True)

    return jax.tree.map(copy, params)


def check_integer(name: str, value: Any, lowest: int, where: str) -> None:
    """Raises ValueError unless a concrete ``value`` is a whole number >= ``lowest``."""
    if isinstance(value, jax.core.Tracer):
        return
    v = np.asarray(value)
    if v.shape != () or not np.isfinite(v) or float(v) != int(v) or int(v) < lowest:
        raise ValueError(f"{where}: {name} must be a whole number >= {lowest}, got {value!r}.")
