"""Markdown → sanitized HTML with absolute URLs, and plain-text summaries.

Post bodies are written by people and copied from elsewhere, so the rendered HTML is untrusted:
feed readers embed it, and some run it in a web view. Everything markdown-it produces (raw HTML
blocks included, because real posts contain ``<figure>`` and ``<br>``) therefore goes through
nh3's allow-list, which parses it as HTML and writes normalized HTML back. Relative URLs are
resolved *inside* that sanitizer pass (``url_relative``), on parsed attribute values, so no regex
ever has to understand HTML. Feed entries are read far from the site, which is why every relative
``href``/``src`` must become absolute against the post's own URL.

Two engines, one behaviour. Parsing is most of the cost of a cold build (markdown-it-py took
~3 ms of a post's ~4 ms), so posts are parsed by ``markdown-it-pyrs``, the Rust port of the same
markdown-it, ~35× faster (on 300 generated posts it rendered 295 byte-identically; the rest
differ in emphasis and link edge cases). markdown-it-py stays as the reference engine: for
inline excerpts (the Rust binding has no inline renderer) and as the fallback if the Rust
engine ever fails on a post (a Rust panic surfaces as ``BaseException``, which must not take
a build down). Both link only URLs with a scheme: fuzzy linking turned ``README.md`` into
``http://README.md`` and exposed bare e-mail addresses, and Jekyll's kramdown links neither.

The parsers and the sanitizers are built once at import: rendering is per post and a blog can
have 10,000 of them. nh3's options (tag and attribute sets) cost ~25 µs to convert per call, so
the sanitizers are reusable ``nh3.Cleaner`` objects; the one setting that differs per post, the
base URL for relative links, reaches their callback through a thread-local (see
:func:`_sanitize`). The callback itself resolves the common link shapes without ``urljoin``
(:func:`absolute_url`), with the same result.
"""

from __future__ import annotations

import html
import logging
import re
import threading
from functools import cache, lru_cache
from html.parser import HTMLParser
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import markdown_it_pyrs
import nh3

if TYPE_CHECKING:
    from collections.abc import Callable

    from markdown_it import MarkdownIt
    from markdown_it.token import Token

from feedsmith.core import kramdown
from feedsmith.core.text import truncate, xml_safe
from feedsmith.core.urlsafety import ALLOWED_SCHEMES, is_allowed_url

log = logging.getLogger("feedsmith.markdown")

MORE_MARKER = "<!--more-->"

# CommonMark plus the GFM extensions the issue asks for. Raw HTML stays on (real posts contain
# ``<figure>`` and ``<br>``; it is sanitized below); ``linkify`` links bare scheme URLs.
# Footnotes (``text[^1]`` … ``[^1]: the note``) because kramdown, Jekyll's Markdown, and GitHub
# both have them and real posts use them: without the extension a note written as text came
# out as a literal ``[^1]:`` paragraph, and one whose text was a URL as a link reading "^1".
_FAST = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(
    ["table", "strikethrough", "linkify", "footnote"]
)


@cache
def _reference() -> MarkdownIt:
    """The markdown-it-py parser, built (and imported, ~40 ms) only when first needed."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    md = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False})
    md.enable(["table", "strikethrough", "linkify"]).use(footnote_plugin)
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})
    return md


_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
    "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u",
    "ul",
}  # fmt: skip
# Elements whose *content* must go too (their text is code or markup, never prose).
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "noscript"}
_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "pre": {"class"},
    "th": {"style", "colspan", "rowspan"},
    "td": {"style", "colspan", "rowspan"},
    "ol": {"start"},
    "abbr": {"title"},
    "q": {"cite"},
    "blockquote": {"cite"},
}
_URL_SCHEMES = set(ALLOWED_SCHEMES)
_LANGUAGE_CLASS = re.compile(r"^language-[\w+#.-]{1,40}$")
_WS = re.compile(r"\s+")
# A soft line break between two CJK characters is not a space: Japanese wraps lines anywhere.
_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_BREAK = re.compile(rf"(?<=[{_CJK}])[ \t]*\n\s*(?=[{_CJK}])")
# An excerpt that Markdown, HTML and linkify leave as it is (see :func:`inline_text`): none of the
# characters inline rules start on, no entity or tag, no line break, no URL scheme or ``//``, no
# character HTML parsing rewrites or drops (controls, CR, NUL, a leading BOM).
_PLAIN_INLINE = re.compile(r"[^\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\n\r\\`*_~\[\]!<>&:/]*")


# A link that ``urljoin`` would return as ``<scheme>://<netloc>`` + the link itself: a path from
# the root (not ``//host``), no dot segments, nothing ``urlsplit`` removes or splits off
# (tab/CR/LF, ``;`` params, ``?`` query, ``#`` fragment). See :func:`absolute_url`.
_ROOT_PATH = re.compile(r"/(?!/)[^\t\r\n;?#]*")


@lru_cache(maxsize=64)
def _origin(base: str) -> str | None:
    """``scheme://netloc`` of ``base`` when ``urljoin`` resolves root paths against it by plain
    concatenation (http/https with a host), else ``None``. Cached: one base per post, and
    sanitizing asks for each of its links."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def absolute_url(base: str, url: str) -> str:
    """``urljoin(base, url)``, with the link shape posts mostly have done without it.

    For a path from the root without ``.``/``..`` segments and without ``;``, ``?`` or ``#``,
    ``urljoin`` takes scheme and host from ``base`` and the path unchanged (its dot-segment
    removal keeps every other segment, empty ones included, and ``urlunparse`` adds nothing),
    so the result is the concatenation. Everything else goes to ``urljoin`` itself;
    ``tests/test_parse_speed_equivalence.py`` compares the two on generated URLs.
    """
    if url[:1] == "/" and "/." not in url and _ROOT_PATH.fullmatch(url) is not None:
        origin = _origin(base)
        if origin is not None:
            return origin + url
    return urljoin(base, url)


