"""Liquid rendered before Markdown, as Jekyll does (python-liquid with Jekyll's tags/filters).

Contract (the helper owning this module fills it in):

- ``render_liquid`` never raises for anything a post can contain; a syntax error or a limit
  (loop iterations, output size, include depth, namespace size) is ``LiquidOutcome.error``.
- Undefined variables render empty; their names are reported once per post (a warning).
- ``link``/``post_url`` render placeholders (:mod:`.links`), resolved after every post's URL is
  known; ``include``/``include_relative`` read only through ``includes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from feedsmith.core.model import Severity


class IncludeRefused(Exception):
    """An include that names a file outside the folders it may read (``../../etc/passwd``)."""


class IncludeSource(Protocol):
    """Where ``include`` and ``include_relative`` read from: the pipeline's confined reader."""

    def include(self, name: str) -> str | None:
        """``_includes/<name>``'s text; ``None``: no such file; raises IncludeRefused."""
        ...

    def include_relative(self, name: str) -> str | None:
        """``<post's folder>/<name>``'s text; ``None``: no such file; raises IncludeRefused."""
        ...


@dataclass
class LiquidOutcome:
    text: str
    #: (line in the file, severity, reason): undefined names, missing or refused includes…
    problems: list[tuple[int | None, Severity, str]] = field(default_factory=list)
    #: (line in the file, reason): the post cannot be rendered (syntax error, a limit hit).
    error: tuple[int | None, str] | None = None
    #: Files ``include_relative`` read (names as given): the post is re-parsed every full scan.
    relative_reads: tuple[str, ...] = ()


def has_liquid(text: str) -> bool:
    """Whether ``text`` may hold Liquid markup at all (the fast path skips the engine)."""
    return "{{" in text or "{%" in text


def render_liquid(
    source: str,
    *,
    site: Mapping[str, Any],
    page: Mapping[str, Any],
    includes: IncludeSource,
    markdownify: Callable[[str], str],
    first_line: int = 1,
) -> LiquidOutcome:
    """Render a post body. ``first_line``: the body's first line in the file, for reports."""
    raise NotImplementedError
