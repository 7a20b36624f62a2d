"""Renderers: Atom, RSS 2.0, JSON Feed 1.1 and OPML from hand-made Posts."""

from __future__ import annotations

import html
import json
import locale
import os
import random
import re
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feedsmith import __version__
from feedsmith.config import config_from_mapping
from feedsmith.core import documents
from feedsmith.core.config import Config
from feedsmith.core.documents import render_atom, render_group, render_json, render_rss
from feedsmith.core.groups import FeedGroup, group_posts
from feedsmith.core.layout import feed_files, feed_url
from feedsmith.core.model import Author, Post
from feedsmith.core.opml import OpmlMemo, render_opml
from feedsmith.core.render import jsonfeed
from feedsmith.core.render.common import feed_id, rfc822
from feedsmith.core.render.entries import EntryCache, PackedEntryCache

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
DC = "{http://purl.org/dc/elements/1.1/}"
JST = timezone(timedelta(hours=9))
BASE = datetime(2025, 11, 16, 20, 35, 4, tzinfo=UTC)
RENDERERS: dict[str, Callable[[FeedGroup, Config], bytes]] = {
    "atom": render_atom,
    "rss": render_rss,
    "json": render_json,
}


def make_post(n: int, **overrides: Any) -> Post:
    date = overrides.pop("date", BASE + timedelta(hours=n))
    fields: dict[str, Any] = {
        "source": f"_posts/p{n}.md",
        "id": f"tag:example.com,2025-11-16:p{n:03d}",
        "slug": f"p{n}",
        "title": f"Post {n}",
        "url": f"https://blog.example.com/2025/11/16/p{n}.html",
        "date": date,
        "updated": overrides.pop("updated", date),
        "updated_explicit": False,
        "categories": ("投資分析",),
        "tags": ("AI", "最新ニュース"),
        "authors": (Author("ALLFORCES編集部"),),
        "summary": f"Summary {n} & <more>",
        "content_html": f"<p>Body <strong>{n}</strong></p>",
        "content_hash": f"h{n}",
        "extra": {"reading_time": 8, "layout": "post"},
    }
    fields.update(overrides)
    return Post(**fields)


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    (tmp_path / "posts").mkdir()

    def factory(**feed: Any) -> Config:
        raw: dict[str, Any] = {
            "site": {
                "title": "Test Blog",
                "url": "https://blog.example.com",
                "description": "A blog for tests",
                "language": "ja",
                "author": "Site Author",
            },
            "posts_dir": "posts",
        }
        if feed:
            raw["feed"] = feed
        return config_from_mapping(raw, tmp_path / "config.yaml")

    return factory


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


def groups_for(posts: list[Post]) -> list[FeedGroup]:
    return group_posts(posts, {})[0]


def group_named(groups: list[FeedGroup], kind: str, key: str) -> FeedGroup:
    return next(g for g in groups if g.kind == kind and g.key == key)


def sample_groups() -> list[FeedGroup]:
    return groups_for([make_post(n) for n in range(1, 4)])


# -- every format parses ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_every_xml_feed_parses_without_bozo_and_is_well_formed(fmt: str, config: Config) -> None:
    for group in sample_groups():
        data = RENDERERS[fmt](group, config)
        assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
        etree.fromstring(data)
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, parsed.get("bozo_exception")
        assert len(parsed.entries) == 3


