"""``momentax bench`` as a script: one optimizer step of momentax, optax and torch.optim.

Usage::

    python benchmarks/bench.py                          # the default cases, table on stdout
    python benchmarks/bench.py --json out.json --markdown benchmarks/RESULTS.md
    python benchmarks/bench.py --cases gpt2_xl --size full --impls momentax,optax

The program itself lives in :mod:`momentax.demos.bench` (so that the installed ``momentax``
command has it); this file only forwards its arguments. ``--help`` lists every option, and
``benchmarks/RESULTS.md`` holds a run on the development machine.
"""

from __future__ import annotations

import sys
from typing import Sequence

from momentax.demos import bench as _bench


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``momentax bench`` with ``argv`` (default: the command line); returns the exit status."""
    return _bench.main(sys.argv[1:] if argv is None else list(argv))


if __name__ == "__main__":
    sys.exit(main())
