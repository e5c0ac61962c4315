"""Griffe extension for the docs build: Google-style sections and Sphinx roles in Markdown.

momentax docstrings head their doctest with ``Example:`` (singular). Griffe's Google parser
knows only ``Examples:`` as the section whose ``>>>`` lines become code; any other heading
becomes an admonition rendered as Markdown, where doctest output such as ``[0.5, 1.0]`` reads
as a broken reference link. This extension renames the heading before parsing. It also turns
Sphinx roles (``:func:`momentax.adam```) into inline code, which Markdown would otherwise show
with the role's name, and escapes a ``>`` that starts an argument's description (``eps: > 0``),
which Markdown would read as a blockquote. Importing it has no side effects beyond defining the class.
"""

from __future__ import annotations

import re
from typing import Any

try:
    import griffe
except ImportError:  # the docs extra is not installed: nothing to extend
    griffe = None

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|obj|exc):`~?([^`]+)`")
# "eps: > 0." in an Args section: Markdown would read the description's ">" as a blockquote.
_RANGE = re.compile(r"^(\s+[\w*][\w, *]*:\s+)>", re.MULTILINE)

if griffe is not None:

    class ExampleSections(griffe.Extension):
        """Rewrites ``Example:`` headings, Sphinx roles and leading ``>`` of argument descriptions."""

        def on_object(self, *, obj: Any, **kwargs: Any) -> None:
            if obj.docstring is not None:
                text = _HEADING.sub(r"\1Examples:", obj.docstring.value)
                text = _RANGE.sub(r"\1\\>", _ROLE.sub(r"`\1`", text))
                obj.docstring.value = text