def test_json_feed_has_required_fields_and_types(config: Config) -> None:
    group = sample_groups()[0]
    feed = json.loads(render_json(group, config))
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"] == "Test Blog"
    assert feed["home_page_url"] == "https://blog.example.com/"
    assert feed["feed_url"] == "https://blog.example.com/feeds/all.json"
    assert feed["language"] == "ja"
    assert feed["authors"] == [{"name": "Site Author"}]
    assert isinstance(feed["items"], list) and len(feed["items"]) == 3
    item = feed["items"][0]
    assert item["id"] == "tag:example.com,2025-11-16:p003"
    assert item["url"].startswith("https://")
    assert item["title"] == "Post 3"
    assert item["content_html"] == "<p>Body <strong>3</strong></p>"
    assert item["summary"] == "Summary 3 & <more>"
    assert item["date_published"] == "2025-11-16T23:35:04Z"
    assert item["date_modified"] == "2025-11-16T23:35:04Z"
    assert item["tags"] == ["投資分析", "AI", "最新ニュース"]
    assert item["authors"] == [{"name": "ALLFORCES編集部"}]
    assert item["_feedsmith"]["reading_time"] == 8
    assert "layout" not in item["_feedsmith"]  # only known-safe extras are exposed


def test_json_feed_item_image_and_author_url(config: Config) -> None:
    post = make_post(
        1,
        image="https://blog.example.com/img/a.png",
        authors=(Author("A", email="a@example.com"), Author("B", uri="https://b.example")),
    )
    item = json.loads(render_json(groups_for([post])[0], config))["items"][0]
    assert item["image"] == "https://blog.example.com/img/a.png"
    assert item["authors"] == [
        {"name": "A", "url": "mailto:a@example.com"},
        {"name": "B", "url": "https://b.example"},
    ]


def test_atom_carries_every_required_element(config: Config) -> None:
    groups = sample_groups()
    tag = group_named(groups, "tag", "ai")
    root = etree.fromstring(render_atom(tag, config))
    assert root.findtext(f"{ATOM}id") == "tag:blog.example.com,2005:feeds/tag/ai"
    assert root.findtext(f"{ATOM}title") == "Test Blog — tag: AI"
    assert root.findtext(f"{ATOM}updated") == "2025-11-16T23:35:04Z"
    assert root.findtext(f"{ATOM}subtitle") == "A blog for tests"
    links = {link.get("rel"): link.get("href") for link in root.findall(f"{ATOM}link")}
    assert links == {
        "self": "https://blog.example.com/feeds/tags/ai.atom.xml",
        "alternate": "https://blog.example.com/",
    }
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "Site Author"
    generator = root.find(f"{ATOM}generator")
    assert generator is not None and generator.text == "feedsmith"
    assert generator.get("version") == __version__ and generator.get("uri")
    entry = root.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}id") == "tag:example.com,2025-11-16:p003"
    assert entry.findtext(f"{ATOM}published") == "2025-11-16T23:35:04Z"
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "ALLFORCES編集部"
    assert entry.findtext(f"{ATOM}summary") == "Summary 3 & <more>"
    content = entry.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    assert content.text == "<p>Body <strong>3</strong></p>"
    cats = [(c.get("term"), c.get("label")) for c in entry.findall(f"{ATOM}category")]
    assert cats == [("投資分析", "投資分析"), ("AI", "AI"), ("最新ニュース", "最新ニュース")]


def test_rss_carries_every_required_element(config: Config) -> None:
    root = etree.fromstring(render_rss(sample_groups()[0], config))
    channel = root.find("channel")
    assert channel is not None
    self_link = channel.find(f"{ATOM}link")
    assert self_link is not None and self_link.get("rel") == "self"
    assert self_link.get("href") == "https://blog.example.com/feeds/all.rss.xml"
    assert channel.findtext("link") == "https://blog.example.com/"
    assert channel.findtext("language") == "ja"
    assert channel.findtext("description") == "A blog for tests"
    item = channel.find("item")
    assert item is not None
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    # RSS descriptions are HTML: the plain-text summary is escaped once more.
    assert item.findtext("description") == "Summary 3 &amp; &lt;more&gt;"
    assert item.findtext(f"{CONTENT}encoded") == "<p>Body <strong>3</strong></p>"
    assert item.findtext(f"{DC}creator") == "ALLFORCES編集部"
    assert [c.text for c in item.findall("category")] == ["投資分析", "AI", "最新ニュース"]
    assert item.findtext("pubDate") == "Sun, 16 Nov 2025 23:35:04 +0000"


