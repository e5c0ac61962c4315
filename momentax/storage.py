"""How optimizer state is stored: a dtype, stochastic rounding, or 8-bit blocks.

Every transform with moments takes ``mu_dtype`` and ``nu_dtype``. Each accepts:

- ``None``: the parameter's dtype;
- a dtype (``jnp.bfloat16``, ``"float16"``, ...): a plain cast, rounding to nearest;
- :func:`stochastic_rounding` ``(dtype="bfloat16", seed=0)``: bfloat16 storage written back
  with unbiased random rounding, from a PRNG key kept beside each array in the state;
- :func:`blockwise_8bit` ``(block_size=256, min_size=4096)``: one byte per element and one
  float32 scale per block (:mod:`momentax.math.quantize`); arrays with fewer than
  ``min_size`` elements stay in float32.

Arithmetic always runs in at least float32: a stored leaf is read into float32, the per-array
rule runs, and the result is written back. :func:`momentax.trees.lift` does the reading and
writing, so the rules in :mod:`momentax.math` never see storage.

Bytes per parameter for one moment: float32 4, bfloat16 (either rounding) 2, 8-bit
``1 + 4 / block_size`` (1.016 at 256, 1.002 at 2048) for arrays of ``min_size`` or more.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from momentax import trees
from momentax.math import quantize as q
from momentax.math.rounding import stochastic_round_bf16
from momentax.trees import Stored

__all__ = [
    "StochasticRounding",
    "Blockwise8bit",
    "RoundedArray",
    "QuantizedArray",
    "stochastic_rounding",
    "blockwise_8bit",
    "state_like",
    "check_storage",
    "state_nbytes",
]


def _brief(x: Any) -> str:
    """``dtype[shape]`` of an array; anything else (a sharding, in a tree of shardings) by repr."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return f"{jnp.dtype(x.dtype).name}{list(x.shape)}"
    return repr(x)


@jax.tree_util.register_pytree_with_keys_class
class RoundedArray(Stored):
    """A bfloat16 array written back by stochastic rounding.

    Attributes:
      value: the bfloat16 values, the parameter's shape.
      key: uint32 ``[2]``, a ``jax.random.PRNGKey``; each ``store`` splits it, so the
        sequence of roundings is fixed by the seed.
    """

    param_shaped = ("value",)

    def __init__(self, value: Any, key: Any):
        self.value = value
        self.key = key

    @property
    def shape(self):
        return np.shape(self.value)

    def load(self):
        return jnp.asarray(self.value).astype(jnp.float32)

    def store(self, x):
        key, sub = jax.random.split(self.key)
        return RoundedArray(stochastic_round_bf16(x, sub), key)

    def tree_flatten_with_keys(self):
        keys = jax.tree_util.GetAttrKey
        return ((keys("value"), self.value), (keys("key"), self.key)), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        del aux
        return cls(*children)

    def __repr__(self):
        return f"RoundedArray(value={_brief(self.value)})"


@jax.tree_util.register_pytree_with_keys_class
class QuantizedArray(Stored):
    """An array stored as one byte per element and one float32 scale per block.

    Attributes:
      codes: uint8, the parameter's shape (so it shards like the parameter).
      scales: float32 ``[ceil(size / block_size)]``, each block's largest magnitude.
      block_size, signed: static; ``signed`` picks the map (first moments signed, second
        moments unsigned).
    """

    param_shaped = ("codes",)

    def __init__(self, codes: Any, scales: Any, block_size: int, signed: bool):
        self.codes = codes
        self.scales = scales
        self.block_size = block_size
        self.signed = signed

    @property
    def shape(self):
        return np.shape(self.codes)

    def load(self):
        return q.dequantize(self.codes, self.scales, self.block_size, self.signed)

    def store(self, x):
        return QuantizedArray(*q.quantize(x, self.block_size, self.signed), self.block_size, self.signed)

    def tree_flatten_with_keys(self):
        keys = jax.tree_util.GetAttrKey
        return ((keys("codes"), self.codes), (keys("scales"), self.scales)), (self.block_size, self.signed)

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children, *aux)

    def __repr__(self):
        return f"QuantizedArray(codes={_brief(self.codes)}, block_size={self.block_size}, signed={self.signed})"


