"""No script URL ever leaves feedsmith (issue 24).

A link like ``<a href="&nbsp;javascript:…">`` is relative to a sanitizer (it starts with a
space) and became ``javascript:…`` once resolved; an author ``uri: javascript:…`` was published
as is. These tests build real sites with :func:`feedsmith.pipeline.build_site`, read every Atom,
RSS, JSON Feed and OPML file the way readers do (feedparser with its own sanitizer off, ``json``,
html5lib for the HTML inside entries, lxml for every URL-carrying element and attribute) and
parse each URL found with ada (the WHATWG URL parser of Node.js) — not with feedsmith's own code
— to see the scheme a browser would act on.
"""

from __future__ import annotations

import html
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ada_url
import feedparser
import html5lib
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsmith.config import load_config
from feedsmith.core.config import ConfigError
from feedsmith.core.urlsafety import browser_view, is_allowed_url, url_scheme
from feedsmith.pipeline import build_site

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SITE_URL = "https://blog.example.com"
ALLOWED_PROTOCOLS = {"http:", "https:", "mailto:"}
#: HTML attributes a browser or reader may follow as a URL.
HTML_URL_ATTRIBUTES = {
    "href", "src", "cite", "srcset", "action", "formaction", "poster", "background", "data",
    "longdesc", "usemap", "manifest", "ping", "xlink:href", "lowsrc", "dynsrc", "codebase",
}  # fmt: skip
#: XML attributes and elements that carry a URL in Atom, RSS and OPML.
XML_URL_ATTRIBUTES = {"href", "src", "url", "xmlUrl", "htmlUrl", "uri"}
XML_URL_ELEMENTS = {"uri", "link", "url", "icon", "logo", "docs", "comments"}
#: Elements whose text is HTML.
XML_HTML_ELEMENTS = {"content", "summary", "description", "encoded"}
#: JSON Feed keys that hold a URL.
JSON_URL_KEYS = {"image", "banner_image", "icon", "favicon", "avatar"}

JS = "javascript:alert(document.domain)"
DATA = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="
VBS = "vbscript:msgbox(1)"


# -- reading what was published -----------------------------------------------------------------


def browser_protocol(url: str) -> str | None:
    """The scheme (``"https:"``) a browser's URL parser gives ``url`` with no base, or ``None``
    when it is not an absolute URL at all (then a reader resolves it however it likes)."""
    try:
        return ada_url.URL(url).protocol
    except ValueError:
        return None


def html_urls(fragment: str) -> Iterator[str]:
    """Every URL-ish attribute value in an HTML fragment, decoded as a browser decodes it."""
    tree = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    for el in tree.iter():
        for name, value in el.attrib.items():
            if name.lower() in HTML_URL_ATTRIBUTES:
                if name.lower() == "srcset":
                    yield from (part.strip().split(" ")[0] for part in value.split(","))
                else:
                    yield value


def xml_urls(data: bytes) -> Iterator[str]:
    """URLs in an Atom/RSS/OPML document, straight from the XML (no reader's clean-up)."""
    root = etree.fromstring(data)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        for name, value in el.attrib.items():
            if etree.QName(name).localname in XML_URL_ATTRIBUTES:
                yield value
        if local in XML_URL_ELEMENTS and el.text and el.text.strip():
            yield el.text
        if local == "guid" and el.get("isPermaLink", "true") == "true" and el.text:
            yield el.text
        if local in XML_HTML_ELEMENTS and el.text and (el.get("type") != "text"):
            yield from html_urls(el.text)


def feedparser_urls(data: bytes) -> Iterator[str]:
    """URLs as feedparser hands them to an application, its own sanitizer switched off (it
    would hide what feedsmith published)."""
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    assert not parsed.bozo, parsed.get("bozo_exception")
    for holder in [parsed.feed, *parsed.entries]:
        yield from (link["href"] for link in holder.get("links", []))
        for author in holder.get("authors", []):
            if author.get("href"):
                yield author["href"]
        for content in holder.get("content", []):
            yield from html_urls(content["value"])
        if holder.get("summary"):
            yield from html_urls(holder["summary"])


