"""Sharded optimizer steps on 8 simulated CPU devices; prints one JSON object of measurements.

Run by ``tests/test_sharding.py`` in a subprocess, because the device count is fixed when JAX
starts: ``XLA_FLAGS=--xla_force_host_platform_device_count=8`` must be set before ``import
jax`` (this script sets it when absent). Everything it measures is printed as the last line
of stdout, as JSON, and asserted on by the test; the script itself asserts nothing, so a
failure shows up as a readable test assertion rather than a traceback.
"""

from __future__ import annotations

import json
import os
import re
import sys

if __name__ == "__main__":  # not when pytest imports this file to look for doctests
    os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
    os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P  # noqa: E402

import momentax as mx  # noqa: E402

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
STEPS = 3

OPTIMIZERS = {
    "sgd_momentum": lambda: mx.sgd(0.05, momentum=0.9),
    "adam": lambda: mx.adam(1e-2),
    "adamw": lambda: mx.adamw(1e-2, weight_decay=0.1),
    "clip_adamw": lambda: mx.chain(mx.clip_by_global_norm(1.0), mx.adamw(1e-2, weight_decay=0.1)),
}
SHAPES = {"w1": (16, 8), "b1": (8,), "w2": (8, 4), "s": ()}

# Stored state: 8-bit blocks of 16 elements for arrays of >= 32 elements (w1: 8 blocks, w2: 2;
# b1 and s stay float32), and stochastically rounded bfloat16 moments.
Q8 = mx.blockwise_8bit(block_size=16, min_size=32)
SR = mx.stochastic_rounding(seed=0)
STORED = {
    "adamw_8bit": lambda: mx.adamw(1e-2, weight_decay=0.1, mu_dtype=Q8, nu_dtype=Q8),
    "adamw_sr": lambda: mx.adamw(1e-2, weight_decay=0.1, mu_dtype=SR, nu_dtype=SR),
}


def collectives(hlo: str) -> list[dict]:
    """Every collective instruction of a compiled HLO module: its op and result shapes."""
    found = []
    pattern = re.compile(r"=\s*(.+?)\s+(" + "|".join(COLLECTIVES) + r")(-start)?\(")
    for line in hlo.splitlines():
        m = pattern.search(line)
        if m:
            dims = re.findall(r"\w+\[([\d,]*)\]", m.group(1))
            sizes = [int(np.prod([int(d) for d in ds.split(",") if d])) for ds in dims]
            found.append({"op": m.group(2), "result": m.group(1), "max_elements": max(sizes, default=0)})
    return found


def make_params(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s).astype(np.float32) for k, s in SHAPES.items()}


def make_grads() -> list[dict]:
    # Large enough (norm about 20) that clip_by_global_norm(1.0) is active on every step.
    return [{k: 3.0 * v for k, v in make_params(seed).items()} for seed in range(1, STEPS + 1)]


def step_fn(opt):
    def step(params, state, grads):
        updates, state = opt.update(grads, state, params)
        return mx.apply_updates(params, updates), state

    return step


def run_single(opt) -> tuple[dict, object]:
    dev = jax.devices()[0]
    params = jax.device_put(make_params(), dev)
    state = opt.init(params)
    step = jax.jit(step_fn(opt))
    for g in make_grads():
        params, state = step(params, state, jax.device_put(g, dev))
    return params, state


def compare(a, b) -> dict:
    """Errors of tree ``a`` against reference ``b``: elementwise relative ("rel", where a zero in
    ``b`` must be matched exactly) and relative to each leaf's largest magnitude ("leaf_rel")."""
    rel, leaf_rel = 0.0, 0.0
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        if x.size == 0:
            continue
        err = np.abs(x - y)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = max(rel, float(np.max(np.where(err == 0, 0.0, err / np.abs(y)))))
        leaf_rel = max(leaf_rel, float(np.max(err)) / max(float(np.max(np.abs(y))), 1e-30))
    return {"rel": rel, "leaf_rel": leaf_rel}


def same_sharding(x: jax.Array, s) -> bool:
    return x.sharding.is_equivalent_to(s, x.ndim)


