"""The ``momentax`` command line: ``momentax train`` and ``momentax ravine``.

Each subcommand is one :class:`Subcommand` entry in :data:`SUBCOMMANDS`: a name, a help
line, a function that adds its options to an ``argparse`` parser, and a function that runs
it and returns the exit status. Adding a subcommand means adding one entry.

The demos' optional dependencies (scikit-learn, matplotlib, tqdm) are imported only when a
subcommand runs, so ``import momentax.cli`` and ``momentax --help`` work without them; a
missing one ends the program with a one-line hint to ``pip install "momentax[examples]"``.

Run as ``momentax ...`` (console script) or ``python -m momentax.cli ...``.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Callable, NamedTuple, Sequence

from momentax.demos import OPTIMIZERS, DemoError, parse_optimizer_names
from momentax.demos.ravine import DEFAULT_LR as RAVINE_DEFAULT_LR
from momentax.demos.ravine import DEFAULT_STEPS as RAVINE_DEFAULT_STEPS
from momentax.demos.ravine import START as RAVINE_START

__all__ = ["SUBCOMMANDS", "Subcommand", "build_parser", "main"]

RAVINE_OPTIMIZERS = tuple(RAVINE_DEFAULT_LR)


class Subcommand(NamedTuple):
    """One ``momentax <name>`` subcommand."""

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    epilog: str | None = None


# --- argument types ---------------------------------------------------------------------


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    return parse


def _float_above(low: float, inclusive: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not (value >= low if inclusive else value > low) or value != value:
            raise argparse.ArgumentTypeError(f"must be {'>=' if inclusive else '>'} {low:g}")
        return value

    return parse


def _optimizer_list(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        try:
            return parse_optimizer_names(text, allowed)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


# --- momentax train ---------------------------------------------------------------------


def _train_epilog() -> str:
    lines = ["default learning rates (used when --lr is not given):"]
    for name, spec in OPTIMIZERS.items():
        lines.append(f"  {name:<10} {spec.train_lr:<8g} {spec.description}")
    lines += [
        "",
        "data: sklearn digits (1797 8x8 images, pixels/16), fixed split",
        "  train_test_split(test_size=0.25, random_state=0, stratify=y): 1347 train, 450 test.",
        "model: MLP 64 -> 64 (tanh) -> 10, softmax cross-entropy; one jax.jit per step.",
        "writes OUT/curves.json (losses, accuracies, settings) and OUT/curves.png.",
    ]
    return "\n".join(lines)


def _add_train_arguments(p: argparse.ArgumentParser) -> None:
    names = tuple(OPTIMIZERS)
    p.add_argument(
        "-o", "--optimizer", type=_optimizer_list(names), default="sgd,momentum,adam",
        metavar="NAMES",
        help=f"optimizer name, or a comma-separated list to compare; valid names: "
        f"{', '.join(names)} (default: %(default)s)",
    )
    p.add_argument("--steps", type=_int_at_least(1), default=500,
                   help="training steps per optimizer (default: %(default)s)")
    p.add_argument("--lr", type=_float_above(0.0), default=None,
                   help="learning rate for every optimizer (default: each optimizer's own "
                   "tuned rate, see the table below)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the weight initialisation and minibatch draws; the "
                   "train/test split is fixed (default: %(default)s)")
    p.add_argument("--batch-size", type=_int_at_least(0), default=0,
                   help="minibatch size, drawn without replacement each step; 0 means full "
                   "batch (default: %(default)s)")
    p.add_argument("--out", default="runs/train",
                   help="output folder for curves.json and curves.png (default: %(default)s)")
    p.add_argument("--no-plot", action="store_true",
                   help="do not write curves.png (default: write it)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar (default: show one per optimizer)")
    from momentax.demos import SCHEDULES
    p.add_argument("--schedule", choices=sorted(SCHEDULES), default="constant",
                   help="learning-rate schedule over the run, the rate being its peak: "
                        + "; ".join(f"{k}: {v[1]}" for k, v in SCHEDULES.items()).replace("%", "%%")
                        + " (default: constant)")
    p.add_argument("--clip", type=_float_above(0.0), default=None, metavar="MAX_NORM",
                   help="clip gradients to this global norm before the optimizer "
                        "(momentax.clip_by_global_norm) (default: no clipping)")


def _run_train(args: argparse.Namespace) -> int:
    from momentax.demos import digits

    digits.run(
        args.optimizer, steps=args.steps, lr=args.lr, seed=args.seed,
        batch_size=args.batch_size, out=args.out, plot=not args.no_plot, quiet=args.quiet,
        schedule=args.schedule, clip=args.clip,
    )
    return 0


# --- momentax ravine --------------------------------------------------------------------


def _ravine_epilog() -> str:
    lines = ["default learning rates (used when --lr is not given):"]
    lines += [f"  {n:<10} {lr:g}" for n, lr in RAVINE_DEFAULT_LR.items()]
    lines += [
        "",
        f"f(x, y) = 0.5 * (x**2 / CONDITION + y**2), every optimizer starts at "
        f"({RAVINE_START[0]:g}, {RAVINE_START[1]:g});",
        "momentum and nesterov are momentax.momentum/nesterov with momentum 0.9 (average",
        "form: lr 5 = torch SGD(lr=0.5, momentum=0.9)); adam uses betas (0.9, 0.999).",
    ]
    return "\n".join(lines)


def _add_ravine_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=_int_at_least(1), default=RAVINE_DEFAULT_STEPS,
                   help="steps per optimizer (default: %(default)s)")
    p.add_argument("--lr", type=_float_above(0.0), default=None,
                   help="learning rate for every optimizer (default: each optimizer's own, "
                   "see the table below)")
    p.add_argument("--condition", type=_float_above(1.0, inclusive=True), default=50.0,
                   help="condition number of the quadratic, the ratio of its two "
                   "curvatures (default: %(default)g)")
    p.add_argument("-o", "--optimizer", type=_optimizer_list(RAVINE_OPTIMIZERS),
                   default=",".join(RAVINE_OPTIMIZERS), metavar="NAMES",
                   help="comma-separated optimizers to draw, from: "
                   f"{', '.join(RAVINE_OPTIMIZERS)} (default: %(default)s)")
    p.add_argument("--out", default="runs/ravine.png",
                   help="output PNG file (default: %(default)s)")


def _run_ravine(args: argparse.Namespace) -> int:
    from momentax.demos import ravine

    ravine.run(steps=args.steps, lr=args.lr, condition=args.condition, out=args.out,
               optimizers=tuple(args.optimizer))
    return 0


# --- momentax bench ---------------------------------------------------------------------

from momentax.demos import bench as bench_demo  # imports jax, optax, torch only when run

# --- the program ------------------------------------------------------------------------

SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "train", "train an MLP on scikit-learn's digits with one or more optimizers",
        "Train a small MLP on the scikit-learn handwritten digits with one or several "
        "momentax optimizers; print a summary table and write loss curves.",
        _add_train_arguments, _run_train, _train_epilog(),
    ),
    Subcommand(
        "ravine", "draw optimizer paths in an ill-conditioned 2-D quadratic valley",
        "Draw the paths of SGD, heavy-ball momentum, Nesterov and Adam on "
        "f(x, y) = 0.5 (x^2/condition + y^2) over its contour plot, as a PNG.",
        _add_ravine_arguments, _run_ravine, _ravine_epilog(),
    ),
    Subcommand(
        "bench", "time one optimizer step: momentax vs optax vs torch.optim",
        "Time adamw, clip+adamw, sgd with momentum and lion steps of momentax, optax and "
        "torch.optim on the same arrays and device: in-jit and per-call time, GB/s against "
        "a measured copy, compile time, state and temporary bytes.",
        bench_demo.add_arguments, bench_demo.run,
    ),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``momentax`` parser, with one sub-parser per entry of :data:`SUBCOMMANDS`."""
    from momentax import __version__

    parser = argparse.ArgumentParser(
        prog="momentax", description="momentax demos: optimizers from momentax at work.",
    )
    parser.add_argument("--version", action="version", version=f"momentax {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for cmd in SUBCOMMANDS:
        p = sub.add_parser(cmd.name, help=cmd.help, description=textwrap.fill(cmd.description),
                           epilog=cmd.epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_arguments(p)
        p.set_defaults(run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``momentax`` program; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except (DemoError, OSError) as e:  # OSError: e.g. --out not writable
        print(f"momentax {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