@pytest.mark.parametrize(
    ("authors", "author", "creators"),
    [
        ((Author("Ann", "ann@example.com"),), "ann@example.com (Ann)", []),
        ((Author("Ann"),), None, ["Ann"]),
        (
            (Author("Ann", "ann@example.com"), Author("Bob", "bob@example.com")),
            None,
            ["Ann", "Bob"],
        ),
    ],
)
def test_an_rss_item_has_author_or_dc_creator_never_both(
    config: Config, authors: tuple[Author, ...], author: str | None, creators: list[str]
) -> None:
    group = groups_for([make_post(1, authors=authors)])[0]
    for rss in (render_rss(group, config), render_group(group, config, ["rss"])["rss"]):
        item = etree.fromstring(rss).find("channel/item")
        assert item is not None
        assert item.findtext("author") == author
        assert [c.text for c in item.findall(f"{DC}creator")] == creators
    atom = feedparser.parse(render_atom(group, config))
    assert [a["name"] for a in atom.entries[0].authors] == [a.name for a in authors]


def test_rss_plain_text_encodes_ampersand_and_less_than_as_hex_references(
    make_config: Callable[..., Config],
) -> None:
    config = make_config()
    post = make_post(1, title="AT&T says x < y", categories=("Q&A",), tags=("<b>",))
    group = groups_for([post])[0]
    for rss in (render_rss(group, config), render_group(group, config, ["rss"])["rss"]):
        item = rss[rss.index(b"<item>") :]
        assert b"<title>AT&#x26;T says x &#x3C; y</title>" in item
        assert b">Q&#x26;A</category>" in item and b">&#x3C;b&gt;</category>" in item
        assert b"&amp;" not in item.split(b"<description>")[0]
        parsed = feedparser.parse(rss)
        assert parsed.entries[0].title == "AT&T says x < y"
        assert html.unescape(parsed.entries[0].summary) == "Summary 1 & <more>"
    plain = render_rss(groups_for([make_post(2)])[0], config)
    assert b"&#x" not in plain  # nothing to encode: the bytes are as before


def test_rss_guid_equals_atom_id(config: Config) -> None:
    group = sample_groups()[0]
    atom_ids = [e.id for e in feedparser.parse(render_atom(group, config)).entries]
    rss = etree.fromstring(render_rss(group, config))
    assert [g.text for g in rss.iter("guid")] == atom_ids == [p.id for p in group.posts]


def test_feed_and_lastbuilddate_are_newest_entry_update_not_now(config: Config) -> None:
    old_edited = make_post(1, updated=datetime(2026, 1, 2, 3, 4, 5, tzinfo=JST))
    group = groups_for([old_edited, make_post(2)])[0]
    rss = etree.fromstring(render_rss(group, config))
    assert rss.findtext("channel/lastBuildDate") == "Thu, 01 Jan 2026 18:04:05 +0000"
    atom = etree.fromstring(render_atom(group, config))
    assert atom.findtext(f"{ATOM}updated") == "2026-01-01T18:04:05Z"
    assert json.loads(render_json(group, config))["items"][1]["date_modified"] == (
        "2026-01-01T18:04:05Z"
    )


def test_empty_site_feed_renders_with_a_fixed_date(config: Config) -> None:
    group = groups_for([])[0]
    for fmt, render in RENDERERS.items():
        data = render(group, config)
        assert data == render(group, config)
        if fmt != "json":
            assert feedparser.parse(data).bozo == 0
    assert b"1970-01-01T00:00:00Z" in render_atom(group, config)


# -- order, limits, content --------------------------------------------------------------------


def test_max_entries_and_newest_first_with_id_tie_break(
    make_config: Callable[..., Config],
) -> None:
    config = make_config(max_entries=3)
    same = BASE + timedelta(days=10)
    posts = [make_post(n) for n in range(1, 6)] + [
        make_post(8, date=same),
        make_post(7, date=same),
    ]
    group = groups_for(posts)[0]
    expected = [posts[6].id, posts[5].id, posts[4].id]  # p007, p008 (same date), then p005
    for fmt in ("atom", "rss"):
        parsed = feedparser.parse(RENDERERS[fmt](group, config))
        assert [e.id for e in parsed.entries] == expected
    items = json.loads(render_json(group, config))["items"]
    assert [i["id"] for i in items] == expected


