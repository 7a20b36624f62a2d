"""jekyll-feed's feed URLs keep answering in ``serve`` with feedsmith's Atom documents.

A real build lays down the output; the app is then created with ``jekyll:`` set (only its
aliases matter here), and every alias must answer exactly as the file it stands for.
"""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from flask.testing import FlaskClient

from feedsmith.core.config import Config, JekyllSite
from feedsmith.pipeline.site import build_site
from feedsmith.serve.aliases import FeedAliases
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore

CT_ATOM = "application/atom+xml; charset=utf-8"
NOW = datetime(2030, 1, 1, tzinfo=UTC)

POSTS = {
    "2016-01-01-welcome.md": ("Welcome", "2016-01-01 10:00:00 -0800", "Release", "jekyll"),
    "2016-02-01-second.md": ("Second post", "2016-02-01 10:00:00 PST", "Release", "news"),
    "2016-03-01-third.md": ("Third 日本語", "Mar 1 2016 10:00", "日記", "news"),
}

# What a subscriber's reader fetched from /feed.xml before the switch, in jekyll-feed's shape.
JEKYLL_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <generator uri="https://jekyllrb.com/" version="4.3.2">Jekyll</generator>
  <link href="https://blog.example.com/feed.xml" rel="self" type="application/atom+xml" />
  <link href="https://blog.example.com/" rel="alternate" type="text/html" hreflang="en" />
  <updated>2016-03-01T10:00:00+00:00</updated>
  <id>https://blog.example.com/feed.xml</id>
  <title type="html">Test Blog</title>
  <subtitle>A blog for tests</subtitle>
  <author><name>Site Author</name></author>
  {entries}