# The base URL of the post being sanitized, for the Cleaners' ``url_relative`` callback; a
# thread-local so that concurrent renders in threads cannot see each other's base.
_page = threading.local()


def _absolute(url: str) -> str | None:
    """nh3's ``url_relative`` callback: the relative ``url`` made absolute against the page, or
    ``None`` (the attribute is dropped) when the result is not an allowed URL.

    nh3 checks the scheme of the value *it* sees and never that of what this returns: a value
    nh3 calls relative because it starts with a space (``&nbsp;javascript:…``) becomes
    ``javascript:…`` here once stripped, so the final URL is checked again
    (:mod:`feedsmith.core.urlsafety`)."""
    try:
        resolved = xml_safe(absolute_url(_page.url, url.strip()))
    except ValueError:  # e.g. a malformed IPv6 host in "//[x"
        return None
    return resolved if is_allowed_url(resolved) else None


def _keep_attribute(tag: str, attr: str, value: str) -> str | None:
    """Allow only the class names markdown-it emits for fenced code (``language-python``), and
    a ``cite`` URL only made absolute and with an allowed scheme.

    Arbitrary classes would let a post borrow the reader's page styles (e.g. hide text). nh3
    does not count ``cite`` among URL attributes, so its value is checked here, the way
    :func:`_absolute` checks ``href`` and ``src``.
    """
    if attr == "class":
        kept = [c for c in value.split() if _LANGUAGE_CLASS.match(c)]
        return " ".join(kept) or None
    if attr == "cite":
        return _absolute(value)
    return value


def render_markdown(body: str, page_url: str) -> str:
    """Render a post body to HTML that is safe to embed and has only absolute URLs.

    ``page_url`` is the post's own URL: ``/images/x.png`` resolves against its host,
    ``../x`` against its folder and ``#note`` to the post itself.
    """
    return render_post(body, page_url, None)[0]


def render_post(body: str, page_url: str, summary_limit: int | None = 300) -> tuple[str, str]:
    """``(render_markdown(...), summary_from_markdown(...))`` with one parse; the summary is
    ``""`` when ``summary_limit`` is ``None`` (a post with its own excerpt needs none, and
    finding the first paragraph costs as much as rendering)."""
    body = xml_safe(body)
    parts: tuple[str, ...] = ()
    if "{:" in body or "markdown=" in body:  # kramdown syntax (Jekyll's); others skip this
        body, parts = _without_kramdown(body)
    try:
        raw, summary = _fast_render(body, summary_limit is not None)
    except BaseException as exc:  # a Rust panic is a BaseException
        _raise_unless_engine_failure(exc)
        log.warning("fast Markdown engine failed (%s); using markdown-it-py", exc)
        content, summary = _reference_render(body, page_url, summary_limit or 0, parts)
    else:
        content = _sanitize(kramdown.restore(raw, parts) if parts else raw, page_url)
    return content, truncate(summary, summary_limit) if summary_limit is not None else ""


def _raise_unless_engine_failure(exc: BaseException) -> None:
    if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
        raise exc  # KeyboardInterrupt, SystemExit, ...


