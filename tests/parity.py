"""A harness for parity tests: run two optimizers on one problem and compare trajectories.

The same gradient function drives both sides. It is written once, in JAX::

    grad_fn(params, t) -> grads

``params`` is a tree like the initial parameters (``None`` leaves included), ``t`` is the
0-based step index as an int32 scalar, and the result is a tree of gradients with the
structure of ``params``. On the torch side the harness evaluates ``grad_fn`` (jitted) on the
current torch parameters and hands the result to ``param.grad``, so a difference between
the two trajectories comes from the optimizers' arithmetic alone, never from two
implementations of the gradient.

Both trajectory functions return the same thing: a tree with the structure of ``params0``
whose leaf at each position is a numpy array of shape ``(steps, *leaf.shape)``, the
parameters after steps 1..steps (``None`` leaves stay ``None``). Compare two such trees with
:func:`max_rel_error`, :func:`rel_errors` or :func:`assert_trajectories_close`.

Relative error, as used throughout: for one leaf at one step,
``max_i |a_i - b_i| / max(max_i |b_i|, tiny)`` (the max-norm of the difference over the
max-norm of the reference ``b``, with ``tiny`` the smallest normal number of ``b``'s dtype);
the reported error of a trajectory is the worst such value over its leaves and steps.

Typical use, inside the ``x64`` fixture::

    params0 = random_tree(0)
    grad_fn = noisy_quadratic(params0, steps=100, seed=1)
    ref = torch_trajectory(lambda ps: torch.optim.Adam(ps, lr=1e-2), params0, grad_fn, 100)
    got = momentax_trajectory(momentax.adam(1e-2), params0, grad_fn, 100)
    assert_trajectories_close(got, ref, 1e-10)

``momentax_trajectory`` accepts any object with optax's ``init``/``update`` interface, so the
optax side of a comparison runs through it too.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

import momentax
from momentax.combine import as_momentax

__all__ = [
    "noisy_quadratic",
    "torch_trajectory",
    "momentax_trajectory",
    "rel_errors",
    "max_rel_error",
    "assert_trajectories_close",
]

GradFn = Callable[[Any, jax.Array], Any]


def _require_x64_for(dtype: Any) -> None:
    # Without x64, JAX would silently compute a float64 problem in float32 and every parity
    # test would fail at the 1e-7 level for a reason unrelated to the optimizer.
    if np.dtype(dtype) == np.float64 and jax.dtypes.canonicalize_dtype(jnp.float64) != jnp.float64:
        raise RuntimeError(
            "parity: a float64 trajectory needs jax_enable_x64; run the test inside the `x64` "
            "fixture (or `with jax.enable_x64(True):`)."
        )


def noisy_quadratic(params0: Any, steps: int, seed: int, noise: float = 0.1) -> GradFn:
    """The gradient of a random separable convex quadratic plus a fixed noise sequence.

    For each leaf, ``g_t = a * (p - c) + noise * n_t`` with ``a`` uniform in [0.5, 2]
    (elementwise curvature), ``c`` a standard normal target and ``n_t`` a standard normal
    draw fixed per step ``t`` (``0 <= t < steps``). The gradient depends on the parameters,
    so weight decay and the optimizer's dynamics are exercised; the noise keeps it from
    vanishing at the optimum. The constants are numpy float64; under x64 the arithmetic is
    float64. ``None`` leaves of ``params0`` get ``None`` gradients.

    Returns:
      ``grad_fn(params, t) -> grads``, traceable (``t`` may be a traced int).
    """
    rng = np.random.default_rng(seed)
    leaves, treedef = jax.tree.flatten(params0)
    curv = [rng.uniform(0.5, 2.0, size=np.shape(x)) for x in leaves]
    target = [rng.normal(size=np.shape(x)) for x in leaves]
    draws = [noise * rng.normal(size=(steps, *np.shape(x))) for x in leaves]

    def grad_fn(params, t):
        ps = treedef.flatten_up_to(params)
        grads = [a * (p - c) + jnp.asarray(n)[t] for p, a, c, n in zip(ps, curv, target, draws)]
        return jax.tree.unflatten(treedef, grads)

    return grad_fn


@functools.lru_cache(maxsize=None)
def _jitted(grad_fn: GradFn) -> GradFn:
    return jax.jit(grad_fn)


def torch_trajectory(make_torch_opt: Callable[[list], Any], params0: Any, grad_fn: GradFn, steps: int,
                     dtype: Any = None) -> Any:
    """Runs a torch.optim optimizer for ``steps`` steps; returns the parameters after each.

    Args:
      make_torch_opt: ``make_torch_opt(tensors) -> torch.optim.Optimizer``; ``tensors`` is
        the list of the non-``None`` leaves of ``params0`` (in ``jax.tree.leaves`` order), each a
        separate leaf tensor with ``requires_grad=True``.
      params0: a tree of numpy (or JAX) arrays; ``None`` leaves are not given to torch.
      grad_fn: ``grad_fn(params, t) -> grads`` in JAX (see the module docstring); it is
        evaluated on the current torch values, jitted.
      steps: number of optimizer steps.
      dtype: torch dtype of the parameters (default ``torch.float64``; then the caller must
        have enabled JAX's x64 mode).

    Returns:
      A tree like ``params0`` whose leaves are numpy arrays ``(steps, *shape)``.

    Raises:
      RuntimeError: float64 requested while JAX's x64 mode is off.
    """
    import torch

    dtype = torch.float64 if dtype is None else dtype
    np_dtype = torch.empty((), dtype=dtype).numpy().dtype
    _require_x64_for(np_dtype)
    leaves, treedef = jax.tree.flatten(params0)
    tensors = [torch.tensor(np.asarray(x), dtype=dtype, requires_grad=True) for x in leaves]
    opt = make_torch_opt(tensors)
    grad = _jitted(grad_fn)
    history = [[] for _ in tensors]
    for t in range(steps):
        current = jax.tree.unflatten(treedef, [jnp.asarray(x.detach().numpy()) for x in tensors])
        grads = treedef.flatten_up_to(grad(current, jnp.asarray(t, jnp.int32)))
        for x, g in zip(tensors, grads):
            x.grad = torch.from_numpy(np.array(g, dtype=np_dtype))
        opt.step()
        for h, x in zip(history, tensors):
            h.append(x.detach().numpy().copy())
    return jax.tree.unflatten(treedef, [np.stack(h) for h in history])


@functools.partial(jax.jit, static_argnums=1)
def _momentax_step(tx: momentax.GradientTransformation, grad_fn: GradFn, params: Any, state: Any,
                   t: jax.Array) -> tuple[Any, Any]:
    updates, state = tx.update(grad_fn(params, t), state, params)
    return momentax.apply_updates(params, updates), state


def momentax_trajectory(tx: Any, params0: Any, grad_fn: GradFn, steps: int) -> Any:
    """Runs ``tx`` for ``steps`` jitted steps; returns the parameters after each step.

    Each step is ``g = grad_fn(p, t); u, s = tx.update(g, s, p); p = apply_updates(p, u)``,
    compiled as one ``jax.jit`` function. ``tx`` may be a momentax transform or anything with
    optax's ``init``/``update`` (wrapped with :func:`momentax.combine.as_momentax`). ``init``
    runs outside jit, under the caller's precision mode, and the state is an argument of the
    step.

    The transform is passed to the jitted step as an argument, not closed over: momentax
    transforms are pytrees whose identity is their static configuration, so two transforms
    that differ only in numeric hyperparameters share one compiled step (this keeps parity
    suites fast). A parity failure that appears only when several tests run in one process
    therefore points at a numeric hyperparameter baked into a closure instead of read from
    the state, which momentax's design forbids.

    Args:
      tx: the transform (or optimizer) to run.
      params0: a tree of numpy or JAX float arrays, ``None`` leaves allowed.
      grad_fn: ``grad_fn(params, t) -> grads`` (see the module docstring); a hashable
        function (it is a static argument of the jitted step).
      steps: number of steps.

    Returns:
      A tree like the parameters that ``apply_updates`` returns (``None`` leaves stay
      ``None``), each leaf a numpy array ``(steps, *shape)``.

    Raises:
      RuntimeError: float64 parameters while JAX's x64 mode is off.
    """
    for x in jax.tree.leaves(params0):
        _require_x64_for(np.asarray(x).dtype)
    if steps < 1:
        raise ValueError(f"momentax_trajectory: steps must be >= 1, got {steps}.")
    tx = as_momentax(tx)
    params = jax.tree.map(jnp.asarray, params0)
    state = tx.init(params)
    history = []
    for t in range(steps):
        params, state = _momentax_step(tx, grad_fn, params, state, jnp.asarray(t, jnp.int32))
        history.append(jax.tree.map(np.asarray, params))
    return jax.tree.map(lambda *xs: np.stack(xs), *history)


def _leaf_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Relative error per step of one stacked leaf ``(steps, *shape)``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise AssertionError(f"shape {a.shape} vs reference shape {b.shape}")
    steps = a.shape[0]
    diff = np.abs(a - b).reshape(steps, -1).max(axis=1)
    scale = np.abs(b).reshape(steps, -1).max(axis=1)
    return diff / np.maximum(scale, np.finfo(b.dtype).tiny)


def _per_leaf(actual: Any, expected: Any) -> dict[str, np.ndarray]:
    is_none = lambda x: x is None  # noqa: E731
    flat_a, tree_a = jax.tree_util.tree_flatten_with_path(actual, is_leaf=is_none)
    flat_b, tree_b = jax.tree_util.tree_flatten_with_path(expected, is_leaf=is_none)
    if tree_a != tree_b:
        raise AssertionError(f"trajectory trees differ: {tree_a} vs reference {tree_b}")
    out = {}
    for (path, a), (_, b) in zip(flat_a, flat_b):
        name = jax.tree_util.keystr(path) or "<root>"
        if (a is None) != (b is None):
            raise AssertionError(f"{name}: one trajectory has None, the other an array")
        if a is not None:
            out[name] = _leaf_errors(a, b)
    return out


def rel_errors(actual: Any, expected: Any) -> dict[str, float]:
    """The worst relative error over steps, per leaf path (``expected`` is the reference).

    Raises:
      AssertionError: the two trees differ in structure, ``None`` placement or leaf shapes.
    """
    return {name: float(e.max()) for name, e in _per_leaf(actual, expected).items()}


def max_rel_error(actual: Any, expected: Any) -> float:
    """The worst relative error over every leaf and step (see the module docstring)."""
    errors = rel_errors(actual, expected)
    return max(errors.values(), default=0.0)


def assert_trajectories_close(actual: Any, expected: Any, rtol: float, label: str = "") -> float:
    """Asserts every leaf at every step has relative error ``<= rtol``; returns the worst.

    The failure message names each failing leaf, its worst error and the first step (1-based)
    that exceeds ``rtol``. Non-finite values in either trajectory fail.
    """
    per_leaf = _per_leaf(actual, expected)
    bad = []
    for name, e in per_leaf.items():
        over = ~(e <= rtol)  # NaN counts as over
        if over.any():
            bad.append(f"{name}: max rel error {float(np.max(e)):.3e}, first over {rtol:g} at step "
                       f"{int(np.argmax(over)) + 1}")
    prefix = f"{label}: " if label else ""
    assert not bad, prefix + "; ".join(bad)
    return max((float(e.max()) for e in per_leaf.values()), default=0.0)


def assert_matches_reference_run(make_ours, make_ref, steps: int, label: str, tolerance: float = 1e-10):
    """Runs two transforms on the noisy quadratic over ``random_tree(0)`` and compares them.

    Both see the same gradients (``noisy_quadratic(params0, steps, seed=1)``); the trajectory
    must move (else the comparison proves nothing). Call inside the ``x64`` fixture.
    """
    from conftest import random_tree  # the tests' shared tree of mixed shapes

    params0 = random_tree(0)
    grad_fn = noisy_quadratic(params0, steps, seed=1)
    ours = momentax_trajectory(make_ours(), params0, grad_fn, steps)
    ref = momentax_trajectory(make_ref(), params0, grad_fn, steps)
    assert_trajectories_close(ours, ref, tolerance, label=label)
    assert np.abs(ours["conv"][-1] - params0["conv"]).max() > 0.1, f"{label}: the run did not move"
