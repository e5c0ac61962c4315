"""The documentation site builds in strict mode, and every public name is documented.

``mkdocs build --strict`` fails on a broken link, a missing page, or a docstring griffe
cannot parse. The second test reads the ``::: identifier`` directives of ``docs/api/*.md``
and resolves each identifier the way mkdocstrings does (the longest importable module
prefix, then attributes), so ``::: momentax.partition`` documents the *module*
``momentax.partition``, not the function of that name.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import re
import subprocess
import sys
import types

import pytest

import momentax

ROOT = pathlib.Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api"
DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*$", re.MULTILINE)
PUBLIC_MODULES = ("momentax", "momentax.schedules", "momentax.torch")


def _mkdocs() -> list[str]:
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings_handlers.python", reason="mkdocstrings-python is not installed")
    return [sys.executable, "-m", "mkdocs"]


def test_mkdocs_build_strict(tmp_path):
    cmd = _mkdocs() + ["build", "--strict", "--site-dir", str(tmp_path / "site")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "NO_MKDOCS_2_WARNING": "1"})
    problems = [line for line in proc.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(problems or [proc.stderr[-3000:]])
    site = tmp_path / "site"
    for page in ("index.html", "api/contract/index.html", "api/classic_optimizers/index.html"):
        assert (site / page).is_file(), page
    # mkdocstrings rendered the reference: the anchor of a documented function is in its page.
    assert 'id="momentax.adamw"' in (site / "api/classic_optimizers/index.html").read_text()


def _resolve(identifier: str):
    parts = identifier.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(identifier)


def _documented() -> dict[int, list[str]]:
    """id(object) -> the directives that document it (a module directive covers its __all__)."""
    found: dict[int, list[str]] = {}
    pages = sorted(API.glob("*.md"))
    assert pages, f"no API pages under {API}"
    for page in pages:
        for identifier in DIRECTIVE.findall(page.read_text()):
            try:
                obj = _resolve(identifier)
            except (ImportError, AttributeError) as err:
                raise AssertionError(f"{page.name}: '::: {identifier}' does not resolve ({err})") from err
            found.setdefault(id(obj), []).append(f"{page.name}: {identifier}")
            if isinstance(obj, types.ModuleType):
                for name in getattr(obj, "__all__", ()):
                    found.setdefault(id(getattr(obj, name)), []).append(f"{page.name}: {identifier} ({name})")
    return found


def _public_names():
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            yield f"{module_name}.{name}", getattr(module, name)


def test_every_public_name_is_documented_with_a_docstring():
    documented = _documented()
    missing = [qual for qual, obj in _public_names() if id(obj) not in documented]
    assert not missing, ("public names with no '::: momentax.<name>' directive in docs/api/*.md: "
                         + ", ".join(missing))
    undocumented = []
    for qual, obj in _public_names():
        doc = inspect.getdoc(obj) or ""
        # A NamedTuple without a docstring gets an automatic one, "Name(field, ...)".
        if not doc.strip() or doc.startswith(f"{getattr(obj, '__name__', '')}("):
            undocumented.append(qual)
    assert not undocumented, "public names without a docstring: " + ", ".join(undocumented)


def test_api_reference_is_grouped_by_family():
    pages = {p.stem for p in API.glob("*.md")}
    expected = {"contract", "classic_transforms", "classic_optimizers", "adam_family", "sign_belief_trust",
                "factored_orthogonal_schedule_free", "schedules", "wrappers", "hyperparameters", "torch",
                "sharding_checkpoint"}
    assert expected <= pages, sorted(expected - pages)
    # Each name is documented once: a second directive would give two anchors for one name.
    counts: dict[str, int] = {}
    for page in API.glob("*.md"):
        for identifier in DIRECTIVE.findall(page.read_text()):
            counts[identifier] = counts.get(identifier, 0) + 1
    assert not [k for k, v in counts.items() if v > 1], counts


def test_the_directive_check_can_fail(tmp_path, monkeypatch):
    """A name missing from the pages is reported: the check above is not vacuous."""
    monkeypatch.setattr(sys.modules[__name__], "API", tmp_path)
    (tmp_path / "one.md").write_text("# One\n\n::: momentax.sgd\n")
    documented = _documented()
    assert id(momentax.sgd) in documented and id(momentax.adam) not in documented
    (tmp_path / "one.md").write_text("::: momentax.schedules\n")
    documented = _documented()  # a module directive documents the module and its __all__
    assert id(momentax.schedules) in documented and id(momentax.schedules.cosine_decay) in documented
    assert id(momentax.sgd) not in documented
    (tmp_path / "one.md").write_text("::: momentax.no_such_name\n")
    with pytest.raises(AssertionError, match="does not resolve"):
        _documented()


def test_gallery_images_are_small():
    images = sorted((ROOT / "docs" / "img").glob("*.png"))
    assert {p.name for p in images} >= {"ravine.png", "digits.png"}
    too_big = [f"{p.name}: {p.stat().st_size} B" for p in images if p.stat().st_size >= 200_000]
    assert not too_big, too_big


def test_docs_packages_are_in_the_test_extra():
    """CI installs the test extra; without mkdocs there, the build test above would only skip."""
    text = (ROOT / "pyproject.toml").read_text()
    docs_extra = text.split("\ndocs = [", 1)[1].split("\n]", 1)[0]
    test_extra = text.split("\ntest = [", 1)[1].split("\n]", 1)[0]
    for package in ("mkdocs", "mkdocstrings", "mkdocstrings-python", "mkdocs-material"):
        assert f'"{package}' in docs_extra, f"{package} missing from the docs extra"
    for package in ("momentax[docs]", "equinox", "build"):
        assert f'"{package}' in test_extra, f"{package} missing from the test extra"
