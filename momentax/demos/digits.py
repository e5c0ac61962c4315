"""``momentax train``: an MLP on scikit-learn's handwritten digits, one run per optimizer.

Data: ``sklearn.datasets.load_digits`` (1797 images of 8x8 pixels, 10 classes), pixels
scaled from 0..16 to [0, 1]. The split is fixed and does not depend on ``--seed``:
``train_test_split(test_size=0.25, random_state=0, stratify=y)``, i.e. 1347 training and
450 test images.

Model: ``64 -> 64 (tanh) -> 10`` with a softmax cross-entropy loss, written in plain
``jax.numpy``; the parameters are a dict ``{"w1", "b1", "w2", "b2"}``. The initial weights
(Glorot-uniform from NumPy's ``default_rng(seed)``, zero biases) depend only on ``--seed``,
so every optimizer in one run starts from the same point.

Training: full batch by default (``--batch-size 0``), or minibatches drawn without
replacement inside the step. The whole step -- forward pass, gradient, optimizer update,
``apply_updates`` -- is one ``jax.jit``-compiled function; it is compiled ahead of time
so that the reported compile time and training time are separate.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from momentax.demos import OPTIMIZERS, DemoError, apply_updates, make_optimizer, require

__all__ = ["load_data", "init_mlp", "mlp_apply", "loss_fn", "evaluate", "make_train_step",
           "train_one", "run"]

SIZES = (64, 64, 10)
SPLIT = "train_test_split(test_size=0.25, random_state=0, stratify=y)"


def load_data() -> dict[str, jax.Array]:
    """The digits data set, split as documented above, as ``x_train/y_train/x_test/y_test``."""
    datasets = require("sklearn.datasets", "scikit-learn")
    model_selection = require("sklearn.model_selection", "scikit-learn")
    x, y = datasets.load_digits(return_X_y=True)
    x = x / 16.0
    x_tr, x_te, y_tr, y_te = model_selection.train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    f32, i32 = jnp.float32, jnp.int32
    return {
        "x_train": jnp.asarray(x_tr, f32),
        "y_train": jnp.asarray(y_tr, i32),
        "x_test": jnp.asarray(x_te, f32),
        "y_test": jnp.asarray(y_te, i32),
    }


def init_mlp(seed: int, sizes: tuple[int, ...] = SIZES) -> dict[str, jax.Array]:
    """Glorot-uniform weights and zero biases for an MLP with layer widths ``sizes``.

    Drawn with NumPy's ``default_rng(seed)`` (threefry would add a ~2 s XLA compile on CPU).
    """
    rng = np.random.default_rng(seed)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        limit = (6.0 / (n_in + n_out)) ** 0.5
        params[f"w{i}"] = jnp.asarray(rng.uniform(-limit, limit, (n_in, n_out)), jnp.float32)
        params[f"b{i}"] = jnp.zeros((n_out,), jnp.float32)
    return params


def mlp_apply(params: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """Logits of the MLP: tanh on every hidden layer, linear output layer."""
    n_layers = len(params) // 2
    h = x
    for i in range(1, n_layers + 1):
        h = h @ params[f"w{i}"] + params[f"b{i}"]
        if i < n_layers:
            h = jnp.tanh(h)
    return h


def loss_fn(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    """Mean softmax cross-entropy of the MLP on ``(x, y)`` (``y`` holds class indices)."""
    logp = jax.nn.log_softmax(mlp_apply(params, x))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def accuracy(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    """Fraction of ``x`` classified as ``y``."""
    return jnp.mean(jnp.argmax(mlp_apply(params, x), axis=1) == y)


@jax.jit
def evaluate(params: dict[str, jax.Array], data: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Full training loss and train/test accuracy, in one compiled call."""
    return {
        "final_train_loss": loss_fn(params, data["x_train"], data["y_train"]),
        "train_accuracy": accuracy(params, data["x_train"], data["y_train"]),
        "test_accuracy": accuracy(params, data["x_test"], data["y_test"]),
    }


def make_train_step(tx: Any, batch_size: int = 0):
    """The jitted step ``step(params, state, x, y, key, i) -> (params, state, loss)``.

    ``batch_size == 0`` means full batch (``key`` and the step number ``i`` are then
    unused); otherwise ``batch_size`` distinct examples are drawn with
    ``fold_in(key, i)``. ``loss`` is the loss of the batch *before* the update.
    """

    def step(params, state, x, y, key, i):
        if batch_size:
            idx = jax.random.choice(jax.random.fold_in(key, i), x.shape[0], (batch_size,),
                                    replace=False)
            x, y = x[idx], y[idx]
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, state = tx.update(grads, state, params)
        return apply_updates(params, updates), state, loss

    return jax.jit(step)


