"""Tests of ``momentax bench`` (momentax/demos/bench.py): the JSON it writes, not its speed.

One quick in-process run (tiny arrays, 2 timed calls) is shared by the tests. Nothing here
asserts a time: the benchmark's table shows speed; the tests check that every requested row is
there, that the measured numbers are positive and finite, that the derived columns follow from
them, and that optimizer-state sizes are what fp32 moments must take.
"""

from __future__ import annotations

import itertools
import json
import math

import pytest

from momentax import cli
from momentax.demos import bench

pytest.importorskip("optax")
torch = pytest.importorskip("torch")

CASES = ["one_leaf", "many_small"]
OPTIMIZERS = ["adamw", "clip_adamw", "lion", "adamw_8bit"]
IMPLS = list(bench.IMPLS)
STATE_FLOATS = {"adamw": 2, "clip_adamw": 2, "lion": 1}  # fp32 moments per parameter


def _moment_bytes(r) -> float:
    """Bytes per parameter the moments must take: fp32, or for adamw_8bit one byte per element
    and a float32 scale per 256 elements where a leaf has >= 4096 elements (all 64K of
    one_leaf), fp32 below that (the 1K leaves of many_small)."""
    if r["optimizer"] == "adamw_8bit":
        return 2 * (1 + 4 / 256) if r["params"] // r["leaves"] >= 4096 else 8.0
    return 4.0 * STATE_FLOATS[r["optimizer"]]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    argv = ["--quick", "--cases", ",".join(CASES), "--optimizers", ",".join(OPTIMIZERS),
            "--json", str(out / "bench.json"), "--markdown", str(out / "bench.md")]
    rc = bench.main(argv)
    with open(out / "bench.json") as f:
        doc = json.load(f)
    return rc, doc, (out / "bench.md").read_text()


def _finite_positive(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_one_row_per_requested_triple(run):
    rc, doc, _ = run
    assert rc == 0
    keys = [(r["case"], r["optimizer"], r["impl"]) for r in doc["rows"]]
    assert sorted(keys) == sorted(itertools.product(CASES, OPTIMIZERS, IMPLS))
    assert doc["meta"]["cases"]["many_small"]["leaves"] == 32
    assert doc["meta"]["cases"]["one_leaf"]["params"] == 1 << 16


def test_times_are_positive_and_finite(run):
    _, doc, _ = run
    assert _finite_positive(doc["meta"]["copy_gbps"])
    for r in doc["rows"]:
        if r["impl"].startswith("torch") and r["optimizer"] == "lion":
            assert r["status"] == "skipped" and "no Lion" in r["note"]
            assert r.get("per_call_ms") is None and r.get("in_jit_ms") is None
            continue
        if r["optimizer"] in bench.MOMENTAX_ONLY and r["impl"] != "momentax":
            assert r["status"] == "skipped" and "no 8-bit" in r["note"]
            continue
        assert r["status"] == "ok", r
        assert _finite_positive(r["per_call_ms"]), r
        if r["impl"] in ("momentax", "optax"):
            assert _finite_positive(r["in_jit_ms"]), r
            assert _finite_positive(r["compile_s"]), r
            assert r["temp_bytes"] is not None and r["temp_bytes"] >= 0


def test_bandwidth_columns_follow_from_times(run):
    _, doc, _ = run
    copy = doc["meta"]["copy_gbps"]
    for r in doc["rows"]:
        for kind in ("in_jit", "per_call"):
            ms = r.get(f"{kind}_ms")
            if not ms:
                assert r[f"{kind}_gbps"] is None
                continue
            expected = bench.BYTES_PER_PARAM[r["optimizer"]] * r["params"] / (ms * 1e-3) / 1e9
            assert r[f"{kind}_gbps"] == pytest.approx(expected, rel=1e-12)
            assert r[f"{kind}_pct_copy"] == pytest.approx(100 * expected / copy, rel=1e-12)


def test_state_bytes_per_param_are_the_moments(run):
    _, doc, _ = run
    for r in doc["rows"]:
        if r["status"] != "ok":
            continue
        floor = _moment_bytes(r)
        # Scalars only above the moments: momentax's hyperparameters and counters, optax's
        # counter, torch's per-leaf float32 ``step`` tensor.
        slack = 4 * r["leaves"] + 64 if r["impl"].startswith("torch") else 64
        assert floor <= r["state_bytes_per_param"] <= floor + slack / r["params"], r


def test_markdown_names_machine_versions_and_rows(run):
    _, doc, md = run
    meta = doc["meta"]
    assert meta["backend"] in md and meta["versions"]["jax"] in md and meta["versions"]["optax"] in md
    assert f"{meta['cores']} cores" in md and meta["date"] in md
    table = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| case")]
    assert len(table) == len(doc["rows"])


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    sub = cli.build_parser()._subparsers._group_actions[0].choices["bench"]
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and "default" in action.help, action.dest
            assert action.option_strings[-1] in text


@pytest.mark.parametrize("flag,value", [("--cases", "one_leaf,bogus"), ("--impls", "jax"),
                                        ("--optimizers", ""), ("--steps", "0")])
def test_bad_option_is_a_clear_error(flag, value, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", flag, value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert flag in err
    if value and value != "0":
        assert repr(value.split(",")[-1]) in err
