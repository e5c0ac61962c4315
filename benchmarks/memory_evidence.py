"""Does Adam with low-precision state reach float32 Adam's loss? The accuracy table of docs/memory.md.

Usage::

    python benchmarks/memory_evidence.py                       # prints the Markdown tables
    python benchmarks/memory_evidence.py --markdown FILE --json FILE
    python benchmarks/memory_evidence.py --quick               # tiny settings (the script's own test)

Adam is trained with the same seeds (same initial weights, same minibatches) and the same
hyperparameters, changing only where its two moments are stored (``mu_dtype`` and
``nu_dtype``, both set to the same choice, see :data:`STORAGES`): float32; bfloat16 written
back with stochastic rounding (``momentax.stochastic_rounding(seed=seed)``); bfloat16 rounded
to nearest (``jnp.bfloat16``, to show what stochastic rounding fixes); 8-bit blocks of 256
and of 2048 (``momentax.blockwise_8bit(block_size)``, arrays under 4096 elements stay
float32). Parameters and arithmetic stay float32.

The tasks (:data:`TASKS`):

- ``digits``: the MLP of ``momentax train`` (:mod:`momentax.demos.digits`: its data split,
  its initialisation and its loss), full batch, 500 steps, learning rate 1e-2 (the demo's
  default Adam run);
- ``charlm``: the character-level model of :mod:`momentax.demos.charlm` on the standard
  library's source, minibatches of 128 windows of 32 characters, 1500 steps, learning rate
  3e-3.

Every run is one ``jax.jit``-compiled ``lax.scan`` over its steps. For each storage the table
gives the state bytes per parameter (``momentax.storage.state_nbytes`` of the whole
optimizer state, over the number of parameters), the fraction of moment elements held in
8 bits, and, as mean +- standard deviation over the seeds (``ddof=1``), the final training
loss (digits: the full training set; charlm: 8192 fixed windows of the training text), the
held-out loss and the held-out accuracy. ``delta`` is the relative difference of the mean
final training loss to float32's, in percent; "per seed" gives the range of the paired
per-seed differences. "within 1%" is ``|delta| <= 1``; a miss says whether the loss was
higher or lower than float32's. "Δ held-out" compares the mean held-out losses the same way.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import momentax as mx
from momentax.demos import charlm, digits
from momentax.storage import QuantizedArray, state_nbytes

BAR_PERCENT = 1.0


class Storage(NamedTuple):
    label: str  # the table's row label (Markdown)
    spec: Callable[[int], Any]  # seed -> the value passed as mu_dtype and nu_dtype


STORAGES: dict[str, Storage] = {
    "float32": Storage("float32 (`None`)", lambda seed: None),
    "bf16-sr": Storage("bfloat16, stochastic rounding", lambda seed: mx.stochastic_rounding(seed=seed)),
    "bf16-nearest": Storage("bfloat16, round to nearest", lambda seed: jnp.bfloat16),
    "8bit-256": Storage("8-bit, block 256", lambda seed: mx.blockwise_8bit(block_size=256)),
    "8bit-2048": Storage("8-bit, block 2048", lambda seed: mx.blockwise_8bit(block_size=2048)),
}
REFERENCE = "float32"


class Task(NamedTuple):
    """One training problem: how to load it, initialise, take a batch and evaluate."""

    title: str
    description: Callable[[dict[str, Any]], str]  # settings -> one Markdown paragraph
    load: Callable[[dict[str, Any]], dict[str, Any]]  # settings -> data
    init: Callable[[int, dict[str, Any]], Any]  # seed, settings -> params
    batch_loss: Callable[[Any, dict[str, Any], jax.Array, dict[str, Any]], jax.Array]  # params, data, key, settings
    evaluate: Callable[[Any, dict[str, Any]], dict[str, float]]  # params, data -> train_loss, test_loss, ...


# ---- digits -------------------------------------------------------------------------------


def _digits_evaluate(params, data):
    out = digits.evaluate(params, data)
    return {"train_loss": float(out["final_train_loss"]),
            "test_loss": float(_digits_test_loss(params, data["x_test"], data["y_test"])),
            "test_accuracy": float(out["test_accuracy"])}


_digits_test_loss = jax.jit(digits.loss_fn)

DIGITS = Task(
    title="Digits MLP",
    description=lambda s: (
        f"`momentax.demos.digits`: MLP 64-64-10 (tanh), {s['n_params']:,} parameters, scikit-learn's digits "
        f"(1347 training / 450 held-out images), full batch, {s['steps']} steps, `adam({s['learning_rate']:g})`. "
        f"Training loss: the full training set after the last step; held-out: the 450 test images."),
    load=lambda s: digits.load_data(),
    init=lambda seed, s: digits.init_mlp(seed),
    batch_loss=lambda p, data, key, s: digits.loss_fn(p, data["x_train"], data["y_train"]),
    evaluate=_digits_evaluate,
)

# ---- character-level language model -------------------------------------------------------


def _charlm_batch_loss(params, data, key, s):
    x, y = charlm.sample_batch(data["train_ids"], key, s["batch_size"], s["context"])
    return charlm.loss_fn(params, x, y)


CHARLM = Task(
    title="Character-level language model",
    description=lambda s: (
        f"`momentax.demos.charlm`: embeddings {charlm.VOCAB}x{s['embed']}, a context of {s['context']} characters, "
        f"one tanh layer of {s['hidden']}, {s['n_params']:,} parameters, trained on {s['text']['n_train_chars']:,} "
        f"characters of {len(s['text']['files'])} standard-library modules (Python {platform.python_version()}, "
        f"text SHA-256 `{s['text']['sha256'][:12]}...`), minibatches of {s['batch_size']} windows, {s['steps']} steps, "
        f"`adam({s['learning_rate']:g})`. Loss in nats per character; training loss on {s['n_eval']} fixed "
        f"windows of the training text, held-out loss and next-character accuracy on {s['n_eval']} windows of "
        f"the last 10% of the text."),
    load=lambda s: charlm.load_data(s["context"], n_eval=s["n_eval"], max_chars=s["max_chars"]),
    init=lambda seed, s: charlm.init_params(seed, s["context"], s["embed"], s["hidden"]),
    batch_loss=_charlm_batch_loss,
    evaluate=charlm.evaluate,
)

TASKS = {"digits": DIGITS, "charlm": CHARLM}

DEFAULT_SETTINGS = {
    "digits": {"steps": 500, "learning_rate": 1e-2},
    "charlm": {"steps": 1500, "learning_rate": 3e-3, "batch_size": 128, "context": 32, "embed": 48,
               "hidden": 128, "n_eval": 8192, "max_chars": None},
}
QUICK_SETTINGS = {
    "digits": {"steps": 20, "learning_rate": 1e-2},
    "charlm": {"steps": 20, "learning_rate": 3e-3, "batch_size": 32, "context": 8, "embed": 16,
               "hidden": 32, "n_eval": 256, "max_chars": 50_000},
}

# ---- training -----------------------------------------------------------------------------


def _arrays(data: dict[str, Any]) -> dict[str, jax.Array]:
    return {k: v for k, v in data.items() if k != "meta"}


def make_train(task: Task, tx: Any, settings: dict[str, Any]):
    """``train(params, state, key, data) -> (params, state, losses[steps])``, jitted.

    ``key`` draws the minibatches (``fold_in(key, step)``); ``losses`` are the batch losses
    before each step's update.
    """

    def train(params, state, key, data):
        def body(carry, i):
            p, s = carry
            loss, grads = jax.value_and_grad(task.batch_loss)(p, data, jax.random.fold_in(key, i), settings)
            updates, s = tx.update(grads, s, p)
            return (mx.apply_updates(p, updates), s), loss

        (params, state), losses = jax.lax.scan(body, (params, state), jnp.arange(settings["steps"]))
        return params, state, losses

    return jax.jit(train)


def quantised_fraction(state: Any) -> float:
    """Fraction of the moment elements stored as 8-bit codes (Adam: ``mu`` and ``nu``)."""
    adam_state = next(s for s in state if hasattr(s, "nu"))  # the scale_by_adam element of the chain
    leaves = jax.tree.leaves((adam_state.mu, adam_state.nu), is_leaf=lambda x: isinstance(x, QuantizedArray))
    sizes = [int(np.prod(x.shape)) for x in leaves]
    quantised = [int(np.prod(x.shape)) for x in leaves if isinstance(x, QuantizedArray)]
    return sum(quantised) / sum(sizes)


def run_storage(task: Task, data: dict[str, Any], storage: Storage, seeds: list[int],
                settings: dict[str, Any], log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One training run per seed; the compiled step is shared by all seeds.

    The seed of ``stochastic_rounding`` only sets the PRNG keys that ``init`` writes into the
    state; ``update`` reads them from there, so one compiled program serves every seed.
    """
    arrays = _arrays(data)
    train = None
    runs = []
    for seed in seeds:
        spec = storage.spec(seed)
        tx = mx.adam(settings["learning_rate"], mu_dtype=spec, nu_dtype=spec)
        params = task.init(seed, settings)
        state = tx.init(params)
        n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(params))
        key = jax.random.key(seed + 1)
        t0 = time.perf_counter()
        if train is None:
            train = make_train(task, tx, settings).lower(params, state, key, arrays).compile()
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        params, state, losses = train(params, state, key, arrays)
        losses = np.asarray(jax.device_get(losses))
        train_s = time.perf_counter() - t0
        metrics = task.evaluate(params, data)
        every = max(1, len(losses) // 100)
        run = {
            "seed": seed,
            **metrics,
            "state_bytes_per_param": state_nbytes(state) / n_params,
            "quantised_fraction": quantised_fraction(state),
            "n_params": n_params,
            "batch_loss_curve": {"every": every, "loss": [float(v) for v in losses[::every]]},
            "compile_s": compile_s,
            "train_s": train_s,
        }
        log(f"  seed {seed}: train loss {run['train_loss']:.5f}, held-out loss {run['test_loss']:.5f}, "
            f"acc {run['test_accuracy']:.4f} ({train_s:.1f} s)")
        runs.append(run)
    return runs


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray(values, np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Mean and deviation over seeds, and the differences to the float32 runs (paired by seed)."""
    ref = {r["seed"]: r["train_loss"] for r in runs[REFERENCE]} if REFERENCE in runs else None
    ref_mean = _mean_std(list(ref.values()))[0] if ref else None
    out = {}
    for name, rs in runs.items():
        row: dict[str, Any] = {"seeds": [r["seed"] for r in rs]}
        for metric in ("train_loss", "test_loss", "test_accuracy"):
            row[metric + "_mean"], row[metric + "_std"] = _mean_std([r[metric] for r in rs])
        row["state_bytes_per_param"] = float(np.mean([r["state_bytes_per_param"] for r in rs]))
        row["quantised_fraction"] = rs[0]["quantised_fraction"]
        row["train_s_mean"] = float(np.mean([r["train_s"] for r in rs]))
        if ref:
            ref_test = _mean_std([r["test_loss"] for r in runs[REFERENCE]])[0]
            row["test_delta_percent"] = 100.0 * (row["test_loss_mean"] - ref_test) / ref_test
            delta = 100.0 * (row["train_loss_mean"] - ref_mean) / ref_mean
            per_seed = [100.0 * (r["train_loss"] - ref[r["seed"]]) / ref[r["seed"]] for r in rs if r["seed"] in ref]
            row["delta_percent"] = delta
            row["per_seed_delta_percent"] = per_seed
            row["within_1_percent"] = abs(delta) <= BAR_PERCENT
            row["verdict"] = ("yes" if abs(delta) <= BAR_PERCENT else "no, higher" if delta > 0 else "no, lower")
        out[name] = row
    return out


# ---- report -------------------------------------------------------------------------------


def _pm(mean: float, std: float, digits_: int) -> str:
    return f"{mean:.{digits_}f} ± {std:.{digits_}f}"


def task_table(summary: dict[str, dict[str, Any]], loss_digits: int) -> list[str]:
    lines = [("| storage (`mu_dtype` = `nu_dtype`) | state B/param | in 8 bits | final train loss | Δ vs float32 "
             "| Δ per seed | within 1% | held-out loss | Δ held-out | held-out accuracy |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, row in summary.items():
        if name == REFERENCE:
            delta = per_seed = test_delta = ""
            verdict = "reference"
        elif "delta_percent" in row:
            delta = f"{row['delta_percent']:+.2f}%"
            seeds = row["per_seed_delta_percent"]
            per_seed = f"{min(seeds):+.2f} .. {max(seeds):+.2f}%"
            test_delta = f"{row['test_delta_percent']:+.2f}%"
            verdict = row["verdict"]
        else:
            delta = per_seed = test_delta = verdict = "n/a"
        lines.append(
            f"| {STORAGES[name].label} | {row['state_bytes_per_param']:.3f} | {100 * row['quantised_fraction']:.1f}% "
            f"| {_pm(row['train_loss_mean'], row['train_loss_std'], loss_digits)} | {delta} | {per_seed} "
            f"| {verdict} | {_pm(row['test_loss_mean'], row['test_loss_std'], loss_digits)} | {test_delta} "
            f"| {_pm(row['test_accuracy_mean'], row['test_accuracy_std'], 4)} |")
    return lines


def machine() -> dict[str, Any]:
    return {"date": datetime.date.today().isoformat(), "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "system": platform.system(), "processor": platform.processor(), "jax_backend": jax.default_backend(),
            "momentax": mx.__version__, "jax": jax.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def markdown(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    seeds = doc["seeds"]
    lines = [
        (f"Generated by `{doc['command']}` on {m['date']}, on a {m['cpu_count']}-core {m['jax_backend'].upper()} "
        f"machine ({m['machine']}, {m['system']}), with momentax {m['momentax']}, jax {m['jax']}, "
        f"numpy {m['numpy']} and Python {m['python']}; seeds {', '.join(map(str, seeds))}; total "
        f"{doc['wall_s'] / 60:.1f} min."),
        "",
        ("Same seeds (initial weights and minibatches) and hyperparameters in every row; only the storage of "
        "Adam's two moments changes. Losses and accuracies are mean ± standard deviation over the seeds; "
        "Δ is the relative difference of the mean final training loss to float32's; Δ per seed is the range "
        "of the paired per-seed differences; \"within 1%\" is |Δ| ≤ 1%; Δ held-out compares the mean held-out "
        "losses the same way. \"in 8 bits\" is the fraction of "
        "moment elements stored as 8-bit codes (smaller arrays stay float32)."),
    ]
    for name, t in doc["tasks"].items():
        task = TASKS[name]
        lines += ["", f"### {task.title}", "", task.description(t["settings"]), ""]
        lines += task_table(t["summary"], 5 if name == "digits" else 4)
    return "\n".join(lines) + "\n"


def run(tasks: list[str], storages: list[str], seeds: list[int], quick: bool = False,
        log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
        command: str = "python benchmarks/memory_evidence.py") -> dict[str, Any]:
    """Trains every (task, storage, seed) and returns the JSON document."""
    t_start = time.perf_counter()
    doc: dict[str, Any] = {"command": command, "machine": machine(), "seeds": seeds, "quick": quick, "tasks": {}}
    for name in tasks:
        task = TASKS[name]
        settings = dict((QUICK_SETTINGS if quick else DEFAULT_SETTINGS)[name])
        data = task.load(settings)
        if "meta" in data:
            settings["text"] = data["meta"]
        settings["n_params"] = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(task.init(0, settings)))
        runs = {}
        for storage in storages:
            log(f"{name} / {storage}")
            runs[storage] = run_storage(task, data, STORAGES[storage], seeds, settings, log)
        doc["tasks"][name] = {"settings": settings, "runs": runs, "summary": summarise(runs)}
    doc["wall_s"] = time.perf_counter() - t_start
    return doc


def _names(choices: dict[str, Any]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in choices]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"unknown {bad or 'empty list'}; choose from {', '.join(choices)}")
        return names
    return parse


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--markdown", metavar="PATH", help="write the Markdown tables here")
    parser.add_argument("--json", metavar="PATH", help="write every run's numbers here")
    parser.add_argument("--quick", action="store_true", help="tiny settings and two seeds (the script's own test)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds, 0 .. N-1 (default 3; --quick 2)")
    parser.add_argument("--tasks", type=_names(TASKS), default=list(TASKS),
                        help=f"comma-separated, from {', '.join(TASKS)} (default: all)")
    parser.add_argument("--storages", type=_names(STORAGES), default=list(STORAGES),
                        help=f"comma-separated, from {', '.join(STORAGES)} (default: all)")
    args = parser.parse_args(argv)
    n_seeds = args.seeds if args.seeds is not None else (2 if args.quick else 3)
    if n_seeds < 1:
        parser.error("--seeds must be at least 1")
    command = "python benchmarks/memory_evidence.py" + (" --quick" if args.quick else "")
    doc = run(args.tasks, args.storages, list(range(n_seeds)), quick=args.quick, command=command)
    page = markdown(doc)
    print(page)
    for path, text in ((args.markdown, page), (args.json, json.dumps(doc, indent=1))):
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            print(f"wrote {path}", file=sys.stderr)
    return doc


if __name__ == "__main__":
    main()
