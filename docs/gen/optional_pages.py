"""MkDocs hook: drop nav entries for pages other work streams have not written yet.

Only the pages in :data:`OPTIONAL` may be missing; any other missing page still fails
``mkdocs build --strict``. Importing this module has no side effects.
"""

from __future__ import annotations

import os

OPTIONAL = frozenset({"scaling.md", "checkpointing.md", "parity.md", "convergence.md", "schedules.md",
                      "wrappers.md"})


def _keep(entry, docs_dir: str) -> bool:
    if isinstance(entry, dict):
        ((_, target),) = entry.items()
    else:
        target = entry
    if isinstance(target, str) and target in OPTIONAL:
        return os.path.exists(os.path.join(docs_dir, target))
    return True


def on_config(config, **kwargs):
    """Removes the optional pages that do not exist from ``config["nav"]``."""
    nav = config.get("nav")
    if nav:
        config["nav"] = [e for e in nav if _keep(e, config["docs_dir"])]
    return config