def check_mesh(name: str, mesh: Mesh, specs: dict) -> dict:
    shardings = {k: NamedSharding(mesh, specs[k]) for k in SHAPES}
    out = {}
    for opt_name, make in OPTIMIZERS.items():
        opt = make()
        ref_params, ref_state = run_single(opt)

        params = {k: jax.device_put(v, shardings[k]) for k, v in make_params().items()}
        planned = mx.state_shardings(opt, params)
        abstract = {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=v.sharding) for k, v in params.items()}
        planned_abstract = mx.state_shardings(opt, abstract)

        eager_state = opt.init(params)  # eager init: parameter-shaped leaves follow their parameter
        state = jax.jit(opt.init, out_shardings=planned)(params)
        unplanned = jax.jit(opt.init)(params)

        flat_state = jax.tree_util.tree_flatten_with_path(state)[0]
        flat_plan = jax.tree.leaves(planned)
        param_shaped = [(jax.tree_util.keystr(p), x) for (p, x) in flat_state if x.ndim > 0]
        scalars = [x for (_, x) in flat_state if x.ndim == 0]

        def owner(path: str):
            return next(k for k in SHAPES if path.endswith(f"['{k}']"))

        step = step_fn(opt)
        psh = {k: shardings[k] for k in SHAPES}
        jitted = jax.jit(step, in_shardings=(psh, planned, psh), out_shardings=(psh, planned))
        hlo = jitted.lower(params, state, params).compile().as_text()
        for g in make_grads():
            params, state = jitted(params, state, jax.device_put(g, psh))

        out[opt_name] = {
            "params_vs_one_device": compare(params, ref_params),
            "state_vs_one_device": compare(state, ref_state),
            "plan_equals_abstract_plan": jax.tree.leaves(planned) == jax.tree.leaves(planned_abstract),
            "param_shaped_leaves": len(param_shaped),
            "param_shaped_follow_param": all(same_sharding(x, shardings[owner(p)]) for p, x in param_shaped),
            "eager_init_follows_param": all(
                same_sharding(x, shardings[owner(jax.tree_util.keystr(p))])
                for p, x in jax.tree_util.tree_flatten_with_path(eager_state)[0] if x.ndim > 0),
            "state_matches_plan": all(same_sharding(x, s) for (_, x), s in zip(flat_state, flat_plan)),
            "scalars_replicated_on_mesh": all(
                isinstance(x.sharding, NamedSharding) and x.sharding.mesh == mesh and x.sharding.is_fully_replicated
                for x in scalars),
            "after_steps_follow_param": all(
                same_sharding(x, shardings[owner(jax.tree_util.keystr(p))])
                for p, x in jax.tree_util.tree_flatten_with_path(state)[0] if x.ndim > 0),
            "jit_init_without_out_shardings": sorted({type(x.sharding).__name__ for x in jax.tree.leaves(unplanned)}),
            "collectives": collectives(hlo),
        }
    return out


def loaded(state):
    """The state with every stored leaf read back into float32 (what the update rule sees)."""
    return jax.tree.map(mx.trees.loaded, state, is_leaf=mx.trees.is_stored)


def stored_parts(state) -> dict:
    """``{path: array}`` of the arrays inside stored leaves, keyed like ``[0].mu['w1'].codes``."""
    return {jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_flatten_with_path(state)[0]
            if jax.tree_util.keystr(p).endswith((".codes", ".scales", ".value", ".key"))}


def differing_elements(a, b) -> int:
    """How many elements of the stored arrays (codes, bfloat16 values) differ between two states."""
    pa, pb = stored_parts(a), stored_parts(b)
    return sum(int(np.sum(np.asarray(pa[k]) != np.asarray(pb[k]))) for k in pa)


