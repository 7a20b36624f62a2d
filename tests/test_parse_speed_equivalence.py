"""The shortcuts that make parsing a post cheaper give exactly what the plain algorithms give.

Each fast path in posts/markdown/frontmatter handles the common shape of its input itself and
hands everything else to the original code; these tests generate inputs around the edges of
those shapes (and far outside them) and compare the two. The whole-post check is
``test_posts.py`` and the corpus tests; here each replacement is pinned down on its own.
"""

from __future__ import annotations

import hashlib
import html
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import PurePosixPath
from urllib.parse import quote, urljoin

import nh3
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedsmith.core import entry_hash, entry_ids, frontmatter, markdown, permalinks, posts
from feedsmith.core.model import Author
from feedsmith.core.text import xml_safe
from feedsmith.core.urlsafety import is_allowed_url

EXAMPLES = int(os.environ.get("FEEDSMITH_EQUIVALENCE_EXAMPLES", "150"))
_settings = settings(deadline=None, max_examples=EXAMPLES)


def _outcome(fn, *args):
    """A call's result, or the type of what it raised, so failures compare too."""
    try:
        return ("ok", fn(*args))
    except Exception as exc:
        return ("raised", type(exc))


# --- URLs ------------------------------------------------------------------------------------

_URL_PIECES = [
    *("/", "//", ".", "..", "./", "../", "a", "b.html", "notes", "2929.html", "日本", "%E6", "%"),
    *("?", "?q=1", "#", "#frag", ";", ";p", ":", "@", "~", "!", "$", "&", "'", "(", "+", ",", "="),
    *(" ", "\t", "\n", "\r", "\\", "[", "]", "[x", "\x00", "\x1f", "\x7f", "\xa0", "\u3000"),
    *("http:", "https:", "HTTP:", "mailto:", "ftp:", "//host", "//h:80", "//[::1]", "//[x"),
]
_urls = st.lists(st.sampled_from(_URL_PIECES), max_size=12).map("".join)
_bases = st.one_of(
    st.sampled_from(
        [
            "https://bench.example.com/2023/03/29/x.html",
            "http://h:8080/a/b/",
            "https://h",
            "https://h?q=1#f",
            "https://h/a;p?q#f",
            "https://user:pw@h/x/",
            "https://[::1]/x",
            "https://[x/y",
            "ftp://h/x",
            "mailto:x@y",
            "/relative/only",
            "",
            "HTTPS://H/x",
            "https:///x",
        ]
    ),
    st.builds(lambda a, b: a + b, st.sampled_from(["https://", "http://", "x:"]), _urls),
)


@given(_bases, _urls)
@_settings
@example("https://bench.example.com/2023/03/29/x.html", "/notes/2929.html")
@example("https://h/a/", "/a//b/")
@example("https://h/a/", "/a/./b")
@example("https://h/a/", "/a/b/..")
@example("https://h/a/", "/a?")
@example("https://h/a/", "/a;")
def test_absolute_url_is_urljoin(base: str, url: str) -> None:
    assert _outcome(markdown.absolute_url, base, url) == _outcome(urljoin, base, url)


def _sanitize_reference(raw: str, page_url: str) -> str:
    """The sanitizer call as it was: options passed on every call, a closure per page, the
    attribute filter and the XML clean-up applied to every fragment."""

    def absolute(url: str) -> str | None:
        try:
            resolved = xml_safe(urljoin(page_url, url.strip()))
        except ValueError:
            return None
        return resolved if is_allowed_url(resolved) else None

    def keep(tag: str, attr: str, value: str) -> str | None:
        return absolute(value) if attr == "cite" else markdown._keep_attribute(tag, attr, value)

    return xml_safe(
        nh3.clean(
            raw,
            tags=markdown._TAGS,
            clean_content_tags=markdown._DROP_WITH_CONTENT,
            attributes=markdown._ATTRIBUTES,
            attribute_filter=keep,
            strip_comments=True,
            link_rel=None,
            url_schemes=markdown._URL_SCHEMES,
            url_relative=absolute,
            filter_style_properties={"text-align"},
        )
    )


_HTML_PIECES = [
    *("<p>", "</p>", "text ", "日本語", "&amp;", "&", "<", ">", "<!-- c -->", "<br>", "\n"),
    *('<code class="language-py x">', "</code>", '<pre class="a">', "</pre>", "<script>x</script>"),
    *('<td style="text-align: right; color: red">', "</td>", "<table><tr>", "</tr></table>"),
    *('<span class="k">', "</span>", "<iframe>z</iframe>", '<div onclick="x">', "</div>"),
    *('<q cite="/c">', '<q cite="&nbsp;javascript:x">', "</q>", '<i title="&#x8;">', "</i>"),
    *('<a href="&#x3000;javascript:x">', "</a>", '<img src="&#x2028;data:text/html,x">'),
]


