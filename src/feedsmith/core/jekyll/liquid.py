"""Liquid rendered before Markdown, as Jekyll does (python-liquid with Jekyll's tags/filters).

Contract:

- ``render_liquid`` never raises for anything a post can contain; a syntax error or a limit
  (loop iterations, output size, include depth, namespace size, filter work) is
  ``LiquidOutcome.error``, with the line in the file.
- Undefined variables render empty; their names are reported once per post (a warning).
- ``link``/``post_url`` render placeholders (:mod:`.links`), resolved after every post's URL is
  known; ``include``/``include_relative`` read only through ``includes``.
- Readers never see Liquid syntax unless the author protected it with ``{% raw %}``: a ``{{``
  or ``{%`` that the rendering itself produced (``{{ "{{" }}``, a value holding one) gets a
  zero-width space between its two characters (:meth:`.liquid_state.RenderState.finish`).

Why these choices. Jekyll's ``site.posts``/``pages``/``categories``/``tags`` need every other
post, which a post rendered alone (in a worker, cached by its bytes) cannot see: they read as
empty, with a warning. Filters unknown to us pass their input through with a warning, as
Jekyll's Liquid (``strict_filters: false``) passes it silently. Unknown *tags* stay errors, as in
Jekyll: a plugin's block tag cannot be skipped without guessing where it ends. python-liquid's
``render`` and Shopify-style ``include`` are replaced: Jekyll has neither.

Limits are generous for posts and small for attacks: 100,000 loop iterations (a ``for`` over
``(1..10000000)`` fails before its first iteration), 4 MB of output, 1 MB of assigned values,
context depth 30, includes nested 20 deep and 1,000 per post, and 50 M characters handed to
filters in all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from liquid import Environment
from liquid.ast import Node
from liquid.context import RenderContext
from liquid.exceptions import LiquidError, LiquidSyntaxError, ResourceLimitError
from liquid.stream import TokenStream
from liquid.template import BoundTemplate
from liquid.token import TOKEN_CONTENT, Token
from liquid.undefined import Undefined

from feedsmith.core.jekyll.liquid_dates import RubyTime, liquid_value
from feedsmith.core.jekyll.liquid_filters import JEKYLL_FILTERS, budgeted
from feedsmith.core.jekyll.liquid_state import (
    IncludeRefused,
    IncludeSource,
    LimitError,
    RenderState,
    active,
    rendering,
)
from feedsmith.core.jekyll.liquid_tags import JEKYLL_TAGS
from feedsmith.core.model import Severity

__all__ = ["IncludeRefused", "IncludeSource", "LiquidOutcome", "has_liquid", "render_liquid"]

#: What a feed entry cannot know (every other post), read as empty with a warning.
_UNAVAILABLE: dict[str, Callable[[], object]] = {
    "posts": list,
    "pages": list,
    "html_pages": list,
    "documents": list,
    "related_posts": list,
    "static_files": list,
    "categories": dict,
    "tags": dict,
}
_HINT_NAME = re.compile(r"^'?(.*?)'? is undefined$")


class _TrackedUndefined(Undefined):
    """Renders empty, as Jekyll does, and notes its name for the post's one warning. Only
    output counts: ``{% if page.x %}`` and ``| default:`` are how authors test for a value."""

    __slots__ = ()

    def __str__(self) -> str:
        state = active()
        if state is not None:
            found = _HINT_NAME.match(self.hint or "")
            name = found.group(1) if found else self.name
            if name not in state.undefined:
                state.undefined[name] = state.line_of(self.token)
        return ""


class _Context(RenderContext):
    __slots__ = ()

    def filter(self, name: str, token: Token | None) -> Callable[..., object]:
        state = active()
        unknown = name not in self.env.filters
        if unknown and state is not None and f"filter {name}" not in state.reported:
            state.reported.add(f"filter {name}")
            state.warn(token, f"unknown Liquid filter '{name}' ignored")
        return super().filter(name, token)


class _Template(BoundTemplate):
    context_class = _Context


def _pinned(get_node: Callable[[TokenStream], Node]) -> Callable[[TokenStream], Node]:
    """A tag's parser whose errors pinned to no place in the text (the end of an expression,
    the end of the post for a block never closed) take the place of the tag, for a line."""

    def parse(stream: TokenStream) -> Node:
        start = stream.current
        try:
            return get_node(stream)
        except LiquidError as err:
            if err.token is None or err.token.start_index < 0 or not err.token.source:
                err.token = start
            raise

    return parse


class JekyllEnvironment(Environment):
    """python-liquid configured as Jekyll's Liquid, with bounds; built once per process."""

    loop_iteration_limit = 100_000
    output_stream_limit = 4 * 1024 * 1024
    context_depth_limit = 30
    local_namespace_limit = 1024 * 1024
    template_class = _Template

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        for shopify_only in ("include", "render"):
            self.tags.pop(shopify_only, None)
        for tag in JEKYLL_TAGS:
            self.add_tag(tag)
        for parser in self.tags.values():
            parser.get_node = _pinned(parser.get_node)  # type: ignore[method-assign]
        self.filters.update(JEKYLL_FILTERS)
        self.filters = {name: budgeted(func) for name, func in self.filters.items()}

    def tokenizer(self) -> Callable[[str], Iterator[Token]]:
        """The lexer, with each ``{% raw %}`` body stashed in the render's state (it comes
        back verbatim at the end, after the leak check)."""
        lex = super().tokenizer()

        def tokenize(source: str) -> Iterator[Token]:
            state = active()
            for token in lex(source):
                # Content that starts at "{%" can only be a raw body (the lexer refuses any
                # other content beginning with a delimiter).
                if (
                    state is not None
                    and token.kind == TOKEN_CONTENT
                    and source.startswith("{%", token.start_index)
                ):
                    yield token._replace(value=state.stash_raw(token.value))
                else:
                    yield token

        return tokenize


