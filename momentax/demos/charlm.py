"""A small character-level language model trained on the Python standard library's own source.

Text: the files of :data:`FILES` (single-file modules of the standard library), read from
``sysconfig.get_paths()["stdlib"]`` in that (sorted) order and joined with newlines, so every
machine with the same Python version trains on the same text; a file that is missing is
skipped, and the files read and the SHA-256 of the text are recorded beside the results. The first 90% of the characters are the
training text, the last 10% the held-out text.

Vocabulary (:data:`VOCAB` = 97 tokens): ``0`` for any character outside printable ASCII
(tabs, non-ASCII letters), ``1`` for a newline, ``2 + ord(c) - 32`` for ``c`` in
``' '..'~'``.

Model (Bengio et al. 2003, "A Neural Probabilistic Language Model", JMLR 3,
https://www.jmlr.org/papers/v3/bengio03a.html): the previous ``context`` tokens are
embedded (``[VOCAB, embed]``), concatenated, passed through one tanh layer of ``hidden``
units and a linear output layer over the vocabulary; the loss is the mean softmax
cross-entropy (nats per character) of the next character. With the defaults
(``context=32, embed=48, hidden=128``; 213,905 parameters) the weight matrices are
``[97, 48]``, ``[1536, 128]`` and ``[128, 97]``: each has at least 4096 elements, so 8-bit
state (:func:`momentax.blockwise_8bit`, ``min_size=4096``) applies to all three.
Parameters are drawn from NumPy's ``default_rng(seed)`` (Glorot-uniform, embeddings normal
with deviation 1, zero biases).
"""

from __future__ import annotations

import hashlib
import os
import platform
import sysconfig
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["FILES", "VOCAB", "load_text", "encode", "load_data", "init_params", "apply", "loss_fn",
           "sample_batch", "evaluate"]

FILES = (
    "abc.py", "argparse.py", "bisect.py", "calendar.py", "colorsys.py", "contextlib.py", "copy.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fnmatch.py", "fractions.py", "functools.py", "gzip.py",
    "heapq.py", "inspect.py", "keyword.py", "numbers.py", "operator.py", "pprint.py", "queue.py", "random.py",
    "shlex.py", "statistics.py", "string.py", "tempfile.py", "textwrap.py", "threading.py", "types.py",
    "typing.py", "weakref.py",
)
VOCAB = 97
HELD_OUT = 0.1


def load_text(files: tuple[str, ...] = FILES) -> tuple[str, list[str]]:
    """The joined text of ``files`` under the standard library directory, and the files read.

    Raises:
      FileNotFoundError: none of ``files`` exists (a Python without its source files).
    """
    root = sysconfig.get_paths()["stdlib"]
    used, parts = [], []
    for name in files:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                parts.append(f.read())
            used.append(name)
    if not parts:
        raise FileNotFoundError(f"none of the standard-library files {files} is under {root}")
    return "\n".join(parts), used


