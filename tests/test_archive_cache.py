"""Settled archive pages are cached for a month; emptied archive folders leave ``output_dir``.

Every page of a feed but its newest never changes in the normal course of things (see
:mod:`feedsmith.core.archive`), so ``serve`` and the bucket send it with a long immutable
``Cache-Control``; the newest page, the feeds and everything else keep the short one.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedsmith.core.layout import (
    ARCHIVE_CACHE_CONTROL,
    archive_page_number,
    archive_path,
    settled_archive_pages,
)
from feedsmith.pipeline import SiteBuilder, build_site
from feedsmith.publish.s3.sink import S3Sink
from feedsmith.serve.app import create_app
from feedsmith.serve.stores import FeedStore, parse_manifest
from s3_fixtures import BUCKET, Moto

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
SHORT = "public, max-age=300"  # serve's: schedule.interval_seconds, the default
JA = "三の倍数"
JA_URL = "%E4%B8%89%E3%81%AE%E5%80%8D%E6%95%B0"


def write_posts(site: Any, numbers: range) -> None:
    """Post ``n`` is ``n`` hours after START, tagged ``even``/``odd`` (and ``三の倍数``)."""
    for n in numbers:
        when = (START + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        tags = ["even" if n % 2 == 0 else "odd"] + ([JA] if n % 3 == 0 else [])
        site.write_post(
            f"p{n:03d}.md",
            f"---\ntitle: Post {n}\ndate: {when}\ntags: {json.dumps(tags)}\n---\n\nBody {n}.\n",
            dedent=False,
        )


@pytest.fixture
def blog(site: Any) -> Any:
    site.settings["feed"] = {"max_entries": 10, "archive_page_size": 5}
    # 53 posts: the site feed has pages 1-10, "odd" (27) 1-5, "三の倍数" (17) 1-3.
    write_posts(site, range(1, 54))
    return site


def manifest_of(site: Any) -> dict[str, Any]:
    return json.loads((site.output_dir / "index.json").read_bytes())


def pages(
    feed: str, numbers: range, formats: tuple[str, ...] = ("atom.xml", "rss.xml", "json")
) -> set[str]:
    return {archive_path(feed, n, "." + fmt) for n in numbers for fmt in formats}


# -- the rule (pure) ----------------------------------------------------------------------------


def test_every_page_but_each_feeds_newest_is_settled(blog: Any) -> None:
    build_site(blog.config(), T1)
    settled = settled_archive_pages(manifest_of(blog))
    expected = (
        pages("all", range(1, 10))
        | pages("tags/odd", range(1, 5))
        | pages("tags/even", range(1, 5))
        | pages(f"tags/{JA}", range(1, 3))
    )
    assert settled == expected


def test_a_manifest_without_archives_settles_nothing(site: Any) -> None:
    write_posts(site, range(1, 6))
    build_site(site.config(), T1)
    assert settled_archive_pages(manifest_of(site)) == frozenset()


@given(
    base=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20),
    page=st.integers(min_value=1, max_value=10**12),
    suffix=st.sampled_from([".atom.xml", ".rss.xml", ".json"]),
)
def test_the_page_number_is_read_back_from_any_archive_path(
    base: str, page: int, suffix: str
) -> None:
    assert archive_page_number(archive_path(base, page, suffix)) == page


@pytest.mark.parametrize(
    "rel",
    [
        "all.atom.xml",
        "archive/all/x.atom.xml",
        "archive/all/1",
        "archive/all/١.json",
        "tags/1.json",
    ],
)
def test_names_that_are_not_archive_pages_have_no_page_number(rel: str) -> None:
    assert archive_page_number(rel) is None


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=30), inner),
    max_leaves=30,
)
ARCHIVE_NAMES = st.builds(
    lambda base, n, fmt: f"archive/{base}/{n}{fmt}",
    st.sampled_from(["all", "tags/x", "tags/ä/b"]),
    st.integers(min_value=0, max_value=30),
    st.sampled_from([".atom.xml", ".json", ""]),
)


@given(manifest=JSONISH)
def test_any_json_as_the_manifest_never_breaks_the_rule(manifest: Any) -> None:
    for data in (
        manifest,
        {"feeds": manifest},
        {"feeds": [manifest]},
        {"feeds": [{"archive": manifest}]},
    ):
        settled = settled_archive_pages(data)
        assert all(isinstance(rel, str) and rel.startswith("archive/") for rel in settled)


@given(
    names=st.lists(ARCHIVE_NAMES | st.text(max_size=20), max_size=12),
    record=st.none() | st.integers() | st.text(max_size=5),
)
def test_in_one_feed_every_numbered_page_below_the_newest_settles_and_the_newest_never(
    names: list[str], record: Any
) -> None:
    manifest = {"feeds": [{"archive": {"pages": record, "files": dict.fromkeys(names, record)}}]}
    settled = settled_archive_pages(manifest)
    numbered = {rel: n for rel in names if (n := archive_page_number(rel)) is not None}
    newest = max(numbered.values(), default=0)
    assert settled == {rel for rel, n in numbered.items() if n < newest}


# -- serve ---------------------------------------------------------------------------------------


def client_for(site: Any) -> Any:
    config = site.config()
    return create_app(config, FeedStore.for_config(config), clock=lambda: T1).test_client()


def test_serve_sends_settled_pages_immutable_and_the_newest_page_and_feeds_short(
    blog: Any,
) -> None:
    build_site(blog.config(), T1)
    client = client_for(blog)
    for url in (
        "/feeds/archive/all/1.atom.xml",
        "/feeds/archive/all/9.rss.xml",
        "/feeds/archive/tags/odd/4.json",
        f"/feeds/archive/tags/{JA_URL}/2.atom.xml",
    ):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == ARCHIVE_CACHE_CONTROL, url
    for url in (
        "/feeds/archive/all/10.atom.xml",
        "/feeds/archive/tags/odd/5.json",
        f"/feeds/archive/tags/{JA_URL}/3.rss.xml",
        "/feeds/all.atom.xml",
        "/feeds/tags/odd.json",
        "/feeds/all.html",
        "/feeds/index.json",
        "/feeds/index.opml",
    ):
        answer = client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["Cache-Control"] == SHORT, url


def test_a_revalidated_or_gzipped_settled_page_keeps_the_long_cache_control(blog: Any) -> None:
    build_site(blog.config(), T1)
    client = client_for(blog)
    url = "/feeds/archive/all/3.atom.xml"
    first = client.get(url)
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.headers["Cache-Control"] == ARCHIVE_CACHE_CONTROL
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(zipped.data) == first.data
    assert zipped.headers["Cache-Control"] == ARCHIVE_CACHE_CONTROL
    assert client.head(url).headers["Cache-Control"] == ARCHIVE_CACHE_CONTROL


def test_the_newest_page_settles_when_the_next_page_fills(blog: Any) -> None:
    builder = SiteBuilder(blog.config(), watch=False)
    builder.build(T1)
    client = client_for(blog)
    assert client.get("/feeds/archive/all/10.json").headers["Cache-Control"] == SHORT
    write_posts(blog, range(54, 56))  # 55 posts: page 11 fills
    builder.build(T1 + timedelta(minutes=5))
    assert client.get("/feeds/archive/all/10.json").headers["Cache-Control"] == (
        ARCHIVE_CACHE_CONTROL
    )
    assert client.get("/feeds/archive/all/11.json").headers["Cache-Control"] == SHORT


def test_a_removed_post_that_unfills_a_page_makes_the_older_one_newest_again(blog: Any) -> None:
    builder = SiteBuilder(blog.config(), watch=False)
    builder.build(T1)
    for n in range(50, 54):  # 49 posts: 9 full pages, page 10 is gone
        (blog.posts_dir / f"p{n:03d}.md").unlink()
    builder.build(T1 + timedelta(minutes=5))
    client = client_for(blog)
    assert client.get("/feeds/archive/all/9.atom.xml").headers["Cache-Control"] == SHORT
    assert client.get("/feeds/archive/all/10.atom.xml").status_code == 410


def test_a_replica_reading_the_manifest_marks_the_same_pages(blog: Any) -> None:
    """``serve --from-bucket`` parses the bucket's copy of index.json the same way."""
    build_site(blog.config(), T1)
    raw = (blog.output_dir / "index.json").read_bytes()
    manifest = parse_manifest(raw, "etag", lambda rel: rel, None)
    immutable = {rel for rel, listed in manifest.files.items() if listed.immutable}
    assert immutable == settled_archive_pages(json.loads(raw))
    assert "archive/all/10.atom.xml" not in immutable and "all.atom.xml" not in immutable