def test_content_omitted_when_content_is_summary(make_config: Callable[..., Config]) -> None:
    config = make_config(content="summary")
    group = sample_groups()[0]
    atom = render_atom(group, config)
    rss = render_rss(group, config)
    assert b"<content" not in atom and b"Body" not in atom
    assert b"content:encoded" not in rss and b"Body" not in rss
    item = json.loads(render_json(group, config))["items"][0]
    assert "content_html" not in item
    assert item["content_text"] == item["summary"] == "Summary 3 & <more>"
    assert feedparser.parse(atom).bozo == 0 and feedparser.parse(rss).bozo == 0


def test_title_ending_in_replacement_character_survives_every_format(config: Config) -> None:
    title = "Anthropicの500億ドル投資の可能\ufffd"
    group = groups_for([make_post(1, title=title)])[0]
    for fmt in ("atom", "rss"):
        data = RENDERERS[fmt](group, config)
        etree.fromstring(data)
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0
        assert parsed.entries[0].title == title
    assert json.loads(render_json(group, config))["items"][0]["title"] == title


# -- determinism --------------------------------------------------------------------------------


def test_opml_from_its_memo_is_the_full_render_through_edits_and_new_feeds(
    config: Config,
) -> None:
    """The service's OPML memo (the last document with its dateModified replaced) gives the
    same bytes as a render from nothing, whatever changed: the newest post's date, nothing, a
    new feed, every post gone, a title with markup in it."""
    memo = OpmlMemo()
    posts = [make_post(n, tags=("AI", f"t{n % 3}")) for n in range(1, 6)]
    steps = [
        posts,
        posts,  # nothing changed
        [*posts[:-1], make_post(5, tags=("AI", "t2"), updated=BASE + timedelta(days=3))],
        [*posts[:-1], make_post(5, tags=("AI", "t2"), updated=BASE + timedelta(days=4))],
        [*posts, make_post(6, tags=("new <b>&</b>",))],  # a new feed
        [],  # no posts: no dateModified
        posts,
        [make_post(1, title="<dateModified>x</dateModified>", tags=("<dateModified>",))],
    ]
    replaced = 0
    for step in steps:
        groups = groups_for(step)
        before = memo.last
        got = render_opml(groups, config, memo)
        assert got == render_opml(groups, config)
        if before is not None and before[0] == memo.last[0] and before[2] != got:
            replaced += 1  # taken from the last document, only the date changed
    assert replaced >= 2


def test_output_is_byte_identical_for_the_same_posts_in_any_order(config: Config) -> None:
    posts = [make_post(n, tags=("AI", f"t{n % 3}")) for n in range(1, 12)]
    posts.append(make_post(20, tags=("ai",)))
    reference = groups_for(posts)
    rendered = {
        (g.kind, g.key, fmt): render(g, config)
        for g in reference
        for fmt, render in RENDERERS.items()
    }
    opml = render_opml(reference, config)
    rng = random.Random(3)
    for _ in range(3):
        shuffled = posts[:]
        rng.shuffle(shuffled)
        again = groups_for(shuffled)
        assert render_opml(again, config) == opml
        for g in again:
            for fmt, render in RENDERERS.items():
                assert render(g, config) == rendered[(g.kind, g.key, fmt)]


