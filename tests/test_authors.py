"""Author feeds: every author with a published post gets a feed, however the post names them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import feedparser
import pytest
from lxml import etree

from feedsmith.core.config import ConfigError
from feedsmith.pipeline import build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from published import read_published

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)
FORMATS = (".atom.xml", ".rss.xml", ".json")


def write(site: Any, name: str, date: str, author_yaml: str) -> None:
    site.write_post(
        f"{date}-{name}.md",
        f"---\ntitle: {name}\ndate: {date}\n{author_yaml}---\n\nBody of {name}.\n",
        dedent=False,
    )


def manifest(site: Any) -> dict[str, Any]:
    return json.loads((site.output_dir / "index.json").read_text("utf-8"))


def author_feeds(site: Any) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in manifest(site)["feeds"] if f["kind"] == "author"}


def file_for(feed: dict[str, Any], ext: str) -> str:
    (path,) = [p for p in feed["files"] if p.endswith(ext)]
    return path


def titles_in(site: Any, rel: str) -> list[str]:
    parsed = feedparser.parse((site.output_dir / rel).read_bytes())
    assert not parsed.bozo, parsed.bozo_exception
    return [e.title for e in parsed.entries]


def test_string_list_mapping_and_config_key_authors_each_get_a_feed(site: Any) -> None:
    write(site, "one", "2025-10-01", "author: Jane Doe\n")
    write(site, "two", "2025-10-02", "author: [Jane Doe, 山田太郎]\n")
    write(
        site,
        "three",
        "2025-10-03",
        "author: {name: Kim Lee, email: kim@example.com, url: 'https://kim.example/'}\n",
    )
    write(site, "four", "2025-10-04", "author: kim\n")
    config = site.config(
        authors={
            "kim": {"name": "Kim Lee", "email": "kim@example.com", "url": "https://kim.example/"}
        }
    )
    build_site(config, T1)

    feeds = author_feeds(site)
    assert set(feeds) == {"Jane Doe", "山田太郎", "Kim Lee"}
    assert titles_in(site, file_for(feeds["Jane Doe"], ".atom.xml")) == ["two", "one"]
    assert titles_in(site, file_for(feeds["山田太郎"], ".atom.xml")) == ["two"]
    # The mapping and the config key are one author: the same name, email and URL.
    assert titles_in(site, file_for(feeds["Kim Lee"], ".atom.xml")) == ["four", "three"]
    for feed in feeds.values():
        assert [Path(f).parent.name for f in feed["files"]] == ["authors"] * 3
        assert sorted(feed["urls"]) == ["atom", "json", "rss"]

    # Each entry lists its authors as the post gives them, in every format.
    yamada = site.output_dir / file_for(feeds["山田太郎"], ".atom.xml")
    atom = etree.fromstring(yamada.read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    names = [el.text for el in atom.findall("a:entry/a:author/a:name", ns)]
    assert names == ["Jane Doe", "山田太郎"]
    kim = json.loads((site.output_dir / file_for(feeds["Kim Lee"], ".json")).read_text("utf-8"))
    assert kim["items"][0]["authors"] == [{"name": "Kim Lee", "url": "https://kim.example/"}]


def test_a_post_with_two_authors_is_in_both_feeds_and_the_site_feed_once(site: Any) -> None:
    write(site, "duet", "2025-10-01", "authors: [Ann, Bob]\n")
    build_site(site.config(), T1)
    feeds = author_feeds(site)
    assert titles_in(site, file_for(feeds["Ann"], ".atom.xml")) == ["duet"]
    assert titles_in(site, file_for(feeds["Bob"], ".rss.xml")) == ["duet"]
    assert titles_in(site, "all.atom.xml") == ["duet"]


def test_case_and_width_variants_are_one_author_named_by_the_most_used_spelling(
    site: Any,
) -> None:
    write(site, "a", "2025-10-01", "author: ＡＮＮ\n")
    write(site, "b", "2025-10-02", "author: Ann\n")
    write(site, "c", "2025-10-03", "author: ann\n")
    write(site, "d", "2025-10-04", "author: Ann\n")
    build_site(site.config(), T1)
    feeds = author_feeds(site)
    assert list(feeds) == ["Ann"]
    assert titles_in(site, file_for(feeds["Ann"], ".atom.xml")) == ["d", "c", "b", "a"]
    # Entries keep the spelling their post uses: an author's name is not re-spelled.
    parsed = feedparser.parse((site.output_dir / file_for(feeds["Ann"], ".atom.xml")).read_bytes())
    assert [e.author for e in parsed.entries] == ["Ann", "ann", "Ann", "ＡＮＮ"]


def test_posts_with_only_the_site_default_author_make_no_author_feed(site: Any) -> None:
    write(site, "anon", "2025-10-01", "")
    write(site, "named", "2025-10-02", "author: Jane\n")
    build_site(site.config(), T1)
    assert list(author_feeds(site)) == ["Jane"]
    assert titles_in(site, file_for(author_feeds(site)["Jane"], ".atom.xml")) == ["named"]
    # ... though the default still names the entry's author in every feed.
    parsed = feedparser.parse((site.output_dir / "all.atom.xml").read_bytes())
    assert [e.author for e in parsed.entries] == ["Jane", "Site Author"]


def test_an_author_who_vanishes_is_gone_with_410_and_leaves_the_opml(site: Any) -> None:
    write(site, "one", "2025-10-01", "author: Jane\n")
    write(site, "two", "2025-10-02", "author: 山田太郎\n")
    config = site.config()
    build_site(config, T1)
    yamada = author_feeds(site)["山田太郎"]
    opml = (site.output_dir / "index.opml").read_text("utf-8")
    assert "Authors" in opml and yamada["urls"]["atom"].rsplit("/", 1)[1] in opml

    write(site, "two", "2025-10-02", "author: Jane\n")  # the owner re-attributes the post
    report = build_site(config, T2)
    assert report.feeds_removed == 3
    assert list(author_feeds(site)) == ["Jane"]
    assert set(manifest(site)["gone"]) == {*yamada["files"], "authors/山田太郎.html"}
    for rel in yamada["files"]:
        assert not (site.output_dir / rel).exists()
    client = create_app(config, FeedStore.for_config(config)).test_client()
    for url in yamada["urls"].values():
        assert client.get(url).status_code == 410
    assert client.get(author_feeds(site)["Jane"]["urls"]["atom"]).status_code == 200


def test_the_index_page_lists_authors(site: Any) -> None:
    write(site, "one", "2025-10-01", "author: 山田太郎\n")
    config = site.config()
    build_site(config, T1)
    page = (
        create_app(config, FeedStore.for_config(config))
        .test_client()
        .get("/")
        .get_data(as_text=True)
    )
    assert "Authors" in page and "山田太郎" in page


def test_an_edit_to_one_authors_post_leaves_the_other_authors_feed_alone(site: Any) -> None:
    write(site, "one", "2025-10-01", "author: Jane\n")
    write(site, "two", "2025-10-02", "author: Bob\n")
    config = site.config()
    build_site(config, T1)
    bob = author_feeds(site)["Bob"]["files"]
    before = {rel: (site.output_dir / rel).read_bytes() for rel in bob}
    site.write_post(
        "2025-10-01-one.md", "---\ntitle: one\ndate: 2025-10-01\nauthor: Jane\n---\n\nNew.\n"
    )
    report = build_site(config, T2)
    assert not set(report.files_written).intersection(bob)
    assert {rel: (site.output_dir / rel).read_bytes() for rel in bob} == before
    assert set(author_feeds(site)["Jane"]["files"]) <= set(report.files_written)


@pytest.mark.parametrize(
    ("authors", "key"),
    [
        ({"kim": 3}, "authors.kim"),
        ({"kim": {"name": "Kim", "twitter": "@k"}}, "authors.kim.twitter"),
        ({"kim": {"email": "k@example.com"}}, "authors.kim.name"),
        ({"kim": {"name": ["Kim"]}}, "authors.kim.name"),
        (["kim"], "authors"),
    ],
)
def test_bad_author_config_names_the_key(site: Any, authors: Any, key: str) -> None:
    with pytest.raises(ConfigError) as raised:
        site.config(authors=authors)
    assert raised.value.key == key
    assert str(site.config_path) in str(raised.value)


def test_an_author_feed_has_archives_that_reach_every_post(site: Any) -> None:
    for n in range(1, 24):
        write(site, f"p{n:02d}", f"2025-10-{n:02d}", "author: 山田太郎\n")
    build_site(site.config(feed={"max_entries": 5}), T1)
    feed = author_feeds(site)["山田太郎"]
    assert feed["archive"]["pages"] == 4
    seen: list[str] = []
    rel: str | None = file_for(feed, ".atom.xml")
    while rel is not None:
        parsed = feedparser.parse(read_published(site.output_dir / rel))
        seen.extend(e.title for e in parsed.entries)
        prev = [link.href for link in parsed.feed.links if link.rel == "prev-archive"]
        rel = unquote(prev[0].split("/feeds/", 1)[1]) if prev else None
    assert sorted(set(seen)) == sorted(f"p{n:02d}" for n in range(1, 24))