def check_stored_mesh(mesh: Mesh, specs: dict) -> dict:
    """8-bit and stochastically rounded adamw on sharded parameters, against one device."""
    shardings = {k: NamedSharding(mesh, specs[k]) for k in SHAPES}
    out = {}
    for opt_name, make in STORED.items():
        opt = make()
        ref_params, ref_state = run_single(opt)
        params = {k: jax.device_put(v, shardings[k]) for k, v in make_params().items()}
        planned = mx.state_shardings(opt, params)
        abstract = {k: jax.ShapeDtypeStruct(v.shape, v.dtype, sharding=v.sharding) for k, v in params.items()}
        state = jax.jit(opt.init, out_shardings=planned)(params)
        eager = opt.init(params)
        psh = {k: shardings[k] for k in SHAPES}
        jitted = jax.jit(step_fn(opt), in_shardings=(psh, planned, psh), out_shardings=(psh, planned))
        hlo = jitted.lower(params, state, params).compile().as_text()
        for g in make_grads():
            params, state = jitted(params, state, jax.device_put(g, psh))

        def owner(path: str) -> str:
            return next(k for k in SHAPES if f"['{k}']" in path)

        def placement_ok(tree) -> bool:
            ok = True
            for path, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
                path = jax.tree_util.keystr(path)
                if path.endswith((".codes", ".value")) or (x.ndim > 0 and not path.endswith((".scales", ".key"))):
                    ok &= same_sharding(x, shardings[owner(path)])
                else:  # block scales, PRNG keys, counters, hyperparameters
                    ok &= isinstance(x.sharding, NamedSharding) and x.sharding.is_fully_replicated
            return bool(ok)

        parts = stored_parts(state)
        out[opt_name] = {
            "stored_parts": sorted({k.rsplit(".", 1)[1] for k in parts}),
            "stored_leaves": sorted({owner(k) for k in parts}),
            "plan_equals_abstract_plan": jax.tree.leaves(planned) == jax.tree.leaves(
                mx.state_shardings(opt, abstract)),
            "planned_init_placement_ok": placement_ok(jax.jit(opt.init, out_shardings=planned)(params)),
            "eager_init_placement_ok": placement_ok(eager),
            "after_steps_placement_ok": placement_ok(state),
            "params_vs_one_device": compare(params, ref_params),
            "loaded_state_vs_one_device": compare(loaded(state), loaded(ref_state)),
            "differing_stored_elements": differing_elements(state, ref_state),
            "stored_elements": sum(int(np.size(x)) for k, x in parts.items() if k.endswith((".codes", ".value"))),
            "collectives": sorted({c["op"] for c in collectives(hlo)}),
        }
    return out


def check_zero1_stored() -> dict:
    """ZeRO-1 shardings of 8-bit adamw: codes split along the data axis, scales replicated."""
    mesh = jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    rep = NamedSharding(mesh, P())
    opt = STORED["adamw_8bit"]()
    ref_params, ref_state = run_single(opt)
    params = jax.device_put(make_params(), rep)
    zero = mx.zero1_shardings(opt, params, mesh, axis="data")
    state = jax.jit(opt.init, out_shardings=zero)(params)
    psh = jax.tree.map(lambda _: rep, params)
    jitted = jax.jit(step_fn(opt), in_shardings=(psh, zero, psh), out_shardings=(psh, zero))
    for g in make_grads():
        params, state = jitted(params, state, jax.device_put(g, rep))
    return {
        "specs": {k: list(x.sharding.spec) for k, x in stored_parts(state).items()},
        "params_vs_one_device": compare(params, ref_params),
        "loaded_state_vs_one_device": compare(loaded(state), loaded(ref_state)),
        "differing_stored_elements": differing_elements(state, ref_state),
    }


def leaf_bytes_per_device(tree) -> int:
    return sum(x.addressable_shards[0].data.nbytes for x in jax.tree.leaves(tree))


