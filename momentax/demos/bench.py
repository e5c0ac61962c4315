"""``momentax bench``: one optimizer step of momentax, optax and torch.optim, side by side.

For every (case, optimizer, implementation) the program measures, on whatever device
``jax.default_backend()`` names:

- in-jit time: the step repeated ``K`` times inside one jitted ``lax.fori_loop`` (``K`` is a
  traced argument, so XLA cannot unroll and fuse consecutive steps), wall time per call / K,
  median over ``--repeats`` calls. This is the optimizer's own device time; dispatch is
  excluded.
- per-call time: one jitted, donated call per step from Python, dispatch included (torch: one
  ``optimizer.step()``), median.
- bandwidth: bytes moved / time, with the bytes per parameter of :data:`BYTES_PER_PARAM`, and
  as a percentage of the copy bandwidth measured at start (``x -> x + 1`` on a large donated
  buffer, read + write counted, in a jitted loop and one per call, the larger taken; ``x + 0``
  would be simplified away by XLA).
- compile time of the step: wall time of ``jax.jit(step).lower(...).compile()``.
- optimizer-state bytes per parameter: sum of the state leaves' ``nbytes`` / parameters
  (momentax keeps its hyperparameters as scalars in the state: a few bytes in all).
- temporary bytes of the compiled, donated step (``memory_analysis().temp_size_in_bytes``),
  and their ratio to one parameter-sized buffer.

torch runs only when it sees the same kind of device (CPU with CPU; CUDA with GPU); torch.optim
has no Lion. Sizes: ``--size full`` is the GPU shapes, ``cpu`` smaller arrays with the same
leaf counts except the many-leaf case, 256 leaves instead of 1024 because XLA:CPU takes 10-30 s
per program to compile 1024 leaves (default on CPU), ``--quick`` a tiny set for tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from typing import Any, Callable, Sequence

__all__ = ["BYTES_PER_PARAM", "CASES", "IMPLS", "OPTIMIZERS", "add_arguments", "gpt2_shapes",
           "main", "run", "run_bench"]

CASES = ("one_leaf", "gpt2_small", "many_small", "gpt2_xl")
DEFAULT_CASES = ("one_leaf", "gpt2_small", "many_small")
OPTIMIZERS = ("adamw", "clip_adamw", "sgd_momentum", "lion", "adamw_8bit")
# adamw_8bit compiles slowly on XLA:CPU (about 60 s for 256 leaves): run it when named.
DEFAULT_OPTIMIZERS = ("adamw", "clip_adamw", "sgd_momentum", "lion")
# Only momentax keeps 8-bit state; optax and torch.optim rows of these are skipped.
MOMENTAX_ONLY = ("adamw_8bit",)
IMPLS = ("momentax", "optax", "torch-foreach", "torch-fused")

# Bytes moved per float32 parameter by one step, at best (each array read or written once).
BYTES_PER_PARAM = {
    "adamw": 28,         # read p, g, m, v; write p, m, v
    "clip_adamw": 32,    # adamw + one more read of g for the global norm
    "sgd_momentum": 20,  # read p, g, m; write p, m
    "lion": 20,          # read p, g, m; write p, m
    "adamw_8bit": 16,    # read p, g (4 + 4), m, v codes (1 + 1); write p, m, v codes (block scales not counted)
}
SETTINGS = {
    "adamw": "lr 1e-3, b1 0.9, b2 0.999, eps 1e-8, weight_decay 1e-2",
    "clip_adamw": "clip_by_global_norm(1.0), then adamw as above",
    "sgd_momentum": "lr 1e-2, momentum 0.9 (sum form)",
    "lion": "lr 1e-4, b1 0.9, b2 0.99, weight_decay 1e-3",
    "adamw_8bit": "adamw as above, mu_dtype = nu_dtype = momentax.blockwise_8bit() (block 256, min_size 4096)",
}


def gpt2_shapes(n_layer: int, d: int, vocab: int = 50304, ctx: int = 1024) -> list[tuple[int, ...]]:
    """Parameter shapes of a GPT-2 model: embeddings, ``n_layer`` blocks of 12 arrays, final norm.

    Example:
      >>> import math
      >>> shapes = gpt2_shapes(12, 768)
      >>> len(shapes), sum(math.prod(s) for s in shapes)
      (148, 124475904)
    """
    s = [(vocab, d), (ctx, d)]
    for _ in range(n_layer):
        s += [(d,), (d,), (d, 3 * d), (3 * d,), (d, d), (d,), (d,), (d,),
              (d, 4 * d), (4 * d,), (4 * d, d), (d,)]
    return s + [(d,), (d,)]


def case_shapes(name: str, size: str) -> tuple[list[tuple[int, ...]], str]:
    """The leaf shapes of a case at ``size`` ('full', 'cpu' or 'quick') and a description."""
    table = {
        "one_leaf": {"full": ([(256 << 20,)], "one leaf of 256M floats"),
                     "cpu": ([(16 << 20,)], "one leaf of 16M floats (full: 256M)"),
                     "quick": ([(1 << 16,)], "one leaf of 64K floats (quick)")},
        "gpt2_small": {"full": (gpt2_shapes(12, 768), "GPT-2 small: 12 layers, d=768"),
                       "cpu": (gpt2_shapes(12, 256), "GPT-2 small shapes with d=256 (full: d=768)"),
                       "quick": (gpt2_shapes(2, 32, 1024, 64), "GPT-2 shapes, 2 layers, d=32 (quick)")},
        "many_small": {"full": ([(1 << 16,)] * 1024, "1024 leaves of 64K floats"),
                       # 1024 leaves take XLA:CPU 10-30 s to compile per program: too slow here.
                       "cpu": ([(1 << 16,)] * 256, "256 leaves of 64K floats (full: 1024 leaves)"),
                       "quick": ([(1 << 10,)] * 32, "32 leaves of 1K floats (quick)")},
        "gpt2_xl": {"full": (gpt2_shapes(48, 1600), "GPT-2 XL: 48 layers, d=1600"),
                    "cpu": (gpt2_shapes(48, 256), "GPT-2 XL shapes with d=256 (full: d=1600)"),
                    "quick": (gpt2_shapes(4, 32, 1024, 64), "GPT-2 shapes, 4 layers, d=32 (quick)")},
    }
    return table[name][size]


def _jax_optimizer(impl: str, name: str) -> tuple[Any, Callable]:
    import optax

    import momentax
    lib = momentax if impl == "momentax" else optax

    def adamw():
        return lib.adamw(1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2)

    def adamw_8bit():
        q8 = momentax.blockwise_8bit()
        return momentax.adamw(1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2, mu_dtype=q8, nu_dtype=q8)

    tx = {"adamw": adamw, "adamw_8bit": adamw_8bit, "clip_adamw": lambda: lib.chain(lib.clip_by_global_norm(1.0), adamw()),
          "sgd_momentum": lambda: lib.sgd(1e-2, momentum=0.9),
          "lion": lambda: lib.lion(1e-4, b1=0.9, b2=0.99, weight_decay=1e-3)}[name]()
    return tx, lib.apply_updates


def _median_seconds(call: Callable, carry: tuple, repeats: int, warmup: int) -> tuple[float, tuple]:
    import jax
    for _ in range(warmup):
        carry = call(*carry)
    jax.block_until_ready(carry)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        carry = call(*carry)
        jax.block_until_ready(carry)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), carry


def copy_bandwidth(n: int, steps: int, repeats: int) -> tuple[float, float]:
    """GB/s of ``x -> x + 1`` over ``n`` float32, read + write counted: (in a loop, per call).

    Both are donated jitted calls; the first runs ``steps`` iterations of a ``fori_loop`` per
    call, the second one per call.
    """
    import jax
    import jax.numpy as jnp

    loop = jax.jit(lambda x, k: jax.lax.fori_loop(0, k, lambda i, y: y + 1.0, x), donate_argnums=0)
    once = jax.jit(lambda x: x + 1.0, donate_argnums=0)
    k = jnp.int32(steps)
    sec, (x,) = _median_seconds(lambda x: (loop(x, k),), (jnp.zeros((n,), jnp.float32),), repeats, 1)
    sec1, _ = _median_seconds(lambda x: (once(x),), (x,), repeats, 1)
    return 2 * 4 * n * steps / sec / 1e9, 2 * 4 * n / sec1 / 1e9


def measure_jax(impl: str, opt_name: str, params0: list, grads: list, steps: int,
                repeats: int) -> dict:
    """Times one (optimizer, momentax|optax) pair on ``params0``/``grads`` (not donated)."""
    import jax
    import jax.numpy as jnp

    tx, apply_updates = _jax_optimizer(impl, opt_name)
    n = sum(p.size for p in params0)
    params = [jnp.copy(p) for p in params0]  # these are donated
    state = tx.init(params)
    state_bytes = sum(x.nbytes for x in jax.tree.leaves(state))

    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return apply_updates(p, u), s

    t0 = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=(0, 1)).lower(params, state, grads).compile()
    compile_s = time.perf_counter() - t0
    try:
        temp = int(compiled.memory_analysis().temp_size_in_bytes)
    except Exception:  # noqa: BLE001 - not every backend reports it
        temp = None
    per_call, (params, state) = _median_seconds(
        lambda p, s: compiled(p, s, grads), (params, state), repeats, warmup=2)

    def loop(p, s, g, k):
        return jax.lax.fori_loop(0, k, lambda i, c: step(c[0], c[1], g), (p, s))

    k = jnp.int32(steps)
    looped = jax.jit(loop, donate_argnums=(0, 1)).lower(params, state, grads, k).compile()
    in_jit, (params, state) = _median_seconds(
        lambda p, s: looped(p, s, grads, k), (params, state), repeats, warmup=1)
    finite = bool(jnp.isfinite(params[0]).all())
    return {"status": "ok" if finite else "error", "note": "" if finite else "non-finite parameters",
            "in_jit_ms": in_jit / steps * 1e3, "per_call_ms": per_call * 1e3, "compile_s": compile_s,
            "state_bytes_per_param": state_bytes / n, "temp_bytes": temp,
            "temp_over_param_buffer": None if temp is None else temp / (4 * n)}


def _torch_device() -> tuple[str | None, str]:
    import jax
    backend = jax.default_backend()
    if backend == "cpu":
        return "cpu", ""
    import torch
    if backend in ("gpu", "cuda") and torch.cuda.is_available():
        return "cuda", ""
    return None, f"torch sees no {backend} device"


def measure_torch(mode: str, opt_name: str, params0: list, grads: list, repeats: int,
                  device: str) -> dict:
    """Times torch.optim (``mode`` 'foreach' or 'fused') on copies of the same arrays."""
    import numpy as np
    import torch

    if opt_name == "lion":
        return {"status": "skipped", "note": "torch.optim has no Lion"}
    ps = [torch.nn.Parameter(torch.from_numpy(np.array(p)).to(device)) for p in params0]
    for p, g in zip(ps, grads):
        p.grad = torch.from_numpy(np.array(g)).to(device)
    kw = {mode: True}
    try:
        if opt_name == "sgd_momentum":
            opt = torch.optim.SGD(ps, lr=1e-2, momentum=0.9, **kw)
        else:
            opt = torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, **kw)
        opt.step()
    except (RuntimeError, ValueError) as e:
        return {"status": "skipped", "note": f"torch {mode}: {str(e).splitlines()[0][:120]}"}
    clip = opt_name == "clip_adamw"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        if clip:
            torch.nn.utils.clip_grad_norm_(ps, 1.0, foreach=True)
        opt.step()

    sync()  # the first step, above, allocated the state
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    n = sum(p.numel() for p in ps)
    state_bytes = sum(t.nbytes for st in opt.state.values() for t in st.values() if torch.is_tensor(t))
    finite = bool(torch.isfinite(ps[0]).all())
    return {"status": "ok" if finite else "error", "note": "clip: clip_grad_norm_(foreach=True)" if clip else "",
            "in_jit_ms": None, "per_call_ms": statistics.median(times) * 1e3, "compile_s": None,
            "state_bytes_per_param": state_bytes / n, "temp_bytes": None, "temp_over_param_buffer": None}


def _available_bytes() -> int | None:
    import jax
    try:
        stats = jax.devices()[0].memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    except Exception:  # noqa: BLE001, S110 - CPU devices report nothing; /proc/meminfo follows
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def machine_info() -> dict:
    """CPU model, cores, versions, backend, device and date of this run."""
    import jax
    import jaxlib
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {"jax": jax.__version__, "jaxlib": jaxlib.__version__}
    for mod in ("optax", "torch", "momentax"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    info.update(versions=versions, backend=jax.default_backend(), device=jax.devices()[0].device_kind,
                python=platform.python_version(),
                date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    return info


def run_bench(cases: Sequence[str], optimizers: Sequence[str], impls: Sequence[str], *, size: str,
              steps: int, repeats: int, log: Callable[[str], None] = print) -> dict:
    """Runs every requested (case, optimizer, impl); returns ``{"meta": ..., "rows": [...]}``."""
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share the GPU with torch
    import jax
    import numpy as np

    meta = machine_info()
    meta["load_average_start"] = list(os.getloadavg())
    copy_n = {"full": 512 << 20, "cpu": 64 << 20, "quick": 1 << 20}[size]
    meta["copy_gbps_loop"], meta["copy_gbps_call"] = copy_bandwidth(copy_n, steps, repeats)
    meta["copy_gbps"] = max(meta["copy_gbps_loop"], meta["copy_gbps_call"])
    meta.update(copy_floats=copy_n, size=size, steps=steps, repeats=repeats,
                bytes_per_param=BYTES_PER_PARAM, settings={o: SETTINGS[o] for o in optimizers}, cases={})
    log(f"copy bandwidth ({copy_n * 4 >> 20} MiB, read+write): {meta['copy_gbps_loop']:.1f} GB/s in a "
        f"loop, {meta['copy_gbps_call']:.1f} GB/s per call; the larger is the reference")
    device, torch_note = (None, "")
    if any(i.startswith("torch") for i in impls):
        try:
            device, torch_note = _torch_device()
        except ImportError:
            device, torch_note = None, "torch is not installed"
    rows = []
    for case in cases:
        shapes, desc = case_shapes(case, size)
        n = int(sum(np.prod(s) for s in shapes))
        meta["cases"][case] = {"description": desc, "leaves": len(shapes), "params": n}
        base = {"case": case, "leaves": len(shapes), "params": n}
        avail = _available_bytes()
        too_big = avail is not None and 8 * 4 * n > 0.9 * avail
        if not too_big:
            rng = np.random.default_rng(0)
            params_np = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
            grads_np = [1e-3 * rng.standard_normal(s, dtype=np.float32) for s in shapes]
            params0 = [jax.device_put(a) for a in params_np]
            grads = [jax.device_put(a) for a in grads_np]
        for opt in optimizers:
            for impl in impls:
                row = dict(base, optimizer=opt, impl=impl, bytes_moved_per_param=BYTES_PER_PARAM[opt])
                if too_big:
                    r = {"status": "skipped", "note": f"needs ~{32 * n / 2**30:.1f} GiB, "
                         f"{avail / 2**30:.1f} GiB available"}
                elif opt in MOMENTAX_ONLY and impl != "momentax":
                    r = {"status": "skipped", "note": f"{impl} has no 8-bit optimizer state"}
                elif impl.startswith("torch") and device is None:
                    r = {"status": "skipped", "note": torch_note}
                else:
                    try:
                        if impl.startswith("torch"):
                            r = measure_torch(impl.split("-")[1], opt, params_np, grads_np, repeats, device)
                        else:
                            r = measure_jax(impl, opt, params0, grads, steps, repeats)
                    except Exception as e:  # noqa: BLE001 - one failure must not end the run
                        r = {"status": "error", "note": f"{type(e).__name__}: {str(e)[:200]}"}
                row.update(r)
                for kind in ("in_jit", "per_call"):
                    ms = row.get(f"{kind}_ms")
                    gbps = BYTES_PER_PARAM[opt] * n / (ms * 1e-3) / 1e9 if ms else None
                    row[f"{kind}_gbps"] = gbps
                    row[f"{kind}_pct_copy"] = 100 * gbps / meta["copy_gbps"] if gbps else None
                rows.append(row)
                log(format_row(row))
        if not too_big:
            del params0, grads, params_np, grads_np
    meta["load_average_end"] = list(os.getloadavg())
    return {"meta": meta, "rows": rows}


COLUMNS = ("case", "optimizer", "impl", "in-jit ms", "per-call ms", "GB/s", "% copy", "compile s",
           "state B/param", "temp / param buf", "note")


def _fmt(x: Any, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table_cells(row: dict) -> list[str]:
    """One table line; GB/s and % copy from the in-jit time (torch: per-call time, marked *)."""
    torch_row = row["impl"].startswith("torch")
    kind = "per_call" if torch_row else "in_jit"
    star = "*" if torch_row and row.get("per_call_gbps") else ""
    return [row["case"], row["optimizer"], row["impl"], _fmt(row.get("in_jit_ms"), ".2f"),
            _fmt(row.get("per_call_ms"), ".2f"), _fmt(row.get(f"{kind}_gbps"), ".1f") + star,
            _fmt(row.get(f"{kind}_pct_copy"), ".0f") + star, _fmt(row.get("compile_s"), ".2f"),
            _fmt(row.get("state_bytes_per_param"), ".4f"), _fmt(row.get("temp_over_param_buffer"), ".2f"),
            row.get("note") or ("" if row.get("status") == "ok" else row.get("status", ""))]


def format_row(row: dict) -> str:
    return "  ".join(table_cells(row))


def plain_table(rows: list[dict]) -> str:
    cells = [list(COLUMNS)] + [table_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells)


def markdown(result: dict) -> str:
    """The run as a Markdown page: machine, versions, settings, the table and its notes."""
    m = result["meta"]
    v = m["versions"]
    lines = [
        "# momentax bench", "",
        f"- machine: {m['cpu']}, {m['cores']} cores; backend {m['backend']} ({m['device']})",
        "- versions: " + ", ".join(f"{k} {v[k]}" for k in ("jax", "jaxlib", "optax", "torch", "momentax")),
        f"- date: {m['date']}; load average (1/5/15 min) at start "
        + " / ".join(f"{x:.2f}" for x in m["load_average_start"]) + ", at end "
        + " / ".join(f"{x:.2f}" for x in m["load_average_end"]),
        (f"- copy bandwidth (x -> x + 1 on {m['copy_floats'] * 4 >> 20} MiB, donated, read + write "
         f"counted): {m['copy_gbps_loop']:.1f} GB/s in a jitted loop, {m['copy_gbps_call']:.1f} GB/s "
         f"one per call; % copy is against the larger, {m['copy_gbps']:.1f} GB/s"),
        (f"- in-jit: {m['steps']} steps per jitted fori_loop, median of {m['repeats']} calls; per-call: "
         f"median of {m['repeats']} donated calls (dispatch included)"),
        "- cases: " + "; ".join(f"{k}: {c['description']}, {c['leaves']} leaves, {c['params']:,} params"
                                for k, c in m["cases"].items()),
        "- bytes moved per parameter: " + ", ".join(f"{k} {b}" for k, b in m["bytes_per_param"].items()),
        "- settings: " + "; ".join(f"{k}: {s}" for k, s in m["settings"].items()), "",
        "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(table_cells(r)) + " |" for r in result["rows"]]
    lines += ["", ("`*`: torch has no jitted loop; its GB/s and % copy come from the per-call time. "
                   "temp / param buf: the compiled, donated step's temporary bytes over one "
                   "parameter-sized buffer.")]
    return "\n".join(lines) + "\n"


def print_table(rows: list[dict]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(plain_table(rows))
        return
    t = Table(*COLUMNS)
    for r in rows:
        t.add_row(*table_cells(r))
    Console(width=200).print(t)


def _names(allowed: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",") if n.strip()]
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            what = f"unknown name {bad[0]!r}" if bad else "empty list"
            raise argparse.ArgumentTypeError(f"{what}; choose from: {', '.join(allowed)}")
        return list(dict.fromkeys(names))
    return parse


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``momentax bench``."""
    p.add_argument("--cases", type=_names(CASES), default=",".join(DEFAULT_CASES), metavar="NAMES",
                   help=f"comma-separated cases from: {', '.join(CASES)}; gpt2_xl runs only when "
                   "named and memory allows (default: %(default)s)")
    p.add_argument("--optimizers", type=_names(OPTIMIZERS), default=",".join(DEFAULT_OPTIMIZERS), metavar="NAMES",
                   help="comma-separated optimizers from: adamw, clip_adamw, sgd_momentum, lion, adamw_8bit "
                        "(momentax only, 8-bit moments; slow to compile on CPU) (default: %(default)s)")
    p.add_argument("--impls", type=_names(IMPLS), default=",".join(IMPLS), metavar="NAMES",
                   help="comma-separated implementations (default: %(default)s)")
    p.add_argument("--size", choices=("auto", "full", "cpu"), default="auto",
                   help="case sizes: full (GPU shapes), cpu (smaller arrays, same leaf counts except "
                   "many_small: 256 leaves), auto: cpu on the CPU backend, else full "
                   "(default: %(default)s)")
    p.add_argument("--steps", type=_positive, default=None,
                   help="steps per jitted loop for the in-jit time (default: 5 on CPU, 20 elsewhere, "
                   "2 with --quick)")
    p.add_argument("--repeats", type=_positive, default=None,
                   help="timed calls per measurement, median taken (default: 3 on CPU, 10 elsewhere, "
                   "2 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="tiny cases and few repeats, for tests (default: off)")
    p.add_argument("--json", default=None, metavar="PATH", help="write the rows as JSON (default: none)")
    p.add_argument("--markdown", default=None, metavar="PATH",
                   help="write the table as Markdown with machine, versions and date (default: none)")


def run(args: argparse.Namespace) -> int:
    """Runs ``momentax bench`` from parsed arguments; prints the table, writes the files."""
    import jax
    cpu = jax.default_backend() == "cpu"
    size = "quick" if args.quick else (args.size if args.size != "auto" else ("cpu" if cpu else "full"))
    default = 2 if args.quick else (5 if cpu else 20)
    result = run_bench(args.cases, args.optimizers, args.impls, size=size, steps=args.steps or default,
                       repeats=args.repeats or (2 if args.quick else (3 if cpu else 10)))
    print_table(result["rows"])
    for c, d in result["meta"]["cases"].items():
        print(f"{c}: {d['description']}, {d['leaves']} leaves, {d['params']:,} params")
    print("GB/s and % copy: in-jit time (torch, marked *: per-call time); copy bandwidth "
          f"{result['meta']['copy_gbps']:.1f} GB/s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
        print(f"wrote {args.json}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(result))
        print(f"wrote {args.markdown}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``momentax bench [options]``, as a function; returns the exit status."""
    from momentax import cli
    return cli.main(["bench", *(argv or [])])