@st.composite
def _html(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            parts.append(f'<a href="{html.escape(draw(_urls))}" title="t">x</a>')
        elif kind == 1:
            parts.append(f'<img src="{html.escape(draw(_urls))}" alt="a">')
        else:
            parts.append(draw(st.sampled_from(_HTML_PIECES)))
    return "".join(parts)


@given(_html(), _bases)
@_settings
def test_sanitize_with_prebuilt_cleaners_matches_the_per_call_options(raw: str, base: str) -> None:
    raw = xml_safe(raw)  # what _sanitize is given: post bodies are made XML-safe when read
    assert markdown._sanitize(raw, base) == _sanitize_reference(raw, base)


def test_sanitize_restores_an_outer_page_url() -> None:
    markdown._page.url = "https://outer.example/"
    try:
        out = markdown._sanitize('<a href="/x">x</a>', "https://inner.example/p/")
        assert out == '<a href="https://inner.example/x">x</a>'
        assert markdown._page.url == "https://outer.example/"
    finally:
        del markdown._page.url


# --- plain text --------------------------------------------------------------------------------


def _html_to_text_reference(fragment: str) -> str:
    stripped = nh3.clean(fragment, tags=set(), clean_content_tags=markdown._DROP_WITH_CONTENT)
    text = markdown._CJK_BREAK.sub("", html.unescape(stripped))
    return markdown._WS.sub(" ", text).strip()


def _inline_text_reference(source: str) -> str:
    return xml_safe(_html_to_text_reference(markdown._reference().renderInline(xml_safe(source))))


_TEXT_PIECES = [
    *("A closer look", " at ", "why", ".", ",", "?", "'", '"', "(", ")", "-", "+", "=", "|", "{"),
    *("}", "$", "%", "^", "@", "#", "1.", "# ", "- ", "> ", "  ", " ", "\t", "\n", "\r", "\r\n"),
    *("日本", "語", "。", "\u3000", "\xa0", "\ufeff", "\x85", "\u2028", "\x0c", "\x00", "\x7f"),
    *("\x9f", "\ud800", "\ufffe", "*", "**b**", "_", "`c`", "~~s~~", "\\", "\\*", "[x](y)", "!"),
    *("<b>", "</b>", "<script>x</script>", "&amp;", "&", "&#x41;", "<", ">", "http://a.b"),
    *("https://", "www.example.com", "a@b.c", "mailto:a@b.c", "//", ":", "/", "e\u0301", "é"),
]
_texts = st.lists(st.sampled_from(_TEXT_PIECES), max_size=16).map("".join)


@given(_texts)
@_settings
@example("A closer look at why the fragile chip shortage at llm reshapes chip shortage.")
@example("  spaced\xa0out\u3000 ")
def test_inline_text_fast_path_matches_markdown_it(source: str) -> None:
    assert markdown.inline_text(source) == _inline_text_reference(source)


@given(_html())
@_settings
def test_html_to_text_matches_the_per_call_cleaner(fragment: str) -> None:
    expected = _outcome(_html_to_text_reference, fragment)
    assert _outcome(markdown.html_to_text, fragment) == expected


@given(_texts.map(html.escape))
@_settings
def test_html_to_text_of_escaped_text(fragment: str) -> None:
    expected = _outcome(_html_to_text_reference, fragment)
    assert _outcome(markdown.html_to_text, fragment) == expected


# --- post URLs and ids -------------------------------------------------------------------------

_SITES = ["https://bench.example.com", "http://h:8080", "https://H.example", "https://h/blog"]
_PATH_PIECES = [
    *("/", "//", "a", "Z9", "-", ".", "_", "~", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";"),
    *("=", ":", "@", "%", "%20", "%e6%97%a5", "日本", " ", "?", "?q", "#", "#f", "\\", "|", "^"),
]
_paths = st.lists(st.sampled_from(_PATH_PIECES), max_size=12).map("".join)


@given(st.sampled_from(_SITES), _paths)
@_settings
@example("https://bench.example.com", "/2023/03/29/model-cloud-009843.html")
@example("https://h", "")
def test_quote_url_fast_path_matches_the_reference(site: str, path: str) -> None:
    url = site + path
    assert _outcome(permalinks.quote_url, url) == _outcome(permalinks.quote_url_reference, url)


_REL_PIECES = ["/", "//", ".", "..", "a", ".md", "b.c", "日本", " ", "x."]


@given(st.lists(st.sampled_from(_REL_PIECES), max_size=8))
@_settings
@example(["2023", "/", "2023-03-29-model-cloud-009843", ".md"])
def test_stem_is_pathlibs(pieces: list[str]) -> None:
    rel = "".join(pieces)
    assert posts._stem(rel) == PurePosixPath(rel).stem


_PATTERN_PIECES = [
    *(":year", ":month", ":day", ":i_month", ":i_day", ":short_year", ":hour", ":minute"),
    *(":second", ":title", ":slug", ":categories", ":unknown", ":Year", ":", "/", "//", "-"),
    *(".html", "x", ":yearx", ":slug_", "::day"),
]
_patterns = st.lists(st.sampled_from(_PATTERN_PIECES), max_size=10).map("".join)
_datetimes = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
_categories = st.lists(st.sampled_from(["AI", "業界 ニュース", "a/b", " ", "", "-x-"]), max_size=3)


@given(_patterns, _datetimes, st.sampled_from(["slug", "日本", "a//b", ""]), _categories)
@_settings
def test_permalink_template_matches_the_reference(pattern, published, slug, categories) -> None:
    cats = tuple(categories)
    fast = permalinks.expand_permalink(pattern, published, slug, cats)
    assert fast == permalinks.expand_permalink_reference(pattern, published, slug, cats)


def _tag_specific_reference(slug: str) -> str:
    """RFC 4151 ``specific`` (pchar / "/" / "?", less "?" kept out): UTF-8, percent-encoded."""
    return quote(slug, safe="!$&'()*+,;=:@/")


@given(st.text(max_size=30) | st.from_regex(r"[a-z0-9-]{0,30}", fullmatch=True))
@_settings
def test_tag_specific_fast_path(slug: str) -> None:
    assert entry_ids.tag_specific(slug) == _tag_specific_reference(slug)


class _IdConfig:
    id_authority = "example.com"
    jekyll = None


@pytest.mark.parametrize("year", [1000, 1999, 2025, 9999])
def test_id_day_is_what_strftime_gives(year: int) -> None:
    parser = posts._Parser(b"", "x.md", "x.md", _IdConfig())  # type: ignore[arg-type]
    for tz in (UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-5))):
        published = datetime(year, 3, 9, 23, 30, tzinfo=tz)
        day = published.strftime("%Y-%m-%d")
        assert parser._id({}, published, "s") == f"tag:example.com,{day}:s"


