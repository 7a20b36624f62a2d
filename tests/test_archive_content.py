"""``feed.archive_content``: archive pages carry summaries (the default) or full entries, while
the subscription document keeps ``feed.content``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedsmith.config import config_from_mapping
from feedsmith.core import documents
from feedsmith.core.archive import archive_groups
from feedsmith.core.config import Config, ConfigError
from feedsmith.core.groups import FeedGroup, group_posts
from feedsmith.core.render.entries import EntryCache
from feedsmith.pipeline import SiteBuilder, build_site
from published import published_text, read_published, stored_pages
from test_feeds import make_post  # the hand-made post of the reference tests

T1 = datetime(2025, 12, 1, 9, 0, tzinfo=UTC)
START = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
BODY = "The body of post {n}, *only* in full entries. UNIQUEBODY{n}"


def write_posts(site: Any, numbers: range) -> None:
    for n in numbers:
        when = (START + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        site.write_post(
            f"p{n:03d}.md",
            f"---\ntitle: Post {n}\ndate: {when}\nexcerpt: Summary {n}\ntags: [t]\n---\n\n"
            + BODY.format(n=n)
            + "\n",
            dedent=False,
        )


@pytest.fixture
def blog(site: Any) -> Any:
    site.settings["feed"] = {"max_entries": 4, "archive_page_size": 2}
    write_posts(site, range(1, 11))  # 10 posts: 5 full pages of 2; the newest 4 also in the feed
    return site


def pages(site: Any) -> list[Any]:
    root = site.output_dir / "archive"
    return stored_pages(root)


def test_archive_pages_carry_summaries_and_links_but_no_body_by_default(blog: Any) -> None:
    build_site(blog.config(), T1)
    found = pages(blog)
    assert len(found) == 2 * 5 * 3  # feeds all and t, 5 full pages of 2, 3 formats
    for page in found:
        data = published_text(page)
        assert "UNIQUEBODY" not in data, page
        assert "Summary " in data and "https://blog.example.com/" in data
    # The subscription documents keep the full content.
    for rel in ("all.atom.xml", "all.rss.xml", "all.json", "tags/t.atom.xml"):
        assert "UNIQUEBODY10" in (blog.output_dir / rel).read_text("utf-8")


def test_json_archive_items_carry_title_link_dates_tags_and_the_summary(blog: Any) -> None:
    build_site(blog.config(), T1)
    item = json.loads(read_published(blog.output_dir / "archive/all/1.json"))["items"][0]
    assert item["title"] == "Post 2" and item["url"].startswith("https://blog.example.com/")
    assert item["summary"] == "Summary 2" and item["content_text"] == "Summary 2"
    assert "content_html" not in item
    assert {"date_published", "date_modified"} <= item.keys() and item["tags"] == ["t"]


def test_archive_content_full_keeps_the_body_on_archive_pages(blog: Any) -> None:
    blog.settings["feed"]["archive_content"] = "full"
    build_site(blog.config(), T1)
    assert all("UNIQUEBODY" in published_text(p) for p in pages(blog))


def test_switching_archive_content_rewrites_the_pages(blog: Any) -> None:
    build_site(blog.config(), T1)
    blog.settings["feed"]["archive_content"] = "full"
    report = build_site(blog.config(), T1 + timedelta(minutes=5))
    assert "archive/all/1.atom.xml.gz" in report.files_written  # the path on disk
    assert "UNIQUEBODY1" in published_text(blog.output_dir / "archive/all/1.atom.xml")


def test_a_service_build_keeps_full_and_summary_entries_of_one_post_apart(blog: Any) -> None:
    """The builder keeps entries between builds; a post on a page and in the feed (the newest
    full page's posts are in both) must not borrow one entry for the other."""
    builder = SiteBuilder(blog.config(), watch=False)
    builder.build(T1)
    write_posts(blog, range(11, 13))  # posts 11 and 12 fill page 6, and are in the feed
    builder.build(T1 + timedelta(minutes=5))
    newest_page = blog.output_dir / "archive/all/6.atom.xml"
    assert "Post 12" in published_text(newest_page)
    for page in pages(blog):
        assert "UNIQUEBODY" not in published_text(page), page
    assert "UNIQUEBODY12" in (blog.output_dir / "all.atom.xml").read_text("utf-8")


@pytest.mark.parametrize("value", ["none", 1, True])
def test_archive_content_other_than_summary_or_full_is_a_config_error(
    site: Any, value: object
) -> None:
    site.settings["feed"] = {"archive_content": value}
    with pytest.raises(ConfigError, match=r"feed\.archive_content"):
        site.config()


def _config(tmp_path: Path, **feed: Any) -> Config:
    (tmp_path / "posts").mkdir(exist_ok=True)
    raw: dict[str, Any] = {
        "site": {"title": "T", "url": "https://b.example", "author": "A"},
        "posts_dir": "posts",
        "feed": {"max_entries": 3, "archive_page_size": 2, **feed},
    }
    return config_from_mapping(raw, tmp_path / "config.yaml")


def _site_groups(config: Config, total: int) -> tuple[FeedGroup, list[FeedGroup]]:
    posts = [make_post(n) for n in range(total, 0, -1)]
    group = next(g for g in group_posts(posts, {})[0] if g.kind == "all")
    return archive_groups(group, config.feed)


@given(
    total=st.integers(min_value=0, max_value=9),
    archive_content=st.sampled_from(["summary", "full"]),
    content=st.sampled_from(["summary", "full"]),
)
@settings(deadline=None, max_examples=40)
def test_spliced_documents_equal_whole_documents_and_keys_part_exactly_when_bytes_do(
    tmp_path_factory: pytest.TempPathFactory, total: int, archive_content: str, content: str
) -> None:
    """One shared cache across the feed and its pages, as the builder keeps it: every
    document spliced from it equals the one rendered whole, and a post's key is another on a
    page exactly when the page's entries are summaries and the feed's are not."""
    config = _config(
        tmp_path_factory.mktemp("site"), archive_content=archive_content, content=content
    )
    subscription, pages = _site_groups(config, total)
    cache = EntryCache()
    for doc in (subscription, *pages, subscription, *pages):  # twice: the second from the cache
        shown = doc.posts[: config.feed.max_entries]
        keys = [post.id for post in shown]
        spliced = documents.render_group(doc, config, cache=cache, keys=keys)
        for fmt, data in spliced.items():
            assert data == documents.render_document(doc, config, fmt), (fmt, doc.paging)
        apart = doc in pages and archive_content == "summary" and content == "full"
        for key in keys:
            assert (documents.fragment_key(key, doc, config) != key) == apart


def test_a_summary_key_renders_summary_fragments_whatever_worker_serialises_it(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    _, pages = _site_groups(config, 5)
    post = pages[0].posts[0]
    key = documents.fragment_key(post.id, pages[0], config)
    frags = documents.entry_fragments(
        post, documents.fragment_config(key, config), config.feed.formats
    )
    assert all(
        b"Body" not in bytes(f, "utf-8") if isinstance(f, str) else b"Body" not in f
        for f in frags.values()
    )
    full = documents.entry_fragments(post, documents.fragment_config(post.id, config), ("atom",))
    assert b"Body" in full["atom"]  # type: ignore[operator]