def encode(text: str) -> np.ndarray:
    """Token ids (uint8) of ``text``, as the module docstring defines them.

    Example:
      >>> from momentax.demos import charlm
      >>> charlm.encode(" a~" + chr(10) + chr(9) + "é").tolist()   # space a ~ newline tab é
      [2, 67, 96, 1, 0, 0]
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    ids = np.where((codes >= 32) & (codes <= 126), codes - 30, 0)
    return np.where(codes == 10, 1, ids).astype(np.uint8)


def _windows(ids: np.ndarray, starts: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    x = ids[starts[:, None] + np.arange(context)]
    return x.astype(np.int32), ids[starts + context].astype(np.int32)


def load_data(context: int = 32, n_eval: int = 8192, max_chars: int | None = None) -> dict[str, Any]:
    """Training ids, fixed evaluation windows, and a description of the text.

    Args:
      context: characters the model sees before the one it predicts.
      n_eval: windows in each fixed evaluation set (drawn once with ``default_rng(0)``,
        independent of the training seed): ``train_x/train_y`` from the training text,
        ``test_x/test_y`` from the held-out text.
      max_chars: keep only the first ``max_chars`` characters (``--quick`` runs).

    Returns:
      ``{"train_ids": int32 [n_train], "train_x": int32 [n_eval, context], "train_y": int32
      [n_eval], "test_x", "test_y", "meta": dict}``.
    """
    text, used = load_text()
    if max_chars is not None:
        text = text[:max_chars]
    ids = encode(text)
    split = int(len(ids) * (1 - HELD_OUT))
    train, test = ids[:split], ids[split:]
    rng = np.random.default_rng(0)
    train_x, train_y = _windows(train, rng.integers(0, len(train) - context, n_eval), context)
    test_x, test_y = _windows(test, rng.integers(0, len(test) - context, n_eval), context)
    meta = {
        "source": 'sysconfig.get_paths()["stdlib"] (Python ' + platform.python_version() + ")",
        "files": used,
        "n_chars": len(ids),
        "n_train_chars": int(split),
        "n_held_out_chars": int(len(ids) - split),
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "out_of_vocabulary_fraction": float(np.mean(ids == 0)),
    }
    return {"train_ids": jnp.asarray(train, jnp.int32), "train_x": jnp.asarray(train_x),
            "train_y": jnp.asarray(train_y), "test_x": jnp.asarray(test_x), "test_y": jnp.asarray(test_y),
            "meta": meta}


def init_params(seed: int, context: int = 32, embed: int = 48, hidden: int = 128) -> dict[str, jax.Array]:
    """``{"embed": [VOCAB, embed], "w1": [context * embed, hidden], "b1", "w2": [hidden, VOCAB], "b2"}``."""
    rng = np.random.default_rng(seed)

    def glorot(n_in, n_out):
        limit = (6.0 / (n_in + n_out)) ** 0.5
        return jnp.asarray(rng.uniform(-limit, limit, (n_in, n_out)), jnp.float32)

    return {
        "embed": jnp.asarray(rng.normal(0.0, 1.0, (VOCAB, embed)), jnp.float32),
        "w1": glorot(context * embed, hidden),
        "b1": jnp.zeros((hidden,), jnp.float32),
        "w2": glorot(hidden, VOCAB),
        "b2": jnp.zeros((VOCAB,), jnp.float32),
    }


def apply(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Next-character logits ``[batch, VOCAB]`` for token windows ``x`` of shape ``[batch, context]``."""
    h = params["embed"][x].reshape(x.shape[0], -1)
    h = jnp.tanh(h @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


def loss_fn(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean cross-entropy, in nats per character, of the next characters ``y``."""
    logp = jax.nn.log_softmax(apply(params, x))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def sample_batch(ids: jax.Array, key: jax.Array, batch: int, context: int) -> tuple[jax.Array, jax.Array]:
    """``batch`` windows of the training ids starting at uniform random positions (with replacement)."""
    starts = jax.random.randint(key, (batch,), 0, ids.shape[0] - context)
    x = ids[starts[:, None] + jnp.arange(context)]
    return x, ids[starts + context]


@jax.jit
def _evaluate(params, train_x, train_y, test_x, test_y):
    test_logits = apply(params, test_x)
    return {
        "train_loss": loss_fn(params, train_x, train_y),
        "test_loss": loss_fn(params, test_x, test_y),
        "test_accuracy": jnp.mean(jnp.argmax(test_logits, axis=1) == test_y),
    }


def evaluate(params: dict[str, jax.Array], data: dict[str, Any]) -> dict[str, float]:
    """Loss on the fixed training windows; loss and next-character accuracy on the held-out ones."""
    out = _evaluate(params, data["train_x"], data["train_y"], data["test_x"], data["test_y"])
    return {k: float(v) for k, v in out.items()}
