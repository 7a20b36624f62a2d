"""RFC 5005 archives: every post reachable from the subscription document, pages that stay put."""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import feedparser
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from feedsmith.core.archive import FH_NS, archive_groups
from feedsmith.core.config import ConfigError, FeedConfig
from feedsmith.core.groups import FeedGroup
from feedsmith.pipeline import SiteBuilder, build_site
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore
from published import read_published

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
FH = f"{{{FH_NS}}}"
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def write_posts(site: Any, numbers: range) -> None:
    """Post ``n`` is ``n`` hours after START, tagged ``even``/``odd`` (a Japanese tag for 3s)."""
    for n in numbers:
        when = (START + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tags = ["even" if n % 2 == 0 else "odd"] + (["三の倍数"] if n % 3 == 0 else [])
        site.write_post(
            f"p{n:03d}.md",
            f"---\ntitle: Post {n}\ndate: {when}\ntags: {json.dumps(tags)}\n---\n\nBody {n}.\n",
            dedent=False,
        )


def file_of(site: Any, url: str) -> Path:
    path = unquote(urlsplit(url).path)
    assert path.startswith("/feeds/"), url
    return site.output_dir / path[len("/feeds/") :]


def links(doc: etree._Element, rel: str) -> list[str]:
    return [el.get("href") for el in doc.iter(f"{ATOM}link") if el.get("rel") == rel]


def walk_xml(site: Any, rel: str) -> list[list[str]]:
    """The entry ids of each document from the subscription document back along
    ``prev-archive`` (Atom and RSS alike: both carry atom:link), checking each archive page's
    ``fh:archive`` and ``current`` link on the way."""
    first = site.output_dir / rel
    docs, seen_urls = [], set()
    path: Path | None = first
    while path is not None:
        raw = read_published(path)
        tree = etree.fromstring(raw)
        parsed = feedparser.parse(raw)
        assert not parsed.bozo, parsed.bozo_exception
        docs.append([e.id for e in parsed.entries])
        if path != first:
            assert tree.find(f".//{FH}archive") is not None
            (current,) = links(tree, "current")
            assert file_of(site, current) == first
        prev = links(tree, "prev-archive")
        assert len(prev) <= 1
        path = file_of(site, prev[0]) if prev else None
        assert path not in seen_urls, "a prev-archive loop"
        seen_urls.add(path)
    return docs


def walk_json(site: Any, rel: str) -> list[list[str]]:
    docs = []
    path: Path | None = site.output_dir / rel
    while path is not None:
        feed = json.loads(read_published(path))
        docs.append([item["id"] for item in feed["items"]])
        assert unquote(feed["feed_url"]).endswith("/" + rel)  # one feed, one identity
        path = file_of(site, feed["next_url"]) if "next_url" in feed else None
    return docs


@pytest.fixture
def blog(site: Any) -> Any:
    site.settings["feed"] = {"max_entries": 10, "archive_page_size": 5}
    write_posts(site, range(1, 54))  # 53 posts: 10 full pages of 5, 3 only in the feed
    return site


@pytest.mark.parametrize("rel", ["all.atom.xml", "all.rss.xml", "tags/odd.atom.xml"])
def test_following_prev_archive_from_the_feed_reaches_every_post_once_a_document(
    blog: Any, rel: str
) -> None:
    build_site(blog.config(), T1)
    docs = walk_xml(blog, rel)
    for doc in docs:
        assert len(doc) == len(set(doc)), "an entry twice in one document"
    seen = {i for doc in docs for i in doc}
    expected = 53 if rel.startswith("all") else 27
    assert len(seen) == expected
    # The same ids as the current feed gives them: the subscription document's are a subset.
    assert set(docs[0]) <= seen and len(docs[0]) == 10
    # Pages are numbered from the oldest: the last document reached holds the first posts.
    assert docs[-1][-1].endswith("p001") if rel.startswith("all") else True


def test_json_feed_next_url_walks_the_same_posts_as_atom(blog: Any) -> None:
    build_site(blog.config(), T1)
    atom = walk_xml(blog, "tags/三の倍数.atom.xml")
    jsonf = walk_json(blog, "tags/三の倍数.json")
    assert atom == jsonf
    assert {i for doc in jsonf for i in doc} == {
        i for doc in walk_xml(blog, "all.atom.xml") for i in doc if int(i[-3:]) % 3 == 0
    }


def test_every_post_in_the_posts_directory_is_in_the_archive(blog: Any) -> None:
    build_site(blog.config(), T1)
    ids = {i[-4:] for doc in walk_xml(blog, "all.atom.xml") for i in doc}
    assert ids == {f"p{n:03d}" for n in range(1, 54)}


def test_full_pages_are_byte_identical_after_a_new_post(blog: Any) -> None:
    config = blog.config()
    builder = SiteBuilder(config, watch=False)
    builder.build(T1)
    pages = sorted((blog.output_dir / "archive").rglob("*.*"))  # as stored: the .gz files
    before = {p: p.read_bytes() for p in pages}
    write_posts(blog, range(54, 55))  # 54 posts: still 10 full pages, 4 only in the feed
    report = builder.build(T1 + timedelta(minutes=5))
    assert not any(rel.startswith("archive/") for rel in report.files_written)
    assert {p: p.read_bytes() for p in pages} == before
    assert "all.atom.xml" in report.files_written


def test_a_filled_page_appears_and_only_its_older_neighbour_gains_a_next_archive_link(
    blog: Any,
) -> None:
    builder = SiteBuilder(blog.config(), watch=False)
    builder.build(T1)
    write_posts(blog, range(54, 56))  # 55 posts: page 11 fills
    report = builder.build(T1 + timedelta(minutes=5))
    archive_written = {r for r in report.files_written if r.startswith("archive/all/")}
    assert {r.split("/")[2].split(".")[0] for r in archive_written} == {"10", "11"}
    page10 = etree.fromstring(read_published(blog.output_dir / "archive/all/10.atom.xml"))
    assert [file_of(blog, u).name for u in links(page10, "next-archive")] == ["11.atom.xml"]
    page11 = etree.fromstring(read_published(blog.output_dir / "archive/all/11.atom.xml"))
    assert links(page11, "next-archive") == []


def test_editing_an_old_post_rewrites_only_the_pages_that_show_it(blog: Any) -> None:
    builder = SiteBuilder(blog.config(), watch=False)
    builder.build(T1)
    path = blog.posts_dir / "p007.md"
    path.write_text(path.read_text("utf-8").replace("Body 7.", "Body 7, edited."), "utf-8")
    report = builder.build(T1 + timedelta(minutes=5))
    written = {r.removesuffix(".gz") for r in report.files_written} - {"index.json"}
    # Post 7 is on page 2 of the site feed (posts 6-10) and on page 1 of "odd" (1..9).
    assert written == {
        f"archive/{feed}/{page}.{ext}"
        for feed, page in (("all", 2), ("tags/odd", 1))
        for ext in ("atom.xml", "rss.xml", "json")
    }


def test_a_no_change_rebuild_writes_nothing(blog: Any) -> None:
    build_site(blog.config(), T1)
    report = build_site(blog.config(), T1 + timedelta(minutes=5))
    assert report.files_written == () and report.feeds_written == 0


def test_a_feed_with_all_its_posts_in_the_feed_is_complete_and_has_no_archive(
    site: Any,
) -> None:
    write_posts(site, range(1, 6))
    build_site(site.config(), T1)
    for rel in ("all.atom.xml", "all.rss.xml"):
        tree = etree.parse(str(site.output_dir / rel)).getroot()
        assert tree.find(f".//{FH}complete") is not None
        assert links(tree, "prev-archive") == []
    assert not (site.output_dir / "archive").exists()
    manifest = json.loads((site.output_dir / "index.json").read_bytes())
    assert all("archive" not in feed for feed in manifest["feeds"])


def test_with_archives_off_feeds_carry_no_history_markup_and_no_pages(blog: Any) -> None:
    blog.settings["feed"]["archive"] = False
    build_site(blog.config(), T1)
    for rel in ("all.atom.xml", "all.rss.xml", "all.json"):
        data = (blog.output_dir / rel).read_bytes()
        assert b"syndication/history" not in data and b"archive" not in data
    assert not (blog.output_dir / "archive").exists()


def test_turning_archives_off_removes_the_pages_as_gone(blog: Any) -> None:
    build_site(blog.config(), T1)
    blog.settings["feed"]["archive"] = False
    report = build_site(blog.config(), T1 + timedelta(minutes=5))
    assert "archive/all/1.atom.xml.gz" in report.files_removed  # the path on disk
    manifest = json.loads((blog.output_dir / "index.json").read_bytes())
    assert "archive/all/1.atom.xml" in manifest["gone"]


def test_manifest_lists_pages_under_their_feed(blog: Any) -> None:
    build_site(blog.config(), T1)
    manifest = json.loads((blog.output_dir / "index.json").read_bytes())
    site_feed = next(f for f in manifest["feeds"] if f["kind"] == "all")
    assert site_feed["archive"]["pages"] == 10
    assert len(site_feed["archive"]["files"]) == 30
    assert set(site_feed["files"]) == {"all.atom.xml", "all.rss.xml", "all.json"}
    rec = site_feed["archive"]["files"]["archive/all/1.json"]
    plain = read_published(blog.output_dir / "archive/all/1.json")
    assert rec["bytes"] == len(plain) and rec["sha256"] == hashlib.sha256(plain).hexdigest()


def test_archive_pages_are_stored_only_gzip_compressed_and_feeds_keep_both(blog: Any) -> None:
    build_site(blog.config(), T1)
    out = blog.output_dir
    stored = sorted(p.relative_to(out).as_posix() for p in (out / "archive").rglob("*.*"))
    manifest = json.loads((out / "index.json").read_bytes())
    listed = [rel for feed in manifest["feeds"] for rel in feed.get("archive", {}).get("files", {})]
    assert len(listed) > 30 and stored == sorted(rel + ".gz" for rel in listed)
    for rel in ("all.atom.xml", "tags/odd.rss.xml", "all.json"):
        assert gzip.decompress((out / (rel + ".gz")).read_bytes()) == (out / rel).read_bytes()


def test_a_plain_archive_page_left_by_an_older_version_is_deleted_not_gone(blog: Any) -> None:
    build_site(blog.config(), T1)
    old = blog.output_dir / "archive/all/1.atom.xml"
    old.write_bytes(read_published(old))  # what an older feedsmith stored beside no .gz rule
    report = build_site(blog.config(), T1 + timedelta(minutes=5))
    assert not old.exists() and "archive/all/1.atom.xml" in report.files_removed
    manifest = json.loads((blog.output_dir / "index.json").read_bytes())
    assert "archive/all/1.atom.xml" not in manifest["gone"]
    assert set(report.files_written) <= {"index.json"}  # no page is written again


def test_archive_pages_are_served_like_feeds(blog: Any) -> None:
    config = blog.config()
    build_site(config, T1)
    client = create_app(config, FeedStore.for_config(config), clock=lambda: T1).test_client()
    url = "/feeds/archive/tags/%E4%B8%89%E3%81%AE%E5%80%8D%E6%95%B0/1.atom.xml"
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["Content-Type"].startswith("application/atom+xml")
    etag = first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == first.data
    # A page that never existed is a 404, not a 410.
    assert client.get("/feeds/archive/all/99.atom.xml").status_code == 404


def test_page_size_larger_than_max_entries_is_a_config_error(site: Any) -> None:
    site.settings["feed"] = {"max_entries": 10, "archive_page_size": 11}
    with pytest.raises(ConfigError, match=r"feed\.archive_page_size"):
        site.config()
    site.settings["feed"] = {"archive": "yes"}
    with pytest.raises(ConfigError, match=r"feed\.archive\b"):
        site.config()


@given(
    total=st.integers(min_value=0, max_value=200),
    max_entries=st.integers(min_value=1, max_value=30),
    data=st.data(),
)
def test_pages_and_feed_cover_every_post_and_full_pages_hold_page_size(
    total: int, max_entries: int, data: Any
) -> None:
    size = data.draw(st.integers(min_value=1, max_value=max_entries))
    posts = tuple(range(total, 0, -1))  # newest first; ints stand in for posts
    group = FeedGroup("all", "all", "all", "all", posts)  # type: ignore[arg-type]
    feed = FeedConfig(max_entries=max_entries, archive_page_size=size)
    subscription, pages = archive_groups(group, feed)
    shown = set(subscription.posts[:max_entries])
    on_pages = [p for page in pages for p in page.posts]
    assert len(on_pages) == len(set(on_pages))
    assert shown | set(on_pages) == set(posts)
    assert all(len(page.posts) == size for page in pages)
    assert [page.paging.page for page in pages if page.paging] == list(range(1, len(pages) + 1))
    if pages:
        assert pages[0].posts[-1] == 1  # page 1 ends with the oldest post
        assert subscription.paging is not None and subscription.paging.prev == len(pages)
    else:
        assert subscription.paging is not None and subscription.paging.complete