def test_feed_id_does_not_depend_on_url_scheme(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    ids = set()
    for url in ("http://blog.example.com", "https://blog.example.com"):
        cfg = config_from_mapping({"site": {"url": url}, "posts_dir": "posts"}, tmp_path / "c.yml")
        ids.add(feed_id(sample_groups()[1], cfg))
    assert len(ids) == 1


# -- URLs and file names -----------------------------------------------------------------------


def test_feed_files_layout(config: Config) -> None:
    groups = sample_groups()
    assert feed_files(groups[0], ("atom", "rss", "json")) == {
        "atom": "all.atom.xml",
        "rss": "all.rss.xml",
        "json": "all.json",
    }
    tag = group_named(groups, "tag", "最新ニュース")
    assert feed_files(tag, ("rss",)) == {"rss": "tags/最新ニュース.rss.xml"}
    cat = group_named(groups, "category", "投資分析")
    assert feed_files(cat, ("json",)) == {"json": "categories/投資分析.json"}


def test_self_links_are_percent_encoded_for_japanese_slugs(config: Config) -> None:
    tag = group_named(sample_groups(), "tag", "最新ニュース")
    expected = (
        "https://blog.example.com/feeds/tags/%E6%9C%80%E6%96%B0%E3%83%8B%E3%83%A5%E3%83%BC%E3%82%B9"
    )
    assert feed_url(config, "tags/最新ニュース.atom.xml") == expected + ".atom.xml"
    atom = etree.fromstring(render_atom(tag, config))
    hrefs = [link.get("href") for link in atom.findall(f"{ATOM}link[@rel='self']")]
    assert hrefs == [expected + ".atom.xml"]
    rss = etree.fromstring(render_rss(tag, config))
    assert rss.find(f"channel/{ATOM}link").get("href") == expected + ".rss.xml"  # type: ignore[union-attr]
    assert json.loads(render_json(tag, config))["feed_url"] == expected + ".json"
    for href in [*hrefs, json.loads(render_json(tag, config))["feed_url"]]:
        assert href.isascii()


# -- RSS dates and the locale ------------------------------------------------------------------


@pytest.fixture
def german_time_locale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Switch LC_ALL to a German locale (compiled into a tmp dir if the system has none)."""
    old = locale.setlocale(locale.LC_ALL)
    old_locpath = os.environ.get("LOCPATH")
    name = None
    for candidate in ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8"):
        try:
            locale.setlocale(locale.LC_ALL, candidate)
            name = candidate
            break
        except locale.Error:
            continue
    if name is None:
        locpath = tmp_path_factory.mktemp("locales")
        try:
            subprocess.run(
                ["localedef", "-i", "de_DE", "-f", "UTF-8", str(locpath / "de_DE.UTF-8")],
                check=True,
                capture_output=True,
                timeout=60,
            )
            os.environ["LOCPATH"] = str(locpath)
            locale.setlocale(locale.LC_ALL, "de_DE.UTF-8")
            name = "de_DE.UTF-8"
        except (OSError, subprocess.SubprocessError, locale.Error):
            pytest.skip("no non-English locale available")
    try:
        yield name
    finally:
        locale.setlocale(locale.LC_ALL, old)
        if old_locpath is None:
            os.environ.pop("LOCPATH", None)
        else:
            os.environ["LOCPATH"] = old_locpath


def test_rss_pubdate_is_english_under_a_german_locale(
    german_time_locale: str, config: Config
) -> None:
    march = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)  # Sunday: "So"/"Mär" in German
    assert march.strftime("%a %b") != "Sun Mar"  # the locale really is active
    post = make_post(1, date=march, updated=march)
    rss = render_rss(groups_for([post])[0], config)
    assert rfc822(march) == "Sun, 02 Mar 2025 09:00:00 +0000"
    assert b"<pubDate>Sun, 02 Mar 2025 09:00:00 +0000</pubDate>" in rss
    assert b"<lastBuildDate>Sun, 02 Mar 2025 09:00:00 +0000</lastBuildDate>" in rss
    assert locale.setlocale(locale.LC_ALL) != "C"  # left as it was found


def test_rfc822_dates_are_utc_english() -> None:
    for month in range(1, 13):
        dt = datetime(2024, month, 29 if month != 2 else 28, 23, 59, 59, tzinfo=JST)
        text = rfc822(dt)
        assert re.fullmatch(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000", text)
        assert parsedate_to_datetime(text) == dt


# -- OPML ---------------------------------------------------------------------------------------


def test_opml_parses_and_lists_every_feed_by_kind(config: Config) -> None:
    groups = sample_groups()
    root = etree.fromstring(render_opml(groups, config))
    assert root.tag == "opml" and root.get("version") == "2.0"
    body = root.find("body")
    assert body is not None
    folders = body.findall("outline")
    assert [f.get("text") for f in folders] == ["All posts", "Categories", "Tags", "Authors"]
    urls = [o.get("xmlUrl") for f in folders for o in f.findall("outline")]
    assert urls == [feed_url(config, feed_files(g, ["atom"])["atom"]) for g in groups]
    for outline in body.iter("outline"):
        if outline.get("xmlUrl"):
            assert outline.get("type") == "rss" and outline.get("text")
        else:  # a folder: `text` alone, so no `type` is missing (MissingOutlineType)
            assert dict(outline.attrib) == {"text": outline.get("text")}
    assert root.findtext("head/dateModified") == "Sun, 16 Nov 2025 23:35:04 +0000"


def test_opml_uses_rss_when_atom_is_not_published(make_config: Callable[..., Config]) -> None:
    config = make_config(formats=["rss", "json"])
    root = etree.fromstring(render_opml(sample_groups(), config))
    urls = [o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")]
    assert urls and all(u.endswith(".rss.xml") for u in urls)


# -- render_group ---------------------------------------------------------------------------------


@pytest.mark.parametrize("description", ["A blog for tests", ""])
def test_render_group_gives_the_same_bytes_as_the_single_renderers(
    tmp_path: Path, description: str
) -> None:
    (tmp_path / "posts").mkdir()
    config = config_from_mapping(
        {"site": {"title": "T", "description": description}, "posts_dir": "posts"},
        tmp_path / "c.yml",
    )
    for group in sample_groups():
        expected = {fmt: render(group, config) for fmt, render in RENDERERS.items()}
        assert render_group(group, config) == expected
        assert render_group(group, config, ["json", "rss", "atom"]) == expected
        assert list(render_group(group, config, ["rss", "atom"])) == ["rss", "atom"]


def test_atom_subtitle_only_when_the_site_has_a_description(tmp_path: Path) -> None:
    (tmp_path / "posts").mkdir()
    config = config_from_mapping({"posts_dir": "posts"}, tmp_path / "c.yml")
    group = sample_groups()[0]
    for data in (render_atom(group, config), render_group(group, config, ["rss", "atom"])["atom"]):
        assert etree.fromstring(data).find(f"{ATOM}subtitle") is None
    rss = etree.fromstring(render_rss(group, config))
    assert rss.findtext("channel/description") == "My blog"


def test_no_date_in_any_format_comes_from_the_clock(config: Config) -> None:
    posts = [make_post(n) for n in range(1, 4)]
    group = groups_for(posts)[0]
    allowed_iso = {f"{p.date:%Y-%m-%dT%H:%M:%S}Z" for p in posts}
    allowed_822 = {rfc822(p.date) for p in posts}
    rendered = render_group(group, config) | {"opml": render_opml([group], config)}
    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^\"<]*")
    rfc = re.compile(r"[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}")
    for data in rendered.values():
        text = data.decode()
        assert set(iso.findall(text)) <= allowed_iso
        assert set(rfc.findall(text)) <= allowed_822
    assert set(iso.findall(rendered["atom"].decode())) == allowed_iso
    assert set(rfc.findall(rendered["rss"].decode())) == allowed_822


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
_JSON_VALUES = st.recursive(
    _JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8) | st.integers(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON_VALUES)
@settings(deadline=None, max_examples=300)
def test_fast_json_writer_matches_json_dumps_byte_for_byte(value: Any) -> None:
    """The JSON Feed writer must give exactly what json.dumps(indent=2) gives, errors included."""
    try:
        expected: str | type[Exception] = json.dumps(
            value, ensure_ascii=False, indent=2, allow_nan=False
        )
    except ValueError:
        expected = ValueError
    try:
        got: str | type[Exception] = jsonfeed._indented_json(value)
    except ValueError:
        got = ValueError
    assert got == expected


# -- entry fragments spliced into documents ------------------------------------------------------

_TEXT = st.text(alphabet=st.sampled_from(list("aZ09 &<>\"'é日本語—\t")), min_size=0, max_size=12)


@st.composite
def _posts(draw: st.DrawFn) -> list[Post]:
    count = draw(st.integers(min_value=0, max_value=4))
    posts = []
    for n in range(1, count + 1):
        posts.append(
            make_post(
                n,
                title=draw(_TEXT) or f"t{n}",
                summary=draw(_TEXT),
                content_html=draw(st.sampled_from(["", "<p>x &amp; y</p>", "<p>本文</p>\n"])),
                authors=tuple(Author(a) for a in draw(st.lists(_TEXT.filter(bool), max_size=2))),
                categories=tuple(draw(st.lists(_TEXT.filter(str.strip), max_size=2))),
                tags=tuple(draw(st.lists(_TEXT.filter(str.strip), max_size=3))),
                extra=draw(st.sampled_from([{}, {"reading_time": 3}, {"reading_time": 2.5}])),
                lang=draw(st.sampled_from([None, "en", "ja"])),
            )
        )
    return posts


@settings(deadline=None, max_examples=60)
@given(posts=_posts(), content=st.sampled_from(["full", "summary"]), described=st.booleans())
def test_spliced_documents_match_feedgens_whole_documents_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory, posts: list[Post], content: str, described: bool
) -> None:
    root = tmp_path_factory.mktemp("site")
    (root / "posts").mkdir()
    site: dict[str, Any] = {"title": "T & <b>", "author": "Ed"}
    if described:
        site["description"] = "About é & <x>"
    config = config_from_mapping(
        {"site": site, "posts_dir": "posts", "feed": {"content": content}}, root / "c.yml"
    )
    for group in groups_for(posts):
        expected = {fmt: render(group, config) for fmt, render in RENDERERS.items()}
        assert render_group(group, config) == expected


def test_entry_cache_renders_each_post_once_across_feeds(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    posts = [make_post(n) for n in range(1, 4)]
    groups = groups_for(posts)  # all, one category, two tags, one author: each post in all five
    uncached = [render_group(group, config) for group in groups]
    made: list[str] = []
    real = documents._entry_fragments

    def counting(post: Post, cfg: Config, formats: Any) -> Any:
        made.append(post.id)
        return real(post, cfg, formats)

    monkeypatch.setattr(documents, "_entry_fragments", counting)
    cache = EntryCache()
    for group, expected in zip(groups, uncached, strict=True):
        shown = group.posts[: config.feed.max_entries]
        keys = [f"{p.id}|{p.content_hash}" for p in shown]
        assert render_group(group, config, cache=cache, keys=keys) == expected
    assert len(groups) == 5
    assert sorted(made) == sorted(p.id for p in posts)  # each once, though in five feeds
    assert len(cache) == 3


def test_entry_cache_drops_least_recently_used_posts_first() -> None:
    cache = EntryCache(max_posts=2)
    cache.put("a", {"json": "A"})
    cache.put("b", {"json": "B"})
    assert cache.get("a") == {"json": "A"}  # a is now the most recently used
    cache.put("c", {"json": "C"})
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None


def test_packed_entry_cache_gives_back_what_was_put() -> None:
    cache = PackedEntryCache(max_posts=1)
    frags: dict[str, bytes | str] = {"atom": b"<entry>\xe6\x97\xa5</entry>\n", "json": '"日"'}
    cache.put("k", frags)
    assert cache.get("k") == frags
    cache.put("other", {"json": "x"})
    assert cache.get("k") is None and len(cache) == 1
