"""Writes docs/parity.md: every momentax optimizer and torch preset against torch.optim and optax.

Usage::

    python benchmarks/parity_report.py               # writes docs/parity.md
    python benchmarks/parity_report.py --out FILE    # writes FILE instead
    python benchmarks/parity_report.py --quick       # a few rows only (the report's own test)

Nothing here re-implements a comparison. The harness is ``tests/parity.py`` (the problem, the
torch loop, the relative error) and ``tests/torch_cases.py`` (the preset matrix, the jitted
momentax scan, the float64/float32 precision switch). The configurations compared are the
ones the test suite already asserts, imported from the test modules listed in
:data:`TORCH_SOURCES` and :data:`OPTAX_SOURCES`, so a row of the page is a measurement of a
configuration that a test holds to a bound. Every configuration runs here on the same problem,
``torch_cases.problem``: the noisy quadratic over ``conftest.random_tree(0)`` (Muon: over two
matrices), 200 steps.

The optimizers are discovered at run time: every function of ``momentax.__all__`` defined in
``momentax.optimizers.*``, and every name of ``momentax.torch.__all__``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

import jax
import optax
import torch
import torch_cases as tc
from parity import max_rel_error, torch_trajectory

import momentax as mx
from momentax.combine import as_momentax

DEFAULT_OUT = os.path.join(ROOT, "docs", "parity.md")
QUICK_OPTIMIZERS = ("adam",)
QUICK_PRESETS = ("SGD",)


def optimizer_names() -> list[str]:
    """The public optimizer functions: names of ``momentax.__all__`` defined in ``momentax.optimizers``."""
    return [n for n in mx.__all__ if callable(getattr(mx, n, None))
            and getattr(getattr(mx, n), "__module__", "").startswith("momentax.optimizers.")]


def preset_names() -> list[str]:
    return list(getattr(mx.torch, "__all__", []))


class Pair(NamedTuple):
    """One configuration: a momentax builder against a reference (a torch factory or an optax builder)."""

    label: str  # "<test file>::<configuration id>"
    make_ours: Callable[[], Any]
    make_ref: Callable[..., Any]
    optimizer: str  # the momentax optimizer it exercises (used when the built chain's name is generic)
    problem: str = "tree"


def _module(name: str):
    try:
        return importlib.import_module(name)
    except Exception as e:  # a helper's test file may be mid-edit; the page says so
        print(f"parity_report: cannot import tests/{name}.py ({type(e).__name__}: {e}); its rows are left out",
              file=sys.stderr)
        return None


def _torch_pairs() -> list[Pair]:
    pairs = []
    m = _module("test_parity_torch")
    if m:
        pairs += [Pair(f"test_parity_torch.py::{c.name}", c.momentax_opt, c.torch_opt, "") for c in m.CONFIGS]
    m = _module("test_adam_family")
    if m:
        pairs += [Pair(f"test_adam_family.py::{n}", ours, ref, "") for n, ours, ref in m.TORCH_PAIRS]
    m = _module("test_factored")
    if m:
        for i, kw in enumerate(m.TORCH_SETTINGS):
            pairs.append(Pair(f"test_factored.py::TORCH_SETTINGS[{i}]", functools.partial(m.torch_equivalent, **kw),
                              functools.partial(_torch_opt, "Adafactor", kw), "adafactor"))
    m = _module("test_orthogonal")
    if m:
        for i, kw in enumerate(m.TORCH_SETTINGS):
            pairs.append(Pair(f"test_orthogonal.py::TORCH_SETTINGS[{i}]", functools.partial(m.torch_equivalent, **kw),
                              functools.partial(_torch_opt, "Muon", kw), "muon", "matrices"))
    # Documented in momentax.momentum / momentax.nesterov and asserted by
    # test_parity_torch.py::test_momentum_is_scaled_sgd: momentum(lr, b) == SGD(lr * (1 - b), momentum=b).
    for nesterov, name in ((False, "momentum"), (True, "nesterov")):
        pairs.append(Pair(f"test_parity_torch.py::test_{name}_is_scaled_sgd",
                          functools.partial(getattr(mx, name), 0.2, 0.9),
                          functools.partial(_torch_opt, "SGD", {"lr": 0.2 * (1 - 0.9), "momentum": 0.9,
                                                                "nesterov": nesterov, "foreach": False}), name))
    return pairs


def _torch_opt(cls: str, kwargs: dict, tensors: list) -> Any:
    return getattr(torch.optim, cls)(tensors, **kwargs)


def _optax_pairs() -> list[Pair]:
    pairs = []
    m = _module("test_parity_optax")
    if m:
        pairs += [Pair(f"test_parity_optax.py::{n}", ours, ref, "") for n, (ours, ref) in m.SAME.items()]
    m = _module("test_adam_family")
    if m:
        pairs += [Pair(f"test_adam_family.py::{n}", ours, ref, "") for n, ours, ref in m.OPTAX_PAIRS]
    for file in ("test_belief", "test_sign", "test_trust"):
        m = _module(file)
        if m:
            pairs += [Pair(f"{file}.py::{n}", ours, ref, "") for n, (ours, ref) in m.PARITY.items()]
    m = _module("test_factored")
    if m:
        for i, kw in enumerate(m.OPTAX_SETTINGS):
            pairs.append(Pair(f"test_factored.py::OPTAX_SETTINGS[{i}]", functools.partial(m.optax_equivalent, **kw),
                              functools.partial(optax.adafactor, **kw), "adafactor"))
    m = _module("test_orthogonal")
    if m:
        for i, kw in enumerate(m.OPTAX_SETTINGS):
            pairs.append(Pair(f"test_orthogonal.py::OPTAX_SETTINGS[{i}]", functools.partial(m.optax_equivalent, **kw),
                              functools.partial(optax.contrib.muon, **kw), "muon"))
    m = _module("test_schedule_free")
    if m:
        for i, (kind, kw) in enumerate(m.OPTAX_SETTINGS):
            name = f"schedule_free_{kind}"
            pairs.append(Pair(f"test_schedule_free.py::OPTAX_SETTINGS[{i}]", functools.partial(getattr(mx, name), **kw),
                              functools.partial(getattr(optax.contrib, name), **kw), name))
    return pairs


# Why a row has no measured number, or what a measured number does not cover. Each reason
# names the test that pins the difference with hand-computed values.
NO_TORCH = {
    "adamaxw": "no torch counterpart (torch.optim.Adamax has only coupled L2 weight decay)",
    "schedule_free_sgd": "no torch counterpart (schedule-free is not in torch.optim)",
    "schedule_free_adamw": "no torch counterpart (schedule-free is not in torch.optim)",
}
NO_OPTAX = {
    "momentum": "no optax counterpart (optax has no `momentum` alias; see `sgd`)",
    "nesterov": "no optax counterpart (optax has no `nesterov` alias; see `sgd`)",
    "asgd": "no optax counterpart",
    "adadelta": "differs: default learning rate 1 (torch) against optax's None, which ascends; pinned by "
                "test_parity_optax.py::test_adadelta_default_learning_rate_descends",
    "rprop": "differs: optax 0.2.8 applies each step one update late; pinned by "
             "test_adam_family.py::test_rprop_applies_the_current_step_unlike_optax",
}
NOTES = {
    "adagrad": "optax's defaults (accumulator 0.1, eps 1e-7 inside the root) need explicit arguments; pinned by "
               "test_parity_optax.py::test_adagrad_defaults_differ",
    "rmsprop": "optax's defaults (decay 0.9, eps inside the root) need explicit arguments; with a scheduled rate "
               "and momentum the two differ (test_parity_optax.py::test_rmsprop_momentum_with_schedule_differs)",
    "adamw": "default weight decay 1e-2 (torch) against optax's 1e-4; pinned by "
             "test_parity_optax.py::test_adamw_default_weight_decay_differs",
    "sgd": "dampening has no optax counterpart; pinned by "
           "test_parity_optax.py::test_sgd_dampening_first_step_undampened",
    "amsgrad": "optax form needs `debias_before_max=True`; pinned by "
               "test_adam_family.py::test_amsgrad_default_is_not_optax_form",
    "radam": "optax adds eps after the bias correction: compared with eps=1e-30",
    "adan": "differs unless b2=0.5 (optax weighs the gradient difference by 1-b2); pinned by "
            "test_belief.py::test_adan_follows_the_paper_where_optax_differs",
    "lars": "with a scheduled rate optax applies it before the momentum buffer (tests/test_trust.py)",
    "adafactor": "optax computes its decay schedule in float32 even under x64; pinned by "
                 "test_factored.py::test_optax_decay_schedule_is_float32",
    "schedule_free_adamw": "differs for b2>0 with weight_lr_power>0; pinned by "
                           "test_schedule_free.py::test_optax_adamw_weights_differ_from_the_reference",
    "muon": "torch.optim.Muon iterates in bfloat16: a last-bit difference before the cast can flip a bfloat16 "
            "rounding (relative 2**-8). Seen in float32 (bound 2e-3, tests/torch_cases.py) and, for "
            "test_orthogonal.py::TORCH_SETTINGS[1] run for 200 steps here (the test runs 100), in float64 from "
            "step 138 on the 4x6 matrix",
}


def _owner(make: Callable[[], Any], fallback: str, names: set[str]) -> str:
    if fallback:
        return fallback
    with tc.precision("float64"):
        name = getattr(make(), "name", "")
    return name if name in names else ""


def _run_ours(make: Callable[[], Any], params0: Any, grad_fn: Callable) -> Any:
    return tc.momentax_run(as_momentax(make()), params0, grad_fn)[0]


def measure_torch(p: Pair, dtype: str) -> float:
    with tc.precision(dtype):
        params0, grad_fn = tc.problem(dtype, False, p.problem)
        got = _run_ours(p.make_ours, params0, grad_fn)
        ref = torch_trajectory(p.make_ref, params0, grad_fn, tc.STEPS, dtype=getattr(torch, dtype))
    return max_rel_error(got, ref)


def measure_optax(p: Pair) -> float:
    with tc.precision("float64"):
        params0, grad_fn = tc.problem("float64", False, p.problem)
        got = _run_ours(p.make_ours, params0, grad_fn)
        ref = _run_ours(p.make_ref, params0, grad_fn)
    return max_rel_error(got, ref)


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.1e}"


def _safe(label: str, fn: Callable[..., float], *args: Any) -> float:
    try:
        return fn(*args)
    except Exception as e:  # reported, not hidden: the row shows "error"
        print(f"parity_report: {label}: {type(e).__name__}: {e}", file=sys.stderr)
        return float("nan")


def write_page(path: str, page: str) -> None:
    """Writes a generated page, creating its folder, and says where it went."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write(page)
    print(f"wrote {path}")


