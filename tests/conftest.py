"""Shared fixtures: float64 mode for parity tests, random trees of mixed shapes."""

from __future__ import annotations

import jax
import numpy as np
import pytest

try:  # torch's thread pool is slower than one thread for the tiny tensors of the parity tests
    import torch

    torch.set_num_threads(1)
except ImportError:  # pragma: no cover - torch is in the test extra
    pass


@pytest.fixture
def x64():
    """Runs the test with ``jax_enable_x64`` on (float64 arrays and hyperparameters)."""
    with jax.enable_x64(True):
        yield


def random_tree(seed: int, dtype=np.float64) -> dict:
    """A tree of several leaves of different shapes, including a scalar, a 3-D leaf and a None."""
    rng = np.random.default_rng(seed)
    return {
        "dense": {"w": rng.normal(size=(5, 3)).astype(dtype), "b": rng.normal(size=(3,)).astype(dtype)},
        "conv": rng.normal(size=(2, 3, 4)).astype(dtype),
        "scale": np.asarray(rng.normal(), dtype=dtype),
        "frozen": None,
    }