def _without_kramdown(body: str) -> tuple[str, tuple[str, ...]]:
    """``body`` with kramdown's attribute lists and extensions consumed (see
    :mod:`feedsmith.core.kramdown`), and the raw HTML its placeholders stand for. The code
    blocks it must not touch are found by a parse: the Rust engine's, else markdown-it-py's
    (same block structure), so both engines then render the same text."""
    try:
        encoded = body.encode("utf-8")
        code = [
            (encoded.count(b"\n", 0, node.srcmap[0]), encoded.count(b"\n", 0, node.srcmap[1] - 1))
            for node in _FAST.tree(body).walk()
            if node.name in ("fence", "code_block") and node.srcmap
        ]
    except BaseException as exc:
        _raise_unless_engine_failure(exc)
        code = [
            (token.map[0], token.map[1] - 1)
            for token in _reference().parse(body)
            if token.type in ("fence", "code_block") and token.map
        ]
    prepared = kramdown.prepare(body, code)
    return prepared.text, prepared.raw


def render_html_post(body: str, page_url: str, summary_limit: int | None = 300) -> tuple[str, str]:
    """:func:`render_post` for a post written in HTML (Jekyll publishes ``.html`` posts as they
    are): the same sanitizer and URL resolution, no Markdown parsing, which would turn indented
    HTML into code blocks. The summary is found as for Markdown: the text before
    ``<!--more-->``, else the first paragraph with text, else all of the text."""
    body = xml_safe(body)
    content = _sanitize(body, page_url)
    if summary_limit is None:
        return content, ""
    if MORE_MARKER in body:
        summary = _HtmlText.of(_sanitize(body.split(MORE_MARKER, 1)[0], page_url)).all_text()
    else:
        text = _HtmlText.of(content)
        summary = text.first_paragraph or text.all_text()
    return content, truncate(summary, summary_limit)


# Written HTML often has no newline between blocks (``</p><p>``), which Markdown output always
# has; without a break there, two paragraphs' words would run together in a summary.
_BLOCKS = {
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "tr", "td",
    "th", "table", "blockquote", "pre", "figure", "figcaption", "dl", "dt", "dd", "details",
    "summary", "caption",
}  # fmt: skip


class _HtmlText(HTMLParser):
    """The text of sanitized HTML with a break at each block boundary, and the first ``<p>``
    that has text. It reads sanitizer output only (well-formed, no script), so no regex ever
    meets raw HTML; text is kept escaped for :func:`html_to_text`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.paragraph_start: int | None = None
        self.first_paragraph = ""

    @classmethod
    def of(cls, clean_html: str) -> _HtmlText:
        parser = cls()
        parser.feed(clean_html)
        parser.close()
        return parser

    def all_text(self) -> str:
        return html_to_text("".join(self.parts))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "p" and not self.first_paragraph:
            self.paragraph_start = len(self.parts)

    def handle_endtag(self, tag: str) -> None:
        if tag == "p" and self.paragraph_start is not None:
            self.first_paragraph = html_to_text("".join(self.parts[self.paragraph_start :]))
            self.paragraph_start = None
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(html.escape(data, quote=False))


def _fast_render(body: str, want_summary: bool) -> tuple[str, str]:
    """Raw (unsanitized) HTML and the untruncated summary, with the Rust engine."""
    raw = _FAST.render(body)
    if not want_summary:
        return raw, ""
    if MORE_MARKER in body:
        return raw, html_to_text(_FAST.render(body.split(MORE_MARKER, 1)[0]))
    for node in _FAST.tree(body).walk():
        if node.name == "paragraph":
            text = html_to_text(_inline_html(node))
            if text:
                return raw, text
    return raw, html_to_text(raw)


def _inline_html(node: markdown_it_pyrs.Node) -> str:
    """Just enough HTML of a paragraph's inline nodes for :func:`html_to_text` to read: text
    escaped, raw inline HTML kept (so ``<script>`` content is dropped there), images skipped
    (an image-only paragraph has no summary text), breaks as newlines."""
    out: list[str] = []

    def visit(n: markdown_it_pyrs.Node) -> None:
        for child in n.children:
            name = child.name
            if name in ("text", "text_special"):
                out.append(html.escape(child.meta.get("content", ""), quote=False))
            elif name == "html_inline":
                out.append(child.meta.get("content", ""))
            elif name in ("softbreak", "hardbreak"):
                out.append("\n")
            elif name != "image":
                visit(child)

    visit(node)
    return "".join(out)


def _reference_render(
    body: str, page_url: str, summary_limit: int, parts: tuple[str, ...] = ()
) -> tuple[str, str]:
    env: dict[str, object] = {}
    tokens = _reference().parse(body, env)
    raw = _reference().renderer.render(tokens, _reference().options, env)
    content = _sanitize(kramdown.restore(raw, parts) if parts else raw, page_url)
    return content, _summary(body, tokens, env, summary_limit)


def _cleaner(attribute_filter: Callable[[str, str, str], str | None] | None) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel=None,
        url_schemes=_URL_SCHEMES,
        url_relative=_absolute,
        filter_style_properties={"text-align"},
    )


# The filter only ever changes ``class`` and ``cite`` values, and a Python call per attribute
# costs a third of the sanitizer's time, so HTML without either word (attribute names are ASCII,
# case-insensitive) uses the Cleaner without it.
_CLEANER = _cleaner(None)
_CLEANER_CLASSES = _cleaner(_keep_attribute)
# html_to_text: no tag survives; script/style content is dropped.
_TEXT_CLEANER = nh3.Cleaner(tags=set(), clean_content_tags=_DROP_WITH_CONTENT)


def _sanitize(raw: str, page_url: str) -> str:
    low = raw.lower()
    cleaner = _CLEANER_CLASSES if "class" in low or "cite" in low else _CLEANER
    outer = getattr(_page, "url", None)
    _page.url = page_url
    try:
        clean = cleaner.clean(raw)
    finally:
        _page.url = outer
    # A character reference to a control character (``title="&#x8;"``) comes out of the HTML
    # parser as that character, which XML cannot carry: one such attribute failed the rendering
    # of every feed the post is in. The body is XML-safe already, so only a numeric reference
    # can bring one back.
    return xml_safe(clean) if "&#" in raw else clean


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment: tags removed, entities decoded, whitespace collapsed.

    Line breaks inside Japanese/Chinese text are dropped rather than turned into spaces.

    nh3 with no allowed tags does the tag removal on a real HTML parse (so ``<a title=">">``
    cannot fool it) and drops script/style content entirely.
    """
    text = html.unescape(_TEXT_CLEANER.clean(fragment))
    if "\n" in text:  # the only place a CJK line break can be
        text = _CJK_BREAK.sub("", text)
    return _WS.sub(" ", text).strip()


