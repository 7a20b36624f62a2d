"""Jekyll's Liquid tags (``lib/jekyll/tags/*.rb``): highlight, link, post_url, include,
include_relative.

Jekyll's ``include`` is not Shopify's: ``{% include note.html title="Hi" n=page.n %}``, the
name may hold ``{{ … }}``, and the parameters are read inside as ``include.title``. It renders
in the post's own context (an ``assign`` inside is seen after it), as in Jekyll.

The file side stays outside the core: names are checked here as Jekyll checks them (no ``..``
or ``//``, only ``[\\w/.\\-()+~#@]``) and then read only through the caller's
:class:`~.liquid_state.IncludeSource`, which confines them to ``_includes`` or the post's
folder. A missing or refused include is a warning and renders nothing (Jekyll stops the build;
a feed is better off with the rest of the post).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any, TextIO

from liquid.ast import BlockNode, Node
from liquid.exceptions import LiquidError, LiquidSyntaxError
from liquid.parser import get_parser
from liquid.tag import Tag
from liquid.token import TOKEN_EOF, TOKEN_EXPRESSION, TOKEN_TAG, Token

from feedsmith.core.jekyll.links import LinkKind, placeholder
from feedsmith.core.jekyll.liquid_state import (
    INCLUDE_COUNT_LIMIT,
    INCLUDE_DEPTH_LIMIT,
    IncludeRefused,
    LimitError,
    RenderState,
    anchored,
    charge,
    current,
)

if TYPE_CHECKING:
    from liquid.context import RenderContext
    from liquid.stream import TokenStream
    from liquid.template import BoundTemplate

# Jekyll's HighlightBlock::SYNTAX: a language, then options (linenos, mark_lines="1 2").
_HIGHLIGHT = re.compile(r'^([a-zA-Z0-9.+#_-]+)((\s+\w+(=(\w+|"([0-9]+\s)*[0-9]+"))?)*)$')
# Jekyll's IncludeTag::VALID_SYNTAX, VARIABLE_SYNTAX, VALID_FILENAME_CHARS, INVALID_SEQUENCES.
_PARAM = r"""([\w-]+)\s*=\s*(?:"([^"\\]*(?:\\.[^"\\]*)*)"|'([^'\\]*(?:\\.[^'\\]*)*)'|([\w.-]+))"""
_PARAMS = re.compile(_PARAM)
_ALL_PARAMS = re.compile(rf"\A\s*(?:{_PARAM}(?=\s|\Z)\s*)*\Z")
_VARIABLE_NAME = re.compile(
    r"(?P<variable>[^{]*(\{\{\s*[\w\-.]+\s*(\|.*)?\}\}[^\s{}]*)+)(?P<params>.*)", re.DOTALL
)
_LITERALS: dict[str, object] = {"true": True, "false": False, "nil": None, "null": None}
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_FILE_CHARS = re.compile(r"^[\w/.\-()+~#@]+$")
_BAD_SEQUENCE = re.compile(r"[./]{2,}")


def _markup(stream: TokenStream, *, consume: bool) -> tuple[Token, str]:
    """The tag token and its argument text. A block tag consumes the argument; an inline one
    leaves it as the current token, which the parser steps over."""
    if consume:
        token = stream.eat(TOKEN_TAG)
        if stream.current.kind != TOKEN_EXPRESSION:
            return token, ""
        return token, next(stream).value
    token = stream.current
    if stream.peek.kind == TOKEN_EXPRESSION:
        next(stream)
        return token, stream.current.value
    return token, ""


def _parse_sub(env: Any, text: str, token: Token) -> BoundTemplate | None:
    """``text`` as a template when it holds Liquid (``{% link {{ page.x }} %}``)."""
    if "{{" not in text and "{%" not in text:
        return None
    try:
        return env.from_string(text)
    except LiquidError as err:
        err.token = token
        raise


def _render_sub(sub: BoundTemplate | None, literal: str, token: Token, context: Any) -> str:
    if sub is None:
        return literal
    buffer = context.get_buffer()
    with anchored(token):
        sub.render_with_context(context, buffer, partial=True)
    return current().finish(buffer.getvalue()).strip()


class HighlightNode(Node):
    __slots__ = ("block", "lang")

    def __init__(self, token: Token, lang: str, block: BlockNode) -> None:
        super().__init__(token)
        self.lang = lang
        self.block = block
        self.blank = False

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        body = context.get_buffer(buffer)
        self.block.render(context, body)
        code = current().finish(body.getvalue()).replace("\r\n", "\n").replace("\r", "\n")
        code = html.escape(code.strip("\n"), quote=True)
        # One line, so that Markdown keeps it one HTML block (a blank line would end the block);
        # ``{`` as a reference so that a raw ``{{`` in the code is not taken for a leak.
        code = code.replace("\n", "&#10;").replace("{", "&#123;")
        lang = html.escape(self.lang, quote=True)
        css = lang.replace("+", "-")
        return buffer.write(
            f'<figure class="highlight"><pre><code class="language-{css}" data-lang="{lang}">'
            f"{code}</code></pre></figure>"
        )

    def children(self, static_context: Any, *, include_partials: bool = True) -> list[Node]:
        return [self.block]


class HighlightTag(Tag):
    name = "highlight"
    end = "endhighlight"
    block = True

    def parse(self, stream: TokenStream) -> Node:
        token, markup = _markup(stream, consume=True)
        match = _HIGHLIGHT.match(markup.strip())
        if match is None:
            raise LiquidSyntaxError(
                "highlight needs a language: {% highlight ruby [linenos] %}", token=token
            )
        block = get_parser(self.env).parse_block(stream, (self.end, TOKEN_EOF))
        stream.expect(TOKEN_TAG, value=self.end)
        return HighlightNode(token, match.group(1).lower(), block)


class LinkNode(Node):
    __slots__ = ("kind", "literal", "sub")

    def __init__(self, token: Token, kind: LinkKind, literal: str, sub: Any) -> None:
        super().__init__(token)
        self.kind = kind
        self.literal = literal
        self.sub = sub
        self.blank = False

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        target = _render_sub(self.sub, self.literal, self.token, context)
        if not target:
            current().warn(self.token, f"{self.kind} without a target renders nothing")
            return 0
        return buffer.write(placeholder(self.kind, target))


class _LinkTag(Tag):
    block = False
    kind: LinkKind = "link"

    def parse(self, stream: TokenStream) -> Node:
        token, markup = _markup(stream, consume=False)
        literal = markup.strip()
        return LinkNode(token, self.kind, literal, _parse_sub(self.env, literal, token))


class LinkTag(_LinkTag):
    name = "link"
    kind: LinkKind = "link"


class PostUrlTag(_LinkTag):
    name = "post_url"
    kind: LinkKind = "post_url"


def _unquoted(text: str, quote: str) -> str:
    return text.replace("\\" + quote, quote)


class IncludeNode(Node):
    __slots__ = ("kind", "literal", "params", "sub")

    def __init__(
        self, token: Token, kind: str, literal: str, sub: Any, params: list[tuple[str, ...]]
    ) -> None:
        super().__init__(token)
        self.kind = kind
        self.literal = literal
        self.sub = sub
        self.params = params
        self.blank = False

    def _arguments(self, context: RenderContext) -> dict[str, object]:
        values: dict[str, object] = {}
        for key, double, single, variable in self.params:
            if double:
                values[key] = _unquoted(double, '"')
            elif single:
                values[key] = _unquoted(single, "'")
            elif variable:
                values[key] = self._expression(variable, context)
            else:
                values[key] = ""
        return values

    def _expression(self, text: str, context: RenderContext) -> object:
        """A bare parameter value, as Liquid reads ``context[text]``: a literal or a path."""
        if text in _LITERALS:
            return _LITERALS[text]
        if _NUMBER.fullmatch(text):
            return float(text) if "." in text else int(text)
        path: list[object] = [int(p) if p.isdigit() else p for p in text.split(".")]
        return context.get(path, token=self.token)

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        state = current()
        name = _render_sub(self.sub, self.literal, self.token, context)
        if state.include_depth >= INCLUDE_DEPTH_LIMIT:
            raise LimitError(
                f"includes nested deeper than {INCLUDE_DEPTH_LIMIT} ({name}: an include loop?)",
                token=self.token,
            )
        state.include_count += 1
        if state.include_count > INCLUDE_COUNT_LIMIT:
            raise LimitError(f"more than {INCLUDE_COUNT_LIMIT} includes", token=self.token)
        template = self._load(state, name, context)
        if template is None:
            return 0
        namespace = {"include": self._arguments(context)} if self.params else {}
        state.include_depth += 1
        try:
            with anchored(self.token):
                template.render_with_context(context, buffer, partial=True, **namespace)
        finally:
            state.include_depth -= 1
        return 1

    def _load(self, state: RenderState, name: str, context: RenderContext) -> Any:
        key = (self.kind, name)
        if key in state.templates:
            return state.templates[key]
        state.templates[key] = None  # a problem is reported once per name
        folder = "_includes" if self.kind == "include" else "the post's folder"
        if not name or _BAD_SEQUENCE.search(name) or not _FILE_CHARS.match(name):
            state.warn(self.token, f"{self.kind} {name} refused: outside {folder}")
            return None
        try:
            if self.kind == "include":
                text = state.includes.include(name)
            else:
                state.relative_reads[name] = None
                text = state.includes.include_relative(name)
        except IncludeRefused as exc:
            state.warn(self.token, f"{self.kind} {name} refused: {exc or 'outside ' + folder}")
            return None
        if text is None:
            state.warn(self.token, f"{self.kind} {name}: no such file in {folder}")
            return None
        charge(len(text))
        try:
            template = context.env.from_string(text, name=name)
        except LiquidError as err:
            err.token = self.token
            err.args = (f"in {self.kind} {name}: {err.message}",)
            raise
        state.templates[key] = template
        return template


class IncludeTag(Tag):
    name = "include"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        token, markup = _markup(stream, consume=False)
        markup = markup.strip()
        found = _VARIABLE_NAME.match(markup)
        if found:
            literal, params = found["variable"].strip(), found["params"].strip()
        else:
            parts = re.split(r"\s+", markup, maxsplit=1)
            literal, params = parts[0], parts[1] if len(parts) > 1 else ""
        if params and not _ALL_PARAMS.match(params):
            raise LiquidSyntaxError(
                f"{self.name}: parameters must be key=value, key=\"text\" or key='text'",
                token=token,
            )
        sub = _parse_sub(self.env, literal, token)
        return IncludeNode(token, self.name, literal, sub, _PARAMS.findall(params))


class IncludeRelativeTag(IncludeTag):
    name = "include_relative"


JEKYLL_TAGS: tuple[type[Tag], ...] = (
    HighlightTag,
    LinkTag,
    PostUrlTag,
    IncludeTag,
    IncludeRelativeTag,
)
