"""``momentax ravine``: optimizer paths in an ill-conditioned 2-D quadratic valley.

The function is ``f(x, y) = 0.5 * (x**2 / condition + y**2)``: curvature 1 across the
valley (``y``), ``1 / condition`` along it (``x``), minimum 0 at the origin. Keeping the
steep curvature at 1 makes the stable step sizes independent of ``--condition`` (plain
SGD is stable for ``lr < 2``), while the valley floor gets flatter as the condition
number grows.

Every optimizer starts from :data:`START` and runs ``--steps`` steps inside one jitted
``jax.lax.scan``. The default learning rates (:data:`DEFAULT_LR`) show the textbook
picture: SGD at a large step zig-zags across the valley and crawls along it; heavy-ball
momentum overshoots, swings around the minimum and still gets there much sooner;
Nesterov damps the swings; Adam heads diagonally at first (its steps are ~``lr`` in every
coordinate) and then rattles around the minimum at the scale of ``lr``.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from momentax.demos import DemoError, apply_updates, make_optimizer, require

__all__ = ["DEFAULT_LR", "DEFAULT_STEPS", "START", "quadratic", "optimize_path", "run"]

START = (-10.0, 1.0)
DEFAULT_STEPS = 60
# name -> default learning rate. SGD runs near its stability limit (2) so that it zig-zags.
# momentax.momentum / momentax.nesterov (momentum 0.9) use the average form, whose
# learning rate is the steady-state step: 5 here, i.e. torch's SGD(lr=0.5, momentum=0.9).
DEFAULT_LR = {"sgd": 1.85, "momentum": 5.0, "nesterov": 5.0, "adam": 0.3}
COLORS = {"sgd": "tab:red", "momentum": "tab:blue", "nesterov": "tab:green", "adam": "tab:purple"}


def quadratic(condition: float):
    """``f(p) = 0.5 * (p[..., 0]**2 / condition + p[..., 1]**2)``.

    Works on a point of shape ``(2,)`` and on a stack of points ``(n, 2)``, for JAX and
    NumPy arrays alike.
    """

    def f(p):
        return 0.5 * (p[..., 0] ** 2 / condition + p[..., 1] ** 2)

    return f


def optimize_path(name: str, lr: float, condition: float, steps: int,
                  start: tuple[float, float] = START) -> np.ndarray:
    """The ``(steps + 1, 2)`` array of points visited by optimizer ``name``, start included."""
    f = quadratic(condition)
    tx = make_optimizer(name, lr)

    @jax.jit
    def trajectory(p0):
        def body(carry, _):
            p, state = carry
            updates, state = tx.update(jax.grad(f)(p), state, p)
            p = apply_updates(p, updates)
            return (p, state), p

        _, ps = jax.lax.scan(body, (p0, tx.init(p0)), None, length=steps)
        return jnp.concatenate([p0[None], ps])

    return np.asarray(trajectory(jnp.asarray(start, jnp.float32)))


def plot_paths(paths: dict[str, np.ndarray], lrs: dict[str, float], condition: float,
               path: str) -> None:
    """Contour plot of the valley with every optimizer's path on top, saved as a PNG."""
    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    pts = np.concatenate(list(paths.values()))
    pts = pts[np.isfinite(pts).all(axis=1)]
    x0, y0 = START
    xr = max(abs(x0), 1.0) * 1.15
    yr = max(abs(y0), 1.0) * 1.6
    # Follow paths that leave the default window, up to a limit (a diverging run).
    xr = min(max(xr, 1.05 * np.abs(pts[:, 0]).max()), 4 * xr)
    yr = min(max(yr, 1.05 * np.abs(pts[:, 1]).max()), 4 * yr)
    gx, gy = np.meshgrid(np.linspace(-xr, xr, 400), np.linspace(-yr, yr, 300))
    gz = quadratic(condition)(np.stack([gx, gy], axis=-1))

    fig = Figure(figsize=(10, 5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    levels = np.geomspace(max(gz.min(), 1e-4), gz.max(), 18)
    ax.contour(gx, gy, np.maximum(gz, 1e-4), levels=levels, norm=LogNorm(),
               cmap="Greys", linewidths=0.7)
    f = quadratic(condition)
    for name, ps in paths.items():
        label = f"{name} (lr={lrs[name]:g}, final f={float(f(ps[-1])):.1e})"
        ax.plot(ps[:, 0], ps[:, 1], "-o", ms=2.5, lw=1.2, color=COLORS.get(name), label=label)
    ax.plot(*START, "k*", ms=12, label="start")
    ax.plot(0, 0, "kx", ms=10, mew=2)
    ax.set_xlim(-xr, xr)
    ax.set_ylim(-yr, yr)
    ax.set_xlabel("x  (curvature 1/condition)")
    ax.set_ylabel("y  (curvature 1)")
    steps = len(next(iter(paths.values()))) - 1
    ax.set_title(f"f(x, y) = 0.5 (x²/{condition:g} + y²), condition number {condition:g}, "
                 f"{steps} steps")
    ax.legend(loc="lower right", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def format_table(paths: dict[str, np.ndarray], lrs: dict[str, float], condition: float) -> str:
    """Start and final ``f``, and the first step with ``f < 1e-3 * f(start)``, per optimizer.

    The last column says ``diverged`` when the final ``f`` is above the start or not finite.
    """
    f = quadratic(condition)
    head = f"{'optimizer':<10} {'lr':>6} {'f(start)':>9} {'f(final)':>9} {'steps to f<1e-3*f0':>19}"
    rows = [head, "-" * len(head)]
    for name, ps in paths.items():
        fs = f(ps)
        hit = np.flatnonzero(fs < 1e-3 * fs[0])
        diverged = not np.isfinite(fs[-1]) or fs[-1] > fs[0]
        note = str(hit[0]) if hit.size else ("diverged" if diverged else "-")
        rows.append(f"{name:<10} {lrs[name]:>6.3g} {fs[0]:>9.3g} {fs[-1]:>9.3g} {note:>19}")
    return "\n".join(rows)


def run(*, steps: int = DEFAULT_STEPS, lr: float | None = None, condition: float = 50.0,
        out: str = "runs/ravine.png", optimizers: tuple[str, ...] = tuple(DEFAULT_LR)
        ) -> dict[str, Any]:
    """Runs ``momentax ravine``: computes the paths, prints the table, writes the PNG.

    Returns ``{"paths": {name: (steps + 1, 2) array}, "lrs": {name: lr}, "start_f": float,
    "final_f": {name: float}}``.
    """
    require("matplotlib")
    if condition < 1:
        raise DemoError("--condition must be >= 1")
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    lrs = {n: (DEFAULT_LR[n] if lr is None else lr) for n in optimizers}
    paths = {n: optimize_path(n, lrs[n], condition, steps) for n in optimizers}
    f = quadratic(condition)
    print(format_table(paths, lrs, condition))
    plot_paths(paths, lrs, condition, out)
    print(f"wrote {out}")
    return {
        "paths": paths,
        "lrs": lrs,
        "start_f": float(f(np.asarray(START))),
        "final_f": {n: float(f(ps[-1])) for n, ps in paths.items()},
    }