def json_urls(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from json_urls(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from json_urls(v, key)
    elif isinstance(value, str):
        if key.endswith("url") or key in JSON_URL_KEYS:
            yield value
        elif key == "content_html":
            yield from html_urls(value)


def published_urls(out: Path) -> dict[str, list[str]]:
    """Every URL in every feed file under ``out``, per file."""
    found: dict[str, list[str]] = {}
    for path in sorted(out.rglob("*")):
        name = path.relative_to(out).as_posix()
        data = path.read_bytes() if path.is_file() else b""
        if name.endswith((".atom.xml", ".rss.xml")):
            found[name] = [*xml_urls(data), *feedparser_urls(data)]
        elif name.endswith(".opml"):
            found[name] = list(xml_urls(data))
        elif name.endswith(".json") and name != "index.json":  # index.json: the manifest
            found[name] = list(json_urls(json.loads(data)))
    return found


def unsafe(found: dict[str, list[str]]) -> list[str]:
    return [
        f"{name}: {url!r} ({browser_protocol(url)})"
        for name, urls in found.items()
        for url in urls
        if browser_protocol(url) not in ALLOWED_PROTOCOLS
    ]


# -- building a site ----------------------------------------------------------------------------


def write_site(root: Path, posts: dict[str, str], authors: dict[str, Any] | None = None) -> Path:
    (root / "posts").mkdir(parents=True, exist_ok=True)
    for name, text in posts.items():
        (root / "posts" / name).write_text(text, "utf-8")
    settings_: dict[str, Any] = {
        "site": {"title": "Safe", "url": SITE_URL, "author": "Site"},
        "posts_dir": "posts",
        "output_dir": "out",
        "state_dir": ".state",
        "feed": {"formats": ["atom", "rss", "json"], "content": "full"},
    }
    if authors is not None:
        settings_["authors"] = authors
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(settings_), "utf-8")
    return config


def post_text(meta: dict[str, Any], body: str) -> str:
    # JSON is YAML: every string is quoted and escaped (ensure_ascii: controls and Unicode
    # spaces survive as \\u escapes instead of being taken as YAML syntax).
    lines = [f"{key}: {json.dumps(value)}" for key, value in meta.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n" + body + "\n"


def body_with(urls: list[str]) -> str:
    """A post body that puts each URL (HTML source text) in every place a post can put a link:
    raw ``<a href>``, ``<img src>``, ``<q cite>``, ``<blockquote cite>``, and Markdown links and
    images."""
    parts = ["[control](https://ok.example/a)"]
    for n, url in enumerate(urls):
        quoted = url.replace('"', "&quot;")
        parts += [
            f'<p><a href="{quoted}">a{n}</a> <img src="{quoted}" alt="i{n}">'
            f' <q cite="{quoted}">q{n}</q></p>',
            f'<blockquote cite="{quoted}">b{n}</blockquote>',
            f"[m{n}](<{url}>) ![p{n}](<{url}>)",
        ]
    return "\n\n".join(parts)


def build(root: Path, urls: list[str], front_urls: list[str]) -> tuple[Path, list[Any]]:
    """One post with ``urls`` in its body and ``front_urls`` as its authors' uris and image."""
    meta: dict[str, Any] = {
        "title": "Links",
        "date": "2025-06-01 10:00:00 +0000",
        "tags": ["x"],
        "authors": [{"name": f"A{n}", "uri": u} for n, u in enumerate(front_urls)]
        + [{"name": "Ok", "uri": "https://ok.example/me"}],
    }
    if front_urls:
        meta["image"] = front_urls[0]
    config = load_config(
        write_site(root, {"2025-06-01-links.md": post_text(meta, body_with(urls))})
    )
    report = build_site(config, NOW)
    assert report.ok and report.posts == 1, report.problems
    return config.output_dir, report.problems


# -- the pure decision --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("https://a.example/x", "https"),
        ("HTTP://a.example/", "http"),
        ("mailto:me@example.com", "mailto"),
        ("\x00\x1f javascript:x", "javascript"),
        ("java\tscr\nipt\r:x", "javascript"),
        ("JaVaScRiPt:x", "javascript"),
        (" data:text/html,x \x0c", "data"),
        ("\u00a0javascript:x", None),  # a browser reads this as a relative path
        ("/relative/path", None),
        ("//host/x", None),
        ("1http:x", None),
    ],
)
def test_url_scheme_is_what_a_browser_parses(url: str, scheme: str | None) -> None:
    assert url_scheme(url) == scheme
    protocol = browser_protocol(url)  # ada agrees
    assert (protocol[:-1] if protocol else None) == scheme


def test_only_absolute_http_https_mailto_are_allowed() -> None:
    assert is_allowed_url("https://a.example/") and is_allowed_url("mailto:a@b.example")
    assert not is_allowed_url("/relative") and not is_allowed_url("\u00a0javascript:x")
    assert not is_allowed_url("ftp://a.example/") and not is_allowed_url(" vbscript:x")
    assert not is_allowed_url("mailto:a@b.example", frozenset({"http", "https"}))
    assert browser_view("\x01 java\tscript:x \x1f") == "javascript:x"


# -- the tricks, one by one ---------------------------------------------------------------------