@dataclasses.dataclass(frozen=True)
class StochasticRounding:
    """Storage spec: bfloat16 written back by stochastic rounding (see :func:`stochastic_rounding`)."""

    dtype: str = "bfloat16"
    seed: int = 0

    def zeros(self, p: Any, index: int, salt: str, signed: bool) -> RoundedArray:
        """Zero state for parameter ``p``, the ``index``-th leaf of the field ``salt``."""
        del signed  # bfloat16 holds either sign
        key = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(self.seed), zlib.crc32(salt.encode())),
                                 index)
        return RoundedArray(trees.zeros_like_tree(p, jnp.bfloat16), key)


@dataclasses.dataclass(frozen=True)
class Blockwise8bit:
    """Storage spec: 8-bit blocks (see :func:`blockwise_8bit`)."""

    block_size: int = 256
    min_size: int = 4096

    def zeros(self, p: Any, index: int, salt: str, signed: bool) -> Any:
        """Zero state for parameter ``p``: 8-bit blocks (unsigned map unless ``signed``), or
        float32 below ``min_size`` elements."""
        del index, salt
        size = int(np.prod(np.shape(p), dtype=np.int64))
        if size < self.min_size:
            return trees.zeros_like_tree(p, jnp.float32)
        scales = jnp.zeros([q.num_blocks(size, self.block_size)], jnp.float32)
        return QuantizedArray(trees.zeros_like_tree(p, jnp.uint8), scales, self.block_size, signed)