_json_text = st.text(
    st.characters(codec=None, blacklist_categories=())
    | st.sampled_from('"\\/\x00\x1f\x7f\u2028\ud800')
)


@given(
    st.lists(_json_text, min_size=4, max_size=4),
    st.lists(_json_text, max_size=3),
    st.lists(st.tuples(_json_text, st.none() | _json_text, st.none() | _json_text), max_size=2),
    st.none() | _json_text,
)
@_settings
@example(["t", "u", "s", "<p>\b\f\n\r\t\x01\x1f\x7f\u2028\U0001f600</p>"], [], [], None)
def test_content_hash_bytes_are_the_json_modules(texts, names, authors, image) -> None:
    title, url, summary, content = texts
    people = tuple(Author(*a) for a in authors)
    fields = [title, url, summary, content, names, names[::-1], [list(a) for a in authors], image]
    expected = hashlib.sha256(entry_hash.content_blob_reference(fields)).hexdigest()
    got = entry_hash.content_hash(
        title, url, summary, content, tuple(names), tuple(names[::-1]), people, image
    )
    assert got == expected


# --- front matter --------------------------------------------------------------------------------


def _yaml_reference(source: str) -> object:
    """What _load_yaml returned before the line reader: libyaml when it applies, else Python."""
    done, value = frontmatter._fast_yaml(source)
    if done:
        return value
    return yaml.load(source, Loader=frontmatter._StrictLoader)