def check_zero1() -> dict:
    mesh = jax.make_mesh((8,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    rep = NamedSharding(mesh, P())
    shapes = {"w1": (16, 8), "b1": (8,), "w2": (8, 4), "odd": (3, 5), "s": ()}
    rng = np.random.default_rng(0)
    host = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    x = rng.normal(size=(32, 16)).astype(np.float32)
    y = rng.normal(size=(32, 4)).astype(np.float32)

    def loss_fn(p, x, y):
        h = jnp.tanh(x @ p["w1"] + p["b1"])
        return jnp.mean((h @ p["w2"] - y) ** 2) + p["s"] ** 2 + jnp.sum(p["odd"] ** 2) * 1e-3

    opt = mx.adamw(1e-2, weight_decay=0.1)

    def train_step(p, s, x, y):
        grads = jax.grad(loss_fn)(p, x, y)
        updates, s = opt.update(grads, s, p)
        return mx.apply_updates(p, updates), s

    # Reference: one device, full batch.
    dev = jax.devices()[0]
    p_ref = jax.device_put(host, dev)
    s_ref = opt.init(p_ref)
    ref_step = jax.jit(train_step)
    for _ in range(STEPS):
        p_ref, s_ref = ref_step(p_ref, s_ref, jax.device_put(x, dev), jax.device_put(y, dev))

    params = jax.device_put(host, rep)
    replicated_plan = mx.state_shardings(opt, params)
    zero = mx.zero1_shardings(opt, params, mesh, axis="data")
    state = jax.jit(opt.init, out_shardings=zero)(params)
    full_state = jax.jit(opt.init, out_shardings=replicated_plan)(params)

    psh = jax.tree.map(lambda _: rep, host)
    batch = NamedSharding(mesh, P("data"))
    jitted = jax.jit(train_step, in_shardings=(psh, zero, batch, batch), out_shardings=(psh, zero))
    xs, ys = jax.device_put(x, batch), jax.device_put(y, batch)
    train_hlo = jitted.lower(params, state, xs, ys).compile().as_text()
    for _ in range(STEPS):
        params, state = jitted(params, state, xs, ys)

    # The same data-parallel step with the state replicated (no ZeRO): isolates the state sharding.
    p_dp, s_dp = jax.device_put(host, rep), full_state
    dp = jax.jit(train_step, in_shardings=(psh, replicated_plan, batch, batch), out_shardings=(psh, replicated_plan))
    for _ in range(STEPS):
        p_dp, s_dp = dp(p_dp, s_dp, xs, ys)

    # The optimizer step alone, on replicated gradients: only gathers of the updated slices.
    grads = jax.device_put(host, rep)
    opt_only = jax.jit(step_fn(opt), in_shardings=(psh, zero, psh), out_shardings=(psh, zero))
    opt_hlo = opt_only.lower(params, state, grads).compile().as_text()

    moments = (state[0].mu, state[0].nu)
    moments_full = (full_state[0].mu, full_state[0].nu)
    divisible = ("w1", "b1", "w2")
    return {
        "specs": {k: [list(state[0].mu[k].sharding.spec), list(state[0].nu[k].sharding.spec)] for k in shapes},
        "param_specs": {k: list(params[k].sharding.spec) for k in shapes},
        "moment_bytes_per_device": leaf_bytes_per_device(moments),
        "moment_bytes_per_device_replicated": leaf_bytes_per_device(moments_full),
        "divisible_bytes_per_device": sum(leaf_bytes_per_device([m[k] for m in moments]) for k in divisible),
        "divisible_bytes_replicated": sum(leaf_bytes_per_device([m[k] for m in moments_full]) for k in divisible),
        "params_vs_replicated_state": compare(params, p_dp),
        "state_vs_replicated_state": compare(state, s_dp),
        "params_vs_one_device": compare(params, p_ref),
        "state_vs_one_device": compare(state, s_ref),
        "train_collectives": sorted({c["op"] for c in collectives(train_hlo)}),
        "optimizer_collectives": sorted({c["op"] for c in collectives(opt_hlo)}),
    }


def main() -> None:
    devices = np.asarray(jax.devices())
    one_d = jax.make_mesh((8,), ("data",))  # jax's default axis types (Explicit in jax 0.10)
    two_d = Mesh(devices.reshape(4, 2), ("data", "model"))  # Auto axis types
    result = {
        "device_count": jax.device_count(),
        "mesh_1d": check_mesh("1d", one_d, {"w1": P("data", None), "b1": P("data"), "w2": P("data"), "s": P()}),
        "mesh_2d": check_mesh("2d", two_d, {"w1": P("data", "model"), "b1": P("model"), "w2": P(None, "model"),
                                            "s": P()}),
        "zero1": check_zero1(),
        "stored_1d": check_stored_mesh(one_d, {"w1": P("data", None), "b1": P("data"), "w2": P("data"), "s": P()}),
        "stored_2d": check_stored_mesh(two_d, {"w1": P("data", "model"), "b1": P("model"), "w2": P(None, "model"),
                                               "s": P()}),
        "zero1_stored": check_zero1_stored(),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