def inline_text(source: str) -> str:
    """Plain text of a short Markdown/HTML snippet such as a front-matter ``excerpt``.

    Rendered as *inline* Markdown so that an excerpt beginning with ``1.`` or ``#`` keeps those
    characters instead of becoming a list or heading.

    Most excerpts are one line of prose. Without any character that starts an inline rule
    (emphasis, code, links, images, escapes, entities, raw HTML, line breaks, linkify's ``:`` and
    ``//``) markdown-it renders the text as one escaped text node, and stripping the tags and
    unescaping gives the text back, so only the whitespace collapsing of :func:`html_to_text`
    is left; markdown-it-py (~0.2 ms) is skipped. A test compares both on generated text.
    """
    source = xml_safe(source)
    if _PLAIN_INLINE.fullmatch(source) is not None:
        return _WS.sub(" ", source).strip()
    return xml_safe(html_to_text(_reference().renderInline(source)))


def summary_from_markdown(body: str, limit: int = 300) -> str:
    """A plain-text summary: the part before ``<!--more-->``, else the first paragraph.

    Headings, code blocks and images-only blocks are skipped when looking for the first
    paragraph, because a feed summary that reads "Introduction" tells a reader nothing. A body
    without any paragraph falls back to all of its text.
    """
    return render_post(body, "https://invalid.invalid/", limit)[1]


def _summary(body: str, tokens: list[Token], env: dict[str, object], limit: int) -> str:
    if MORE_MARKER in body:
        text = html_to_text(_reference().render(body.split(MORE_MARKER, 1)[0]))
    else:
        text = _first_paragraph_text(tokens, env)
        if not text:
            text = html_to_text(_reference().renderer.render(tokens, _reference().options, env))
    return truncate(text, limit)


def _first_paragraph_text(tokens: list[Token], env: dict[str, object]) -> str:
    for i, token in enumerate(tokens):
        if token.type != "paragraph_open" or i + 1 >= len(tokens):
            continue
        inline = tokens[i + 1]
        if inline.type != "inline" or not inline.children:
            continue
        md = _reference()
        # A footnote's marker is not prose: the fast engine's summary leaves it out too.
        children = [child for child in inline.children if child.type != "footnote_ref"]
        text = html_to_text(md.renderer.render(children, md.options, env))
        if text:
            return text
    return ""
