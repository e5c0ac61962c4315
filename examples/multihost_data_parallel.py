"""Data-parallel training over several processes (hosts) with ``jax.distributed`` and momentax.

Each process reads only its own slice of every global batch; ``jax.jit`` over a mesh that
spans every device of every process computes the mean gradient (the partitioner inserts the
all-reduce) and runs the momentax step on replicated parameters. momentax itself adds no
communication: the optimizer code is the same as on one device. With ``--zero1`` the
optimizer state is additionally split along the data axis (``momentax.zero1_shardings``).

Command lines (``--steps``, ``--zero1`` and ``--json`` are optional)::

    # N hosts, CPU or GPU: run on every host, with I = 0 .. N-1 and HOST0 reachable by all
    python examples/multihost_data_parallel.py --coordinator HOST0:1234 --num-processes N --process-id I

    # Cloud TPU, SLURM or Open MPI launches that jax.distributed detects by itself
    python examples/multihost_data_parallel.py --auto

    # one machine, two CPU processes (what tests/test_multiprocess.py runs)
    python examples/multihost_data_parallel.py --coordinator 127.0.0.1:1234 --num-processes 2 --process-id 0 &
    python examples/multihost_data_parallel.py --coordinator 127.0.0.1:1234 --num-processes 2 --process-id 1

Every process prints the same final loss; with ``--json`` each prints one JSON line with its
process id, the losses and the final parameters. ``reference(steps)`` computes the same run in
one process on the full batch; the multi-process parameters equal it up to float32
reduction order.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

import momentax

GLOBAL_BATCH = 32
FEATURES = 8
WIDTH = 16


def dataset(step: int):
    """The global batch of ``step`` (every process can make it; each keeps only its slice)."""
    rng = np.random.default_rng(1000 + step)
    x = rng.normal(size=(GLOBAL_BATCH, FEATURES)).astype(np.float32)
    y = np.sin(x @ np.linspace(-1.0, 1.0, FEATURES, dtype=np.float32)).astype(np.float32)
    return x, y


def init_params():
    rng = np.random.default_rng(0)
    return {"w1": (rng.normal(size=(FEATURES, WIDTH)) / np.sqrt(FEATURES)).astype(np.float32),
            "b1": np.zeros(WIDTH, np.float32),
            "w2": (rng.normal(size=(WIDTH,)) / np.sqrt(WIDTH)).astype(np.float32)}


def loss_fn(params, x, y):
    return jnp.mean((jnp.tanh(x @ params["w1"] + params["b1"]) @ params["w2"] - y) ** 2)


def make_optimizer():
    return momentax.chain(momentax.clip_by_global_norm(1.0), momentax.adamw(3e-2, weight_decay=1e-2))


def make_step(opt):
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)  # mean over the *global* batch
        updates, state = opt.update(grads, state, params)
        return momentax.apply_updates(params, updates), state, loss

    return step


def reference(steps: int):
    """One process, one device, the full batch: what the distributed run must reproduce."""
    opt = make_optimizer()
    params = jax.tree.map(jnp.asarray, init_params())
    state = opt.init(params)
    step = jax.jit(make_step(opt))
    losses = []
    for t in range(steps):
        params, state, loss = step(params, state, *dataset(t))
        losses.append(float(loss))
    return jax.tree.map(np.asarray, params), losses


def train(steps: int, zero1: bool = False):
    """The data-parallel run; call after ``jax.distributed.initialize``."""
    mesh = jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))
    replicated = NamedSharding(mesh, P())
    batch_sharding = NamedSharding(mesh, P("data"))
    opt = make_optimizer()

    params = jax.device_put(init_params(), replicated)
    if zero1:
        state_sharding = momentax.zero1_shardings(opt, params, mesh, axis="data")
    else:
        state_sharding = momentax.state_shardings(opt, params)
    state = jax.jit(opt.init, out_shardings=state_sharding)(params)
    param_sharding = jax.tree.map(lambda _: replicated, params)
    step = jax.jit(make_step(opt), in_shardings=(param_sharding, state_sharding, batch_sharding, batch_sharding),
                   out_shardings=(param_sharding, state_sharding, replicated))

    per_process = GLOBAL_BATCH // jax.process_count()
    mine = slice(jax.process_index() * per_process, (jax.process_index() + 1) * per_process)
    losses = []
    for t in range(steps):
        x, y = dataset(t)
        xs = jax.make_array_from_process_local_data(batch_sharding, x[mine])
        ys = jax.make_array_from_process_local_data(batch_sharding, y[mine])
        params, state, loss = step(params, state, xs, ys)
        losses.append(float(loss))  # replicated: every process can read it
    # Parameters are replicated, so each process holds a full copy on its first local device.
    return jax.tree.map(lambda a: np.asarray(a.addressable_data(0)), params), losses


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", help="host:port of process 0")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--auto", action="store_true", help="let jax.distributed detect the cluster")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--zero1", action="store_true", help="shard the optimizer state over the data axis")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    parser.add_argument("--timeout", type=int, default=120, help="seconds to wait for all processes")
    args = parser.parse_args(argv)

    if args.auto:
        jax.distributed.initialize(initialization_timeout=args.timeout)
    else:
        jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                                   process_id=args.process_id, initialization_timeout=args.timeout)
    try:
        params, losses = train(args.steps, zero1=args.zero1)
        result = {"process_id": jax.process_index(), "process_count": jax.process_count(),
                  "device_count": jax.device_count(), "losses": losses,
                  "params": {k: v.tolist() for k, v in params.items()}}
        if args.json:
            print(json.dumps(result), flush=True)
        else:
            print(f"process {jax.process_index()}/{jax.process_count()} on {jax.device_count()} devices: "
                  f"loss {losses[0]:.4f} -> {losses[-1]:.4f}", flush=True)
        return result
    finally:
        jax.distributed.shutdown()


if __name__ == "__main__":
    main()
