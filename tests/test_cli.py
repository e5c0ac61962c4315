"""Tests of the ``momentax`` command line (``momentax.cli``): train, ravine, help, errors.

The training runs are called in-process through ``main([...])`` on small budgets; one
subprocess checks ``python -m momentax.cli`` and the missing-dependency message.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from momentax import cli
from momentax.demos import OPTIMIZERS

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG_MAGIC and os.path.getsize(path) > 1000


@pytest.fixture(scope="module")
def adam_run(tmp_path_factory):
    """One short adam training run, shared by the tests that read its output."""
    out = tmp_path_factory.mktemp("train_adam")
    rc = cli.main(["train", "--optimizer", "adam", "--steps", "80", "--out", str(out), "-q"])
    with open(out / "curves.json") as f:
        return rc, out, json.load(f)


def test_train_adam_end_to_end(adam_run, capsys):
    rc, out, doc = adam_run
    assert rc == 0
    assert set(doc) == {"settings", "optimizers"}
    assert doc["settings"]["steps"] == 80
    assert doc["settings"]["n_train"] + doc["settings"]["n_test"] == 1797
    assert list(doc["optimizers"]) == ["adam"]
    rec = doc["optimizers"]["adam"]
    expected = {"learning_rate", "loss", "final_train_loss", "train_accuracy", "test_accuracy",
                "compile_s", "train_s", "wall_time_s", "settings"}
    assert expected <= set(rec)
    assert rec["learning_rate"] == OPTIMIZERS["adam"].train_lr
    assert rec["settings"]["lr_source"] == "default table"
    assert len(rec["loss"]) == 80
    assert rec["loss"][-1] < 0.5 * rec["loss"][0]
    assert rec["test_accuracy"] >= 0.90
    assert _is_png(out / "curves.png")


def test_train_compares_two_optimizers_with_explicit_lr(tmp_path, capsys):
    rc = cli.main(["train", "-o", "sgd,momentum", "--steps", "30", "--lr", "0.3",
                   "--batch-size", "128", "--seed", "1", "--out", str(tmp_path), "--no-plot",
                   "--quiet"])
    assert rc == 0
    doc = json.loads((tmp_path / "curves.json").read_text())
    assert list(doc["optimizers"]) == ["sgd", "momentum"]
    for rec in doc["optimizers"].values():
        assert rec["learning_rate"] == 0.3
        assert rec["settings"]["lr_source"] == "--lr"
        assert rec["settings"]["batch_size"] == 128
        assert len(rec["loss"]) == 30
    assert not (tmp_path / "curves.png").exists()
    printed = capsys.readouterr().out
    assert "sgd" in printed and "momentum" in printed and "curves.json" in printed


@pytest.mark.parametrize("names", ["adam,foo", "FOO", ","])
def test_unknown_optimizer_is_a_clear_error(names, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "--optimizer", names, "--out", str(tmp_path)])
    assert exc.value.code != 0
    err = capsys.readouterr().err
    if names != ",":
        assert "'foo'" in err
    for valid in OPTIMIZERS:
        assert valid in err
    assert not (tmp_path / "curves.json").exists()


def test_ravine_optimizer_outside_its_set_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["ravine", "--optimizer", "adagrad"])
    assert exc.value.code != 0
    assert "'adagrad'" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["train", "--steps", "0"], ["train", "--lr", "-1"],
                                  ["ravine", "--condition", "0.5"]])
def test_bad_numbers_are_rejected(args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_ravine_writes_png_and_descends(tmp_path, capsys):
    from momentax.demos import ravine

    out = tmp_path / "sub" / "ravine.png"
    assert cli.main(["ravine", "--out", str(out)]) == 0
    assert _is_png(out)
    printed = capsys.readouterr().out
    for name in ("sgd", "momentum", "nesterov", "adam"):
        assert name in printed

    res = ravine.run(steps=40, out=str(tmp_path / "r.png"))
    start = res["start_f"]
    for name in ("momentum", "adam", "sgd", "nesterov"):
        assert res["final_f"][name] < 0.1 * start, name
    # The classic picture: heavy-ball momentum beats plain SGD in the narrow valley.
    assert res["final_f"]["momentum"] < res["final_f"]["sgd"]
    assert res["paths"]["sgd"].shape == (41, 2)


@pytest.mark.parametrize("command", ["train", "ravine"])
def test_help_documents_every_option(command, capsys):
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    options = [s for a in sub._actions for s in a.option_strings if s.startswith("--")]
    assert "--steps" in options and "--lr" in options and "--out" in options
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for opt in options:
        assert opt in text
    for action in sub._actions:
        if action.option_strings and action.dest != "help":
            assert action.help and "default" in action.help, action.dest
    if command == "train":
        for name, spec in OPTIMIZERS.items():
            assert name in text and f"{spec.train_lr:g}" in text


def test_top_level_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for cmd in cli.SUBCOMMANDS:
        assert cmd.name in text
    assert cli.main([]) == 2


def test_missing_optional_dependency_gives_install_hint(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    rc = cli.main(["train", "--steps", "1", "--out", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err
    assert 'pip install "momentax[examples]"' in err and "scikit-learn" in err
    assert "Traceback" not in err


def test_module_entry_point_without_optional_dependencies(tmp_path):
    """``python -m momentax.cli`` runs; without the extras, help works and train says why not."""
    blocker = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {"sklearn", "matplotlib", "tqdm"}:
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import runpy
        runpy.run_module("momentax.cli", run_name="__main__", alter_sys=True)
    """)
    script = tmp_path / "blocked.py"
    script.write_text(blocker)
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    help_run = subprocess.run([sys.executable, str(script), "train", "--help"],
                              capture_output=True, text=True, env=env, timeout=120)
    assert help_run.returncode == 0, help_run.stderr
    assert "--optimizer" in help_run.stdout
    train_run = subprocess.run([sys.executable, str(script), "train", "--out", str(tmp_path)],
                               capture_output=True, text=True, env=env, timeout=120)
    assert train_run.returncode == 1
    assert 'pip install "momentax[examples]"' in train_run.stderr
    assert "Traceback" not in train_run.stderr
    plain = subprocess.run([sys.executable, "-m", "momentax.cli", "ravine", "--help"],
                           capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == 0 and "--condition" in plain.stdout


def test_train_with_a_schedule_and_clipping_records_them_and_changes_the_run(tmp_path, capsys):
    def final_loss(out, *extra):
        rc = cli.main(["train", "-o", "sgd", "--steps", "40", "--out", str(out), "-q", "--no-plot", *extra])
        assert rc == 0
        doc = json.loads((out / "curves.json").read_text())
        return doc, doc["optimizers"]["sgd"]["loss"]

    doc, scheduled = final_loss(tmp_path / "a", "--schedule", "cosine", "--clip", "0.5")
    assert doc["settings"]["schedule"] == "cosine" and doc["settings"]["clip_by_global_norm"] == 0.5
    _, plain = final_loss(tmp_path / "b")
    assert scheduled[0] == pytest.approx(plain[0])  # same start
    assert scheduled[-1] < scheduled[0] and scheduled[-1] != pytest.approx(plain[-1], rel=1e-3)
    capsys.readouterr()