_KEYS = st.one_of(
    st.sampled_from(["title", "date", "tags", "a-b", "_x", "null", "Null", "True", "FALSE", "on"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True),
    st.sampled_from(["1", "-k", "k k", "k ", " k", "'k'", '"k"', "?", "日本"]),
)
# Pieces a flat front matter is made of, including characters that are fine in some positions
# and not in others ...
_TAME_PIECES = [
    *("a", "Why", " ", "  ", "日本語", "é", "\xa0", "\u3000", "1", "0", "-", "+", ".", ",", "a:b"),
    *("[", "]", "{", "}", "'", '"', "?", "&", "*", "!", "|", ">", "%", "@", "`", "\\", "~", "/"),
    *("\ue000", "\U0001f600", "2025-01-02", "2025-13-45", " 12:30:00", "T12:30:00Z", "+09:00"),
    *(" 20:35:04 +0000", "true", "True", "no", "null", "~", "0x1f", "1.10", "0o7", "1_000", "1e3"),
    *(".inf", "-1", "01", "0755", "2025-01-02 12:30:00", "2025-01-02T12:30:00.5+09:00", "NULL"),
]
# ... and pieces that should send the text to the loaders (or make it invalid YAML).
_WILD_PIECES = [": ", " #", "#", ":", "\t", "\ufeff", "\x85", "\u2028", "\x7f", "\x07", "\uffff"]
_scalar_text = st.lists(st.sampled_from(_TAME_PIECES * 8 + _WILD_PIECES), max_size=6).map("".join)


_tame_text = st.lists(st.sampled_from(_TAME_PIECES), max_size=6).map("".join)


@st.composite
def _values(draw: st.DrawFn, text: st.SearchStrategy[str] = _scalar_text) -> str:
    kind = draw(st.integers(0, 5))
    value = draw(text)
    if kind == 1:
        return f'"{value}"'
    if kind == 2:
        return f"'{value}'"
    if kind == 3:
        items = draw(st.lists(st.one_of(text, text.map('"{}"'.format)), max_size=4))
        seps = draw(st.sampled_from([", ", ",", " , ", ",  "]))
        return "[" + draw(st.sampled_from(["", " "])) + seps.join(items) + "]"
    if kind == 4:
        return draw(st.sampled_from(["", " ", "  "]))
    return value


@st.composite
def _front_matter(draw: st.DrawFn) -> str:
    """Front matter with lines of every kind: most texts end up with the loaders."""
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 19))
        if kind == 0:
            lines.append(draw(st.sampled_from(["", "  ", "# comment", " # indented", "- item"])))
        elif kind == 1:
            lines.append("  " + draw(_scalar_text))
        else:
            sep = draw(st.sampled_from([": "] * 6 + [":", ":  ", " : ", ":\t"]))
            lines.append(draw(_KEYS) + sep + draw(_values()) + draw(st.sampled_from(["", " "])))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@st.composite
def _flat_front_matter(draw: st.DrawFn) -> str:
    """``key: value`` lines built from tame pieces: most texts are read by the line reader."""
    keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True)
    lines = [
        draw(keys) + draw(st.sampled_from([": ", ":  "])) + draw(_values(_tame_text))
        for _ in range(draw(st.integers(1, 6)))
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
@given(st.one_of(_front_matter(), _flat_front_matter()))
@settings(deadline=None, max_examples=max(EXAMPLES, 400))
@example('title: "Why"\ndate: 2023-03-29 08:41:15 +0000\ntags: ["AI", "生成AI"]\nreading_time: 3\n')
@example("d: 2025-11-16\nn: ~\nv: 1.10\nyes: on\nNull: x\nTrue: [a, 1, 2025-01-02, null]\n")
@example("a: 1\na: 2\nb:\n# c\n")
def test_line_reader_agrees_with_the_loaders(source: str) -> None:
    simple = frontmatter._simple_yaml(source)
    if simple is not None:
        assert repr(simple) == repr(_yaml_reference(source))


def test_typical_front_matter_takes_the_line_reader() -> None:
    source = (
        'layout: post\ntitle: "Why the chip shortage"\ndate: 2023-03-29 08:41:15 +0000\n'
        'categories: ["業界ニュース"]\ntags: ["AI", "生成AI", Orchid Labs]\n'
        "author: 'マーケット取材班'\nreading_time: 3\ndraft: false\nupdated: 2025-01-02\n"
    )
    simple = frontmatter._simple_yaml(source)
    assert simple is not None
    assert repr(simple) == repr(_yaml_reference(source))


@pytest.mark.parametrize(
    "source",
    [
        "title: a: b\n",  # an error for the loaders, with their message
        "tags:\n  - a\n",
        "a: &x 1\nb: *x\n",
        "title: 'it''s'\n",
        'title: "a\\tb"\n',
        "title: x # comment\n",
        "# only a comment\n",
        "",
        "a: {b: 1}\n",
    ],
)
def test_other_shapes_are_left_to_the_loaders(source: str) -> None:
    assert frontmatter._simple_yaml(source) is None