# -- the bucket ----------------------------------------------------------------------------------


def bucket_builder(blog: Any, moto: Moto) -> SiteBuilder:
    config = blog.config(publish={"s3": {"bucket": BUCKET, "endpoint_url": moto.url}})
    assert config.publish.s3 is not None
    sink = S3Sink(config.publish.s3, config.state_dir, SHORT)
    return SiteBuilder(config, watch=False, sinks=[sink])


def cache_control(client: Any, key: str) -> str:
    return str(client.head_object(Bucket=BUCKET, Key="feeds/" + key)["CacheControl"])


@pytest.mark.slow
def test_the_bucket_holds_settled_pages_immutable_and_the_rest_short(blog: Any, moto: Moto) -> None:
    builder = bucket_builder(blog, moto)
    assert builder.build(T1).sink_errors == []
    client = moto.client()
    settled = settled_archive_pages(manifest_of(blog))
    assert settled
    for rel in settled:  # one object each: archive pages have no .gz twin in the bucket
        assert cache_control(client, rel) == ARCHIVE_CACHE_CONTROL, rel
    for rel in (
        "archive/all/10.atom.xml",
        "archive/tags/odd/5.json",
        "all.atom.xml",
        "all.rss.xml.gz",
        "tags/even.json",
        "index.json",
        "index.opml",
    ):
        assert cache_control(client, rel) == SHORT, rel

    write_posts(blog, range(54, 56))  # page 11 fills: page 10 settles and goes up again
    assert builder.build(T1 + timedelta(minutes=5)).sink_errors == []
    assert cache_control(client, "archive/all/10.atom.xml") == ARCHIVE_CACHE_CONTROL
    assert cache_control(client, "archive/all/11.atom.xml") == SHORT