</feed>
"""
JEKYLL_ENTRY = """<entry>
    <title type="html">{title}</title>
    <link href="https://blog.example.com/{slug}/" rel="alternate" type="text/html" />
    <published>{date}</published>
    <updated>{date}</updated>
    <id>https://blog.example.com/{slug}</id>
    <content type="html" xml:base="https://blog.example.com/{slug}/">&lt;p&gt;Body&lt;/p&gt;</content>
    <category term="{tag}" />
  </entry>"""


@pytest.fixture
def built(site) -> Config:
    for name, (title, date, category, tag) in POSTS.items():
        site.write_post(
            name,
            f"---\ntitle: {title}\ndate: {date}\ncategories: [{category}]\ntags: [{tag}]\n---\n"
            f"Body of {title} with a [link](../other/).\n",
        )
    config = site.config()
    report = build_site(config, now=NOW)
    assert report.posts == len(POSTS) and not report.problems, report.problems
    return config


def jekyll(config: Config, *aliases: tuple[str, str, str], feed_path: str = "/feed.xml") -> Config:
    site = JekyllSite(root=config.posts_dir, feed_path=feed_path, feed_aliases=tuple(aliases))
    return replace(config, jekyll=site)


def client_for(config: Config) -> FlaskClient:
    app = create_app(config, FeedStore.for_config(config), clock=lambda: NOW)
    return app.test_client()


def same_response(client: FlaskClient, alias: str, real: str, **headers: str) -> bytes:
    """The alias answers exactly as the real URL: status, headers (bar Date), body."""
    a = client.get(alias, headers=headers)
    r = client.get(real, headers=headers)
    assert a.status_code == r.status_code
    strip = {"Date"}
    assert [h for h in a.headers if h[0] not in strip] == [
        h for h in r.headers if h[0] not in strip
    ]
    assert a.data == r.data
    return a.data


def test_feed_xml_is_the_site_feed_and_parses_as_atom(built: Config) -> None:
    client = client_for(jekyll(built))
    response = client.get("/feed.xml")
    assert response.status_code == 200
    assert response.content_type == CT_ATOM
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    body = same_response(client, "/feed.xml", "/feeds/all.atom.xml")
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert {e.title for e in parsed.entries} == {t for t, *_ in POSTS.values()}
    # The document names its own (feedsmith) URL: readers that follow self links move there.
    assert "https://blog.example.com/feeds/all.atom.xml" in {
        link.href for link in parsed.feed.links if link.rel == "self"
    }


def test_a_reader_of_the_jekyll_feed_gets_the_same_posts_at_the_same_url(built: Config) -> None:
    entries = "\n".join(
        JEKYLL_ENTRY.format(title=t, slug=n[11:-3], date="2016-01-01T00:00:00+00:00", tag=g)
        for n, (t, _d, _c, g) in POSTS.items()
    )
    before = feedparser.parse(JEKYLL_FEED.format(entries=entries))
    assert not before.bozo and before.version == "atom10"
    old_url = next(link.href for link in before.feed.links if link.rel == "self")
    path = "/" + old_url.split("/", 3)[3]
    after = feedparser.parse(client_for(jekyll(built)).get(path).data)
    assert not after.bozo
    assert after.version == before.version
    assert after.feed.title == before.feed.title
    assert sorted(e.title for e in after.entries) == sorted(e.title for e in before.entries)


def test_conditional_gzip_and_head_match_the_real_file(built: Config) -> None:
    client = client_for(jekyll(built))
    etag = client.get("/feed.xml").headers["ETag"]
    same_response(client, "/feed.xml", "/feeds/all.atom.xml", **{"If-None-Match": etag})
    assert client.get("/feed.xml", headers={"If-None-Match": etag}).status_code == 304
    modified = client.get("/feed.xml").headers["Last-Modified"]
    assert client.get("/feed.xml", headers={"If-Modified-Since": modified}).status_code == 304
    zipped = same_response(
        client, "/feed.xml", "/feeds/all.atom.xml", **{"Accept-Encoding": "gzip"}
    )
    assert gzip.decompress(zipped) == client.get("/feeds/all.atom.xml").data
    head = client.head("/feed.xml")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == client.get("/feed.xml").headers["Content-Length"]


def test_category_and_tag_feeds_answer_with_their_atom_documents(built: Config) -> None:
    config = jekyll(
        built,
        ("category", "release", "/feed/release.xml"),  # jekyll-feed lower/upper case as written
        ("category", "日記", "/feed/日記.xml"),
        ("tag", "news", "/feed/by_tag/news.xml"),
    )
    client = client_for(config)
    manifest = FeedStore.for_config(config).manifest()
    assert manifest is not None
    slugs = {(f["kind"], f["name"]): f["slug"] for f in manifest.feeds}
    release = f"/feeds/categories/{slugs[('category', 'Release')]}.atom.xml"
    body = same_response(client, "/feed/release.xml", release)
    assert {e.title for e in feedparser.parse(body).entries} == {"Welcome", "Second post"}
    news = f"/feeds/tags/{slugs[('tag', 'news')]}.atom.xml"
    same_response(client, "/feed/by_tag/news.xml", news)
    # A non-ASCII jekyll-feed path arrives percent-encoded.
    response = client.get("/feed/%E6%97%A5%E8%A8%98.xml")
    assert response.status_code == 200 and response.content_type == CT_ATOM
    assert [e.title for e in feedparser.parse(response.data).entries] == ["Third 日本語"]


def test_a_feed_that_no_longer_exists_is_404_never_410(site, built: Config) -> None:
    manifest = FeedStore.for_config(built).manifest()
    assert manifest is not None
    slug = next(f["slug"] for f in manifest.feeds if f["name"] == "日記")
    (site.posts_dir / "2016-03-01-third.md").unlink()
    build_site(built, now=NOW)
    client = client_for(jekyll(built, ("category", "日記", "/feed/diary.xml")))
    # feedsmith published the category feed, so its own URL says gone; the alias never was ours.
    assert client.get(f"/feeds/categories/{slug}.atom.xml").status_code == 410
    assert client.get("/feed/diary.xml").status_code == 404


def test_without_jekyll_the_paths_are_not_served(built: Config) -> None:
    client = client_for(built)
    assert client.get("/feed.xml").status_code == 404
    assert client.get("/feeds/all.atom.xml").status_code == 200


def test_a_configured_feed_path_without_leading_slash_answers(built: Config) -> None:
    client = client_for(jekyll(built, feed_path="atom.xml"))
    assert client.get("/atom.xml").status_code == 200
    assert client.get("/feed.xml").status_code == 404


def test_aliases_reject_other_methods_like_the_real_file(built: Config) -> None:
    client = client_for(jekyll(built))
    assert client.post("/feed.xml").status_code == client.post("/feeds/all.atom.xml").status_code


def test_alias_target_is_found_by_merged_name() -> None:
    feeds = [
        {"kind": "tag", "name": "ＡＩ", "files": {"tags/ai.rss.xml": {}, "tags/ai.atom.xml": {}}},
        {"kind": "all", "name": "all", "files": {"all.atom.xml": {}}},
    ]
    assert FeedAliases.target(("tag", "ai"), feeds) == "tags/ai.atom.xml"
    assert FeedAliases.target(("all", "all"), feeds) == "all.atom.xml"
    assert FeedAliases.target(("category", "ai"), feeds) is None
    no_atom = [{"kind": "all", "name": "all", "files": {"all.rss.xml": {}}}]
    assert FeedAliases.target(("all", "all"), no_atom) is None


def test_for_site_roots_paths_and_the_site_feed_wins(tmp_path: Path) -> None:
    site = JekyllSite(
        root=tmp_path, feed_path="feed.xml", feed_aliases=(("tag", "x", "/feed.xml"),)
    )
    aliases = FeedAliases.for_site(site)
    assert aliases.wanted("/feed.xml") == ("all", "all")
    assert not FeedAliases.for_site(None)


def test_feed_tags_true_answers_every_simple_tag_name_but_the_excepted(tmp_path: Path) -> None:
    site = JekyllSite(
        root=tmp_path,
        feed_aliases=(("tag", "*", "/feed/by_tag/"),),
        feed_tags_except=("private",),
    )
    aliases = FeedAliases.for_site(site)
    assert aliases.wanted("/feed/by_tag/Lanterns_2.xml") == ("tag", "lanterns_2")
    assert aliases.wanted("/feed/by_tag/private.xml") is None
    # jekyll-feed made no feed for a tag with other characters, so none answers here
    assert aliases.wanted("/feed/by_tag/旅行.xml") is None
    assert aliases.wanted("/feed/by_tag/a-b.xml") is None
    assert aliases.wanted("/feed.xml") == ("all", "all")
