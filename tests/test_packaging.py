"""The package builds as an sdist and a wheel, and the wheel alone imports and trains.

The build runs on a copy of the sources (``pyproject.toml``, ``README.md``, ``momentax/``)
with ``--no-isolation`` (the current environment's setuptools, no network). The wheel is
installed with ``pip install --no-deps --target`` and imported from there, with jax taken
from the current environment, in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile

import pytest

import momentax

ROOT = pathlib.Path(__file__).resolve().parent.parent

SMOKE = textwrap.dedent("""
    import sys, jax.numpy as jnp, momentax
    assert momentax.__file__.startswith(sys.argv[1]), momentax.__file__
    params = {"w": jnp.array([3.0, -2.0])}
    opt = momentax.adam(0.1)
    state = opt.init(params)
    for _ in range(40):
        grads = {"w": 2 * params["w"]}
        updates, state = opt.update(grads, state, params)
        params = momentax.apply_updates(params, updates)
    print(momentax.__version__, float(jnp.sum(params["w"] ** 2)))
""")


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    pytest.importorskip("build", reason="the 'build' package is not installed (it is in the test extra)")
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "momentax", src / "momentax", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
                           "--outdir", str(out), str(src)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    wheels, sdists = list(out.glob("*.whl")), list(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0], sdists[0]


def test_versions_come_from_momentax_version(dists):
    wheel, sdist = dists
    assert wheel.name.startswith(f"momentax-{momentax.__version__}-"), wheel.name
    assert sdist.name == f"momentax-{momentax.__version__}.tar.gz", sdist.name
    with zipfile.ZipFile(wheel) as zf:
        meta = zf.read(f"momentax-{momentax.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {momentax.__version__}\n" in meta


def test_wheel_contents(dists):
    wheel, sdist = dists
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert "momentax/py.typed" in names
    assert "momentax/__init__.py" in names and "momentax/math/classic.py" in names
    assert not [n for n in names if n.startswith(("tests/", "docs/", "examples/", "benchmarks/"))], names
    assert not [n for n in names if "conftest" in n or "/test_" in n]
    with tarfile.open(sdist) as tf:
        assert f"momentax-{momentax.__version__}/momentax/py.typed" in tf.getnames()


def test_installed_wheel_imports_and_trains(dists, tmp_path):
    wheel, _ = dists
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                           "--target", str(target), str(wheel)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run([sys.executable, "-c", SMOKE, str(target)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    version, loss = proc.stdout.split()
    assert version == momentax.__version__
    assert float(loss) < 13.0 / 10  # |w|^2 starts at 13; 40 Adam steps of about 0.1 each bring both coordinates near 0
    # The console script is declared.
    entry = next(target.glob("momentax-*.dist-info")) / "entry_points.txt"
    assert "momentax = momentax.cli:main" in entry.read_text()


def test_a_fresh_virtual_environment_installs_the_wheel_and_runs_momentax_train(dists, tmp_path):
    """The wheel in a new venv: its own ``momentax`` console script trains on the digits.

    The dependencies (jax, scikit-learn, tqdm) are lent from this environment through
    PYTHONPATH, so the test needs no network; momentax itself comes from the venv (``.pth``
    files, and so this environment's editable install, are not read from PYTHONPATH).
    """
    wheel, _ = dists
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    proc = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                           str(wheel)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lent = os.pathsep.join(p for p in sys.path if p.endswith("site-packages"))
    env = {**os.environ, "PYTHONPATH": lent, "MPLBACKEND": "Agg"}
    where = subprocess.run([str(bin_dir / "python"), "-c", "import momentax; print(momentax.__file__)"],
                           capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert where.returncode == 0 and where.stdout.startswith(str(venv)), where.stdout + where.stderr
    out = tmp_path / "run"
    proc = subprocess.run([str(bin_dir / "momentax"), "train", "-o", "adam", "--steps", "60", "--out", str(out),
                           "-q", "--no-plot"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    accuracy = json.loads((out / "curves.json").read_text())["optimizers"]["adam"]["test_accuracy"]
    assert accuracy > 0.85, accuracy