def train_one(
    name: str,
    lr: float,
    data: dict[str, jax.Array],
    *,
    steps: int,
    seed: int = 0,
    batch_size: int = 0,
    progress: bool = True,
    schedule: str = "constant",
    clip: float | None = None,
) -> dict[str, Any]:
    """Trains the MLP with one optimizer; returns the record that goes into curves.json."""
    tqdm = require("tqdm").tqdm
    tx = make_optimizer(name, lr, steps=steps, schedule=schedule, clip=clip)
    params = init_mlp(seed)
    state = jax.jit(tx.init)(params)
    x, y = data["x_train"], data["y_train"]
    base_key = jax.random.key(seed + 1)

    t0 = time.perf_counter()
    i0 = jnp.zeros((), jnp.int32)
    step = make_train_step(tx, batch_size).lower(params, state, x, y, base_key, i0).compile()
    compile_s = time.perf_counter() - t0

    losses = []
    t0 = time.perf_counter()
    bar = tqdm(range(steps), desc=f"{name:>9}", disable=not progress, leave=True, unit="step")
    for i in bar:
        params, state, loss = step(params, state, x, y, base_key, jnp.int32(i))
        losses.append(loss)
        if progress and (i % 25 == 0 or i == steps - 1):
            bar.set_postfix(loss=f"{float(loss):.4f}", refresh=False)
    bar.close()
    losses = [float(v) for v in jax.device_get(losses)]
    train_s = time.perf_counter() - t0

    metrics = {k: float(v) for k, v in evaluate(params, data).items()}
    return {
        "learning_rate": lr,
        "loss": losses,
        **metrics,
        "compile_s": compile_s,
        "train_s": train_s,
        "wall_time_s": compile_s + train_s,
    }


def plot_curves(results: dict[str, dict[str, Any]], path: str, title: str,
                smooth: int = 1) -> None:
    """Loss per step of every optimizer on one log-scale plot, saved as a PNG at ``path``.

    ``smooth > 1`` draws the running mean over that many steps (for noisy minibatch losses).
    """
    require("matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, r in results.items():
        loss = np.asarray(r["loss"])
        w = max(1, min(smooth, len(loss)))
        loss = np.convolve(loss, np.ones(w) / w, mode="valid")
        label = f"{name} (lr={r['learning_rate']:g}, test acc {r['test_accuracy']:.3f})"
        ax.plot(np.arange(w, w + len(loss)), loss, label=label, lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ylabel = "training loss (cross-entropy)"
    ax.set_ylabel(ylabel + (f", mean of last {smooth} steps" if smooth > 1 else ""))
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """A plain-text summary table, one row per optimizer."""
    head = f"{'optimizer':<10} {'lr':>8} {'train loss':>11} {'test acc':>9} {'compile s':>10} {'wall s':>8}"
    rows = [head, "-" * len(head)]
    for name, r in results.items():
        rows.append(
            f"{name:<10} {r['learning_rate']:>8.3g} {r['final_train_loss']:>11.4f} "
            f"{r['test_accuracy']:>9.3f} {r['compile_s']:>10.2f} {r['wall_time_s']:>8.2f}"
        )
    return "\n".join(rows)


def run(
    optimizers: list[str],
    *,
    steps: int,
    lr: float | None = None,
    seed: int = 0,
    batch_size: int = 0,
    out: str = "runs/train",
    plot: bool = True,
    quiet: bool = False,
    schedule: str = "constant",
    clip: float | None = None,
) -> dict[str, Any]:
    """Runs ``momentax train``: trains once per optimizer, prints a table, writes the files.

    Returns the content written to ``curves.json``.
    """
    # Import every optional dependency up front so a missing one fails before training.
    require("sklearn", "scikit-learn")
    require("tqdm")
    if plot:
        require("matplotlib")
    os.makedirs(out, exist_ok=True)  # fail on a bad --out before training
    data = load_data()
    n_train = int(data["x_train"].shape[0])
    if batch_size < 0 or batch_size > n_train:
        raise DemoError(f"--batch-size must be between 0 (full batch) and {n_train}")

    settings = {
        "steps": steps,
        "seed": seed,
        "batch_size": batch_size or n_train,
        "full_batch": batch_size == 0,
        "dataset": "sklearn.datasets.load_digits, pixels / 16",
        "split": SPLIT,
        "n_train": n_train,
        "n_test": int(data["x_test"].shape[0]),
        "model": "MLP 64 -> 64 (tanh) -> 10, softmax cross-entropy, Glorot-uniform init "
                 "(numpy default_rng(seed))",
        "loss_recorded": "loss of the (mini)batch at every step, before that step's update",
        "jax_backend": jax.default_backend(),
        "schedule": schedule,
        "clip_by_global_norm": clip,
    }
    results = {}
    for name in optimizers:
        used_lr = OPTIMIZERS[name].train_lr if lr is None else lr
        rec = train_one(
            name, used_lr, data, steps=steps, seed=seed, batch_size=batch_size,
            progress=not quiet, schedule=schedule, clip=clip,
        )
        rec["settings"] = dict(settings, optimizer=name, learning_rate=used_lr,
                               lr_source="default table" if lr is None else "--lr")
        results[name] = rec

    doc = {"settings": settings, "optimizers": results}
    json_path = os.path.join(out, "curves.json")
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=1)
    png_path = os.path.join(out, "curves.png")
    if plot:
        batch = "full batch" if batch_size == 0 else f"batch {batch_size}"
        plot_curves(results, png_path, f"digits MLP, {batch}, seed {seed}",
                    smooth=1 if batch_size == 0 else max(1, steps // 50))

    print(format_table(results))
    print(f"wrote {json_path}" + (f" and {png_path}" if plot else ""))
    return doc