# -- empty archive folders -----------------------------------------------------------------------


def test_a_feed_that_loses_its_pages_leaves_no_empty_folder(blog: Any) -> None:
    builder = SiteBuilder(blog.config(), watch=False)
    builder.build(T1)
    folder = blog.output_dir / "archive" / "tags" / JA
    assert folder.is_dir()
    for n in range(3, 22, 3):  # 7 of the 17 posts: 10 left, all in the tag's feed
        (blog.posts_dir / f"p{n:03d}.md").unlink()
    builder.build(T1 + timedelta(minutes=5))
    assert (blog.output_dir / "tags" / f"{JA}.atom.xml").is_file()
    assert not folder.exists()
    assert (blog.output_dir / "archive" / "tags" / "odd" / "1.atom.xml.gz").is_file()


def test_a_folder_holding_something_else_stays(blog: Any) -> None:
    builder = SiteBuilder(blog.config(), watch=False)
    builder.build(T1)
    folder = blog.output_dir / "archive" / "tags" / JA
    (folder / "notes.txt").write_text("mine\n", "utf-8")
    for n in range(3, 22, 3):
        (blog.posts_dir / f"p{n:03d}.md").unlink()
    builder.build(T1 + timedelta(minutes=5))
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_turning_archives_off_removes_the_whole_archive_folder(blog: Any) -> None:
    build_site(blog.config(), T1)
    assert (blog.output_dir / "archive").is_dir()
    blog.settings["feed"]["archive"] = False
    report = build_site(blog.config(), T1 + timedelta(minutes=5))
    assert "archive/all/1.atom.xml.gz" in report.files_removed  # the path on disk
    assert not (blog.output_dir / "archive").exists()
    assert (blog.output_dir / "tags").is_dir()
