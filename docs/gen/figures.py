"""Regenerates the gallery figures in ``docs/img/`` (CPU, about a minute).

Run from the repository root::

    python docs/gen/figures.py

It draws two figures with the demo code behind the ``momentax`` command, so the gallery shows
exactly what ``momentax ravine`` and ``momentax train`` produce:

- ``docs/img/ravine.png``: SGD, heavy-ball momentum, Nesterov and Adam paths on the
  ill-conditioned quadratic of :mod:`momentax.demos.ravine` (60 steps, condition 50);
- ``docs/img/digits.png``: full-batch training loss of SGD, momentum and Adam on the
  scikit-learn digits MLP of :mod:`momentax.demos.digits` (200 steps, seed 0).

Importing this module does nothing; the work happens in :func:`main`.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

IMG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "img")
MAX_BYTES = 200_000  # keep the repository small: every gallery PNG stays under 200 KB


def ravine(out_dir: str = IMG) -> str:
    """Writes ``ravine.png`` with :func:`momentax.demos.ravine.run` defaults; returns its path."""
    from momentax.demos import ravine as demo

    path = os.path.join(out_dir, "ravine.png")
    demo.run(out=path)
    return path


def digits(out_dir: str = IMG, steps: int = 200) -> str:
    """Writes ``digits.png``: SGD, momentum and Adam on the digits MLP; returns its path."""
    from momentax.demos import digits as demo

    with tempfile.TemporaryDirectory() as tmp:
        demo.run(["sgd", "momentum", "adam"], steps=steps, out=tmp, quiet=True)
        path = os.path.join(out_dir, "digits.png")
        shutil.copyfile(os.path.join(tmp, "curves.png"), path)
    return path


def main() -> int:
    os.makedirs(IMG, exist_ok=True)
    for path in (ravine(), digits()):
        size = os.path.getsize(path)
        print(f"{path}: {size / 1000:.0f} KB")
        if size > MAX_BYTES:
            print(f"{path} is larger than {MAX_BYTES} bytes; lower the figure's dpi", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
