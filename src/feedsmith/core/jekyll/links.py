"""``{% link %}`` and ``{% post_url %}``: placeholders now, URLs once every post is known.

A post is parsed alone (in a worker, cached by its bytes), but these tags name *other* files.
So they render a placeholder path that survives Markdown, sanitizing and absolutizing
unchanged, and the pipeline replaces each one (with any ``site.url``/``baseurl`` written before
it) by the target's absolute URL after the scan (:mod:`feedsmith.pipeline.links`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

LinkKind = Literal["link", "post_url"]


def placeholder(kind: LinkKind, target: str) -> str:
    """A root-relative path standing for ``target`` (reversible: no table needed)."""
    raise NotImplementedError


def targets_in(text: str) -> tuple[tuple[LinkKind, str], ...]:
    """Every (kind, target) whose placeholder is in ``text``, in order, without repeats."""
    raise NotImplementedError


def replace_links(text: str, resolve: Callable[[LinkKind, str], str]) -> str:
    """``text`` with each placeholder (and a URL origin/base path written before it) replaced
    by ``resolve(kind, target)``, HTML-escaped (valid in an attribute and in text)."""
    raise NotImplementedError