@cache
def environment() -> JekyllEnvironment:
    return JekyllEnvironment(undefined=_TrackedUndefined, strict_filters=False)


class _SiteView(Mapping[str, object]):
    """``site`` as given, plus ``site.posts`` and friends read as empty with a warning."""

    def __init__(self, site: Mapping[str, Any], state: RenderState) -> None:
        self._site = site
        self._state = state

    def __getitem__(self, key: str) -> object:
        if key in self._site:
            value = self._site[key]
            return RubyTime.of(value) if isinstance(value, datetime) else value
        if key in _UNAVAILABLE:
            state = self._state
            if f"site.{key}" not in state.reported:
                state.reported.add(f"site.{key}")
                at = state.source.find(f"site.{key}")
                line = state.first_line + state.source.count("\n", 0, at) if at >= 0 else None
                reason = f"site.{key} is not available to feed entries"
                state.problems.append((line, "warning", reason))
            return _UNAVAILABLE[key]()
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._site)

    def __len__(self) -> int:
        return len(self._site)


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


def _markers(source: str) -> tuple[str, str]:
    """Two private-use characters the post does not contain, to stand for raw bodies."""
    for code in range(0xE000, 0xF8FF, 2):
        pair = chr(code), chr(code + 1)
        if pair[0] not in source and pair[1] not in source:
            return pair
    return "\ue000", "\ue001"  # a post holding every private-use character: so be it


def _reason(err: LiquidError) -> str:
    message = " ".join(str(err.message or type(err).__name__).split())
    if isinstance(err, (ResourceLimitError, LimitError)):
        return f"Liquid limit reached: {message}"
    if isinstance(err, LiquidSyntaxError):
        return f"Liquid syntax error: {message}"
    return f"Liquid error: {message}"


def render_liquid(
    source: str,
    *,
    site: Mapping[str, Any],
    page: Mapping[str, Any],
    includes: IncludeSource,
    markdownify: Callable[[str], str],
    first_line: int = 1,
) -> LiquidOutcome:
    """Render a post body. ``first_line``: the body's first line in the file, for reports.

    ``site`` carries ``site.time`` (a ``datetime``: what "now" means to date filters, and
    whose zone bare dates take); ``page`` the post's front matter and computed fields."""
    if not has_liquid(source):
        return LiquidOutcome(source)
    now = site.get("time")
    marker, marker_end = _markers(source)
    state = RenderState(
        source=source,
        first_line=first_line,
        includes=includes,
        markdownify=markdownify,
        site=site,
        now=now if isinstance(now, datetime) else None,
        marker=marker,
        marker_end=marker_end,
    )
    error: tuple[int | None, str] | None = None
    text = ""
    try:
        with rendering(state):
            template = environment().from_string(source)
            jekyll = {"environment": "production"}
            data = {"site": _SiteView(site, state), "page": liquid_value(page), "jekyll": jekyll}
            text = state.finish(template.render(data))
    except LiquidError as err:
        error = (state.line_of(err.token), _reason(err))
    except (RecursionError, MemoryError) as exc:
        error = (state.line_of(None), f"Liquid limit reached: {type(exc).__name__}")
    except Exception as exc:
        error = (state.line_of(None), f"Liquid error: {type(exc).__name__}: {exc}")
    problems = list(state.problems)
    if state.undefined and error is None:
        names = ", ".join(state.undefined)
        problems.append(
            (next(iter(state.undefined.values())), "warning", f"undefined in Liquid: {names}")
        )
    return LiquidOutcome(
        text="" if error else text,
        problems=problems,
        error=error,
        relative_reads=tuple(state.relative_reads),
    )
