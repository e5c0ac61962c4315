"""Two processes on this machine, joined by ``jax.distributed``, train data-parallel with momentax.

Each process runs ``examples/multihost_data_parallel.py`` with its own ``--process-id`` and two
CPU devices (``JAX_NUM_CPU_DEVICES=2``, so the global mesh has 4 devices over 2 processes);
each reads only its half of every batch, and ``jax.jit`` over the global mesh computes the
mean gradient (gloo, jax's default CPU collectives). The parameters after the run must equal
the single-process run on the full batch, computed here in the test process. Every wait is
bounded: ``jax.distributed.initialize`` by ``--timeout`` and each process by
``subprocess`` timeouts, so a hang fails the test instead of blocking CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "multihost_data_parallel.py"
STEPS = 5
TIMEOUT = 180


def load_example():
    spec = importlib.util.spec_from_file_location("momentax_example_multihost", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*flags: str) -> list[dict]:
    port = free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": "2"}
    env.pop("XLA_FLAGS", None)
    procs = [
        subprocess.Popen([sys.executable, str(EXAMPLE), "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2",
                          "--process-id", str(i), "--steps", str(STEPS), "--json", "--timeout", "60", *flags],
                         cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)
    ]
    outputs = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, f"process exited with {p.returncode}:\n{err[-3000:]}"
            outputs.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:  # only the processes started above
            if p.poll() is None:
                p.kill()
                p.communicate()
    return outputs


@pytest.fixture(scope="module")
def reference():
    params, losses = load_example().reference(STEPS)
    return params, losses


@pytest.mark.parametrize("flags", [(), ("--zero1",)], ids=["replicated_state", "zero1_state"])
def test_two_processes_equal_one_process_on_the_full_batch(reference, flags):
    ref_params, ref_losses = reference
    results = launch(*flags)
    assert sorted(r["process_id"] for r in results) == [0, 1]
    for r in results:
        assert r["process_count"] == 2 and r["device_count"] == 4
        # The loss is a mean over the global batch: the same as one process up to reduction order.
        np.testing.assert_allclose(r["losses"], ref_losses, rtol=1e-6)
        for name, ref in ref_params.items():
            # float32 after 5 AdamW steps; the gradient sums run in another order across the
            # devices, and parameters that started at zero (b1) pass through values near 0, so
            # an absolute floor of 1e-7 (below one float32 ulp at the parameters' scale 0.1-1).
            np.testing.assert_allclose(np.asarray(r["params"][name], np.float32), ref, rtol=1e-6, atol=1e-7,
                                       err_msg=name)
    # Both processes hold the same replicated parameters, bit for bit.
    assert results[0]["params"] == results[1]["params"]
    assert results[0]["losses"] == results[1]["losses"]