#: Each written as HTML source text, as a post author (or a copied page) would.
TRICKS = [
    f"&nbsp;{JS}",
    f"&#x2000;{JS}",
    f"&#x3000;{JS}",
    f"&#x2028;{JS}",
    f"&#x2029;{JS}",
    f"&#xFEFF;{JS}",
    f"&#x85;{JS}",
    f"&#x0;{JS}",
    f"&#x1;{JS}",
    f"&#x7F;{JS}",
    f"&Tab;{JS}",
    f"&NewLine;{JS}",
    f"&#x09;{JS}",
    "java&Tab;script:alert(1)",
    "java&#x0A;script:alert(1)",
    "jav&#x61;script:alert(1)",
    "javascript&colon;alert(1)",
    "&#106;avascript:alert(1)",
    f"\u3000{JS}",
    f"\u2000{JS}",
    f"\u2028{JS}",
    f" {JS} ",
    "JaVaScRiPt:alert(1)",
    DATA,
    f"&nbsp;{DATA}",
    f"\u3000{DATA}",
    VBS,
    f"&#x2000;{VBS}",
]


def test_every_trick_is_dropped_from_every_format(tmp_path: Path) -> None:
    out, _ = build(tmp_path, TRICKS, [html.unescape(t) for t in TRICKS[:10]])
    found = published_urls(out)
    assert {"all.atom.xml", "all.rss.xml", "all.json"} <= set(found)
    assert not unsafe(found), "\n".join(unsafe(found))
    # the checks read the content: the control link and the safe author are there
    for name in ("all.atom.xml", "all.rss.xml", "all.json"):
        assert "https://ok.example/a" in found[name], name
        assert "https://ok.example/me" in found[name] or name.endswith(".rss.xml"), name


def test_the_checker_sees_a_script_url_in_each_format(tmp_path: Path) -> None:
    """The reading side can fail: a script link put into each built file is found."""
    out, _ = build(tmp_path, [], [])
    evil = html.escape('<a href="javascript:x">e</a>')
    for name in ("all.atom.xml", "all.rss.xml"):
        data = (out / name).read_bytes()
        planted = data.replace(b"https://ok.example/a", b"javascript:x", 1)
        assert unsafe({name: [*xml_urls(planted), *feedparser_urls(planted)]}), name
    doc = json.loads((out / "all.json").read_text("utf-8"))
    doc["items"][0]["content_html"] += html.unescape(evil)
    assert unsafe({"all.json": list(json_urls(doc))})


def test_a_dropped_front_matter_url_is_a_warning_naming_the_post(tmp_path: Path) -> None:
    out, problems = build(tmp_path, [], [f"\u3000{JS}"])
    atom = (out / "all.atom.xml").read_text("utf-8")
    assert "javascript" not in atom.lower()
    warnings = [p for p in problems if p.severity == "warning"]
    assert any(
        p.path.endswith("2025-06-01-links.md") and "author" in p.reason and "dropped" in p.reason
        for p in warnings
    ), warnings
    assert any("image" in p.reason for p in warnings), warnings
    # the author stays, without the link
    assert "<name>A0</name>" in atom


def test_safe_links_are_kept_and_made_absolute(tmp_path: Path) -> None:
    out, problems = build(
        tmp_path,
        ["/img/a.png", "#note", "mailto:me@example.com"],
        ["/about/", "mailto:x@y.example"],
    )
    found = published_urls(out)
    assert not unsafe(found)
    atom = found["all.atom.xml"]
    assert f"{SITE_URL}/img/a.png" in atom and "mailto:me@example.com" in atom
    assert f"{SITE_URL}/about/" in atom and "mailto:x@y.example" in atom
    assert not [p for p in problems if "author" in p.reason]