def header(title: str, command: str) -> str:
    return (f"# {title}\n\n"
            f"<!-- Generated by `{command}`; do not edit by hand. -->\n\n"
            f"Generated by `{command}` on {datetime.date.today().isoformat()}, on a {os.cpu_count()}-core "
            f"CPU machine ({platform.machine()}, {platform.system()}), with momentax {mx.__version__}, "
            f"jax {jax.__version__}, optax {optax.__version__}, torch {torch.__version__} and "
            f"Python {platform.python_version()}.\n")


def build_page(quick: bool = False) -> str:
    t_start = time.perf_counter()
    optimizers = [n for n in optimizer_names() if not quick or n in QUICK_OPTIMIZERS]
    presets = [n for n in preset_names() if not quick or n in QUICK_PRESETS]
    names = set(optimizers)

    torch_rows: dict[str, list[tuple[str, float, float]]] = {n: [] for n in optimizers}
    for p in _torch_pairs():
        owner = _owner(p.make_ours, p.optimizer, names)
        if owner in torch_rows:
            torch_rows[owner].append((p.label, _safe(p.label, measure_torch, p, "float64"),
                                      _safe(p.label, measure_torch, p, "float32")))
    optax_rows: dict[str, list[tuple[str, float]]] = {n: [] for n in optimizers}
    for p in _optax_pairs():
        owner = _owner(p.make_ours, p.optimizer, names)
        if owner in optax_rows:
            optax_rows[owner].append((p.label, _safe(p.label, measure_optax, p)))

    lines = [header("Parity with torch.optim and optax", "python benchmarks/parity_report.py" +
                    (" --quick" if quick else "")), ""]
    lines += [(
        "Each number is the worst relative error, over every leaf and every one of 200 steps, of the momentax "
        "trajectory against the reference's: `max|momentax - ref| / max|ref|` per leaf and step "
        "(`tests/parity.py`). Both sides see the same gradients: the noisy quadratic of "
        "`parity.noisy_quadratic` over `conftest.random_tree(0)` (leaves (5, 3), (3,), (2, 3, 4), () and a "
        "`None`), or two matrices for Muon (`torch_cases.problem`). torch runs its single-tensor path "
        "(`foreach=False`); float64 runs with JAX's x64 mode and torch's default dtype float64, float32 with "
        "both off. The configurations are those the test suite asserts; each is named by its test file and id. "
        "Where an optimizer has several, its row shows the worst; the per-configuration numbers follow."), ""]

    lines += ["## Optimizers", "",
              "Every optimizer function in `momentax.__all__`, at its documented torch-equivalent settings.", "",
              "| optimizer | torch.optim float64 | torch.optim float32 | optax float64 | notes |",
              "|---|---|---|---|---|"]
    for n in optimizers:
        tr, orows = torch_rows[n], optax_rows[n]
        if tr:
            t64 = _fmt(max(r[1] for r in tr))
            t32 = _fmt(max(r[2] for r in tr))
        else:
            t64, t32 = NO_TORCH.get(n, "no torch counterpart"), "—"
        ox = _fmt(max(r[1] for r in orows)) if orows else NO_OPTAX.get(n, "no optax counterpart")
        lines.append(f"| `{n}` | {t64} | {t32} | {ox} | {NOTES.get(n, '')} |")

    lines += ["", "## momentax.torch presets", "",
              ("Every configuration of `tests/torch_cases.py` (each preset at its defaults, then cases that set every "
              "argument that changes the arithmetic), measured by `torch_cases.measure`. The bound is the one the "
              "test suite asserts."), "",
              "| preset | case | float64 | float32 | bound (float64 / float32) |", "|---|---|---|---|---|"]
    for preset in presets:
        cases = [c for c in tc.CASES if c.preset == preset]
        if not cases:
            lines.append(f"| `{preset}` | — | no case in tests/torch_cases.py | — | — |")
        for c in cases:
            e64 = _safe(c.name, tc.measure, c, "float64")
            e32 = _safe(c.name, tc.measure, c, "float32")
            lines.append(f"| `{preset}` | {c.name} | {_fmt(e64)} | {_fmt(e32)} | "
                         f"{tc.tolerance(c, 'float64'):g} / {tc.tolerance(c, 'float32'):g} |")

    lines += ["", "## Per configuration", "",
              "| optimizer | configuration | reference | float64 | float32 |", "|---|---|---|---|---|"]
    for n in optimizers:
        for label, e64, e32 in torch_rows[n]:
            lines.append(f"| `{n}` | {label} | torch.optim | {_fmt(e64)} | {_fmt(e32)} |")
        for label, e64 in optax_rows[n]:
            lines.append(f"| `{n}` | {label} | optax | {_fmt(e64)} | — |")
    lines += ["", f"Run time: {time.perf_counter() - t_start:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help="output Markdown file (default docs/parity.md)")
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK_OPTIMIZERS)} and the {', '.join(QUICK_PRESETS)} preset")
    args = parser.parse_args(argv)
    write_page(args.out, build_page(args.quick))


if __name__ == "__main__":
    main()
