"""torch.optim presets: the same names, arguments, defaults and trajectories, as momentax chains.

``momentax.torch.Adam(lr=1e-3, betas=(0.9, 0.999), weight_decay=1e-2, amsgrad=True)`` takes
exactly torch.optim.Adam's arguments (without ``params``: call ``init(params)``) and returns a
:class:`momentax.GradientTransformation` whose parameters follow torch's step for step (the
parity tests hold float64 trajectories to 1e-10 relative error over 200 steps). Each preset
is one chain of public transforms; the arithmetic is in :mod:`momentax.math`.

Shared conventions:

- ``maximize=True`` puts ``scale(-1.0)`` first in the chain: the gradient's sign is flipped
  before anything else, as torch does.
- A component whose construction value is zero (``weight_decay=0``, ``momentum=0``) is left
  out, so the state keeps no buffer for it; to change it later, construct it non-zero.
- The numeric hyperparameters live in the state under momentax's names (``learning_rate``,
  ``b1``, ``b2``, ``decay`` for RMSprop's ``alpha``, ...); read and change them with
  :func:`momentax.hyperparams` and :func:`momentax.set_hyperparams`, without recompiling.
- ``foreach``, ``fused``, ``capturable`` and ``differentiable`` choose among torch's
  implementations of the same arithmetic; they are accepted for drop-in use and ignored
  (XLA compiles one program; every momentax update is differentiable).
"""

from momentax.torch._adam import Adam, Adamax, AdamW, NAdam, RAdam
from momentax.torch._classic import ASGD, SGD, Adadelta, Adagrad, RMSprop, Rprop
from momentax.torch._large import Adafactor, Muon

__all__ = ["SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta", "Rprop", "ASGD",
           "Adafactor", "Muon"]