def test_config_author_with_a_script_url_is_a_config_error(tmp_path: Path) -> None:
    path = write_site(tmp_path, {}, {"jane": {"name": "Jane", "url": f"\u3000{JS}"}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == "authors.jane.url" and str(path) in str(err.value)
    ok = write_site(tmp_path, {}, {"jane": {"name": "Jane", "uri": "/about/jane"}})
    assert load_config(ok).authors[0][1].uri == "/about/jane"


def test_config_author_path_is_published_absolute(tmp_path: Path) -> None:
    meta = {"title": "T", "date": "2025-06-01 10:00:00 +0000", "author": "jane"}
    config = load_config(
        write_site(
            tmp_path,
            {"2025-06-01-t.md": post_text(meta, "Body.")},
            {"jane": {"name": "Jane", "url": "/about/jane"}},
        )
    )
    assert build_site(config, NOW).ok
    feed = json.loads((config.output_dir / "all.json").read_text("utf-8"))
    assert feed["items"][0]["authors"] == [{"name": "Jane", "url": f"{SITE_URL}/about/jane"}]


# -- generated tricks ---------------------------------------------------------------------------

#: Everything a parser might strip or skip: Python's whitespace, Unicode Zs, line/paragraph
#: separators, BOM, zero-width characters, C0 and C1 controls.
_FILLER_CHARS = sorted(
    {chr(c) for c in range(0x3001) if chr(c).isspace()}
    | {chr(c) for c in range(0x21)}
    | {chr(c) for c in range(0x7F, 0xA1)}
    | set("\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f")
    | set("\u205f\u3000\u2028\u2029\ufeff\u200b\u200c\u200d\u2060\u180e")
)
_NAMED = ["&nbsp;", "&Tab;", "&NewLine;", "&ensp;", "&emsp;", "&thinsp;", "&ZeroWidthSpace;"]


@st.composite
def filler(draw: st.DrawFn) -> str:
    """One character a parser may skip, written literally or as an HTML character reference."""
    char = draw(st.sampled_from(_FILLER_CHARS))
    form = draw(st.sampled_from(["literal", "hex", "dec", "named"]))
    if form == "hex" or char == "\x00":  # a NUL byte makes the file binary: a skipped post
        return f"&#x{ord(char):x};"
    if form == "dec":
        return f"&#{ord(char)};"
    if form == "named":
        return draw(st.sampled_from(_NAMED))
    return char


@st.composite
def script_url(draw: st.DrawFn) -> str:
    """``javascript:``/``data:``/``vbscript:`` with fillers around and inside the scheme, in any
    case, its colon maybe a character reference."""
    scheme, payload = draw(
        st.sampled_from([("javascript", "alert(1)"), ("data", DATA[5:]), ("vbscript", "x")])
    )
    letters = [c.upper() if draw(st.booleans()) else c for c in scheme]
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(letters)))
        letters.insert(at, draw(filler()))
    colon = draw(st.sampled_from([":", "&colon;", "&#58;", "&#x3a;"]))
    before = "".join(draw(st.lists(filler(), max_size=3)))
    after = "".join(draw(st.lists(filler(), max_size=2)))
    return before + "".join(letters) + colon + payload + after


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body_urls=st.lists(script_url(), min_size=1, max_size=4), author=script_url())
def test_generated_script_urls_never_reach_a_feed(body_urls: list[str], author: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out, _ = build(Path(tmp), body_urls, [html.unescape(author), author])
        found = published_urls(out)
        assert not unsafe(found), "\n".join(unsafe(found))
        assert "https://ok.example/a" in found["all.atom.xml"]


# -- OPML text (issue 24, item 11) --------------------------------------------------------------


def test_opml_text_is_html_escaped_so_readers_show_it_literally(tmp_path: Path) -> None:
    """Readers render OPML ``text``/``title`` as HTML: a tag named ``<script>…`` and a site
    title ``Bits & <Bytes>`` must come out of that HTML as the same text, never as markup."""
    meta = {
        "title": "T",
        "date": "2025-06-01 10:00:00 +0000",
        "tags": ["<script>alert(1)</script>"],
    }
    path = write_site(tmp_path, {"2025-06-01-t.md": post_text(meta, "Body.")})
    settings_ = yaml.safe_load(path.read_text("utf-8"))
    settings_["site"].update(title="Bits & <Bytes>", author="A & <b>B</b>")
    path.write_text(yaml.safe_dump(settings_), "utf-8")
    config = load_config(path)
    assert build_site(config, NOW).ok
    root = etree.fromstring((config.output_dir / "index.opml").read_bytes())
    texts = [root.findtext("head/title"), root.findtext("head/ownerName")]
    texts += [
        v for o in root.iter("outline") for k, v in o.attrib.items() if k in ("text", "title")
    ]
    shown = []
    for text in texts:
        tree = html5lib.parseFragment(text, treebuilder="etree", namespaceHTMLElements=False)
        assert not list(tree), f"{text!r} is markup to a reader"
        shown.append(tree.text or "")
    assert "Bits & <Bytes>" in shown and "A & <b>B</b>" in shown
    assert any("<script>alert(1)</script>" in s for s in shown), shown


def test_script_permalinks_and_urls_never_become_post_links(tmp_path: Path) -> None:
    posts = {
        f"2025-06-0{n + 1}-p{n}.md": post_text(
            {"title": f"P{n}", "date": f"2025-06-0{n + 1} 10:00:00 +0000", key: value}, "Body."
        )
        for n, (key, value) in enumerate(
            [
                ("permalink", JS),
                ("permalink", f"\u3000{JS}"),
                ("url", f"\x01 {DATA}"),
                ("url", f"java\tscript:{JS[11:]}"),
                ("permalink", f" {VBS}"),
            ]
        )
    }
    config = load_config(write_site(tmp_path, posts))
    report = build_site(config, NOW)
    assert report.ok and report.posts == len(posts), report.problems
    found = published_urls(config.output_dir)
    assert not unsafe(found), "\n".join(unsafe(found))
    assert len([u for u in found["all.json"] if u.startswith(f"{SITE_URL}/")]) >= len(posts)
