"""What one ``render_liquid`` call knows, for the tags and filters it runs.

python-liquid calls tags and filters with its own arguments only, and builds ``Undefined``
objects with no render context at all; yet they must report problems against the post's
lines, read includes through the caller's confined reader and share one budget. So the
render's state lives in a ``ContextVar`` for the length of the call: visible to whatever runs
inside it, on this thread (or task) only, and gone afterwards.

Lines: a token's position counts in the text it was lexed from. For the post that is the body
(``first_line`` says where the body starts in the file); for an include or a tag's argument it
is another text, so such problems are reported at the line of the post's tag that led there
(:attr:`RenderState.anchors`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from liquid.exceptions import LiquidError
from liquid.token import Token

from feedsmith.core.model import Severity

#: Nested includes (an include loop ends here, as an error).
INCLUDE_DEPTH_LIMIT = 20
#: Includes rendered in one post in all (``a`` including ``b`` twice, ``b`` ``c`` twice…).
INCLUDE_COUNT_LIMIT = 1000
#: Characters the filters may be handed in all (see :func:`charge`): a loop within the loop
#: limit can still repeat a filter over a long string; this keeps the total work bounded.
WORK_LIMIT = 50_000_000

_DELIMITER = re.compile(r"\{(?=[{%])")
_ZWSP = "\u200b"


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


class LimitError(LiquidError):
    """A bound of ours (include depth or count, filter work) was reached."""


@dataclass
class RenderState:
    source: str
    first_line: int
    includes: IncludeSource
    markdownify: Callable[[str], str]
    site: Mapping[str, Any]
    #: The instant "now"/"today" mean (``site.time``; never the clock).
    now: datetime | None
    problems: list[tuple[int | None, Severity, str]] = field(default_factory=list)
    #: Undefined names rendered, in order, with the line of the first time.
    undefined: dict[str, int | None] = field(default_factory=dict)
    #: Problems reported once per post (``site.posts``, an unknown filter).
    reported: set[str] = field(default_factory=set)
    #: Tokens (in the post's text) of the tags whose included or nested text is rendering.
    anchors: list[Token] = field(default_factory=list)
    include_depth: int = 0
    include_count: int = 0
    work: int = 0
    relative_reads: dict[str, None] = field(default_factory=dict)
    #: Parsed includes by (kind, name), so a file repeated in a loop is read and parsed once.
    templates: dict[tuple[str, str], Any] = field(default_factory=dict)
    #: ``{% raw %}`` bodies, replaced in the token stream by ``marker + index + end``.
    raw: list[str] = field(default_factory=list)
    marker: str = "\ue000"
    marker_end: str = "\ue001"

    def line_of(self, token: Token | None) -> int | None:
        """The file line of ``token``, or of the post's tag that led to it."""
        if token is not None and token.source is self.source and token.start_index >= 0:
            return self.first_line + self.source.count("\n", 0, token.start_index)
        for anchor in self.anchors:
            if anchor.source is self.source:
                return self.first_line + self.source.count("\n", 0, anchor.start_index)
        return None

    def warn(self, token: Token | None, reason: str) -> None:
        self.problems.append((self.line_of(token), "warning", reason))

    def stash_raw(self, body: str) -> str:
        """The stand-in for a ``{% raw %}`` body (restored by :meth:`finish`)."""
        self.raw.append(body)
        return f"{self.marker}{len(self.raw) - 1}{self.marker_end}"

    def finish(self, text: str) -> str:
        """Rendered text as readers get it: Liquid delimiters that did not come from a
        ``{% raw %}`` body broken by a zero-width space (``{{ "{{" }}``, a value holding
        ``{%``, ``{`` next to ``{``), then the raw bodies put back verbatim."""
        if "{" in text:
            text = _DELIMITER.sub("{" + _ZWSP, text)
        if not self.raw or self.marker not in text:
            return text
        pieces = re.split(rf"{self.marker}(\d+){self.marker_end}", text)
        out = [pieces[0]]
        last = pieces[0][-1:]
        for i in range(1, len(pieces), 2):
            index = int(pieces[i])
            if index < len(self.raw):
                body = self.raw[index]
            else:  # not one of ours (private-use characters in an include): kept
                body = f"{self.marker}{pieces[i]}{self.marker_end}"
            for part in (body, pieces[i + 1]):
                if not part:
                    continue
                if last == "{" and part[0] in "{%":  # a delimiter only made by the joint
                    out.append(_ZWSP)
                out.append(part)
                last = part[-1]
        return "".join(out)


_STATE: ContextVar[RenderState | None] = ContextVar("feedsmith_liquid_state", default=None)


def current() -> RenderState:
    """The state of the render in progress (tags and filters run only inside one)."""
    state = _STATE.get()
    if state is None:
        raise LiquidError("Jekyll tags and filters run only inside render_liquid", token=None)
    return state


def active() -> RenderState | None:
    return _STATE.get()


@contextmanager
def rendering(state: RenderState) -> Iterator[RenderState]:
    reset = _STATE.set(state)
    try:
        yield state
    finally:
        _STATE.reset(reset)


@contextmanager
def anchored(token: Token) -> Iterator[None]:
    """Problems inside (an include, a tag's argument) report ``token``'s line."""
    state = current()
    state.anchors.append(token)
    try:
        yield
    except LiquidError as err:
        if err.token is None or err.token.source is not state.source:
            err.token = token  # reported at the post's tag, not at a line of another text
        raise
    finally:
        state.anchors.pop()


def charge(amount: int) -> None:
    """Count work against :data:`WORK_LIMIT` (a filter's input size)."""
    state = active()
    if state is None:
        return
    state.work += amount + 1
    if state.work > WORK_LIMIT:
        raise LimitError("Liquid work limit reached (filters over too much text)", token=None)
