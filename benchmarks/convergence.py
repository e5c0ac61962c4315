"""Writes docs/convergence.md: every momentax optimizer on four small problems, at a tuned-once rate.

Usage::

    python benchmarks/convergence.py               # writes docs/convergence.md
    python benchmarks/convergence.py --out FILE    # writes FILE instead
    python benchmarks/convergence.py --tune        # reruns the learning-rate grid, prints the table
    python benchmarks/convergence.py --quick       # two optimizers, short budgets (the script's own test)

The problems (float32, full batch, a fixed step budget each; see :data:`PROBLEMS`):

- ``quadratic``: ``0.5 * (x**2 + 100 * y**2)`` from (1, 1);
- ``rosenbrock``: ``(1 - x)**2 + 100 * (y - x**2)**2`` from (-1.2, 1);
- ``logistic``: logistic regression on scikit-learn's breast-cancer data, features
  standardised with the training split's mean and deviation, split
  ``train_test_split(test_size=0.25, random_state=0, stratify=y)``, mean log loss on the
  training split plus ``|w|^2 / (2 n)`` (sklearn's default ``C = 1`` penalty, without which
  the separable data has no minimiser), weights and bias starting at zero;
- ``digits``: the MLP of ``momentax train`` (``momentax.demos.digits``: its data, its
  initialisation with seed 0 and its loss), full batch.

The loss is measured at ``momentax.eval_params(state, params)`` (the averaged or
interpolated point of ASGD and the schedule-free optimizers; the parameters themselves
otherwise). Each (optimizer, problem) run is one jitted ``lax.scan``; the learning rate is
set in the state with ``momentax.set_hyperparams`` and vmapped, so the grid of ``--tune``
costs one compilation per (optimizer, problem) as well.

The optimizers are discovered at run time: every function of ``momentax.__all__`` defined in
``momentax.optimizers.*``, built as ``momentax.<name>(learning_rate)`` with its other
arguments at their defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import momentax as mx
from momentax.demos import digits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_report import header, write_page  # noqa: E402  (one page header for both generated pages)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(ROOT, "docs", "convergence.md")
QUICK_OPTIMIZERS = ("sgd", "adam")

# The grid of --tune: 10 values, half a decade apart, 1e-4 .. 10**0.5.
GRID = tuple(float(v) for v in 10.0 ** np.linspace(-4.0, 0.5, 10))

# Tuned once: each rate is the value of GRID with the best mean rank (by final loss, lowest
# first; ties go to the smaller rate) across the four problems, among the rates that diverge
# on none of them, chosen by
# `python benchmarks/convergence.py --tune` on 2026-11-23 (2-core CPU, jax 0.10.2). An
# optimizer missing from this table is tuned the same way when the page is generated, and the
# page marks it.
TUNED_LR: dict[str, float] = {
    "adadelta": 10 ** -0.5,
    "adagrad": 10 ** -0.5,
    "adam": 10 ** -1.5,
    "adamw": 10 ** -1,
    "momentum": 10 ** -1.5,
    "nesterov": 10 ** -2,
    "rmsprop": 10 ** -2,
    "sgd": 10 ** -2.5,
    "adamax": 10 ** -1,
    "adamaxw": 10 ** -1.5,
    "amsgrad": 10 ** -1,
    "asgd": 10 ** -2.5,
    "nadam": 10 ** -1.5,
    "nadamw": 10 ** -1.5,
    "radam": 10 ** -2.5,
    "rprop": 10 ** -2,
    "adafactor": 10 ** -0.5,
    "muon": 10 ** -1,
    "schedule_free_adamw": 10 ** -1,
    "schedule_free_sgd": 10 ** -2.5,
    "adabelief": 10 ** -1.5,
    "adan": 10 ** -1.5,
    "lamb": 10 ** -2,
    "lars": 10 ** 0,
    "lion": 10 ** -2,
    "novograd": 10 ** -3,
    "sign_sgd": 10 ** -2.5,
    "signum": 10 ** -2.5,
    "yogi": 10 ** -1,
}


# What a reader of the table would otherwise wonder about.
ROW_NOTES = {
    "muon": "orthogonalises matrices only; on the quadratic, Rosenbrock and the logistic weights (vectors) it "
            "takes the steps of its AdamW group, so only the digits column exercises Newton-Schulz.",
    "asgd": "with its default `t0=1e6` no averaging starts within these budgets and `lambd=1e-4` barely decays "
            "the rate, so it follows `sgd` at the same rate.",
}


class Problem(NamedTuple):
    params0: Any
    loss: Callable[[Any], jax.Array]
    steps: int
    threshold: float | None  # None: within 1% of the best loss any optimizer reached
    threshold_text: str


def _quadratic(p):
    return 0.5 * (p[0] ** 2 + 100.0 * p[1] ** 2)


def _rosenbrock(p):
    return (1.0 - p[0]) ** 2 + 100.0 * (p[1] - p[0] ** 2) ** 2


def _logistic_problem(steps: int) -> Problem:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, _, y_tr, _ = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    x_tr = (x_tr - x_tr.mean(axis=0)) / x_tr.std(axis=0)
    xs, ys = jnp.asarray(x_tr, jnp.float32), jnp.asarray(y_tr, jnp.float32)
    # The standardised training split is (nearly) linearly separable: the plain log loss has no
    # finite minimiser and tends to 0 as |w| grows. sklearn's default penalty (C = 1, i.e.
    # |w|^2 / (2 n) on the mean) gives the problem a unique minimum, which sklearn computes.
    ridge = 0.5 / len(y_tr)

    def loss(p):
        z = xs @ p["w"] + p["b"]
        # mean of log(1 + e^z) - y z (the log loss written stably), plus the ridge on w
        return jnp.mean(jnp.logaddexp(0.0, z) - ys * z) + ridge * jnp.sum(p["w"] ** 2)

    ref = LogisticRegression(C=1.0, tol=1e-10, max_iter=10_000).fit(x_tr, y_tr)
    best = {"w": jnp.asarray(ref.coef_[0], jnp.float32), "b": jnp.asarray(ref.intercept_[0], jnp.float32)}
    optimum = float(loss(best))
    params0 = {"w": jnp.zeros(xs.shape[1], jnp.float32), "b": jnp.zeros((), jnp.float32)}
    return Problem(params0, loss, steps, None,
                   f"within 1% of the lowest loss any optimizer reached (sklearn's minimum: {optimum:.5g})")


def _digits_problem(steps: int) -> Problem:
    data = digits.load_data()
    x, y = data["x_train"], data["y_train"]
    return Problem(digits.init_mlp(0), lambda p: digits.loss_fn(p, x, y), steps, 0.1, "train loss 0.1")


def problems(quick: bool = False) -> dict[str, Problem]:
    """The benchmark set; ``quick`` divides every budget by 10."""
    s = (lambda n: n // 10) if quick else (lambda n: n)
    q0 = float(_quadratic(jnp.array([1.0, 1.0])))
    return {
        "quadratic": Problem(jnp.array([1.0, 1.0], jnp.float32), _quadratic, s(1000), 1e-3 * q0, "1e-3 x start"),
        "rosenbrock": Problem(jnp.array([-1.2, 1.0], jnp.float32), _rosenbrock, s(5000), 1e-2, "1e-2"),
        "logistic": _logistic_problem(s(500)),
        "digits": _digits_problem(s(400)),
    }


def optimizer_names() -> list[str]:
    """The public optimizer functions: names of ``momentax.__all__`` defined in ``momentax.optimizers``."""
    return [n for n in mx.__all__ if callable(getattr(mx, n, None))
            and getattr(getattr(mx, n), "__module__", "").startswith("momentax.optimizers.")]


def learning_rate_names(name: str) -> list[str]:
    """The state's names for the rate passed as ``momentax.<name>``'s first argument.

    Usually ``learning_rate``; Rprop, for one, stores it as its initial ``step_size``. Found by
    building the optimizer with an unusual rate and looking for the hyperparameters that hold it;
    empty where the rate is static (Rprop's initial step size only sets the initial state).
    """
    sentinel = 0.0123456
    values = mx.hyperparams(getattr(mx, name)(sentinel).init(jnp.zeros(2)))
    return [k for k, v in values.items() if np.isclose(float(v), sentinel, rtol=1e-6)]


def run(name: str, problem: Problem, rates: np.ndarray) -> np.ndarray:
    """Losses ``(len(rates), steps + 1)``: at the start, then after each step, one row per rate.

    One compiled program: a ``lax.scan`` over the steps, vmapped over the learning rate (one
    program per rate where the rate is static).
    """
    lr_names = learning_rate_names(name)
    if not lr_names and len(rates) > 1:
        return np.concatenate([run(name, problem, np.asarray([r])) for r in rates])
    tx = getattr(mx, name)(float(rates[0]))
    f = problem.loss
    grad = jax.grad(f)

    @jax.jit
    def losses(rates):
        def one(lr):
            params = problem.params0
            state = mx.set_hyperparams(tx.init(params), **{k: lr for k in lr_names})

            def body(carry, _):
                p, s = carry
                u, s = tx.update(grad(p), s, p)
                p = mx.apply_updates(p, u)
                return (p, s), f(mx.eval_params(s, p))

            _, out = jax.lax.scan(body, (params, state), None, length=problem.steps)
            return jnp.concatenate([f(params)[None], out])

        return jax.vmap(one)(rates)

    return np.asarray(losses(jnp.asarray(rates, jnp.float32)), np.float64)


def _final(losses: np.ndarray) -> np.ndarray:
    last = losses[..., -1]
    return np.where(np.isfinite(last), last, np.inf)


def tune(name: str, probs: dict[str, Problem]) -> tuple[float, dict[str, np.ndarray]]:
    """The rate of GRID with the best mean rank across ``probs``, and each problem's final losses."""
    rates = np.asarray(GRID)
    finals = {k: _final(run(name, p, rates)) for k, p in probs.items()}
    # rank 0 = lowest final loss; equal losses share the lower rank; a diverged run ranks last
    ranks = np.mean([np.where(np.isfinite(v), np.searchsorted(np.sort(v), v, side="left"), len(v))
                     for v in finals.values()], axis=0)
    stable = np.all([np.isfinite(v) for v in finals.values()], axis=0)
    if stable.any():  # a rate that diverges on any problem is chosen only if every rate does
        ranks = np.where(stable, ranks, np.inf)
    return float(rates[int(np.argmin(ranks))]), finals


def steps_to(losses: np.ndarray, threshold: float) -> int | None:
    hit = np.nonzero(losses <= threshold)[0]
    return int(hit[0]) if hit.size else None


def selected(quick: bool, only: str = "") -> list[str]:
    names = [n for n in optimizer_names() if not quick or n in QUICK_OPTIMIZERS]
    return [n for n in names if not only or n in only.split(",")]


def build_page(quick: bool = False, only: str = "") -> str:
    t_start = time.perf_counter()
    probs = problems(quick)
    names = selected(quick, only)
    rates, tuned_now, results = {}, set(), {}
    for n in names:
        if n in TUNED_LR:
            rates[n] = TUNED_LR[n]
        else:
            rates[n], _ = tune(n, probs)
            tuned_now.add(n)
        results[n] = {k: run(n, p, np.array([rates[n]]))[0] for k, p in probs.items()}
    thresholds = {}
    for k, p in probs.items():
        if p.threshold is None:
            best = min(np.nanmin(np.where(np.isfinite(r[k]), r[k], np.nan)) for r in results.values())
            thresholds[k] = 1.01 * best
        else:
            thresholds[k] = p.threshold

    command = "python benchmarks/convergence.py" + (" --quick" if quick else "")
    lines = [header("Convergence of every optimizer on four small problems", command), ""]
    lines += [(
        "Each optimizer runs with its other arguments at their defaults and one learning rate, tuned once: the "
        f"value of the grid {', '.join(f'{g:.3g}' for g in GRID)} with the best mean rank of the final loss across "
        "the four problems, among the rates that diverge on none (`--tune`; the chosen rates are a table in "
        "`benchmarks/convergence.py`). One rate per optimizer for four problems is a compromise: a row is how "
        "an optimizer does with a single default rate, not its best on each problem. "
        "Rates marked * were not in that table and were tuned the same way while this page was generated. "
        "All problems run in float32, full batch, from a fixed start; the loss is measured at "
        "`momentax.eval_params(state, params)`."), "",
        "| problem | definition | steps | threshold |", "|---|---|---|---|",
    ]
    definitions = {
        "quadratic": "`0.5 * (x^2 + 100 y^2)` from (1, 1)",
        "rosenbrock": "`(1 - x)^2 + 100 (y - x^2)^2` from (-1.2, 1)",
        "logistic": "logistic regression, breast-cancer data (standardised, 75% train split): mean log loss "
                    "+ \\|w\\|^2 / (2 n), sklearn's `LogisticRegression(C=1)` objective over n",
        "digits": "`momentax train` MLP 64-64-10 on digits (seed 0), mean cross-entropy on the train split",
    }
    for k, p in probs.items():
        lines.append(f"| {k} | {definitions[k]} | {p.steps} | {p.threshold_text} (= {thresholds[k]:.4g}) |")
    lines += ["", "Each cell: final loss / steps to reach the threshold (— if never reached within the budget).", "",
              "| optimizer | learning rate | " + " | ".join(probs) + " |",
              "|---|---|" + "---|" * len(probs)]
    for n in names:
        cells = []
        for k in probs:
            losses = results[n][k]
            hit = steps_to(losses, thresholds[k])
            final = losses[-1]
            if not np.isfinite(final):
                cells.append("diverged / —")
            else:  # + 0.0 prints a loss of -0.0 as 0
                cells.append(f"{final + 0.0:.3g} / {'—' if hit is None else hit}")
        mark = "*" if n in tuned_now else ""
        lines.append(f"| `{n}` | {rates[n]:.3g}{mark} | " + " | ".join(cells) + " |")
    lines += [""] + [f"- `{n}`: {text}" for n, text in ROW_NOTES.items() if n in names]
    lines += ["", f"Run time: {time.perf_counter() - t_start:.0f} s.", ""]
    return "\n".join(lines)


def print_tuning(quick: bool = False, only: str = "") -> None:
    probs = problems(quick)
    names = selected(quick, only)
    print("optimizer            rate      " + "  ".join(f"{k:>10}" for k in probs) + "   (final loss at the rate)")
    chosen = {}
    for n in names:
        lr, finals = tune(n, probs)
        chosen[n] = lr
        i = GRID.index(lr)
        print(f"{n:<20} {lr:<9.3g} " + "  ".join(f"{finals[k][i]:>10.3g}" for k in probs), flush=True)
    print("\nTUNED_LR = {")
    for n, lr in chosen.items():
        print(f"    {n!r}: 10 ** {np.log10(lr):.3g},")
    print("}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output Markdown file (default docs/convergence.md)")
    parser.add_argument("--tune", action="store_true", help="rerun the learning-rate grid and print the chosen rates")
    parser.add_argument("--optimizers", default="",
                        help="comma-separated subset of the optimizers (default: all of them)")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK_OPTIMIZERS)}, budgets divided by 10")
    args = parser.parse_args(argv)
    if args.tune:
        print_tuning(args.quick, args.optimizers)
        return
    write_page(args.out, build_page(args.quick, args.optimizers))


if __name__ == "__main__":
    main()
