"""Feed pages: a readable, safe HTML page per feed, written with the feeds and served like them."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

import html5lib
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.cli import main
from feedsmith.config import config_from_mapping
from feedsmith.core.config import ConfigError
from feedsmith.core.groups import FeedGroup
from feedsmith.core.model import Author, Post
from feedsmith.core.pages import PageRenderer
from feedsmith.pipeline import BuildError, build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)
BASE = "https://blog.example.com"
HOSTILE = '"><script>alert(1)</script><img src=x onerror=alert(2)> & </title>'


def parse(data: bytes) -> Element:
    """The page as an HTML5 parser builds it; strict: any parse error fails the test."""
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(data, transport_encoding="utf-8")


def write(site: Any, n: int, *, title: str | None = None, tags: tuple[str, ...] = ("AI",)) -> None:
    when = (datetime(2025, 10, 1, tzinfo=UTC) + timedelta(days=n)).strftime("%Y-%m-%d")
    site.write_post(
        f"{when}-p{n}.md",
        f"---\ntitle: {json.dumps(title or f'Post {n}')}\ndate: {when}\n"
        f"tags: {json.dumps(list(tags), ensure_ascii=False)}\n"
        f"excerpt: {json.dumps(f'Summary of post {n}')}\n---\n\nBody {n}.\n",
        dedent=False,
    )


def manifest(site: Any) -> dict[str, Any]:
    return json.loads((site.output_dir / "index.json").read_text("utf-8"))


def page_of(site: Any, feed: dict[str, Any]) -> bytes:
    return (site.output_dir / unquote(feed["page"].removeprefix("/feeds/"))).read_bytes()


def feed_named(site: Any, name: str) -> dict[str, Any]:
    (feed,) = [f for f in manifest(site)["feeds"] if f["name"] == name]
    return feed


def test_every_feed_has_a_valid_page_with_autodiscovery_and_the_sites_language(
    site: Any,
) -> None:
    for n in range(3):
        write(site, n, tags=("AI", "最新ニュース"))
    build_site(site.config(site={**site.settings["site"], "language": "ja"}), T1)
    feeds = manifest(site)["feeds"]
    assert [f["kind"] for f in feeds] == ["all", "tag", "tag"]
    for feed in feeds:
        root = parse(page_of(site, feed))
        assert root.get("lang") == "ja"
        alternates = {
            link.get("type"): link.get("href")
            for link in root.iter("link")
            if link.get("rel") == "alternate"
        }
        assert alternates == {
            "application/atom+xml": BASE + feed["urls"]["atom"],
            "application/rss+xml": BASE + feed["urls"]["rss"],
            "application/feed+json": BASE + feed["urls"]["json"],
        }
        canonical = [el.get("href") for el in root.iter("link") if el.get("rel") == "canonical"]
        assert canonical == [BASE + feed["page"]]
        # The subscribe box names every format's URL, readable without JavaScript.
        codes = [el.text for el in root.iter("code")]
        assert codes == [BASE + feed["urls"][fmt] for fmt in ("atom", "rss", "json")]
        buttons = [el for el in root.iter("button")]
        assert [b.get("data-copy") for b in buttons] == codes
        assert all(b.get("hidden") is not None for b in buttons)  # shown by feedsmith.js
    tag = feed_named(site, "最新ニュース")
    assert tag["page"] == "/feeds/tags/%E6%9C%80%E6%96%B0%E3%83%8B%E3%83%A5%E3%83%BC%E3%82%B9.html"
    root = parse(page_of(site, tag))
    assert root.findtext("head/title") == "Test Blog — tag: 最新ニュース"
    entries = [(a.text, a.get("href")) for a in root.iter("a")]
    assert ("Post 2", f"{BASE}/2025/10/03/p2.html") in entries


def test_entries_show_title_link_date_and_summary_newest_first(site: Any) -> None:
    for n in range(3):
        write(site, n)
    build_site(site.config(), T1)
    root = parse(page_of(site, feed_named(site, "AI")))
    items = root.findall(".//section[@class='entries']/ol/li")
    got = [
        (
            li.find("h3/a").text,  # type: ignore[union-attr]
            li.find("h3/a").get("href"),  # type: ignore[union-attr]
            li.find("p/time").get("datetime"),  # type: ignore[union-attr]
            li.findtext("p[@class='summary']"),
        )
        for li in items
    ]
    assert got == [
        (
            f"Post {n}",
            f"{BASE}/2025/10/{n + 1:02d}/p{n}.html",
            f"2025-10-{n + 1:02d}T00:00:00+00:00",
            f"Summary of post {n}",
        )
        for n in (2, 1, 0)
    ]


def test_hostile_titles_names_and_site_text_are_escaped(site: Any) -> None:
    write(site, 1, title=HOSTILE, tags=(HOSTILE,))
    settings = {**site.settings["site"], "title": HOSTILE, "description": HOSTILE}
    build_site(site.config(site=settings), T1)
    for feed in manifest(site)["feeds"]:
        data = page_of(site, feed)
        assert b"<script>alert" not in data and b"<img" not in data
        root = parse(data)
        scripts = [el.get("src") for el in root.iter("script")]
        assert scripts == [("../" if "/" in feed["page"][7:] else "") + "feedsmith.js"]
        assert not list(root.iter("img"))
        assert all(not k.startswith("on") for el in root.iter() for k in el.attrib)
        assert HOSTILE in (root.findtext("head/title") or "")
        assert root.find("head/meta[@name='description']").get("content") == HOSTILE  # type: ignore[union-attr]
        titles = [a.text for a in root.findall(".//section[@class='entries']//h3/a")]
        assert titles == [HOSTILE]


def test_every_link_is_absolute_except_the_pages_own_assets(site: Any) -> None:
    for n in range(25):
        write(site, n)
    build_site(site.config(), T1)
    for feed in manifest(site)["feeds"]:
        root = parse(page_of(site, feed))
        for el in [*root.iter("a"), *root.iter("link")]:
            href = el.get("href") or ""
            if el.get("rel") == "stylesheet":
                assert href.endswith("feedsmith.css") and "//" not in href
            else:
                assert href.startswith(("https://", "http://")), href


def test_archive_pages_are_linked_newest_first_and_match_the_manifest(site: Any) -> None:
    for n in range(23):  # four full pages of five, three posts only in the subscription
        write(site, n)
    build_site(site.config(feed={"max_entries": 5}), T1)
    feed = feed_named(site, "AI")
    assert feed["archive"]["pages"] == 4
    root = parse(page_of(site, feed))
    section = root.find(".//section[@class='archives']")
    assert section is not None
    rows = section.findall("ul/li")
    hrefs = [[a.get("href") for a in li.findall("a")] for li in rows]
    assert [h[0] for h in hrefs] == [
        f"{BASE}/feeds/archive/tags/ai/{n}.atom.xml" for n in (4, 3, 2, 1)
    ]
    listed = {BASE + "/feeds/" + rel for rel in feed["archive"]["files"]}
    assert {href for row in hrefs for href in row} == listed
    assert len(root.findall(".//section[@class='entries']/ol/li")) == 5


def test_a_complete_feed_has_no_archive_section(site: Any) -> None:
    write(site, 1)
    build_site(site.config(), T1)
    assert (
        parse(page_of(site, feed_named(site, "AI"))).find(".//section[@class='archives']") is None
    )


def test_pages_are_served_as_html_with_etag_304_gzip_and_a_csp(site: Any) -> None:
    write(site, 1)
    config = site.config()
    build_site(config, T1)
    client = create_app(config, FeedStore.for_config(config)).test_client()
    page = feed_named(site, "AI")["page"]
    got = client.get(page)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in got.headers["Content-Security-Policy"]
    assert got.data == page_of(site, feed_named(site, "AI"))
    again = client.get(page, headers={"If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304
    zipped = client.get(page, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == got.data
    assert client.head(page).status_code == 200
    css = client.get("/feeds/feedsmith.css")
    js = client.get("/feeds/feedsmith.js")
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    assert js.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert b"clipboard" in js.data


def test_the_index_page_links_each_feed_to_its_page(site: Any) -> None:
    write(site, 1)
    config = site.config()
    build_site(config, T1)
    html = create_app(config, FeedStore.for_config(config)).test_client().get("/").data
    root = parse(html)
    hrefs = {a.get("href") for a in root.iter("a")}
    assert {f["page"] for f in manifest(site)["feeds"]} <= hrefs


def test_pages_follow_their_feed_and_nothing_else(site: Any) -> None:
    write(site, 1, tags=("a",))
    write(site, 2, tags=("b",))
    config = site.config()
    first = build_site(config, T1)
    assert "tags/a.html" in first.files_written
    again = build_site(config, T2)
    assert again.files_written == ()
    write(site, 3, tags=("a",))
    report = build_site(config, T2)
    assert {"all.html", "tags/a.html"} <= set(report.files_written)
    assert not {"tags/b.html", "feedsmith.css", "feedsmith.js"} & set(report.files_written)


def test_the_same_input_gives_byte_identical_pages(site: Any, tmp_path: Path) -> None:
    for n in range(4):
        write(site, n, tags=("AI", "日本"))
    build_site(site.config(), T1)
    first = {
        p.relative_to(site.output_dir): p.read_bytes() for p in site.output_dir.rglob("*.html")
    }
    other = tmp_path / "again"
    build_site(site.config(output_dir=str(other), state_dir=str(tmp_path / "state2")), T2)
    second = {p.relative_to(other): p.read_bytes() for p in other.rglob("*.html")}
    assert first == second and len(first) == 3


def test_turning_pages_off_removes_them_and_their_assets(site: Any) -> None:
    write(site, 1)
    build_site(site.config(), T1)
    assert (site.output_dir / "tags/ai.html").exists()
    build_site(site.config(feed={"pages": False}), T2)
    assert (
        not list(site.output_dir.rglob("*.html"))
        and not (site.output_dir / "feedsmith.js").exists()
    )
    data = manifest(site)
    assert all("page" not in f for f in data["feeds"])
    assert {"tags/ai.html", "all.html", "feedsmith.css", "feedsmith.js"} <= set(data["gone"])


def test_a_custom_template_replaces_the_page_and_an_edit_is_picked_up(site: Any) -> None:
    write(site, 1)
    templates = site.root / "templates"
    templates.mkdir()
    (templates / "feed.html").write_text(
        "<!doctype html><html lang={{ lang }}><title>{{ feed.title }}</title>"
        "<p>custom {{ entries|length }}</p></html>\n",
        "utf-8",
    )
    config = site.config(templates_dir="templates")
    build_site(config, T1)
    assert b"<p>custom 1</p>" in (site.output_dir / "tags/ai.html").read_bytes()
    (templates / "feed.html").write_text(
        "<!doctype html><html lang={{ lang }}><title>{{ feed.title }}</title>"
        "<p>edited</p></html>\n",
        "utf-8",
    )
    report = build_site(config, T2)  # a new one-off build: no fast path past the edit
    assert "tags/ai.html" in report.files_written
    assert b"<p>edited</p>" in (site.output_dir / "tags/ai.html").read_bytes()
    # ... and the owner's index.html replaces the server's front page too.
    (templates / "index.html").write_text("<p>my front page: {{ site.title }}</p>", "utf-8")
    assert (
        create_app(config, FeedStore.for_config(config)).test_client().get("/").data
        == b"<p>my front page: Test Blog</p>"
    )


@pytest.mark.parametrize(
    ("template", "needle"),
    [
        ("{% if %}", "feed.html:1"),  # a syntax error
        ("line one\n{{ feed.no_such_field }}", "no_such_field"),  # a typo: StrictUndefined
    ],
)
def test_a_broken_template_fails_the_build_and_keeps_the_last_pages(
    site: Any, template: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(site, 1)
    templates = site.root / "templates"
    templates.mkdir()
    config = site.config(templates_dir="templates")
    build_site(config, T1)
    before = (site.output_dir / "tags/ai.html").read_bytes()
    (templates / "feed.html").write_text(template, "utf-8")
    write(site, 2)
    with pytest.raises(BuildError) as raised:
        build_site(config, T2)
    assert needle in str(raised.value)
    assert (site.output_dir / "tags/ai.html").read_bytes() == before
    assert main(["-c", str(site.config_path), "build"]) == 3
    assert needle in capsys.readouterr().err
    # `check` renders the site feed's page too, so the template is caught before a build.
    assert main(["-c", str(site.config_path), "check"]) == 1
    assert needle in capsys.readouterr().out
    (templates / "feed.html").unlink()
    assert main(["-c", str(site.config_path), "check"]) == 0


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"templates_dir": "nowhere"}, "templates_dir"),
        ({"templates_dir": 3}, "templates_dir"),
        ({"feed": {"pages": "yes"}}, "feed.pages"),
    ],
)
def test_bad_page_config_names_the_key(site: Any, overrides: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        site.config(**overrides)
    assert raised.value.key == key


# -- the renderer alone, on arbitrary text ---------------------------------------------------

# Surrogates, controls and noncharacters never reach a page: posts.py's xml_safe drops them.
text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")), max_size=40)


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> PageRenderer:
    """One renderer for every example: compiling the template is most of a render's cost."""
    root = tmp_path_factory.mktemp("pages")
    (root / "posts").mkdir()
    raw = {"site": {"title": HOSTILE, "url": BASE}, "posts_dir": "posts"}
    return PageRenderer(config_from_mapping(raw, root / "config.yaml"))


@given(title=text, summary=text, name=text.filter(lambda s: s.strip() != ""))
@settings(max_examples=200, deadline=None)
def test_any_text_stays_text(renderer: PageRenderer, title: str, summary: str, name: str) -> None:
    post = Post(
        source="p.md",
        id="tag:x,2025-01-01:p",
        slug="p",
        title=title or "t",
        url=f"{BASE}/p.html",
        date=T1,
        updated=T1,
        updated_explicit=False,
        categories=(),
        tags=(name,),
        authors=(Author(name),),
        summary=summary,
        content_html="<p>x</p>",
        content_hash="h",
    )
    group = FeedGroup("tag", name, name, "slug", (post,))
    root = parse(renderer.render(group, [post]))
    (h3,) = root.findall(".//section[@class='entries']//h3/a")
    assert h3.text == (title or "t")
    if summary:
        assert root.findtext(".//p[@class='summary']") == summary
    assert root.findtext("head/title") == f"{HOSTILE.strip()} — tag: {name}"
    assert [el.get("src") for el in root.iter("script")] == ["../feedsmith.js"]