def stochastic_rounding(dtype: Any = "bfloat16", seed: int = 0) -> StochasticRounding:
    """bfloat16 state written back with stochastic rounding; pass as ``mu_dtype``/``nu_dtype``.

    Each write rounds a float32 value ``x`` up or down to a neighbouring bfloat16 with the
    probabilities that make the expected stored value ``x``
    (:func:`momentax.math.rounding.stochastic_round_bf16`). Round-to-nearest instead loses
    every change smaller than half a unit in the last place: a second moment with
    ``b2 = 0.999`` moves by ``0.001 * (g**2 - v)`` per step, less than bfloat16's half unit
    (``2**-9`` of ``v``) unless ``g**2`` is far from ``v``, so it freezes.

    The state keeps a uint32 ``[2]`` PRNG key beside each array (8 bytes per leaf), derived
    from ``seed``, the state field (``mu``/``nu``) and the leaf's position, and split at every
    step: the same seed gives the same run.

    Args:
      dtype: only ``"bfloat16"`` (``jnp.bfloat16``).
      seed: int, the PRNG seed.

    Raises:
      ValueError: another dtype, or a seed that is not an int.

    Source: M. Gupta et al., "Deep Learning with Limited Numerical Precision", ICML 2015,
    https://arxiv.org/abs/1502.02551.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> opt = momentax.adam(1e-3, nu_dtype=momentax.stochastic_rounding(seed=1))
      >>> opt.init({"w": jnp.zeros(3)})[0].nu["w"]
      RoundedArray(value=bfloat16[3])
    """
    if jnp.dtype(dtype) != jnp.bfloat16:
        raise ValueError(f"stochastic_rounding: dtype must be bfloat16, got {jnp.dtype(dtype).name}.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"stochastic_rounding: seed must be an int, got {seed!r}.")
    return StochasticRounding("bfloat16", int(seed))


def blockwise_8bit(block_size: int = 256, min_size: int = 4096) -> Blockwise8bit:
    """8-bit blockwise state; pass as ``mu_dtype``/``nu_dtype``.

    Each array with at least ``min_size`` elements is kept as uint8 codes of a dynamic map
    (signed for first moments, unsigned for second moments) and a float32 scale per block of
    ``block_size`` consecutive elements (:mod:`momentax.math.quantize`): ``1 + 4 / block_size``
    bytes per element. Smaller arrays (biases, norms) stay float32. The optimizer reads the
    state into float32, takes its step, and writes the new moments back, rounding to the
    nearest code; the largest element of every block is stored exactly.

    Args:
      block_size: int >= 1 (bitsandbytes uses 2048, torchao 256). Smaller blocks follow
        local magnitudes more closely at ``4 / block_size`` bytes per element.
      min_size: int >= 0; arrays smaller than this stay float32 (bitsandbytes: 4096).

    Raises:
      ValueError: a size that is not a positive (``block_size``) or nonnegative
        (``min_size``) int.

    Source: T. Dettmers, M. Lewis, S. Shleifer, L. Zettlemoyer, "8-bit Optimizers via
    Block-wise Quantization", ICLR 2022, https://arxiv.org/abs/2110.02861.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> q8 = momentax.blockwise_8bit(block_size=256)
      >>> opt = momentax.adam(1e-3, mu_dtype=q8, nu_dtype=q8)
      >>> state = opt.init({"w": jnp.zeros((64, 128)), "b": jnp.zeros(128)})
      >>> state[0].mu["w"], state[0].mu["b"].dtype
      (QuantizedArray(codes=uint8[64, 128], block_size=256, signed=True), dtype('float32'))
      >>> momentax.storage.state_nbytes(state[0].nu["w"]) / (64 * 128)
      1.015625
    """
    for name, value, lo in (("block_size", block_size, 1), ("min_size", min_size, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < lo:
            raise ValueError(f"blockwise_8bit: {name} must be an int >= {lo}, got {value!r}.")
    return Blockwise8bit(int(block_size), int(min_size))


_KINDS = (StochasticRounding, Blockwise8bit)


def check_storage(where: str, **specs: Any) -> None:
    """Raises TypeError naming the argument (``mu_dtype=...``) whose storage spec is not accepted.

    Called when a transform is built, so a wrong value fails there and not inside ``init``.

    Example:
      >>> import momentax
      >>> momentax.storage.check_storage("my_transform", mu_dtype="int8")  # doctest: +ELLIPSIS
      Traceback (most recent call last):
      ...
      TypeError: my_transform: mu_dtype must be None (the parameter's dtype), ...; got 'int8'.
    """
    for name, spec in specs.items():
        if spec is None or isinstance(spec, _KINDS):
            continue
        try:
            dtype = jnp.dtype(spec)
        except TypeError:
            dtype = None
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(
                f"{where}: {name} must be None (the parameter's dtype), a floating-point dtype "
                f"(jnp.bfloat16, 'float32', ...), momentax.stochastic_rounding(...) or "
                f"momentax.blockwise_8bit(...); got {spec!r}."
            )


def state_like(params: Any, spec: Any, *, salt: str, signed: bool = True, initial: float = 0.0) -> Any:
    """State like ``params`` stored as ``spec``, every element ``initial``.

    A nonzero start (Adagrad's ``initial_accumulator_value``, RMSProp's ``initial_scale``) is
    written through the storage, so 8-bit and stochastically rounded leaves hold it too (8-bit
    blocks hold a constant exactly: it is each block's largest magnitude).

    Stored leaves are built on the parameter's sharding where the parameter has one (see
    :func:`momentax.trees.zeros_like_tree`).

    Args:
      params: a tree of arrays or ``jax.ShapeDtypeStruct``; ``None`` leaves stay ``None``.
      spec: ``None`` (the parameter's dtype), a floating dtype, :func:`stochastic_rounding` or
        :func:`blockwise_8bit`.
      salt: the state field's name; it separates the rounding streams of two fields.
      signed: ``False`` for nonnegative accumulators (picks the unsigned 8-bit map).
      initial: a static Python number, the start of every element.

    Raises:
      TypeError: ``spec`` is none of the accepted kinds.

    Example:
      >>> import jax.numpy as jnp, momentax
      >>> acc = momentax.storage.state_like({"w": jnp.zeros(4)}, jnp.bfloat16, salt="nu", initial=0.1)
      >>> acc["w"].dtype, float(acc["w"][0])
      (dtype(bfloat16), 0.10009765625)
    """
    if isinstance(spec, (StochasticRounding, Blockwise8bit)):
        leaves, treedef = jax.tree.flatten(params)
        zeros = jax.tree.unflatten(treedef, [spec.zeros(p, i, salt, signed) for i, p in enumerate(leaves)])
    else:
        check_storage("momentax.storage.state_like", spec=spec)
        zeros = trees.zeros_like_tree(params, None if spec is None else jnp.dtype(spec))
    if isinstance(initial, (int, float)) and initial == 0:
        return zeros

    def fill(x):
        if isinstance(x, Stored):
            return x.store(x.load() + jnp.asarray(initial, jnp.float32))
        return x + jnp.asarray(initial, x.dtype)

    return jax.tree.map(fill, zeros, is_leaf=trees.is_stored)


def state_nbytes(tree: Any) -> int:
    """Bytes held by the arrays of a state tree (codes, scales and keys included)."""
    return sum(int(np.prod(np.shape(x), dtype=np.int64)) * jnp.dtype(x.dtype).itemsize
               for x in jax.tree.leaves(tree) if hasattr(x, "dtype"))
